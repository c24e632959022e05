/**
 * A TCP connection through the NAT engine, for ALG tests: two endpoints that
 * keep their own sequence numbers and acknowledge what reached them (after
 * translation), as real stacks do. Each send returns the bytes that came out
 * of the engine on the other side, every packet's checksums checked.
 */
import { Side, Verdict, type NatEngine } from '../../src/nat/engine.js';
import { ipv4ToString } from '../../src/wire/address.js';
import { parseTcpPacket, TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN } from '../../src/wire/tcp.js';
import { assertChecksums, tcpPkt } from '../nat/packets.js';

interface End {
  /** Where this end sends from, and where its packets are addressed ("a.b.c.d:port"). */
  from: string;
  to: string;
  side: Side;
  seq: number;
  /** Next sequence number expected from the peer, as delivered to this end. */
  ack: number;
}

export interface Delivery {
  /** Whether anything reached the other side (false: every packet dropped). */
  delivered: boolean;
  /** The payload bytes that reached the other side, in order, as text (latin1). */
  text: string;
  /** "a.b.c.d:port > e.f.g.h:port" of the first packet out. */
  seen: { src: string; dst: string } | null;
}

export class TcpConversation {
  private readonly a: End;
  private readonly b: End;

  /**
   * `initiator` sends the SYN from `from` to `to`; the answer goes to the
   * address the SYN reached the other side from (the public endpoint, for an
   * inside initiator). Throws when the SYN or its answer is dropped.
   */
  private constructor(
    private readonly engine: NatEngine,
    a: End,
    b: End,
  ) {
    this.a = a;
    this.b = b;
  }

  static open(engine: NatEngine, from: string, to: string, side: Side, isn = 1000, peerIsn = 50_000): TcpConversation {
    const a: End = { from, to, side, seq: isn, ack: 0 };
    const syn = run(engine, tcpPkt(from, to, TCP_SYN, isn, 0), side);
    if (syn.length === 0) throw new Error(`SYN ${from} > ${to} dropped`);
    const s = parseTcpPacket(syn[0]);
    const b: End = { from: `${ipv4ToString(s.dst)}:${s.dstPort}`, to: `${ipv4ToString(s.src)}:${s.srcPort}`, side: side === Side.Inside ? Side.Outside : Side.Inside, seq: peerIsn, ack: isn + 1 };
    const synAck = run(engine, tcpPkt(b.from, b.to, TCP_SYN | TCP_ACK, peerIsn, isn + 1), b.side);
    if (synAck.length === 0) throw new Error('SYN-ACK dropped');
    a.seq = isn + 1;
    a.ack = peerIsn + 1;
    b.seq = peerIsn + 1;
    run(engine, tcpPkt(a.from, a.to, TCP_ACK, a.seq, a.ack), a.side);
    return new TcpConversation(engine, a, b);
  }

  /** The opener sends `text` (in pieces cut at `cuts`). */
  send(text: string | Uint8Array, cuts: number[] = []): Delivery {
    return this.transfer(this.a, this.b, text, cuts);
  }

  /** The other end answers. */
  reply(text: string | Uint8Array, cuts: number[] = []): Delivery {
    return this.transfer(this.b, this.a, text, cuts);
  }

  /** The opener's endpoint as the other side sees it (the public one, for an inside opener). */
  get openerSeenAs(): string {
    return this.b.to;
  }

  /** The opener closes (FIN); returns whether it went through. */
  close(): boolean {
    const out = run(this.engine, tcpPkt(this.a.from, this.a.to, TCP_FIN | TCP_ACK, this.a.seq, this.a.ack), this.a.side);
    this.a.seq++;
    return out.length > 0;
  }

  private transfer(from: End, to: End, text: string | Uint8Array, cuts: number[]): Delivery {
    const data = typeof text === 'string' ? new Uint8Array(Buffer.from(text, 'latin1')) : text;
    const points = [...new Set(cuts.filter((c) => c > 0 && c < data.length))].sort((x, y) => x - y);
    const parts: Buffer[] = [];
    let seen: Delivery['seen'] = null;
    let delivered = false;
    let at = 0;
    for (const end of [...points, data.length]) {
      const piece = data.subarray(at, end);
      const out = run(this.engine, tcpPkt(from.from, from.to, TCP_ACK | TCP_PSH, from.seq, from.ack, piece), from.side);
      from.seq = (from.seq + piece.length) >>> 0;
      at = end;
      for (const p of out) {
        delivered = true;
        const t = parseTcpPacket(p);
        seen ??= { src: `${ipv4ToString(t.src)}:${t.srcPort}`, dst: `${ipv4ToString(t.dst)}:${t.dstPort}` };
        if (t.payload.length === 0) continue;
        // Delivered in order by the engine: the receiver's next expected sequence number moves past it.
        if (t.seq === to.ack) to.ack = (to.ack + t.payload.length) >>> 0;
        parts.push(Buffer.from(t.payload));
      }
    }
    return { delivered, text: Buffer.concat(parts).toString('latin1'), seen };
  }
}

/** Processes one packet; returns what left the engine for it (output and emitted), checksums checked. */
export function run(engine: NatEngine, pkt: Uint8Array, side: Side): Uint8Array[] {
  const v = engine.process(pkt, side);
  const out: Uint8Array[] = v === Verdict.Drop ? [] : [engine.output.slice()];
  for (const e of engine.drainEmitted()) out.push(e.packet);
  for (const p of out) assertChecksums(p);
  return out;
}
