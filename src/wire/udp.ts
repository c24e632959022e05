/** UDP (RFC 768) over IPv4: field offsets, accessors, a repr, checksum, checksum-keeping setters, builders. */
import { finishChecksum, fold, pseudoHeaderSum, sumWords } from './checksum.js';
import { WireError } from './error.js';
import { buildIpv4Packet, defaultIpv4Header, ipv4, PROTO_UDP, read16, write16 } from './ipv4.js';
import { L4Checksum } from './l4-checksum.js';
import * as l4ChecksumModule from './l4-checksum.js';

// Local copies of what the setters call: an imported binding is read from its
// module cell at every use, a module-local constant is folded.
const { setPortKeepingChecksum } = l4ChecksumModule;

export const UDP_HEADER = 8;

/** Byte offsets of the UDP header fields from the start of the header. */
export const UDP = {
  SRC_PORT: 0,
  DST_PORT: 2,
  /** Of header and payload. */
  LENGTH: 4,
  CHECKSUM: 6,
  PAYLOAD: 8,
} as const;

/** Where a port sits in the header: source or destination. */
export type UdpPortField = typeof UDP.SRC_PORT | typeof UDP.DST_PORT;

export const udp = {
  srcPort: (b: Uint8Array, o: number) => read16(b, o + UDP.SRC_PORT),
  dstPort: (b: Uint8Array, o: number) => read16(b, o + UDP.DST_PORT),
  length: (b: Uint8Array, o: number) => read16(b, o + UDP.LENGTH),
  checksum: (b: Uint8Array, o: number) => read16(b, o + UDP.CHECKSUM),
};

/**
 * The checksum the UDP datagram at b[o, o + length) should carry, from the
 * addresses of its pseudo-header. Never 0: that would mean "no checksum".
 */
export function udpChecksumOf(b: Uint8Array, o: number, length: number, src: number, dst: number): number {
  let acc = pseudoHeaderSum(src, dst, PROTO_UDP, length);
  acc = sumWords(b, o, o + UDP.CHECKSUM, acc);
  acc = sumWords(b, o + UDP.CHECKSUM + 2, o + length, acc);
  const c = finishChecksum(acc);
  return c === 0 ? 0xffff : c; // 0 on the wire means "no checksum" (RFC 768)
}

/**
 * The checksum a UDP datagram inside the IPv4 packet at ip should carry: over
 * the datagram's own length (bytes after it in the IP packet are not
 * covered); over the IP payload when the length field does not fit it.
 */
export function computeUdpChecksum(b: Uint8Array, ip: number): number {
  const hl = ipv4.headerLength(b, ip);
  const ipPayload = ipv4.totalLength(b, ip) - hl;
  const own = udp.length(b, ip + hl);
  const length = own >= UDP_HEADER && own <= ipPayload ? own : ipPayload;
  return udpChecksumOf(b, ip + hl, length, ipv4.src(b, ip), ipv4.dst(b, ip));
}

/** True when the checksum is absent (0) or correct. */
export function udpChecksumValid(b: Uint8Array, ip: number): boolean {
  const stored = udp.checksum(b, ip + ipv4.headerLength(b, ip));
  return stored === 0 || stored === computeUdpChecksum(b, ip);
}

export function fillUdpChecksum(b: Uint8Array, ip: number): void {
  write16(b, ip + ipv4.headerLength(b, ip) + UDP.CHECKSUM, computeUdpChecksum(b, ip));
}

/**
 * A UDP header as a plain value. The addresses of the pseudo-header are not
 * part of it: they belong to the IP header and are passed in where the
 * checksum needs them. The checksum itself is checked on parse and written on
 * emit, per L4Checksum.
 */
export interface UdpRepr {
  srcPort: number;
  dstPort: number;
  /** Of header and payload, as the length field says. */
  length: number;
}

/**
 * Reads the UDP header at b[o], `available` bytes of segment there. With a
 * full checksum (the default) a checksum that is present must be right; a
 * partial one (offload) or None is not checked.
 */
export function parseUdpHeader(
  b: Uint8Array,
  o: number,
  available: number,
  src: number,
  dst: number,
  checksum: L4Checksum = L4Checksum.Full,
): UdpRepr {
  if (available < UDP_HEADER) throw new WireError('udp', 'shorter than a UDP header');
  const length = udp.length(b, o);
  if (length < UDP_HEADER || length > available) throw new WireError('udp', `length field ${length} does not fit`);
  const stored = udp.checksum(b, o);
  if (checksum === L4Checksum.Full && stored !== 0 && stored !== udpChecksumOf(b, o, length, src, dst)) {
    throw new WireError('udp', 'bad checksum');
  }
  return { srcPort: udp.srcPort(b, o), dstPort: udp.dstPort(b, o), length };
}

/**
 * Writes the header at b[o], the payload being already in place after it.
 * Full: the complete checksum; Partial: the pseudo-header sum, for offload to
 * finish; None: 0, "no checksum".
 */
export function emitUdpHeader(r: UdpRepr, b: Uint8Array, o: number, src: number, dst: number, checksum: L4Checksum = L4Checksum.Full): void {
  write16(b, o + UDP.SRC_PORT, r.srcPort);
  write16(b, o + UDP.DST_PORT, r.dstPort);
  write16(b, o + UDP.LENGTH, r.length);
  let c = 0;
  if (checksum === L4Checksum.Full) c = udpChecksumOf(b, o, r.length, src, dst);
  else if (checksum === L4Checksum.Partial) c = fold(pseudoHeaderSum(src, dst, PROTO_UDP, r.length));
  write16(b, o + UDP.CHECKSUM, c);
}

/**
 * Sets the port at `field` of the UDP header at b[o], and keeps the checksum
 * right for it and for a pseudo-header address that changed from oldAddr to
 * newAddr (the NAT rewrites both at once; pass the same address twice when it
 * did not change). The header must be there: the caller has checked.
 */
export function setUdpEndpoint(b: Uint8Array, o: number, field: UdpPortField, port: number, oldAddr: number, newAddr: number, checksum: L4Checksum): void {
  setPortKeepingChecksum(b, o + field, o + UDP.CHECKSUM, true, port, oldAddr, newAddr, checksum);
}

/** Sets a port, keeping the checksum right (setUdpEndpoint without an address change). */
export function setUdpPort(b: Uint8Array, o: number, field: UdpPortField, port: number, checksum: L4Checksum): void {
  setUdpEndpoint(b, o, field, port, 0, 0, checksum);
}

export interface UdpDatagram {
  src: number;
  dst: number;
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

/** A whole IPv4 packet carrying one UDP datagram, every checksum valid. */
export function buildUdpPacket(d: UdpDatagram, ttl = 64): Uint8Array {
  const seg = new Uint8Array(UDP_HEADER + d.payload.length);
  seg.set(d.payload, UDP_HEADER);
  emitUdpHeader({ srcPort: d.srcPort, dstPort: d.dstPort, length: seg.length }, seg, 0, d.src, d.dst, L4Checksum.Full);
  return buildIpv4Packet({ ...defaultIpv4Header(d.src, d.dst, PROTO_UDP), ttl }, seg);
}

/** Reads the datagram out of an IPv4 packet (whose header is already known good); the checksum is not checked. */
export function parseUdpPacket(b: Uint8Array, ip = 0): UdpDatagram {
  const hl = ipv4.headerLength(b, ip);
  const o = ip + hl;
  const src = ipv4.src(b, ip);
  const dst = ipv4.dst(b, ip);
  const r = parseUdpHeader(b, o, ip + ipv4.totalLength(b, ip) - o, src, dst, L4Checksum.None);
  return { src, dst, srcPort: r.srcPort, dstPort: r.dstPort, payload: b.subarray(o + UDP_HEADER, o + r.length) };
}
