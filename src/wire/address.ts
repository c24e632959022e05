/**
 * IPv4 addresses are unsigned 32-bit numbers inside masq: compared and hashed
 * without allocation. Text appears only at the edges (config, logs, CLI).
 */

export class AddressError extends Error {
  override name = 'AddressError';
}

/** Dotted-quad text of an address: "192.0.2.1". */
export function ipv4ToString(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

/**
 * The address a dotted quad names, or null when the text is not exactly one.
 * The one rule masq reads IPv4 text by, everywhere: four decimal octets of
 * 0-255 separated by dots, no leading zeros ("010" could be read as octal, so
 * it is not read at all), nothing before or after; what net.isIPv4 accepts.
 * No regular expression and no allocation: servers call this per datagram.
 */
export function tryParseIpv4(text: string): number | null {
  const n = text.length;
  if (n < 7 || n > 15) return null;
  let result = 0;
  let value = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || dots === 3) return null;
      result = result * 256 + value;
      dots++;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && value === 0) return null; // a leading zero
      value = value * 10 + (c - 0x30);
      if (++digits > 3 || value > 255) return null;
    } else return null;
  }
  if (dots !== 3 || digits === 0) return null;
  return result * 256 + value;
}

/** tryParseIpv4 for text that must be an address: an AddressError says what was given. */
export function parseIpv4(text: string): number {
  const a = tryParseIpv4(text);
  if (a === null) throw new AddressError(`not an IPv4 address: ${JSON.stringify(text)}`);
  return a;
}

export function isIpv4Text(text: string): boolean {
  return tryParseIpv4(text) !== null;
}

/** An IPv4 prefix; `mask` has the top `length` bits set. */
export interface Ipv4Prefix {
  readonly network: number;
  readonly length: number;
  readonly mask: number;
}

function prefixMask(length: number): number {
  return length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
}

export function parseIpv4Prefix(text: string): Ipv4Prefix {
  const [addr, len, extra] = text.split('/');
  if (extra !== undefined) throw new AddressError(`not an IPv4 prefix: ${JSON.stringify(text)}`);
  const length = len === undefined ? 32 : Number(len);
  if (!Number.isInteger(length) || length < 0 || length > 32 || (len !== undefined && !/^\d+$/.test(len))) {
    throw new AddressError(`bad prefix length in ${JSON.stringify(text)}`);
  }
  const mask = prefixMask(length);
  const network = (parseIpv4(addr) & mask) >>> 0;
  return { network, length, mask };
}

export function prefixContains(p: Ipv4Prefix, a: number): boolean {
  return ((a & p.mask) >>> 0) === p.network;
}

export function prefixToString(p: Ipv4Prefix): string {
  return `${ipv4ToString(p.network)}/${p.length}`;
}

/** IPv6 address text from 16 bytes (RFC 5952 canonical form). */
export function ipv6ToString(b: Uint8Array, offset = 0): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((b[offset + 2 * i] << 8) | b[offset + 2 * i + 1]);
  // The longest run (of two or more) of zero words becomes "::".
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

/**
 * 16 bytes from IPv6 text, or null when the text is not one: eight groups of
 * one to four hex digits, one "::" standing for at least one zero group, an
 * embedded dotted quad at the end (read by the IPv4 rule); nothing around it
 * (a zone, "%eth0", is the caller's to strip).
 */
export function tryParseIpv6(text: string): Uint8Array | null {
  if (text.length < 2 || text.length > 45) return null;
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = ipv6Groups(halves[0]);
  const tail = halves.length === 2 ? ipv6Groups(halves[1]) : [];
  if (head === null || tail === null) return null;
  const zeros = 8 - head.length - tail.length;
  if ((halves.length === 1 && zeros !== 0) || (halves.length === 2 && zeros < 1)) return null;
  const out = new Uint8Array(16);
  head.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  tail.forEach((w, i) => {
    const at = 2 * (8 - tail.length + i);
    out[at] = w >> 8;
    out[at + 1] = w & 0xff;
  });
  return out;
}

/** The 16-bit groups of one side of "::", or null. */
function ipv6Groups(half: string): number[] | null {
  if (half === '') return [];
  const out: number[] = [];
  const parts = half.split(':');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (i === parts.length - 1 && part.includes('.')) {
      const v4 = tryParseIpv4(part);
      if (v4 === null) return null;
      out.push(v4 >>> 16, v4 & 0xffff);
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return null;
      out.push(parseInt(part, 16));
    }
  }
  return out;
}

/** tryParseIpv6 for text that must be an address: an AddressError says what was given. */
export function parseIpv6(text: string): Uint8Array {
  const a = tryParseIpv6(text);
  if (a === null) throw new AddressError(`not an IPv6 address: ${JSON.stringify(text)}`);
  return a;
}
