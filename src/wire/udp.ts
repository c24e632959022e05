/** UDP (RFC 768) over IPv4: accessors, checksum, builders. */
import { finishChecksum, pseudoHeaderSum, sumWords } from './checksum.js';
import { WireError } from './error.js';
import { buildIpv4Packet, defaultIpv4Header, ipv4, PROTO_UDP, read16, write16 } from './ipv4.js';

export const UDP_HEADER = 8;

export const udp = {
  srcPort: (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1],
  dstPort: (b: Uint8Array, o: number) => (b[o + 2] << 8) | b[o + 3],
  length: (b: Uint8Array, o: number) => (b[o + 4] << 8) | b[o + 5],
  checksum: (b: Uint8Array, o: number) => (b[o + 6] << 8) | b[o + 7],
};

/** The checksum a UDP datagram inside the IPv4 packet at ip should carry. */
export function computeUdpChecksum(b: Uint8Array, ip: number): number {
  const hl = ipv4.headerLength(b, ip);
  const start = ip + hl;
  const len = ipv4.totalLength(b, ip) - hl;
  let acc = pseudoHeaderSum(ipv4.src(b, ip), ipv4.dst(b, ip), PROTO_UDP, len);
  acc = sumWords(b, start, start + 6, acc);
  acc = sumWords(b, start + 8, start + len, acc);
  const c = finishChecksum(acc);
  return c === 0 ? 0xffff : c; // 0 on the wire means "no checksum" (RFC 768)
}

/** True when the checksum is absent (0) or correct. */
export function udpChecksumValid(b: Uint8Array, ip: number): boolean {
  const start = ip + ipv4.headerLength(b, ip);
  const stored = read16(b, start + 6);
  return stored === 0 || stored === computeUdpChecksum(b, ip);
}

export function fillUdpChecksum(b: Uint8Array, ip: number): void {
  const start = ip + ipv4.headerLength(b, ip);
  write16(b, start + 6, computeUdpChecksum(b, ip));
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
  write16(seg, 0, d.srcPort);
  write16(seg, 2, d.dstPort);
  write16(seg, 4, seg.length);
  seg.set(d.payload, UDP_HEADER);
  const pkt = buildIpv4Packet({ ...defaultIpv4Header(d.src, d.dst, PROTO_UDP), ttl }, seg);
  fillUdpChecksum(pkt, 0);
  return pkt;
}

/** Reads the datagram out of an IPv4 packet (whose header is already known good). */
export function parseUdpPacket(b: Uint8Array, ip = 0): UdpDatagram {
  const hl = ipv4.headerLength(b, ip);
  const end = ip + ipv4.totalLength(b, ip);
  const o = ip + hl;
  if (end - o < UDP_HEADER) throw new WireError('udp', 'shorter than a UDP header');
  const len = udp.length(b, o);
  if (len < UDP_HEADER || o + len > end) throw new WireError('udp', `length field ${len} does not fit`);
  return {
    src: ipv4.src(b, ip),
    dst: ipv4.dst(b, ip),
    srcPort: udp.srcPort(b, o),
    dstPort: udp.dstPort(b, o),
    payload: b.subarray(o + UDP_HEADER, o + len),
  };
}
