/**
 * ";name=value" parameters in their two SIP flavours: header parameters
 * (generic-param, LWS allowed around ";" and "=", values may be quoted) and
 * URI parameters (no LWS, ended by "?" or the end of the URI).
 */
import type { Span } from '../text/span.js';
import * as asciiModule from '../text/ascii.js';
import * as charClassModule from '../text/char-class.js';
import * as whitespaceModule from '../text/whitespace.js';
import * as caseModule from '../text/case.js';

// Local copies of the imports: an imported binding is read from its module
// cell at every use, even in optimized loops; a module-local const is not
// (see "Module bindings" in src/alg/text/README.md).
const { SEMI, COMMA, EQUAL, DQUOTE, BACKSLASH, LBRACKET, RBRACKET, QUESTION } = asciiModule;
const { isTokenChar } = charClassModule;
const { skipLws } = whitespaceModule;
const { spanEqualsLower } = caseModule;

export interface Param {
  name: Span;
  /** The value as written (quotes included when quoted), or null for a bare name. */
  value: Span | null;
}

/** The first parameter whose name equals `lowerName` case-insensitively. */
export function findParam(b: Uint8Array, params: readonly Param[], lowerName: string): Param | null {
  for (const p of params) if (spanEqualsLower(b, p.name.start, p.name.end, lowerName)) return p;
  return null;
}

/** Token characters, and the unquoted header parameter value characters (token and ":"). */
const TOKEN_CHAR = new Uint8Array(256);
const GEN_VALUE_CHAR = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  TOKEN_CHAR[c] = isTokenChar(c) ? 1 : 0;
  GEN_VALUE_CHAR[c] = isTokenChar(c) || c === 0x3a ? 1 : 0;
}

/** End of a quoted-string opening at i (index after the closing quote), or -1 if unterminated. */
export function quotedStringEnd(b: Uint8Array, i: number, end: number): number {
  // i is at the opening DQUOTE.
  for (let k = i + 1; k < end; k++) {
    const c = b[k];
    if (c === BACKSLASH) {
      k++; // quoted-pair: the next byte is literal (RFC 4475 intmeth quotes NUL, BEL, DEL)
      continue;
    }
    if (c === DQUOTE) return k + 1;
  }
  return -1;
}

/**
 * Header parameters starting at i (at LWS or ";"), stopping before "," or at
 * end. Returns the index where parsing stopped, or -1 when malformed (an empty
 * name as in RFC 4475 badinv01 ";;", a bad value, junk after the parameters).
 */
export function parseHeaderParams(b: Uint8Array, i: number, end: number, out: Param[]): number {
  for (;;) {
    i = skipLws(b, i, end);
    if (i >= end || b[i] === COMMA) return i;
    if (b[i] !== SEMI) return -1;
    i = skipLws(b, i + 1, end);
    const ns = i;
    while (i < end && TOKEN_CHAR[b[i]] === 1) i++;
    if (i === ns) return -1;
    const name = { start: ns, end: i };
    const afterName = i;
    i = skipLws(b, i, end);
    if (i < end && b[i] === EQUAL) {
      i = skipLws(b, i + 1, end);
      const vs = i;
      if (i < end && b[i] === DQUOTE) {
        i = quotedStringEnd(b, i, end);
        if (i < 0) return -1;
      } else if (i < end && b[i] === LBRACKET) {
        while (i < end && b[i] !== RBRACKET) i++;
        if (i >= end) return -1;
        i++;
      } else {
        // gen-value = token / host; ":" keeps host:port-like values intact.
        while (i < end && GEN_VALUE_CHAR[b[i]] === 1) i++;
      }
      if (i === vs) return -1;
      out.push({ name, value: { start: vs, end: i } });
    } else {
      out.push({ name, value: null });
      i = afterName;
    }
  }
}

/**
 * URI parameters in b[i, end) where b[i] is ";" (or i === end), stopping at
 * "?" or end. Returns the stopping index, or -1 when malformed.
 */
export function parseUriParams(b: Uint8Array, i: number, end: number, out: Param[]): number {
  while (i < end && b[i] === SEMI) {
    const ns = ++i;
    while (i < end && b[i] !== SEMI && b[i] !== QUESTION && b[i] !== EQUAL) {
      if (URI_PARAM_CHAR[b[i]] !== 1) return -1;
      i++;
    }
    if (i === ns) return -1;
    const name = { start: ns, end: i };
    if (i < end && b[i] === EQUAL) {
      const vs = ++i;
      while (i < end && b[i] !== SEMI && b[i] !== QUESTION) {
        if (URI_PARAM_CHAR[b[i]] !== 1) return -1;
        i++;
      }
      out.push({ name, value: { start: vs, end: i } });
    } else {
      out.push({ name, value: null });
    }
  }
  return i;
}

/** paramchar: unreserved, escaped ("%"), and "[" "]" "/" ":" "&" "+" "$". */
export function isUriParamChar(c: number): boolean {
  return URI_PARAM_CHAR[c] === 1;
}

/** isUriParamChar as a table (the URI parameter loops run over every byte). */
const URI_PARAM_CHAR = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  // alphanum and - . ! % * _ + ` ' ~ (token is a superset of mark minus ( )), then ( ) [ ] / : & $
  URI_PARAM_CHAR[c] = isTokenChar(c) || c === 0x28 || c === 0x29 || c === 0x5b || c === 0x5d || c === 0x2f || c === 0x3a || c === 0x26 || c === 0x24 ? 1 : 0;
}
