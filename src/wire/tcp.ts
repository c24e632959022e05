/** TCP (RFC 9293) over IPv4: field offsets, accessors, a repr, options (kept intact), checksum, checksum-keeping setters, builders. */
import { finishChecksum, fold, pseudoHeaderSum, sumWords } from './checksum.js';
import { WireError } from './error.js';
import { buildIpv4Packet, defaultIpv4Header, ipv4, PROTO_TCP, read16, read32, write16, write32 } from './ipv4.js';
import { L4Checksum } from './l4-checksum.js';
import * as l4ChecksumModule from './l4-checksum.js';

// Local copies of what the setters call: an imported binding is read from its
// module cell at every use, a module-local constant is folded.
const { setPortKeepingChecksum, updateL4Checksum32 } = l4ChecksumModule;

export const TCP_MIN_HEADER = 20;

/** Byte offsets of the TCP header fields from the start of the header. */
export const TCP = {
  SRC_PORT: 0,
  DST_PORT: 2,
  SEQ: 4,
  ACK: 8,
  /** Data offset (header length in 32-bit words) in the high nibble. */
  DATA_OFF: 12,
  FLAGS: 13,
  WINDOW: 14,
  CHECKSUM: 16,
  URGENT: 18,
  /** Options, up to the header length. */
  OPTIONS: 20,
} as const;

/** Where a port sits in the header: source or destination. */
export type TcpPortField = typeof TCP.SRC_PORT | typeof TCP.DST_PORT;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;

export const OPT_END = 0;
export const OPT_NOP = 1;
export const OPT_MSS = 2;
export const OPT_WINDOW_SCALE = 3;
export const OPT_SACK_PERMITTED = 4;
export const OPT_SACK = 5;
export const OPT_TIMESTAMPS = 8;

export const tcp = {
  srcPort: (b: Uint8Array, o: number) => read16(b, o + TCP.SRC_PORT),
  dstPort: (b: Uint8Array, o: number) => read16(b, o + TCP.DST_PORT),
  seq: (b: Uint8Array, o: number) => read32(b, o + TCP.SEQ),
  ack: (b: Uint8Array, o: number) => read32(b, o + TCP.ACK),
  headerLength: (b: Uint8Array, o: number) => (b[o + TCP.DATA_OFF] >> 4) << 2,
  flags: (b: Uint8Array, o: number) => b[o + TCP.FLAGS],
  window: (b: Uint8Array, o: number) => read16(b, o + TCP.WINDOW),
  checksum: (b: Uint8Array, o: number) => read16(b, o + TCP.CHECKSUM),
  urgent: (b: Uint8Array, o: number) => read16(b, o + TCP.URGENT),
};

/** The checksum the TCP segment at b[o, o + length) should carry, from the addresses of its pseudo-header. */
export function tcpChecksumOf(b: Uint8Array, o: number, length: number, src: number, dst: number): number {
  let acc = pseudoHeaderSum(src, dst, PROTO_TCP, length);
  acc = sumWords(b, o, o + TCP.CHECKSUM, acc);
  acc = sumWords(b, o + TCP.CHECKSUM + 2, o + length, acc);
  return finishChecksum(acc);
}

export function computeTcpChecksum(b: Uint8Array, ip: number): number {
  const hl = ipv4.headerLength(b, ip);
  return tcpChecksumOf(b, ip + hl, ipv4.totalLength(b, ip) - hl, ipv4.src(b, ip), ipv4.dst(b, ip));
}

export function tcpChecksumValid(b: Uint8Array, ip: number): boolean {
  const start = ip + ipv4.headerLength(b, ip);
  return tcp.checksum(b, start) === computeTcpChecksum(b, ip);
}

export function fillTcpChecksum(b: Uint8Array, ip: number): void {
  write16(b, ip + ipv4.headerLength(b, ip) + TCP.CHECKSUM, computeTcpChecksum(b, ip));
}

/**
 * A TCP header as a plain value. The options stay in the buffer: the repr says
 * where they are (from TCP.OPTIONS up to headerLength), parseTcpOptions reads
 * them. The pseudo-header's addresses are passed in where the checksum needs
 * them; the checksum is checked on parse and written on emit, per L4Checksum.
 */
export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  urgent: number;
  /** 20 plus the options, a multiple of 4 up to 60. */
  headerLength: number;
}

/** Where the options of a header of this repr lie, relative to the header's start. */
export function tcpOptionsSpan(r: TcpRepr): { start: number; end: number } {
  return { start: TCP.OPTIONS, end: r.headerLength };
}

/**
 * Reads the TCP header at b[o], `length` bytes of segment there (header and
 * payload). With a full checksum (the default) the checksum must be right; a
 * partial one (offload) or None is not checked.
 */
export function parseTcpHeader(
  b: Uint8Array,
  o: number,
  length: number,
  src: number,
  dst: number,
  checksum: L4Checksum = L4Checksum.Full,
): TcpRepr {
  if (length < TCP_MIN_HEADER) throw new WireError('tcp', 'shorter than a TCP header');
  const headerLength = tcp.headerLength(b, o);
  if (headerLength < TCP_MIN_HEADER || headerLength > length) throw new WireError('tcp', `data offset ${headerLength} does not fit`);
  if (checksum === L4Checksum.Full && tcp.checksum(b, o) !== tcpChecksumOf(b, o, length, src, dst)) throw new WireError('tcp', 'bad checksum');
  return {
    srcPort: tcp.srcPort(b, o),
    dstPort: tcp.dstPort(b, o),
    seq: tcp.seq(b, o),
    ack: tcp.ack(b, o),
    flags: tcp.flags(b, o),
    window: tcp.window(b, o),
    urgent: tcp.urgent(b, o),
    headerLength,
  };
}

/**
 * Writes the header at b[o] for a segment of `length` bytes (header and
 * payload); the options and payload are already in place. Full: the complete
 * checksum; Partial: the pseudo-header sum, for offload to finish; None: 0.
 */
export function emitTcpHeader(r: TcpRepr, b: Uint8Array, o: number, length: number, src: number, dst: number, checksum: L4Checksum = L4Checksum.Full): void {
  if (r.headerLength < TCP_MIN_HEADER || r.headerLength > 60 || r.headerLength % 4 !== 0) {
    throw new WireError('tcp', `header length ${r.headerLength} is not a multiple of 4 in 20..60`);
  }
  write16(b, o + TCP.SRC_PORT, r.srcPort);
  write16(b, o + TCP.DST_PORT, r.dstPort);
  write32(b, o + TCP.SEQ, r.seq);
  write32(b, o + TCP.ACK, r.ack);
  b[o + TCP.DATA_OFF] = (r.headerLength >> 2) << 4;
  b[o + TCP.FLAGS] = r.flags;
  write16(b, o + TCP.WINDOW, r.window);
  write16(b, o + TCP.URGENT, r.urgent);
  let c = 0;
  if (checksum === L4Checksum.Full) c = tcpChecksumOf(b, o, length, src, dst);
  else if (checksum === L4Checksum.Partial) c = fold(pseudoHeaderSum(src, dst, PROTO_TCP, length));
  write16(b, o + TCP.CHECKSUM, c);
}

/**
 * Sets the port at `field` of the TCP header at b[o], and keeps the checksum
 * right for it and for a pseudo-header address that changed from oldAddr to
 * newAddr (pass the same address twice when it did not change). The header,
 * checksum field included, must be there: the caller has checked.
 */
export function setTcpEndpoint(b: Uint8Array, o: number, field: TcpPortField, port: number, oldAddr: number, newAddr: number, checksum: L4Checksum): void {
  setPortKeepingChecksum(b, o + field, o + TCP.CHECKSUM, false, port, oldAddr, newAddr, checksum);
}

/** Sets a port, keeping the checksum right (setTcpEndpoint without an address change). */
export function setTcpPort(b: Uint8Array, o: number, field: TcpPortField, port: number, checksum: L4Checksum): void {
  setTcpEndpoint(b, o, field, port, 0, 0, checksum);
}

/** Sets the sequence number, keeping the checksum right. */
export function setTcpSeq(b: Uint8Array, o: number, seq: number, checksum: L4Checksum): void {
  const old = read32(b, o + TCP.SEQ);
  write32(b, o + TCP.SEQ, seq);
  updateL4Checksum32(b, o + TCP.CHECKSUM, checksum, old, seq);
}

/** Sets the acknowledgement number, keeping the checksum right. */
export function setTcpAck(b: Uint8Array, o: number, ack: number, checksum: L4Checksum): void {
  const old = read32(b, o + TCP.ACK);
  write32(b, o + TCP.ACK, ack);
  updateL4Checksum32(b, o + TCP.CHECKSUM, checksum, old, ack);
}

export type TcpOption =
  | { kind: typeof OPT_MSS; mss: number }
  | { kind: typeof OPT_WINDOW_SCALE; shift: number }
  | { kind: typeof OPT_SACK_PERMITTED }
  | { kind: typeof OPT_SACK; blocks: Array<[number, number]> }
  | { kind: typeof OPT_TIMESTAMPS; value: number; echo: number }
  | { kind: number; raw: Uint8Array };

/**
 * Walks the options area of the TCP header at b[o], calling visit(kind, start, length)
 * for each option (start at its kind byte). Returns an error string, or null.
 * NOP and END are visited with length 1.
 */
export function walkTcpOptions(
  b: Uint8Array,
  o: number,
  visit: (kind: number, start: number, length: number) => void,
): string | null {
  const end = o + tcp.headerLength(b, o);
  let i = o + TCP_MIN_HEADER;
  while (i < end) {
    const kind = b[i];
    if (kind === OPT_END) {
      visit(kind, i, 1);
      return null;
    }
    if (kind === OPT_NOP) {
      visit(kind, i, 1);
      i++;
      continue;
    }
    if (i + 1 >= end) return 'option length byte missing';
    const len = b[i + 1];
    if (len < 2 || i + len > end) return `option ${kind} has bad length ${len}`;
    visit(kind, i, len);
    i += len;
  }
  return null;
}

export function parseTcpOptions(b: Uint8Array, o: number): TcpOption[] {
  const out: TcpOption[] = [];
  const err = walkTcpOptions(b, o, (kind, s, len) => {
    if (kind === OPT_END || kind === OPT_NOP) return;
    if (kind === OPT_MSS && len === 4) out.push({ kind, mss: (b[s + 2] << 8) | b[s + 3] });
    else if (kind === OPT_WINDOW_SCALE && len === 3) out.push({ kind, shift: b[s + 2] });
    else if (kind === OPT_SACK_PERMITTED && len === 2) out.push({ kind });
    else if (kind === OPT_SACK && (len - 2) % 8 === 0) {
      const blocks: Array<[number, number]> = [];
      for (let p = s + 2; p < s + len; p += 8) blocks.push([read32(b, p), read32(b, p + 4)]);
      out.push({ kind, blocks });
    } else if (kind === OPT_TIMESTAMPS && len === 10) {
      out.push({ kind, value: read32(b, s + 2), echo: read32(b, s + 6) });
    } else out.push({ kind, raw: b.slice(s, s + len) });
  });
  if (err) throw new WireError('tcp', err);
  return out;
}

export interface TcpSegment {
  src: number;
  dst: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** Raw option bytes, padded to a multiple of 4 when built. */
  options?: Uint8Array;
  payload: Uint8Array;
}

export function buildTcpPacket(s: TcpSegment, ttl = 64): Uint8Array {
  const opts = s.options ?? new Uint8Array(0);
  const hl = TCP_MIN_HEADER + ((opts.length + 3) & ~3);
  const seg = new Uint8Array(hl + s.payload.length);
  seg.set(opts, TCP.OPTIONS);
  seg.set(s.payload, hl);
  const r: TcpRepr = { srcPort: s.srcPort, dstPort: s.dstPort, seq: s.seq, ack: s.ack, flags: s.flags, window: s.window, urgent: 0, headerLength: hl };
  emitTcpHeader(r, seg, 0, seg.length, s.src, s.dst, L4Checksum.Full);
  return buildIpv4Packet({ ...defaultIpv4Header(s.src, s.dst, PROTO_TCP), ttl }, seg);
}

/** Reads the segment out of an IPv4 packet (whose header is already known good); the checksum is not checked. */
export function parseTcpPacket(b: Uint8Array, ip = 0): TcpSegment {
  const o = ip + ipv4.headerLength(b, ip);
  const end = ip + ipv4.totalLength(b, ip);
  const src = ipv4.src(b, ip);
  const dst = ipv4.dst(b, ip);
  const r = parseTcpHeader(b, o, end - o, src, dst, L4Checksum.None);
  return {
    src,
    dst,
    srcPort: r.srcPort,
    dstPort: r.dstPort,
    seq: r.seq,
    ack: r.ack,
    flags: r.flags,
    window: r.window,
    options: b.slice(o + TCP.OPTIONS, o + r.headerLength),
    payload: b.subarray(o + r.headerLength, end),
  };
}
