/**
 * Byte-level helpers shared by the SIP and SDP codecs. Everything works on a
 * Uint8Array and half-open offsets [start, end); nothing here copies the input
 * except the functions that explicitly return a string.
 */

/** A half-open byte range [start, end) into the message buffer. */
export interface Span {
  start: number;
  end: number;
}

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HT = 0x09;
export const COLON = 0x3a;
export const SEMI = 0x3b;
export const COMMA = 0x2c;
export const SLASH = 0x2f;
export const EQUAL = 0x3d;
export const DQUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const LAQUOT = 0x3c;
export const RAQUOT = 0x3e;
export const AT = 0x40;
export const QUESTION = 0x3f;
export const LBRACKET = 0x5b;
export const RBRACKET = 0x5d;
export const DOT = 0x2e;
export const STAR = 0x2a;

/** RFC 3261 token characters: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~". */
const TOKEN = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;
for (const ch of "-.!%*_+`'~") TOKEN[ch.charCodeAt(0)] = 1;

export function isTokenChar(c: number): boolean {
  return TOKEN[c] === 1;
}

export function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

export function isHexDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

export function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

export function isWsp(c: number): boolean {
  return c === SP || c === HT;
}

/**
 * Whitespace inside a header value. The tokenizer guarantees that every CR LF
 * inside a value span is a fold (followed by SP or HT), so treating CR and LF as
 * plain whitespace here is exactly RFC 3261 LWS without re-checking the fold.
 */
export function isLws(c: number): boolean {
  return c === SP || c === HT || c === CR || c === LF;
}

export function lowerAscii(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

/** Skips LWS forward from i, never past end. */
export function skipLws(b: Uint8Array, i: number, end: number): number {
  while (i < end && isLws(b[i])) i++;
  return i;
}

/** Moves end backwards over LWS, never before start. */
export function trimLwsEnd(b: Uint8Array, start: number, end: number): number {
  while (end > start && isLws(b[end - 1])) end--;
  return end;
}

/** Index of the first byte c in [i, end), or -1. */
export function indexOf(b: Uint8Array, c: number, i: number, end: number): number {
  for (; i < end; i++) if (b[i] === c) return i;
  return -1;
}

/**
 * Scratch arrays for latin1(), one per length so none is ever resized
 * (setting an array's length is a slow builtin): fromCharCode.apply on a
 * plain array is the fastest way to a flat string.
 */
const SCRATCH_MAX = 256;
const scratchByLength: number[][] = [];
function scratchOf(n: number): number[] {
  let a = scratchByLength[n];
  if (a === undefined) scratchByLength[n] = a = new Array<number>(n).fill(0);
  return a;
}

/**
 * Bytes as a string, one char per byte (latin1). Built flat in one call: a
 * string grown a char at a time is a rope that every later comparison or Map
 * lookup (the ALG keys calls by Call-ID) must flatten first.
 */
export function latin1(b: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 0) return '';
  if (n > SCRATCH_MAX) {
    let s = '';
    for (let i = start; i < end; i += SCRATCH_MAX) s += latin1(b, i, Math.min(end, i + SCRATCH_MAX));
    return s;
  }
  const a = scratchOf(n);
  for (let i = 0; i < n; i++) a[i] = b[start + i];
  return String.fromCharCode.apply(null, a);
}

export function lowerLatin1(b: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 0) return '';
  if (n > SCRATCH_MAX) return latin1(b, start, end).replace(/[A-Z]+/g, (x) => x.toLowerCase());
  const a = scratchOf(n);
  for (let i = 0; i < n; i++) a[i] = lowerAscii(b[start + i]);
  return String.fromCharCode.apply(null, a);
}

/** ASCII text to bytes; callers only pass ASCII (addresses, numbers, names). */
export function asciiBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** Case-insensitive comparison of a span with a lowercase ASCII literal. */
export function spanEqualsLower(b: Uint8Array, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    if (lowerAscii(b[start + i]) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Unsigned decimal in [start, end), digits only, value at most max; -1 when the
 * span is empty, has a non-digit, or overflows max. Leading zeros are allowed
 * (RFC 4475 wsinv: "0009").
 */
export function parseUint(b: Uint8Array, start: number, end: number, max: number): number {
  if (start >= end) return -1;
  let v = 0;
  for (let i = start; i < end; i++) {
    const c = b[i];
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + (c - 0x30);
    if (v > max) return -1;
  }
  return v;
}

/** Every byte of the span is a token character (and the span is not empty). */
export function isToken(b: Uint8Array, start: number, end: number): boolean {
  if (start >= end) return false;
  for (let i = start; i < end; i++) if (TOKEN[b[i]] !== 1) return false;
  return true;
}

/**
 * latin1() for strings that recur (addresses, transport names): the same bytes
 * give the same string from a small cache, so the hot path neither builds a
 * new string nor flattens one when the context compares it. The cache is
 * bounded and simply cleared when full.
 */
const INTERN_LIMIT = 4096;
const INTERN_MAX_LENGTH = 64;
const interned = new Map<number, string>();

export function internLatin1(b: Uint8Array, start: number, end: number, lower = false): string {
  const n = end - start;
  if (n <= 0) return '';
  if (n > INTERN_MAX_LENGTH) return lower ? lowerLatin1(b, start, end) : latin1(b, start, end);
  let h = lower ? n + 0x5bd1e995 : n;
  for (let i = start; i < end; i++) h = (Math.imul(h, 0x01000193) ^ (lower ? lowerAscii(b[i]) : b[i])) | 0;
  const s = interned.get(h);
  if (s !== undefined && s.length === n) {
    let same = true;
    for (let i = 0; i < n; i++) {
      if (s.charCodeAt(i) !== (lower ? lowerAscii(b[start + i]) : b[start + i])) {
        same = false;
        break;
      }
    }
    if (same) return s;
  }
  const r = lower ? lowerLatin1(b, start, end) : latin1(b, start, end);
  if (interned.size >= INTERN_LIMIT) interned.clear();
  interned.set(h, r);
  return r;
}
