/**
 * Addresses as the batched UDP addon reads and writes them: IPv4 one host-order
 * number, IPv6 four numbers (each a 32-bit big-endian group) and a scope id.
 * Text is what the rest of masq speaks (Endpoint.address), written the way
 * node:dgram writes it, so both socket kinds report the same strings.
 */
import { ipv4ToString, ipv6ToString, tryParseIpv4, tryParseIpv6 } from '../wire/address.js';

export interface AddressWords {
  family: 4 | 6;
  w0: number;
  w1: number;
  w2: number;
  w3: number;
  scope: number;
}

/**
 * IPv6 text as libuv's inet_ntop (node:dgram's) writes it: RFC 5952, except
 * that a v4-mapped (::ffff:a.b.c.d) or v4-compatible (::a.b.c.d) address ends
 * in a dotted quad.
 */
export function ipv6WordsToString(w0: number, w1: number, w2: number, w3: number): string {
  if (w0 === 0 && w1 === 0) {
    if (w2 === 0xffff) return `::ffff:${ipv4ToString(w3)}`;
    if (w2 === 0 && w3 >>> 16 !== 0) return `::${ipv4ToString(w3)}`;
  }
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint32(0, w0);
  v.setUint32(4, w1);
  v.setUint32(8, w2);
  v.setUint32(12, w3);
  return ipv6ToString(b);
}

/**
 * The words of a literal address ("%zone" allowed after IPv6: an interface
 * name, resolved by `ifIndex`, or a number), or null when the text is not a
 * literal (a name to resolve first).
 */
export function addressWords(text: string, ifIndex: (name: string) => number): AddressWords | null {
  const v4 = tryParseIpv4(text);
  if (v4 !== null) return { family: 4, w0: v4, w1: 0, w2: 0, w3: 0, scope: 0 };
  if (!text.includes(':')) return null;
  const zoneAt = text.indexOf('%');
  const bytes = tryParseIpv6(zoneAt < 0 ? text : text.slice(0, zoneAt));
  if (bytes === null) return null;
  let scope = 0;
  if (zoneAt >= 0) {
    const zone = text.slice(zoneAt + 1);
    scope = /^\d+$/.test(zone) ? Number(zone) : ifIndex(zone);
    if (!(scope > 0 && scope <= 0xffffffff)) return null;
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, 16);
  return { family: 6, w0: v.getUint32(0), w1: v.getUint32(4), w2: v.getUint32(8), w3: v.getUint32(12), scope };
}

/**
 * The text of a datagram's source in the addon's read meta (entry at word
 * `m`; layout: enum Meta in native/udp-shared.h), as node:dgram would write
 * it. IPv4 texts are kept in `v4Text` (started over past `limit` entries):
 * a server hears the same few peers again and again.
 */
export function metaSourceText(meta: Uint32Array, m: number, v4Text: Map<number, string>, limit: number, names: { ifName(index: number): string | undefined }): string {
  if (meta[m + 3] === 4) {
    const a = meta[m + 6];
    let text = v4Text.get(a);
    if (text === undefined) {
      if (v4Text.size >= limit) v4Text.clear();
      text = ipv4ToString(a);
      v4Text.set(a, text);
    }
    return text;
  }
  const text = ipv6WordsToString(meta[m + 6], meta[m + 7], meta[m + 8], meta[m + 9]);
  const scope = meta[m + 5];
  return scope === 0 ? text : `${text}%${names.ifName(scope) ?? scope}`;
}
