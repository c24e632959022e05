/**
 * IP address text <-> bytes, for the address attributes. STUN carries raw
 * 4- or 16-byte addresses; the rest of masq speaks Endpoint text. IPv4 text is
 * read and written by the one rule in src/wire/address.ts.
 */
import { ipv4ToString, tryParseIpv4 } from '../wire/address.js';
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

/** IPv6 text (with `::` and an optional trailing dotted quad) to 16 bytes, or null. */
export function parseIPv6(text: string): Uint8Array | null {
  let s = text;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (s.length === 0 || s.length > 45) return null;
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const words: number[][] = [];
  for (const half of halves) {
    const ws: number[] = [];
    if (half.length > 0) {
      const groups = half.split(':');
      for (let i = 0; i < groups.length; i++) {
        const g = groups[i];
        if (i === groups.length - 1 && g.includes('.')) {
          const v4 = parseIPv4(g);
          if (!v4) return null;
          ws.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
        } else {
          if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
          ws.push(parseInt(g, 16));
        }
      }
    }
    words.push(ws);
  }
  let all: number[];
  if (words.length === 2) {
    const missing = 8 - words[0].length - words[1].length;
    if (missing < 1) return null;
    all = [...words[0], ...new Array<number>(missing).fill(0), ...words[1]];
  } else {
    all = words[0];
  }
  if (all.length !== 8) return null;
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i] >> 8;
    out[2 * i + 1] = all[i] & 0xff;
  }
  return out;
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
export function formatIPv6(b: Uint8Array, offset = 0): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[offset + 2 * i] << 8) | b[offset + 2 * i + 1]);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) return w.map((x) => x.toString(16)).join(':');
  const head = w.slice(0, bestStart).map((x) => x.toString(16)).join(':');
  const tail = w.slice(bestStart + bestLen).map((x) => x.toString(16)).join(':');
  return `${head}::${tail}`;
}

/** Canonical text of an address given as text (so `::FFFF:0:1` and `::ffff:0:1` compare equal). */
export function canonicalIp(text: string): string {
  const p = parseIp(text);
  if (!p) return text;
  return p.family === 4 ? formatIPv4(p.bytes) : formatIPv6(p.bytes);
}
