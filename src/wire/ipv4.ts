/**
 * IPv4 (RFC 791): a view over bytes with typed accessors, and a plain
 * representation that parses from and emits into bytes.
 *
 * The accessors are free functions over (buf, offset) so the engine's hot path
 * reads fields without allocating; Ipv4Packet wraps them for everyone else.
 */
import { internetChecksum, updateChecksum16, updateChecksum32 } from './checksum.js';
import { WireError } from './error.js';

export const IPV4_MIN_HEADER = 20;
export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMPV6 = 58;

export const ipv4 = {
  version: (b: Uint8Array, o: number) => b[o] >> 4,
  headerLength: (b: Uint8Array, o: number) => (b[o] & 0x0f) << 2,
  tos: (b: Uint8Array, o: number) => b[o + 1],
  totalLength: (b: Uint8Array, o: number) => (b[o + 2] << 8) | b[o + 3],
  identification: (b: Uint8Array, o: number) => (b[o + 4] << 8) | b[o + 5],
  dontFragment: (b: Uint8Array, o: number) => (b[o + 6] & 0x40) !== 0,
  moreFragments: (b: Uint8Array, o: number) => (b[o + 6] & 0x20) !== 0,
  /** In 8-byte units, as on the wire. */
  fragmentOffset: (b: Uint8Array, o: number) => ((b[o + 6] & 0x1f) << 8) | b[o + 7],
  ttl: (b: Uint8Array, o: number) => b[o + 8],
  protocol: (b: Uint8Array, o: number) => b[o + 9],
  checksum: (b: Uint8Array, o: number) => (b[o + 10] << 8) | b[o + 11],
  src: (b: Uint8Array, o: number) => ((b[o + 12] << 24) | (b[o + 13] << 16) | (b[o + 14] << 8) | b[o + 15]) >>> 0,
  dst: (b: Uint8Array, o: number) => ((b[o + 16] << 24) | (b[o + 17] << 16) | (b[o + 18] << 8) | b[o + 19]) >>> 0,
};

export function write16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}

export function write32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

export function read16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

export function read32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** Header checksum over the header as it is now (field included: a valid header sums to 0). */
export function ipv4HeaderChecksumValid(b: Uint8Array, o: number): boolean {
  return internetChecksum(b, o, o + ipv4.headerLength(b, o)) === 0;
}

export function fillIpv4HeaderChecksum(b: Uint8Array, o: number): void {
  b[o + 10] = 0;
  b[o + 11] = 0;
  write16(b, o + 10, internetChecksum(b, o, o + ipv4.headerLength(b, o)));
}

/** Rewrites the source address, keeping the header checksum valid incrementally. */
export function setIpv4Src(b: Uint8Array, o: number, addr: number): void {
  const old = ipv4.src(b, o);
  write32(b, o + 12, addr);
  write16(b, o + 10, updateChecksum32(ipv4.checksum(b, o), old, addr));
}

export function setIpv4Dst(b: Uint8Array, o: number, addr: number): void {
  const old = ipv4.dst(b, o);
  write32(b, o + 16, addr);
  write16(b, o + 10, updateChecksum32(ipv4.checksum(b, o), old, addr));
}

export function setIpv4Ttl(b: Uint8Array, o: number, ttl: number): void {
  const oldWord = (b[o + 8] << 8) | b[o + 9];
  b[o + 8] = ttl;
  write16(b, o + 10, updateChecksum16(ipv4.checksum(b, o), oldWord, (ttl << 8) | b[o + 9]));
}

export function setIpv4TotalLength(b: Uint8Array, o: number, length: number): void {
  const old = ipv4.totalLength(b, o);
  write16(b, o + 2, length);
  write16(b, o + 10, updateChecksum16(ipv4.checksum(b, o), old, length));
}

/**
 * Why a buffer is not a usable IPv4 packet, or null when it is. Checks what every
 * later read relies on: version, header length, total length within the buffer.
 */
export function ipv4Problem(b: Uint8Array, o: number, available: number): string | null {
  if (available < IPV4_MIN_HEADER) return 'shorter than an IPv4 header';
  if (ipv4.version(b, o) !== 4) return 'not IPv4';
  const hl = ipv4.headerLength(b, o);
  if (hl < IPV4_MIN_HEADER) return 'header length below 20';
  const total = ipv4.totalLength(b, o);
  if (total < hl) return 'total length shorter than header';
  if (total > available) return 'total length beyond the data';
  return null;
}

/** A plain IPv4 header value. Addresses are uint32. */
export interface Ipv4Repr {
  tos: number;
  identification: number;
  dontFragment: boolean;
  moreFragments: boolean;
  fragmentOffset: number; // in 8-byte units
  ttl: number;
  protocol: number;
  src: number;
  dst: number;
  options: Uint8Array; // raw, a multiple of 4 bytes (padded when emitted)
  /** Length of what follows the header, from total length. */
  payloadLength: number;
}

export function parseIpv4Header(b: Uint8Array, o = 0, available = b.length - o): Ipv4Repr {
  const problem = ipv4Problem(b, o, available);
  if (problem) throw new WireError('ipv4', problem);
  const hl = ipv4.headerLength(b, o);
  return {
    tos: ipv4.tos(b, o),
    identification: ipv4.identification(b, o),
    dontFragment: ipv4.dontFragment(b, o),
    moreFragments: ipv4.moreFragments(b, o),
    fragmentOffset: ipv4.fragmentOffset(b, o),
    ttl: ipv4.ttl(b, o),
    protocol: ipv4.protocol(b, o),
    src: ipv4.src(b, o),
    dst: ipv4.dst(b, o),
    options: b.slice(o + IPV4_MIN_HEADER, o + hl),
    payloadLength: ipv4.totalLength(b, o) - hl,
  };
}

export function ipv4HeaderLengthOf(r: Ipv4Repr): number {
  return IPV4_MIN_HEADER + ((r.options.length + 3) & ~3);
}

/** Writes the header (with a valid checksum) at b[o]; returns its length. */
export function emitIpv4Header(r: Ipv4Repr, b: Uint8Array, o = 0): number {
  const hl = ipv4HeaderLengthOf(r);
  if (hl > 60) throw new WireError('ipv4', 'options longer than 40 bytes');
  b[o] = 0x40 | (hl >> 2);
  b[o + 1] = r.tos;
  write16(b, o + 2, hl + r.payloadLength);
  write16(b, o + 4, r.identification);
  write16(b, o + 6, (r.dontFragment ? 0x4000 : 0) | (r.moreFragments ? 0x2000 : 0) | (r.fragmentOffset & 0x1fff));
  b[o + 8] = r.ttl;
  b[o + 9] = r.protocol;
  write32(b, o + 12, r.src);
  write32(b, o + 16, r.dst);
  b.fill(0, o + IPV4_MIN_HEADER, o + hl);
  b.set(r.options, o + IPV4_MIN_HEADER);
  fillIpv4HeaderChecksum(b, o);
  return hl;
}

/** Builds a whole packet: header then payload. */
export function buildIpv4Packet(header: Omit<Ipv4Repr, 'payloadLength'>, payload: Uint8Array): Uint8Array {
  const r: Ipv4Repr = { ...header, payloadLength: payload.length };
  const hl = ipv4HeaderLengthOf(r);
  const out = new Uint8Array(hl + payload.length);
  emitIpv4Header(r, out, 0);
  out.set(payload, hl);
  return out;
}

export const defaultIpv4Header = (src: number, dst: number, protocol: number): Omit<Ipv4Repr, 'payloadLength'> => ({
  tos: 0,
  identification: 0,
  dontFragment: false,
  moreFragments: false,
  fragmentOffset: 0,
  ttl: 64,
  protocol,
  src,
  dst,
  options: new Uint8Array(0),
});

/** A view over one IPv4 packet for code off the hot path. */
export class Ipv4Packet {
  constructor(
    readonly buf: Uint8Array,
    readonly offset = 0,
  ) {
    const problem = ipv4Problem(buf, offset, buf.length - offset);
    if (problem) throw new WireError('ipv4', problem);
  }
  get headerLength() {
    return ipv4.headerLength(this.buf, this.offset);
  }
  get totalLength() {
    return ipv4.totalLength(this.buf, this.offset);
  }
  get protocol() {
    return ipv4.protocol(this.buf, this.offset);
  }
  get src() {
    return ipv4.src(this.buf, this.offset);
  }
  get dst() {
    return ipv4.dst(this.buf, this.offset);
  }
  get ttl() {
    return ipv4.ttl(this.buf, this.offset);
  }
  get isFragment() {
    return ipv4.moreFragments(this.buf, this.offset) || ipv4.fragmentOffset(this.buf, this.offset) !== 0;
  }
  get payloadOffset() {
    return this.offset + this.headerLength;
  }
  get payload(): Uint8Array {
    return this.buf.subarray(this.payloadOffset, this.offset + this.totalLength);
  }
  get checksumValid() {
    return ipv4HeaderChecksumValid(this.buf, this.offset);
  }
}
