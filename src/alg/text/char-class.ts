/**
 * Character classes of one byte: digits, letters, hex digits, the RFC 3261
 * token characters (the same set as an HTTP/RTSP token) and the characters
 * of a hostname. The larger classes are 256-entry tables, one load instead
 * of a chain of compares.
 */

/** RFC 3261 token characters: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~". */
const TOKEN = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;
for (const ch of "-.!%*_+`'~") TOKEN[ch.charCodeAt(0)] = 1;

export function isTokenChar(c: number): boolean {
  return TOKEN[c] === 1;
}

/** Every byte of the span is a token character (and the span is not empty). */
export function isToken(b: Uint8Array, start: number, end: number): boolean {
  if (start >= end) return false;
  for (let i = start; i < end; i++) if (TOKEN[b[i]] !== 1) return false;
  return true;
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

/** alphanum / "-" / "." : the characters of a hostname or an IPv4 address (index it: `HOST_CHAR[c] === 1`). */
export const HOST_CHAR = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) HOST_CHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) HOST_CHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) HOST_CHAR[c] = 1;
HOST_CHAR[0x2d] = HOST_CHAR[0x2e] = 1;
