/**
 * Building the TCP segments an ALG sends: the translated packet's IP and TCP
 * headers (options kept) with a new sequence number, acknowledgement, SACK
 * edges and payload, every length and checksum recomputed.
 */
import { fillIpv4HeaderChecksum, IPV4, ipv4, read32, write16, write32 } from '../wire/ipv4.js';
import { fillTcpChecksum, OPT_SACK, TCP, tcp, TCP_ACK, walkTcpOptions } from '../wire/tcp.js';

/** Rewrites the SACK edges of the TCP header at l4 through `map` (they acknowledge the other direction). */
function mapSack(b: Uint8Array, l4: number, map: (seq: number) => number): void {
  walkTcpOptions(b, l4, (kind, start, length) => {
    if (kind !== OPT_SACK) return;
    for (let p = start + 2; p + 8 <= start + length; p += 8) {
      write32(b, p, map(read32(b, p)));
      write32(b, p + 4, map(read32(b, p + 4)));
    }
  });
}

/**
 * A segment like `template` (a whole IPv4+TCP packet) but with the given seq,
 * payload and flags; its ACK number and SACK edges pass through `mapAck`.
 */
export function buildSegment(
  template: Uint8Array,
  seq: number,
  payload: Uint8Array,
  flags: number,
  mapAck: (seq: number) => number,
): Uint8Array {
  const hl = ipv4.headerLength(template, 0);
  const thl = tcp.headerLength(template, hl);
  const out = new Uint8Array(hl + thl + payload.length);
  out.set(template.subarray(0, hl + thl));
  out.set(payload, hl + thl);
  write16(out, IPV4.TOTAL_LEN, out.length);
  fillIpv4HeaderChecksum(out, 0);
  write32(out, hl + TCP.SEQ, seq);
  out[hl + TCP.FLAGS] = flags;
  if (flags & TCP_ACK) {
    write32(out, hl + TCP.ACK, mapAck(tcp.ack(out, hl)));
    mapSack(out, hl, mapAck);
  }
  fillTcpChecksum(out, 0);
  return out;
}

/** Adjusts seq, ack and SACK in place (the payload is unchanged) and fixes the checksum. */
export function adjustSegment(pkt: Uint8Array, mapSeq: (seq: number) => number, mapAck: (seq: number) => number): void {
  const hl = ipv4.headerLength(pkt, 0);
  write32(pkt, hl + TCP.SEQ, mapSeq(tcp.seq(pkt, hl)));
  if (tcp.flags(pkt, hl) & TCP_ACK) {
    write32(pkt, hl + TCP.ACK, mapAck(tcp.ack(pkt, hl)));
    mapSack(pkt, hl, mapAck);
  }
  fillTcpChecksum(pkt, 0);
}
