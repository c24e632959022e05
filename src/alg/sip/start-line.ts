/**
 * The first line of a SIP message (RFC 3261 7.1, 7.2). Strict on the things an
 * ALG must not guess about: exactly one SP between elements, SIP/2.0 only, a
 * three-digit status code. RFC 4475 lwsstart, trws, lwsruri, badvers and bigcode
 * are refused here rather than "repaired".
 */
import type { Span } from '../text/span.js';
import * as asciiModule from '../text/ascii.js';
import * as charClassModule from '../text/char-class.js';
import * as caseModule from '../text/case.js';
import * as internModule from '../text/intern.js';

// Local copies of the imports: an imported binding is read from its module
// cell at every use, even in optimized loops; a module-local const is not
// (see "Module bindings" in src/alg/text/README.md).
const { SP } = asciiModule;
const { isToken, isDigit } = charClassModule;
const { spanEqualsLower } = caseModule;
const { internLatin1 } = internModule;

export interface RequestLine {
  kind: 'request';
  span: Span;
  method: Span;
  /** The method as written (methods are case-sensitive, RFC 3261 7.1). */
  methodName: string;
  uri: Span;
  version: Span;
}

export interface StatusLine {
  kind: 'response';
  span: Span;
  version: Span;
  code: number;
  codeSpan: Span;
  /** May be empty (RFC 4475 noreason). */
  reason: Span;
}

export type StartLine = RequestLine | StatusLine;

export type StartLineResult = { ok: true; line: StartLine } | { ok: false; reason: string };

function isSipVersion(b: Uint8Array, start: number, end: number): boolean {
  return spanEqualsLower(b, start, end, 'sip/2.0');
}

function looksLikeVersion(b: Uint8Array, start: number, end: number): boolean {
  return end - start >= 4 && spanEqualsLower(b, start, start + 4, 'sip/');
}

/** Parses the start line occupying b[start, end) (the CRLF excluded). */
export function parseStartLine(b: Uint8Array, start: number, end: number): StartLineResult {
  const span = { start, end };
  // A method is a token and "/" is not a token character, so "SIP/" can only open a status line.
  if (looksLikeVersion(b, start, end)) {
    let i = start;
    while (i < end && b[i] !== SP) i++;
    if (!isSipVersion(b, start, i)) return { ok: false, reason: 'unsupported SIP version' };
    if (i + 4 > end || b[i] !== SP) return { ok: false, reason: 'malformed status line' };
    const cs = i + 1;
    if (!isDigit(b[cs]) || !isDigit(b[cs + 1]) || !isDigit(b[cs + 2])) {
      return { ok: false, reason: 'malformed status code' };
    }
    const ce = cs + 3;
    // Liberal: "SIP/2.0 200" without the SP before an empty reason is accepted.
    if (ce < end && b[ce] !== SP) return { ok: false, reason: 'malformed status code' };
    const code = (b[cs] - 0x30) * 100 + (b[cs + 1] - 0x30) * 10 + (b[cs + 2] - 0x30);
    if (code < 100 || code > 699) return { ok: false, reason: 'status code out of range' };
    const rs = ce < end ? ce + 1 : end;
    return {
      ok: true,
      line: { kind: 'response', span, version: { start, end: i }, code, codeSpan: { start: cs, end: ce }, reason: { start: rs, end } },
    };
  }
  let i = start;
  while (i < end && b[i] !== SP) i++;
  if (!isToken(b, start, i)) return { ok: false, reason: 'malformed method' };
  const method = { start, end: i };
  if (i >= end) return { ok: false, reason: 'malformed request line' };
  const us = i + 1;
  let j = us;
  while (j < end && b[j] !== SP) {
    // Controls (including HT) cannot appear in a Request-URI.
    if (b[j] < 0x21 || b[j] === 0x7f) return { ok: false, reason: 'malformed Request-URI' };
    j++;
  }
  if (j === us || j >= end) return { ok: false, reason: 'malformed request line' };
  const vs = j + 1;
  for (let k = vs; k < end; k++) if (b[k] === SP) return { ok: false, reason: 'malformed request line' };
  if (!isSipVersion(b, vs, end)) {
    return { ok: false, reason: looksLikeVersion(b, vs, end) ? 'unsupported SIP version' : 'malformed request line' };
  }
  return {
    ok: true,
    line: { kind: 'request', span, method, methodName: internLatin1(b, start, i), uri: { start: us, end: j }, version: { start: vs, end } },
  };
}
