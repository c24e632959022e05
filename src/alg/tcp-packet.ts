/**
 * Building the TCP segments an ALG sends: the translated packet's IP and TCP
 * headers (options kept) with a new sequence number, acknowledgement, SACK
 * edges and payload, every length and checksum recomputed.
 */
import { fillIpv4HeaderChecksum, IPV4, ipv4, read32, write16, write32 } from '../wire/ipv4.js';
import { fillTcpChecksum, OPT_SACK, TCP, TCP_MIN_HEADER, tcp, TCP_ACK, walkTcpOptions } from '../wire/tcp.js';
import type { SeqMap } from './seq-map.js';

// The SACK walk's packet and map: module state rather than a closure per packet.
let sackPacket: Uint8Array = new Uint8Array(0);
let sackMap: SeqMap | null = null;

function visitSack(kind: number, start: number, length: number): void {
  if (kind !== OPT_SACK) return;
  const b = sackPacket;
  for (let p = start + 2; p + 8 <= start + length; p += 8) {
    write32(b, p, sackMap!.toOrig(read32(b, p)));
    write32(b, p + 4, sackMap!.toOrig(read32(b, p + 4)));
  }
}

/**
 * Rewrites the SACK edges of the TCP header at l4 from the other direction's
 * rewritten sequence space to its original one (they acknowledge that direction).
 */
function mapSack(b: Uint8Array, l4: number, ackMap: SeqMap): void {
  if (tcp.headerLength(b, l4) <= TCP_MIN_HEADER) return;
  sackPacket = b;
  sackMap = ackMap;
  walkTcpOptions(b, l4, visitSack);
  sackPacket = new Uint8Array(0);
  sackMap = null;
}

/**
 * A segment like `template` (a whole IPv4+TCP packet) but with the given seq,
 * payload and flags; its ACK number and SACK edges are taken back through
 * `ackMap` (the other direction's rewrites) to the sender's original numbers.
 */
export function buildSegment(template: Uint8Array, seq: number, payload: Uint8Array, flags: number, ackMap: SeqMap): Uint8Array {
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
    write32(out, hl + TCP.ACK, ackMap.toOrig(tcp.ack(out, hl)));
    mapSack(out, hl, ackMap);
  }
  fillTcpChecksum(out, 0);
  return out;
}

/**
 * Adjusts seq (through `seqMap`, this direction's rewrites), ack and SACK
 * (back through `ackMap`, the other direction's) in place, the payload
 * unchanged, and fixes the checksum.
 */
export function adjustSegment(pkt: Uint8Array, seqMap: SeqMap, ackMap: SeqMap): void {
  const hl = ipv4.headerLength(pkt, 0);
  write32(pkt, hl + TCP.SEQ, seqMap.toNew(tcp.seq(pkt, hl)));
  if (tcp.flags(pkt, hl) & TCP_ACK) {
    write32(pkt, hl + TCP.ACK, ackMap.toOrig(tcp.ack(pkt, hl)));
    mapSack(pkt, hl, ackMap);
  }
  fillTcpChecksum(pkt, 0);
}
