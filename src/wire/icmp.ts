/** ICMP for IPv4 (RFC 792): field offsets, accessors, a repr, echo queries and the errors that quote a packet. */
import * as checksumModule from './checksum.js';
import { finishChecksum, internetChecksum, sumWords } from './checksum.js';
import { WireError } from './error.js';
import { buildIpv4Packet, defaultIpv4Header, ipv4, PROTO_ICMP, read16, read32, write16, write32 } from './ipv4.js';

// A local copy of what the setter calls: an imported binding is read from its
// module cell at every use, a module-local constant is folded.
const { updateChecksum16 } = checksumModule;

export const ICMP_HEADER = 8;

/** Byte offsets of the ICMP header fields from the start of the message. */
export const ICMP = {
  TYPE: 0,
  CODE: 1,
  CHECKSUM: 2,
  /** Echo and timestamp messages: the identifier (it plays the role of a port) and sequence number. */
  ID: 4,
  SEQ: 6,
  /** Other messages: the second 32-bit word (unused, a pointer, a gateway address, a next-hop MTU). */
  REST: 4,
  /** Errors: the quoted packet (its IP header and the first bytes after it). */
  QUOTED: 8,
} as const;

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
  type: (b: Uint8Array, o: number) => b[o + ICMP.TYPE],
  code: (b: Uint8Array, o: number) => b[o + ICMP.CODE],
  checksum: (b: Uint8Array, o: number) => read16(b, o + ICMP.CHECKSUM),
  /** Echo and timestamp messages: the identifier that plays the role of a port. */
  identifier: (b: Uint8Array, o: number) => read16(b, o + ICMP.ID),
  sequence: (b: Uint8Array, o: number) => read16(b, o + ICMP.SEQ),
  rest: (b: Uint8Array, o: number) => read32(b, o + ICMP.REST),
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

function isIcmpQuery(type: number): boolean {
  return type === ICMP_ECHO_REQUEST || type === ICMP_ECHO_REPLY || type === ICMP_TIMESTAMP || type === ICMP_TIMESTAMP_REPLY;
}

/** The checksum the ICMP message at b[o, o + length) should carry (ICMPv4 has no pseudo-header). */
export function icmpChecksumOf(b: Uint8Array, o: number, length: number): number {
  const at = o + ICMP.CHECKSUM;
  return finishChecksum(sumWords(b, at + 2, o + length, sumWords(b, o, at)));
}

export function computeIcmpChecksum(b: Uint8Array, ip: number): number {
  const start = ip + ipv4.headerLength(b, ip);
  return icmpChecksumOf(b, start, ip + ipv4.totalLength(b, ip) - start);
}

export function icmpChecksumValid(b: Uint8Array, ip: number): boolean {
  const start = ip + ipv4.headerLength(b, ip);
  const end = ip + ipv4.totalLength(b, ip);
  return internetChecksum(b, start, end) === 0;
}

/**
 * An ICMP header as a plain value: a query (echo, timestamp and their
 * replies) with its identifier and sequence number, or any other message with
 * its second word. An error's quoted packet follows at ICMP.QUOTED.
 */
export type IcmpRepr =
  | { kind: 'query'; type: number; code: number; id: number; seq: number }
  | { kind: 'other'; type: number; code: number; rest: number };

/**
 * Reads the ICMP header of the message at b[o, o + length). The checksum,
 * over the whole message, must be right unless `verify` is false.
 */
export function parseIcmpHeader(b: Uint8Array, o: number, length: number, verify = true): IcmpRepr {
  if (length < ICMP_HEADER) throw new WireError('icmp', 'shorter than an ICMP header');
  if (verify && internetChecksum(b, o, o + length) !== 0) throw new WireError('icmp', 'bad checksum');
  const type = icmp.type(b, o);
  const code = icmp.code(b, o);
  if (isIcmpQuery(type)) return { kind: 'query', type, code, id: icmp.identifier(b, o), seq: icmp.sequence(b, o) };
  return { kind: 'other', type, code, rest: icmp.rest(b, o) };
}

/** Writes the header of a message of `length` bytes at b[o], the rest already in place; fills the checksum. */
export function emitIcmpHeader(r: IcmpRepr, b: Uint8Array, o: number, length: number): void {
  b[o + ICMP.TYPE] = r.type;
  b[o + ICMP.CODE] = r.code;
  if (r.kind === 'query') {
    write16(b, o + ICMP.ID, r.id);
    write16(b, o + ICMP.SEQ, r.seq);
  } else {
    write32(b, o + ICMP.REST, r.rest);
  }
  write16(b, o + ICMP.CHECKSUM, icmpChecksumOf(b, o, length));
}

/**
 * Sets the identifier of the query at b[o], keeping the ICMP checksum right
 * by incremental update; with `checksum` false (a quote cut short before the
 * checksum field) only the identifier is written.
 */
export function setIcmpId(b: Uint8Array, o: number, id: number, checksum = true): void {
  const at = o + ICMP.ID;
  const old = (b[at] << 8) | b[at + 1];
  b[at] = id >>> 8;
  b[at + 1] = id;
  if (!checksum || old === id) return;
  const c = o + ICMP.CHECKSUM;
  const n = updateChecksum16((b[c] << 8) | b[c + 1], old, id);
  b[c] = n >>> 8;
  b[c + 1] = n;
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
  msg.set(data, ICMP_HEADER);
  emitIcmpHeader({ kind: 'query', type, code: 0, id, seq }, msg, 0, msg.length);
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
  msg.set(quoted, ICMP.QUOTED);
  emitIcmpHeader({ kind: 'other', type, code, rest }, msg, 0, msg.length);
  return buildIpv4Packet(defaultIpv4Header(src, ipv4.src(offending, 0), PROTO_ICMP), msg);
}
