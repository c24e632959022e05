/**
 * IPv4 (RFC 791): a view over bytes with typed accessors, and a plain
 * representation that parses from and emits into bytes.
 *
 * The accessors are free functions over (buf, offset): reading a field allocates
 * nothing, on the hot path or off it.
 */
import { internetChecksum, updateChecksum16, updateChecksum32 } from './checksum.js';
import { WireError } from './error.js';

export const IPV4_MIN_HEADER = 20;
export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMPV6 = 58;

/**
 * Byte offsets of the IPv4 header fields (RFC 791 3.1) from the start of the
 * header. Code on a hot path copies the ones it uses into module constants
 * (`const { SRC, DST } = IPV4`): an imported binding is read from its module
 * cell at every use, a module-local constant is folded.
 */
export const IPV4 = {
  /** Version (high nibble) and header length in 32-bit words (low nibble). */
  VER_IHL: 0,
  TOS: 1,
  TOTAL_LEN: 2,
  IDENT: 4,
  /** Flags (3 bits) and fragment offset (13 bits, in 8-byte units), one 16-bit word. */
  FLAGS_FRAG: 6,
  TTL: 8,
  PROTO: 9,
  CHECKSUM: 10,
  SRC: 12,
  DST: 16,
  /** Options, up to the header length. */
  OPTIONS: 20,
} as const;

/** Where an address sits in the header: source or destination. */
export type Ipv4AddressField = typeof IPV4.SRC | typeof IPV4.DST;

/** Bits of the 16-bit word at IPV4.FLAGS_FRAG. */
export const IPV4_DONT_FRAGMENT = 0x4000;
export const IPV4_MORE_FRAGMENTS = 0x2000;
export const IPV4_FRAGMENT_OFFSET_MASK = 0x1fff;

export const ipv4 = {
  version: (b: Uint8Array, o: number) => b[o + IPV4.VER_IHL] >> 4,
  headerLength: (b: Uint8Array, o: number) => (b[o + IPV4.VER_IHL] & 0x0f) << 2,
  tos: (b: Uint8Array, o: number) => b[o + IPV4.TOS],
  totalLength: (b: Uint8Array, o: number) => read16(b, o + IPV4.TOTAL_LEN),
  identification: (b: Uint8Array, o: number) => read16(b, o + IPV4.IDENT),
  dontFragment: (b: Uint8Array, o: number) => (read16(b, o + IPV4.FLAGS_FRAG) & IPV4_DONT_FRAGMENT) !== 0,
  moreFragments: (b: Uint8Array, o: number) => (read16(b, o + IPV4.FLAGS_FRAG) & IPV4_MORE_FRAGMENTS) !== 0,
  /** In 8-byte units, as on the wire. */
  fragmentOffset: (b: Uint8Array, o: number) => read16(b, o + IPV4.FLAGS_FRAG) & IPV4_FRAGMENT_OFFSET_MASK,
  ttl: (b: Uint8Array, o: number) => b[o + IPV4.TTL],
  protocol: (b: Uint8Array, o: number) => b[o + IPV4.PROTO],
  checksum: (b: Uint8Array, o: number) => read16(b, o + IPV4.CHECKSUM),
  src: (b: Uint8Array, o: number) => read32(b, o + IPV4.SRC),
  dst: (b: Uint8Array, o: number) => read32(b, o + IPV4.DST),
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
  b[o + IPV4.CHECKSUM] = 0;
  b[o + IPV4.CHECKSUM + 1] = 0;
  write16(b, o + IPV4.CHECKSUM, internetChecksum(b, o, o + ipv4.headerLength(b, o)));
}

/**
 * Rewrites the source (IPV4.SRC) or destination (IPV4.DST) address, keeping the
 * header checksum valid by incremental update (RFC 1624). Returns the address
 * it replaced, for the transport checksum's pseudo-header.
 */
export function setIpv4Address(b: Uint8Array, o: number, field: Ipv4AddressField, addr: number): number {
  const at = o + field;
  const old = ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
  if (old === addr) return old;
  b[at] = addr >>> 24;
  b[at + 1] = addr >>> 16;
  b[at + 2] = addr >>> 8;
  b[at + 3] = addr;
  const c = o + IPV4.CHECKSUM;
  const n = updateChecksum32((b[c] << 8) | b[c + 1], old, addr);
  b[c] = n >>> 8;
  b[c + 1] = n;
  return old;
}

/** Rewrites the source address (checksum kept valid); returns the old one. */
export function setIpv4Src(b: Uint8Array, o: number, addr: number): number {
  return setIpv4Address(b, o, IPV4.SRC, addr);
}

/** Rewrites the destination address (checksum kept valid); returns the old one. */
export function setIpv4Dst(b: Uint8Array, o: number, addr: number): number {
  return setIpv4Address(b, o, IPV4.DST, addr);
}

export function setIpv4Ttl(b: Uint8Array, o: number, ttl: number): void {
  // TTL shares its 16-bit word with the protocol.
  const oldWord = read16(b, o + IPV4.TTL);
  b[o + IPV4.TTL] = ttl;
  write16(b, o + IPV4.CHECKSUM, updateChecksum16(ipv4.checksum(b, o), oldWord, read16(b, o + IPV4.TTL)));
}

export function setIpv4TotalLength(b: Uint8Array, o: number, length: number): void {
  const old = ipv4.totalLength(b, o);
  write16(b, o + IPV4.TOTAL_LEN, length);
  write16(b, o + IPV4.CHECKSUM, updateChecksum16(ipv4.checksum(b, o), old, length));
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
    options: b.slice(o + IPV4.OPTIONS, o + hl),
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
  b[o + IPV4.VER_IHL] = 0x40 | (hl >> 2);
  b[o + IPV4.TOS] = r.tos;
  write16(b, o + IPV4.TOTAL_LEN, hl + r.payloadLength);
  write16(b, o + IPV4.IDENT, r.identification);
  write16(
    b,
    o + IPV4.FLAGS_FRAG,
    (r.dontFragment ? IPV4_DONT_FRAGMENT : 0) | (r.moreFragments ? IPV4_MORE_FRAGMENTS : 0) | (r.fragmentOffset & IPV4_FRAGMENT_OFFSET_MASK),
  );
  b[o + IPV4.TTL] = r.ttl;
  b[o + IPV4.PROTO] = r.protocol;
  write32(b, o + IPV4.SRC, r.src);
  write32(b, o + IPV4.DST, r.dst);
  b.fill(0, o + IPV4.OPTIONS, o + hl);
  b.set(r.options, o + IPV4.OPTIONS);
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
