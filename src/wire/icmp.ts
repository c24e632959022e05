/** ICMP for IPv4 (RFC 792): echo queries and the errors that quote a packet. */
import { internetChecksum } from './checksum.js';
import { buildIpv4Packet, defaultIpv4Header, ipv4, PROTO_ICMP, write16 } from './ipv4.js';

export const ICMP_HEADER = 8;

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACHABLE = 3;
export const ICMP_SOURCE_QUENCH = 4;
export const ICMP_REDIRECT = 5;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAMETER_PROBLEM = 12;
export const ICMP_TIMESTAMP = 13;
export const ICMP_TIMESTAMP_REPLY = 14;

export const UNREACH_NET = 0;
export const UNREACH_HOST = 1;
export const UNREACH_PROTOCOL = 2;
export const UNREACH_PORT = 3;
export const UNREACH_FRAG_NEEDED = 4;
export const UNREACH_ADMIN_PROHIBITED = 13;

export const icmp = {
  type: (b: Uint8Array, o: number) => b[o],
  code: (b: Uint8Array, o: number) => b[o + 1],
  checksum: (b: Uint8Array, o: number) => (b[o + 2] << 8) | b[o + 3],
  /** Echo and timestamp messages: the identifier that plays the role of a port. */
  identifier: (b: Uint8Array, o: number) => (b[o + 4] << 8) | b[o + 5],
  sequence: (b: Uint8Array, o: number) => (b[o + 6] << 8) | b[o + 7],
};

/** Errors quote the offending packet's IP header and at least 8 bytes after it. */
export function isIcmpError(type: number): boolean {
  return (
    type === ICMP_DEST_UNREACHABLE ||
    type === ICMP_SOURCE_QUENCH ||
    type === ICMP_REDIRECT ||
    type === ICMP_TIME_EXCEEDED ||
    type === ICMP_PARAMETER_PROBLEM
  );
}

/** Queries whose identifier is translated like a port; the value is the reply type. */
export function icmpQueryReplyType(type: number): number {
  if (type === ICMP_ECHO_REQUEST) return ICMP_ECHO_REPLY;
  if (type === ICMP_TIMESTAMP) return ICMP_TIMESTAMP_REPLY;
  return -1;
}

export function isIcmpQuery(type: number): boolean {
  return type === ICMP_ECHO_REQUEST || type === ICMP_ECHO_REPLY || type === ICMP_TIMESTAMP || type === ICMP_TIMESTAMP_REPLY;
}

export function computeIcmpChecksum(b: Uint8Array, ip: number): number {
  const start = ip + ipv4.headerLength(b, ip);
  const end = ip + ipv4.totalLength(b, ip);
  const saved0 = b[start + 2];
  const saved1 = b[start + 3];
  b[start + 2] = 0;
  b[start + 3] = 0;
  const c = internetChecksum(b, start, end);
  b[start + 2] = saved0;
  b[start + 3] = saved1;
  return c;
}

export function icmpChecksumValid(b: Uint8Array, ip: number): boolean {
  const start = ip + ipv4.headerLength(b, ip);
  const end = ip + ipv4.totalLength(b, ip);
  return internetChecksum(b, start, end) === 0;
}

export function fillIcmpChecksum(b: Uint8Array, ip: number): void {
  write16(b, ip + ipv4.headerLength(b, ip) + 2, computeIcmpChecksum(b, ip));
}

export function buildIcmpEcho(
  src: number,
  dst: number,
  type: typeof ICMP_ECHO_REQUEST | typeof ICMP_ECHO_REPLY,
  id: number,
  seq: number,
  data: Uint8Array = new Uint8Array(0),
  ttl = 64,
): Uint8Array {
  const msg = new Uint8Array(ICMP_HEADER + data.length);
  msg[0] = type;
  write16(msg, 4, id);
  write16(msg, 6, seq);
  msg.set(data, ICMP_HEADER);
  write16(msg, 2, internetChecksum(msg, 0, msg.length));
  return buildIpv4Packet({ ...defaultIpv4Header(src, dst, PROTO_ICMP), ttl }, msg);
}

/**
 * An ICMP error from `src` about `offending` (a whole IPv4 packet), quoting its
 * header and up to `quoteBytes` bytes after it (RFC 792 asks for 8; RFC 1812
 * allows up to 576 bytes in all).
 */
export function buildIcmpError(
  src: number,
  type: number,
  code: number,
  offending: Uint8Array,
  quoteBytes = 8,
  rest = 0,
): Uint8Array {
  const hl = ipv4.headerLength(offending, 0);
  const quoted = offending.subarray(0, Math.min(offending.length, ipv4.totalLength(offending, 0), hl + quoteBytes));
  const msg = new Uint8Array(ICMP_HEADER + quoted.length);
  msg[0] = type;
  msg[1] = code;
  msg[4] = rest >>> 24;
  msg[5] = rest >>> 16;
  msg[6] = rest >>> 8;
  msg[7] = rest;
  msg.set(quoted, ICMP_HEADER);
  write16(msg, 2, internetChecksum(msg, 0, msg.length));
  return buildIpv4Packet(defaultIpv4Header(src, ipv4.src(offending, 0), PROTO_ICMP), msg);
}
