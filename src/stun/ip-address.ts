/**
 * IP address text <-> bytes, for the address attributes. STUN carries raw
 * 4- or 16-byte addresses; the rest of masq speaks Endpoint text. IPv4 text is
 * read and written by the one rule in src/wire/address.ts.
 */
import { ipv4ToString, ipv6ToString, tryParseIpv4, tryParseIpv6 } from '../wire/address.js';
import { read32, write32 } from '../wire/ipv4.js';

export type IpFamily = 4 | 6;

/** Dotted quad to 4 bytes, or null when the text is not exactly an IPv4 address. */
function parseIPv4(text: string): Uint8Array | null {
  const a = tryParseIpv4(text);
  if (a === null) return null;
  const out = new Uint8Array(4);
  write32(out, 0, a);
  return out;
}

/** IPv6 text (with `::`, an optional trailing dotted quad and an optional zone) to 16 bytes, or null. */
export function parseIPv6(text: string): Uint8Array | null {
  const zone = text.indexOf('%');
  return tryParseIpv6(zone >= 0 ? text.slice(0, zone) : text);
}

/** Text to bytes for either family; null when it is neither. */
export function parseIp(text: string): { family: IpFamily; bytes: Uint8Array } | null {
  const v4 = parseIPv4(text);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = parseIPv6(text);
  if (v6) return { family: 6, bytes: v6 };
  return null;
}

export function formatIPv4(b: Uint8Array, offset = 0): string {
  return ipv4ToString(read32(b, offset));
}

/** RFC 5952 canonical text: lower case, longest run of two or more zero words as `::`. */
export { ipv6ToString as formatIPv6 } from '../wire/address.js';

/** Canonical text of an address given as text (so `::FFFF:0:1` and `::ffff:0:1` compare equal). */
export function canonicalIp(text: string): string {
  const p = parseIp(text);
  if (!p) return text;
  return p.family === 4 ? formatIPv4(p.bytes) : ipv6ToString(p.bytes);
}
