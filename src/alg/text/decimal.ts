/**
 * Decimal numbers read from a message's bytes in place: ports, lengths,
 * sequence numbers, counts. No string is made and no sign, space or exponent
 * is accepted, so what is read is exactly the digits written.
 */

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
