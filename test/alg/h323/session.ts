/**
 * Test drivers for the H.323 ALG through NatEngine.process(): an engine with
 * the ALG attached, TCP connections that send TPKT messages in chosen
 * segments and collect what leaves the engine, and RAS datagrams.
 */
import assert from 'node:assert/strict';
import { attachAlg, findAlg } from '../../../src/alg/registry.js';
import { EV } from '../../../src/alg/h323/per-events.js';
import { PerReader } from '../../../src/alg/h323/per-reader.js';
import { walkH245Messages, walkRas, walkUserInformation } from '../../../src/alg/h323/per-walk.js';
import { parseQ931 } from '../../../src/alg/h323/q931.js';
import { frameTpkt } from '../../../src/alg/h323/tpkt.js';
import type { NatConfigInput } from '../../../src/nat/config.js';
import { Side, Verdict, type NatEngine } from '../../../src/nat/engine.js';
import { ipv4ToString } from '../../../src/wire/address.js';
import { parseTcpPacket, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../../src/wire/tcp.js';
import { parseUdpPacket } from '../../../src/wire/udp.js';
import { ep, makeEngine, tcpPkt, udpPkt } from '../../nat/packets.js';
import { vector, withAddresses } from './oracle-vectors.js';

export const X = '10.0.0.2';
export const X2 = '10.0.0.3';
export const PEER = '198.51.100.10';
export const GK = '198.51.100.1';
export const PUBLIC = '203.0.113.1';

export function h323Engine(config: Partial<NatConfigInput> = {}, options?: unknown) {
  const { engine, clock } = makeEngine(config);
  const def = findAlg('h323')!;
  const alg = attachAlg(engine, def, def.defaultPorts, options);
  return { engine, clock, alg };
}

/** A TCP connection through the engine, opened from `from` (inside or outside) to `to`. */
export class TcpSession {
  private seqA = 1000;
  private seqB = 50_000;
  /** Where the outside end sees the inside end (its public endpoint). */
  publicEndpoint = '';

  constructor(
    readonly engine: NatEngine,
    /** The inside end, "addr:port". */
    readonly inside: string,
    /** The outside end. */
    readonly outside: string,
    /** Who opens the connection. */
    readonly opener: 'inside' | 'outside' = 'inside',
    /** For an inbound connection: the public endpoint it is addressed to. */
    publicEndpoint = '',
  ) {
    this.publicEndpoint = publicEndpoint;
  }

  /** SYN, SYN-ACK, ACK. Returns the verdict of the first SYN. */
  open(): Verdict {
    let v: Verdict;
    if (this.opener === 'inside') {
      const syn = tcpPkt(this.inside, this.outside, TCP_SYN, this.seqA - 1, 0);
      v = this.engine.process(syn, Side.Inside);
      if (v === Verdict.Drop) return v;
      const out = parseTcpPacket(this.engine.output);
      this.publicEndpoint = `${ipv4ToString(out.src)}:${out.srcPort}`;
      this.engine.process(tcpPkt(this.outside, this.publicEndpoint, TCP_SYN | TCP_ACK, this.seqB - 1, this.seqA), Side.Outside);
    } else {
      v = this.engine.process(tcpPkt(this.outside, this.publicEndpoint, TCP_SYN, this.seqB - 1, 0), Side.Outside);
      if (v === Verdict.Drop) return v;
      this.engine.process(tcpPkt(this.inside, this.outside, TCP_SYN | TCP_ACK, this.seqA - 1, this.seqB), Side.Inside);
    }
    return v;
  }

  /** Sends `bytes` from the inside end in segments cut at `cuts`; returns the bytes that left the engine, in order. */
  fromInside(bytes: Uint8Array, cuts: number[] = []): Uint8Array {
    return this.send(bytes, cuts, true);
  }

  fromOutside(bytes: Uint8Array, cuts: number[] = []): Uint8Array {
    return this.send(bytes, cuts, false);
  }

  /** Sends again the segment [from, to) of what the inside end sent, as a retransmission; returns what left. */
  retransmitFromInside(bytes: Uint8Array, from: number, to: number): Uint8Array {
    const start = this.seqA - bytes.length;
    const pkt = tcpPkt(this.inside, this.outside, TCP_ACK | TCP_PSH, start + from, this.seqB, bytes.subarray(from, to));
    return this.collect(this.engine.process(pkt, Side.Inside));
  }

  private send(bytes: Uint8Array, cuts: number[], inside: boolean): Uint8Array {
    const points = [0, ...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b), bytes.length];
    const parts: Uint8Array[] = [];
    for (let i = 0; i + 1 < points.length; i++) {
      const piece = bytes.subarray(points[i], points[i + 1]);
      if (piece.length === 0) continue;
      const pkt = inside
        ? tcpPkt(this.inside, this.outside, TCP_ACK | TCP_PSH, this.seqA, this.seqB, piece)
        : tcpPkt(this.outside, this.publicEndpoint, TCP_ACK | TCP_PSH, this.seqB, this.seqA, piece);
      if (inside) this.seqA += piece.length;
      else this.seqB += piece.length;
      parts.push(this.collect(this.engine.process(pkt, inside ? Side.Inside : Side.Outside)));
    }
    return concat(parts);
  }

  /** The payload of what left for one packet: the output and any extra segments. */
  private collect(v: Verdict): Uint8Array {
    const parts: Uint8Array[] = [];
    if (v !== Verdict.Drop) parts.push(parseTcpPacket(this.engine.output).payload);
    for (const e of this.engine.drainEmitted()) parts.push(parseTcpPacket(e.packet).payload);
    return concat(parts);
  }

  /** FIN from both ends. */
  close(): void {
    this.engine.process(tcpPkt(this.inside, this.outside, TCP_ACK | TCP_FIN, this.seqA, this.seqB), Side.Inside);
    this.engine.process(tcpPkt(this.outside, this.publicEndpoint, TCP_ACK | TCP_FIN, this.seqB, this.seqA + 1), Side.Outside);
  }

  reset(): void {
    this.engine.process(tcpPkt(this.inside, this.outside, TCP_RST, this.seqA, 0), Side.Inside);
  }
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A RAS datagram through the engine; returns the verdict and the payload that left. */
export function ras(engine: NatEngine, from: string, to: string, bytes: Uint8Array, side: Side): { verdict: Verdict; payload: Uint8Array } {
  const verdict = engine.process(udpPkt(from, to, bytes), side);
  return { verdict, payload: verdict === Verdict.Drop ? new Uint8Array(0) : parseUdpPacket(engine.output).payload.slice() };
}

/** A UDP packet from outside (media): its verdict and where it went. */
export function udpFromOutside(engine: NatEngine, from: string, to: string): { verdict: Verdict; to: string } {
  const verdict = engine.process(udpPkt(from, to, 'rtp'), Side.Outside);
  if (verdict === Verdict.Drop) return { verdict, to: '' };
  const p = parseUdpPacket(engine.output);
  return { verdict, to: `${ipv4ToString(p.dst)}:${p.dstPort}` };
}

const reader = new PerReader();

/** The addresses in TPKT-framed H.225.0 or H.245 bytes, or a RAS datagram, as "addr:port" in encoding order (decoded independently of the engine run). */
export function addressesIn(bytes: Uint8Array, kind: 'q931' | 'h245' | 'ras'): string[] {
  const out: string[] = [];
  const take = () => {
    for (let i = 0; i < reader.ev.count; i++) if (reader.ev.kind[i] === EV.ADDRESS) out.push(`${ipv4ToString(reader.ev.a[i])}:${reader.ev.b[i]}`);
  };
  if (kind === 'ras') {
    assert.ok(walkRas(reader, bytes, 0, bytes.length), reader.reason);
    take();
    return out;
  }
  for (let at = 0; at < bytes.length; ) {
    const f = frameTpkt(bytes, at, bytes.length);
    if (f.kind === 'skip') {
      at += f.length;
      continue;
    }
    assert.equal(f.kind, 'message');
    const end = at + (f as { length: number }).length;
    if (kind === 'h245') assert.ok(walkH245Messages(reader, bytes, at + 4, end), reader.reason);
    else {
      const q = parseQ931(bytes, at + 4, end);
      assert.equal(typeof q, 'object');
      const m = q as Exclude<typeof q, string>;
      if (m.userInfoStart >= 0) assert.ok(walkUserInformation(reader, bytes, m.userInfoStart, m.userInfoEnd), reader.reason);
      else reader.ev.count = 0;
    }
    take();
    at = end;
  }
  return out;
}

/** Byte ranges where two equally long buffers differ. */
export function differences(a: Uint8Array, b: Uint8Array): Array<[number, number]> {
  assert.equal(a.length, b.length, 'same length');
  const out: Array<[number, number]> = [];
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    const start = i;
    while (i < a.length && a[i] !== b[i]) i++;
    out.push([start, i]);
  }
  return out;
}

export { ep };

/** A Setup from X: H.245 at X:6000, fastStart audio on 5000/5001 and video on 5002/5003, TCS and MSD tunnelled. */
export function setupFromX(x = X, media = 5000, h245 = 6000): Uint8Array {
  return withAddresses(vector('setup-v4-faststart-tunnelled'), {
    0: [x, h245],
    1: [PEER, 1720],
    2: [x, 1720],
    3: [x, media + 1],
    4: [x, media],
    5: [x, media + 1],
    6: [x, media + 3],
    7: [x, media + 2],
    8: [x, media + 3],
  });
}

