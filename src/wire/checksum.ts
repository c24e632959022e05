/**
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
 *
 * Sums are kept unfolded in a double (exact up to 2^53), folded only at the end:
 * a 64 KiB packet sums to under 2^32, so there is no overflow to worry about.
 */

/** One's-complement sum of big-endian 16-bit words over buf[start, end), unfolded. */
export function sumWords(buf: Uint8Array, start: number, end: number, acc = 0): number {
  let i = start;
  const last = end - 1;
  for (; i < last; i += 2) acc += (buf[i] << 8) | buf[i + 1];
  if (i < end) acc += buf[i] << 8; // an odd trailing byte is padded with zero
  return acc;
}

/** Folds carries back into 16 bits. */
export function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc % 0x10000) + Math.floor(acc / 0x10000);
  return acc;
}

/** The checksum field value for a region whose checksum field reads as zero. */
export function finishChecksum(acc: number): number {
  return ~fold(acc) & 0xffff;
}

export function internetChecksum(buf: Uint8Array, start: number, end: number, initial = 0): number {
  return finishChecksum(sumWords(buf, start, end, initial));
}

/** Sum of the IPv4 pseudo-header for TCP/UDP: addresses, protocol, length. */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}

/**
 * RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one 16-bit word m changed to m'.
 * Exact in one's-complement arithmetic, unlike eqn. 2, which can yield -0.
 */
export function updateChecksum16(checksum: number, oldWord: number, newWord: number): number {
  let s = (~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Same as updateChecksum16 for a 32-bit field (an IPv4 address): both halves at once. */
export function updateChecksum32(checksum: number, oldValue: number, newValue: number): number {
  let s =
    (~checksum & 0xffff) +
    (~(oldValue >>> 16) & 0xffff) +
    (~oldValue & 0xffff) +
    (newValue >>> 16) +
    (newValue & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/**
 * Adds a signed difference of sums (new minus old, each unfolded) to a checksum:
 * for rewrites that change many words at once, such as an ICMP payload.
 */
export function adjustChecksum(checksum: number, oldSum: number, newSum: number): number {
  const s = fold(fold(~checksum & 0xffff) + fold(newSum) + (0xffff - fold(oldSum)));
  return ~s & 0xffff;
}
