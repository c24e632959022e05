/** TCP (RFC 9293) over IPv4: accessors, options (kept intact), checksum, builders. */
import { finishChecksum, pseudoHeaderSum, sumWords } from './checksum.js';
import { WireError } from './error.js';
import { buildIpv4Packet, defaultIpv4Header, ipv4, PROTO_TCP, read32, write16, write32 } from './ipv4.js';

export const TCP_MIN_HEADER = 20;

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
  srcPort: (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1],
  dstPort: (b: Uint8Array, o: number) => (b[o + 2] << 8) | b[o + 3],
  seq: (b: Uint8Array, o: number) => read32(b, o + 4),
  ack: (b: Uint8Array, o: number) => read32(b, o + 8),
  headerLength: (b: Uint8Array, o: number) => (b[o + 12] >> 4) << 2,
  flags: (b: Uint8Array, o: number) => b[o + 13],
  window: (b: Uint8Array, o: number) => (b[o + 14] << 8) | b[o + 15],
  checksum: (b: Uint8Array, o: number) => (b[o + 16] << 8) | b[o + 17],
  urgent: (b: Uint8Array, o: number) => (b[o + 18] << 8) | b[o + 19],
};

export function computeTcpChecksum(b: Uint8Array, ip: number): number {
  const hl = ipv4.headerLength(b, ip);
  const start = ip + hl;
  const len = ipv4.totalLength(b, ip) - hl;
  let acc = pseudoHeaderSum(ipv4.src(b, ip), ipv4.dst(b, ip), PROTO_TCP, len);
  acc = sumWords(b, start, start + 16, acc);
  acc = sumWords(b, start + 18, start + len, acc);
  return finishChecksum(acc);
}

export function tcpChecksumValid(b: Uint8Array, ip: number): boolean {
  const start = ip + ipv4.headerLength(b, ip);
  return tcp.checksum(b, start) === computeTcpChecksum(b, ip);
}

export function fillTcpChecksum(b: Uint8Array, ip: number): void {
  write16(b, ip + ipv4.headerLength(b, ip) + 16, computeTcpChecksum(b, ip));
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
  write16(seg, 0, s.srcPort);
  write16(seg, 2, s.dstPort);
  write32(seg, 4, s.seq);
  write32(seg, 8, s.ack);
  seg[12] = (hl >> 2) << 4;
  seg[13] = s.flags;
  write16(seg, 14, s.window);
  seg.set(opts, TCP_MIN_HEADER);
  seg.set(s.payload, hl);
  const pkt = buildIpv4Packet({ ...defaultIpv4Header(s.src, s.dst, PROTO_TCP), ttl }, seg);
  fillTcpChecksum(pkt, 0);
  return pkt;
}

export function parseTcpPacket(b: Uint8Array, ip = 0): TcpSegment {
  const o = ip + ipv4.headerLength(b, ip);
  const end = ip + ipv4.totalLength(b, ip);
  if (end - o < TCP_MIN_HEADER) throw new WireError('tcp', 'shorter than a TCP header');
  const hl = tcp.headerLength(b, o);
  if (hl < TCP_MIN_HEADER || o + hl > end) throw new WireError('tcp', `data offset ${hl} does not fit`);
  return {
    src: ipv4.src(b, ip),
    dst: ipv4.dst(b, ip),
    srcPort: tcp.srcPort(b, o),
    dstPort: tcp.dstPort(b, o),
    seq: tcp.seq(b, o),
    ack: tcp.ack(b, o),
    flags: tcp.flags(b, o),
    window: tcp.window(b, o),
    options: b.slice(o + TCP_MIN_HEADER, o + hl),
    payload: b.subarray(o + hl, end),
  };
}
