/**
 * Single-valued headers the ALG reads: CSeq, Call-ID, Expires (and Contact
 * ;expires=), Content-Length, Content-Type. Numbers are checked against their
 * RFC 3261 ranges: a CSeq or delta-seconds above 2**32-1 is invalid (RFC 4475
 * scalar02, scalarlg), not wrapped or clamped.
 */
import type { Span } from '../text/span.js';
import * as asciiModule from '../text/ascii.js';
import * as charClassModule from '../text/char-class.js';
import * as whitespaceModule from '../text/whitespace.js';
import * as caseModule from '../text/case.js';
import * as decimalModule from '../text/decimal.js';
import * as latin1Module from '../text/latin1.js';
import * as internModule from '../text/intern.js';
import type { Param } from './params.js';
import * as paramsModule from './params.js';

// Local copies of the imports: an imported binding is read from its module
// cell at every use, even in optimized loops; a module-local const is not
// (see "Module bindings" in src/alg/text/README.md).
const { SLASH, AT } = asciiModule;
const { isTokenChar } = charClassModule;
const { isLws, skipLws, trimLwsEnd } = whitespaceModule;
const { spanEqualsLower } = caseModule;
const { parseUint } = decimalModule;
const { latin1, lowerLatin1 } = latin1Module;
const { internLatin1 } = internModule;
const { parseHeaderParams } = paramsModule;

export const MAX_UINT32 = 0xffffffff;

export interface CSeq {
  number: number;
  numberSpan: Span;
  method: Span;
  methodName: string;
}

/** CSeq = 1*DIGIT LWS Method. */
export function parseCSeq(b: Uint8Array, span: Span): CSeq | null {
  let i = span.start;
  const end = span.end;
  const ns = i;
  while (i < end && b[i] >= 0x30 && b[i] <= 0x39) i++;
  const ne = i;
  const number = parseUint(b, ns, ne, MAX_UINT32);
  if (number < 0 || i >= end || !isLws(b[i])) return null;
  i = skipLws(b, i, end);
  const ms = i;
  while (i < end && isTokenChar(b[i])) i++;
  if (i === ms || i !== end) return null;
  return { number, numberSpan: { start: ns, end: ne }, method: { start: ms, end: i }, methodName: internLatin1(b, ms, i) };
}

/** Call-ID = word [ "@" word ]: any visible characters, no LWS. */
export function parseCallId(b: Uint8Array, span: Span): string | null {
  if (span.start >= span.end) return null;
  let ats = 0;
  for (let i = span.start; i < span.end; i++) {
    const c = b[i];
    if (c <= 0x20 || c === 0x7f) return null;
    if (c === AT && ++ats > 1) return null;
  }
  return latin1(b, span.start, span.end);
}

/** delta-seconds (Expires, Contact ;expires=, Min-Expires); null when not a number in range. */
export function parseDeltaSeconds(b: Uint8Array, span: Span): number | null {
  const v = parseUint(b, span.start, span.end, MAX_UINT32);
  return v < 0 ? null : v;
}

/** A parameter value as delta-seconds (unquoted digits only). */
export function paramDeltaSeconds(b: Uint8Array, p: Param | null): number | null {
  if (!p || !p.value) return null;
  return parseDeltaSeconds(b, p.value);
}

export interface ContentType {
  /** Lowercase "type/subtype". */
  mediaType: string;
  params: Param[];
}

/** Content-Type = m-type SLASH m-subtype *(SEMI m-parameter), with LWS allowed around "/". */
export function parseContentType(b: Uint8Array, span: Span): ContentType | null {
  let i = span.start;
  const end = span.end;
  const ts = i;
  while (i < end && isTokenChar(b[i])) i++;
  const te = i;
  i = skipLws(b, i, end);
  if (te === ts || i >= end || b[i] !== SLASH) return null;
  i = skipLws(b, i + 1, end);
  const ss = i;
  while (i < end && isTokenChar(b[i])) i++;
  const se = i;
  if (se === ss) return null;
  const params: Param[] = [];
  if (parseHeaderParams(b, i, end, params) !== end) return null;
  return { mediaType: `${lowerLatin1(b, ts, te)}/${lowerLatin1(b, ss, se)}`, params };
}

/** Content-Type is application/sdp (any case, LWS and parameters allowed), checked without building strings. */
export function isSdpContentType(b: Uint8Array, span: Span): boolean {
  let i = skipLws(b, span.start, span.end);
  const end = span.end;
  if (end - i < 15 || !spanEqualsLower(b, i, i + 11, 'application')) return false;
  i = skipLws(b, i + 11, end);
  if (i >= end || b[i] !== SLASH) return false;
  i = skipLws(b, i + 1, end);
  if (end - i < 3 || !spanEqualsLower(b, i, i + 3, 'sdp')) return false;
  i += 3;
  if (i < end && isTokenChar(b[i])) return false; // application/sdpx
  const params: Param[] = [];
  return parseHeaderParams(b, i, end, params) === end;
}

/** Trims LWS off both ends of a span. */
export function trimSpan(b: Uint8Array, span: Span): Span {
  const start = skipLws(b, span.start, span.end);
  return { start, end: trimLwsEnd(b, start, span.end) };
}
