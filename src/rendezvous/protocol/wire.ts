/**
 * The masq traversal packet: one framing for the rendezvous server, the peers'
 * hellos and the relay (docs/rendezvous.md has the full layout).
 *
 *   0      2    3     4        6        8
 *   | "MQ" | v1 | type | attrLen | 0 0   | attributes (TLV) ... | MAC (16) |
 *
 * Each attribute is type (1 byte), length (2 bytes), value. The MAC, present on
 * authenticated types, is HMAC-SHA256 over everything before it with the
 * session key, truncated to 16 bytes. The first byte 0x4D has its top two bits
 * at 01, so these packets never look like STUN (00) on a shared socket.
 *
 * Decoding never trusts a length: every read is bounds-checked, and a malformed
 * packet raises RendezvousDecodeError (the one error type callers catch).
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

export const MAGIC = 0x4d51;
export const VERSION = 1;
export const HEADER_LENGTH = 8;
export const MAC_LENGTH = 16;
/** Larger packets are neither sent nor accepted: they would fragment on common paths. */
export const MAX_PACKET = 1400;
/** More attributes than this in one packet is an attack or a bug. */
export const MAX_ATTRIBUTES = 64;

export class RendezvousDecodeError extends Error {
  override name = 'RendezvousDecodeError';
}

export interface Attribute {
  type: number;
  value: Uint8Array;
}

/** A packet split into its parts; the MAC is not yet checked. */
export interface RawPacket {
  type: number;
  attributes: Attribute[];
  /** The bytes the MAC covers (header and attributes). */
  covered: Uint8Array;
  mac: Uint8Array | null;
}

/** Cheap check for demultiplexing: is this a masq traversal packet at all? */
export function looksLikeMasqPacket(data: Uint8Array): boolean {
  return data.length >= HEADER_LENGTH && data[0] === 0x4d && data[1] === 0x51 && data[2] === VERSION;
}

/** Splits a packet into attributes. `authenticated(type)` says whether a MAC trails it. */
export function parsePacket(data: Uint8Array, authenticated: (type: number) => boolean): RawPacket {
  if (data.length > MAX_PACKET) throw new RendezvousDecodeError(`packet of ${data.length} bytes exceeds ${MAX_PACKET}`);
  if (data.length < HEADER_LENGTH) throw new RendezvousDecodeError('packet shorter than the 8-byte header');
  if (((data[0] << 8) | data[1]) !== MAGIC) throw new RendezvousDecodeError('not a masq packet (bad magic)');
  if (data[2] !== VERSION) throw new RendezvousDecodeError(`unsupported version ${data[2]}`);
  const type = data[3];
  const attrLength = (data[4] << 8) | data[5];
  const withMac = authenticated(type);
  const expected = HEADER_LENGTH + attrLength + (withMac ? MAC_LENGTH : 0);
  if (data.length !== expected) {
    throw new RendezvousDecodeError(`length mismatch: header says ${expected} bytes, packet has ${data.length}`);
  }
  const attributes = parseAttributes(data.subarray(HEADER_LENGTH, HEADER_LENGTH + attrLength));
  const end = HEADER_LENGTH + attrLength;
  return {
    type,
    attributes,
    covered: data.subarray(0, end),
    mac: withMac ? data.subarray(end, end + MAC_LENGTH) : null,
  };
}

/** Attribute TLVs; also used for nested attribute blocks. */
export function parseAttributes(area: Uint8Array): Attribute[] {
  const out: Attribute[] = [];
  let i = 0;
  while (i < area.length) {
    if (area.length - i < 3) throw new RendezvousDecodeError('truncated attribute header');
    const type = area[i];
    const len = (area[i + 1] << 8) | area[i + 2];
    i += 3;
    if (len > area.length - i) throw new RendezvousDecodeError(`attribute ${type} length ${len} runs past the end`);
    if (out.length === MAX_ATTRIBUTES) throw new RendezvousDecodeError(`more than ${MAX_ATTRIBUTES} attributes`);
    out.push({ type, value: area.subarray(i, i + len) });
    i += len;
  }
  return out;
}

export function encodeAttributes(attributes: Attribute[]): Uint8Array {
  let size = 0;
  for (const a of attributes) {
    if (a.value.length > 0xffff) throw new RangeError(`attribute ${a.type} too long`);
    size += 3 + a.value.length;
  }
  const out = new Uint8Array(size);
  let i = 0;
  for (const a of attributes) {
    out[i] = a.type;
    out[i + 1] = a.value.length >> 8;
    out[i + 2] = a.value.length & 0xff;
    out.set(a.value, i + 3);
    i += 3 + a.value.length;
  }
  return out;
}

/** Builds a packet; with a key, the MAC is appended. */
export function encodePacket(type: number, attributes: Attribute[], key: Uint8Array | null): Uint8Array {
  const area = encodeAttributes(attributes);
  const total = HEADER_LENGTH + area.length + (key ? MAC_LENGTH : 0);
  if (total > MAX_PACKET) throw new RangeError(`packet of ${total} bytes exceeds ${MAX_PACKET}`);
  const out = new Uint8Array(total);
  out[0] = 0x4d;
  out[1] = 0x51;
  out[2] = VERSION;
  out[3] = type;
  out[4] = area.length >> 8;
  out[5] = area.length & 0xff;
  out.set(area, HEADER_LENGTH);
  if (key) out.set(computeMac(key, out.subarray(0, HEADER_LENGTH + area.length)), HEADER_LENGTH + area.length);
  return out;
}

/** Key objects by key: building one per packet costs more than the HMAC itself. */
const keyObjects = new WeakMap<Uint8Array, KeyObject>();

export function computeMac(key: Uint8Array, covered: Uint8Array): Uint8Array {
  let k = keyObjects.get(key);
  if (!k) keyObjects.set(key, (k = createSecretKey(key)));
  return createHmac('sha256', k).update(covered).digest().subarray(0, MAC_LENGTH);
}

/** Constant-time MAC check. */
export function macValid(packet: RawPacket, key: Uint8Array): boolean {
  if (!packet.mac) return false;
  return timingSafeEqual(computeMac(key, packet.covered), packet.mac);
}
