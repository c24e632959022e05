/**
 * ASCII case folding of bytes: protocol names, header names and parameter
 * names compare case-insensitively, and are compared here in the message's
 * bytes against a lowercase literal, with no string made.
 */

export function lowerAscii(c: number): number {
  return asciiLower(c);
}

/** lowerAscii for this module's own loops (see "Module bindings" in README.md). */
function asciiLower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

/** Case-insensitive comparison of a span with a lowercase ASCII literal. */
export function spanEqualsLower(b: Uint8Array, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    if (asciiLower(b[start + i]) !== lower.charCodeAt(i)) return false;
  }
  return true;
}
