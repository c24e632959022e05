/**
 * Attribute values: fixed-size ids and counters, endpoints, short strings.
 * Readers check sizes and throw RendezvousDecodeError on anything else.
 */
import type { Endpoint } from '../../net/udp.js';
import { formatIPv4, formatIPv6, parseIp } from '../../stun/ip-address.js';
import { RendezvousDecodeError } from './wire.js';

/** Peer ids and nonces: 8 bytes, shown as 16 hex digits. */
export const ID_LENGTH = 8;

export function idToHex(id: Uint8Array): string {
  let s = '';
  for (const b of id) s += b.toString(16).padStart(2, '0');
  return s;
}

export function hexToId(hex: string): Uint8Array {
  if (!/^[0-9a-f]{16}$/i.test(hex)) throw new RangeError(`a peer id is 16 hex digits, not ${JSON.stringify(hex)}`);
  const out = new Uint8Array(ID_LENGTH);
  for (let i = 0; i < ID_LENGTH; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function readId(v: Uint8Array, what: string): string {
  if (v.length !== ID_LENGTH) throw new RendezvousDecodeError(`${what} must be ${ID_LENGTH} bytes, got ${v.length}`);
  return idToHex(v);
}

/** Unsigned integers up to 2^53 (timestamps in ms, sequence numbers) in 8 bytes. */
export function encodeU64(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a u64 we can carry: ${n}`);
  const out = new Uint8Array(8);
  const hi = Math.floor(n / 2 ** 32);
  const lo = n >>> 0;
  new DataView(out.buffer).setUint32(0, hi);
  new DataView(out.buffer).setUint32(4, lo);
  return out;
}

export function readU64(v: Uint8Array, what: string): number {
  if (v.length !== 8) throw new RendezvousDecodeError(`${what} must be 8 bytes, got ${v.length}`);
  const dv = new DataView(v.buffer, v.byteOffset, 8);
  const hi = dv.getUint32(0);
  if (hi >= 2 ** 21) throw new RendezvousDecodeError(`${what} too large`);
  return hi * 2 ** 32 + dv.getUint32(4);
}

export function encodeU32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n >>> 0);
  return out;
}

export function readU32(v: Uint8Array, what: string): number {
  if (v.length !== 4) throw new RendezvousDecodeError(`${what} must be 4 bytes, got ${v.length}`);
  return new DataView(v.buffer, v.byteOffset, 4).getUint32(0);
}

/** Family (4 or 6), port, address: 7 or 19 bytes. */
export function encodeEndpoint(e: Endpoint): Uint8Array {
  const ip = parseIp(e.address);
  if (!ip) throw new RangeError(`not an IP address: ${e.address}`);
  if (!Number.isInteger(e.port) || e.port < 0 || e.port > 65535) throw new RangeError(`bad port ${e.port}`);
  const out = new Uint8Array(3 + ip.bytes.length);
  out[0] = ip.family;
  out[1] = e.port >> 8;
  out[2] = e.port & 0xff;
  out.set(ip.bytes, 3);
  return out;
}

export function readEndpoint(v: Uint8Array, what: string): Endpoint {
  if (v.length === 7 && v[0] === 4) return { address: formatIPv4(v, 3), port: (v[1] << 8) | v[2] };
  if (v.length === 19 && v[0] === 6) return { address: formatIPv6(v, 3), port: (v[1] << 8) | v[2] };
  throw new RendezvousDecodeError(`${what}: not an IPv4 or IPv6 endpoint`);
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

export function encodeText(s: string): Uint8Array {
  return utf8.encode(s);
}

export function readText(v: Uint8Array, what: string, maxBytes: number): string {
  if (v.length > maxBytes) throw new RendezvousDecodeError(`${what} longer than ${maxBytes} bytes`);
  try {
    return utf8Strict.decode(v);
  } catch {
    throw new RendezvousDecodeError(`${what} is not valid UTF-8`);
  }
}
