/**
 * An ALG attached to a NAT engine, driven by messages rather than packets:
 * UDP datagrams and TCP conversations (handshake, then data in segments cut
 * where the caller says) from an inside endpoint to a remote one or back.
 * After every packet it checks what must always hold: checksums right on
 * whatever the engine sends, and the pinholes the message opened (only toward
 * the host it travelled for, never below 1024, caps kept: see
 * pinhole-invariants.ts). Shared by the ALG property tests, the slipstreaming
 * scenarios and the fuzz targets.
 */
import { attachAlg, findAlg, type AlgDefinition, type AlgPortRule } from '../../src/alg/registry.js';
import type { AttachedAlg } from '../../src/alg/attach.js';
import { NatEngine, Side, Verdict } from '../../src/nat/engine.js';
import type { NatConfigInput } from '../../src/nat/config.js';
import type { Expectation } from '../../src/nat/expectations.js';
import { ManualClock } from '../../src/util/clock.js';
import { ipv4ToString, parseIpv4 } from '../../src/wire/address.js';
import { ipv4, ipv4HeaderChecksumValid, PROTO_TCP } from '../../src/wire/ipv4.js';
import { buildUdpPacket, udpChecksumValid } from '../../src/wire/udp.js';
import { buildTcpPacket, tcpChecksumValid, TCP_ACK, TCP_PSH, TCP_SYN } from '../../src/wire/tcp.js';
import { checkPinholes, PinholeViolation, PinholeWatch, type PinholeRules } from './pinhole-invariants.js';

export const GATEWAY_PUBLIC = '203.0.113.1';

export const HARNESS_NAT_CONFIG: NatConfigInput = {
  inside: ['10.0.0.0/8', '192.168.0.0/16'],
  public: [GATEWAY_PUBLIC],
  limits: { expectations: 256, expectationsPerGroup: 16 },
};

export interface AlgHarnessOptions {
  /** The ALG's name; null: the engine alone (an ALG not written yet opens nothing). */
  alg: string | null;
  /** The ALG's options, as a configuration gives them. */
  options?: unknown;
  ports?: readonly AlgPortRule[];
  config?: Partial<NatConfigInput>;
  /** Port choices repeat from this seed. */
  seed?: number;
  anyRemote?: boolean;
}

/** An endpoint as "a.b.c.d:port". */
export type EndpointText = string;

function endpoint(e: EndpointText): [number, number] {
  const i = e.lastIndexOf(':');
  return [parseIpv4(e.slice(0, i)), Number(e.slice(i + 1))];
}

export interface Delivery {
  verdict: Verdict;
  /** The translated packets that left (the one sent on, then any the engine made). */
  packets: Uint8Array[];
  /** Pinholes the packet opened. */
  opened: Expectation[];
}

export class AlgHarness {
  readonly engine: NatEngine;
  readonly clock = new ManualClock(0);
  readonly alg: AttachedAlg | null;
  readonly def: AlgDefinition | null;
  readonly rules: PinholeRules;
  private readonly watch: PinholeWatch;
  /** Every pinhole opened since the harness was made, with the host it was opened for. */
  readonly opened: Array<{ sender: number; pinhole: Expectation }> = [];

  constructor(o: AlgHarnessOptions) {
    const def = o.alg === null ? null : findAlg(o.alg);
    if (def === undefined) throw new Error(`no ALG named ${o.alg}`);
    this.def = def;
    let seed = (o.seed ?? 1) >>> 0 || 1;
    const random = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 2 ** 32;
    };
    this.engine = new NatEngine({ ...HARNESS_NAT_CONFIG, ...o.config }, { clock: this.clock, random, initialCapacity: 64 });
    this.alg = def ? attachAlg(this.engine, def, o.ports ?? def.defaultPorts, o.options) : null;
    this.rules = { alg: def?.name ?? '', policy: def?.expectations ?? {}, anyRemote: o.anyRemote };
    this.watch = new PinholeWatch(this.engine);
  }

  /** One packet through the engine, then the checks. `sender`: the inside host the packet's flow is for. */
  process(pkt: Uint8Array, side: Side): Delivery {
    // The engine rewrites in place: the inside source is read before.
    const insideSource = side === Side.Inside && pkt.length >= 20 ? ipv4.src(pkt, 0) : 0;
    const peer = pkt.length < 20 ? 0 : side === Side.Inside ? ipv4.dst(pkt, 0) : ipv4.src(pkt, 0);
    const verdict = this.engine.process(pkt, side, this.clock.now());
    const packets: Uint8Array[] = [];
    if (verdict !== Verdict.Drop) packets.push(this.engine.output);
    for (const e of this.engine.drainEmitted()) packets.push(e.packet);
    for (const p of packets) checkChecksums(p);
    const opened = this.watch.fresh();
    const sender = side === Side.Inside ? insideSource : verdict === Verdict.ToInside ? ipv4.dst(this.engine.output, 0) : null;
    if (opened.length > 0 && sender === null) throw new PinholeViolation(`a dropped packet from outside opened ${opened.length} pinholes`);
    // Counts only grow when a pinhole opens: with none opened or narrowed, the caps checked after the last packet still hold.
    if (opened.length > 0) checkPinholes(this.engine, sender ?? 0, opened, this.rules, peer);
    for (const pinhole of opened) this.opened.push({ sender: sender ?? 0, pinhole });
    return { verdict, packets, opened };
  }

  /** The public endpoint the inside endpoint has toward the remote, if it has one. */
  publicOf(inside: EndpointText, remote: EndpointText, proto: 6 | 17): EndpointText | null {
    const [ia, ip] = endpoint(inside);
    const [ra, rp] = endpoint(remote);
    const pub = this.engine.flowPublicEndpoint(proto, ia, ip, ra, rp);
    return pub ? `${ipv4ToString(pub[0])}:${pub[1]}` : null;
  }

  /** A datagram from the inside endpoint to the remote (`out`), or from the remote to the inside endpoint's public side (`in`). */
  udp(inside: EndpointText, remote: EndpointText, payload: Uint8Array, dir: 'out' | 'in'): Delivery {
    const [ia, ip] = endpoint(inside);
    const [ra, rp] = endpoint(remote);
    if (dir === 'out') return this.process(buildUdpPacket({ src: ia, dst: ra, srcPort: ip, dstPort: rp, payload }), Side.Inside);
    const pub = this.publicOf(inside, remote, 17) ?? `${GATEWAY_PUBLIC}:${ip}`;
    const [pa, pp] = endpoint(pub);
    return this.process(buildUdpPacket({ src: ra, dst: pa, srcPort: rp, dstPort: pp, payload }), Side.Outside);
  }

  /** A datagram from the remote to a public endpoint given outright (a static forward, a pinhole). */
  udpToPublic(remote: EndpointText, pub: EndpointText, payload: Uint8Array): Delivery {
    const [ra, rp] = endpoint(remote);
    const [pa, pp] = endpoint(pub);
    return this.process(buildUdpPacket({ src: ra, dst: pa, srcPort: rp, dstPort: pp, payload }), Side.Outside);
  }

  /** A TCP connection from the inside endpoint to the remote, handshake done (null when the engine refused it). */
  tcp(inside: EndpointText, remote: EndpointText): TcpConversation | null {
    const c = new TcpConversation(this, inside, remote);
    return c.open() ? c : null;
  }

  /** Every pinhole toward `host` (an inside address as text). */
  pinholesToward(host: string): Expectation[] {
    const a = parseIpv4(host);
    return this.engine.expectations.list().filter((e) => e.insideAddr === a);
  }
}

function checkChecksums(p: Uint8Array): void {
  if (p.length < 20 || p[0] >> 4 !== 4) return;
  if (!ipv4HeaderChecksumValid(p, 0)) throw new PinholeViolation('a packet left with a wrong IPv4 header checksum');
  if (ipv4.fragmentOffset(p, 0) !== 0 || ipv4.moreFragments(p, 0)) return;
  const proto = ipv4.protocol(p, 0);
  if (proto === PROTO_TCP && !tcpChecksumValid(p, 0)) throw new PinholeViolation('a TCP segment left with a wrong checksum');
  const hl = ipv4.headerLength(p, 0);
  if (proto === 17 && (p[hl + 6] | p[hl + 7]) !== 0 && !udpChecksumValid(p, 0)) throw new PinholeViolation('a UDP datagram left with a wrong checksum');
}

/** The data a side of a TCP conversation received, by sequence number (retransmissions counted once). */
class Received {
  private readonly parts = new Map<number, Uint8Array>();
  private base: number | null = null;

  add(seq: number, data: Uint8Array): void {
    if (data.length === 0) return;
    this.base ??= seq;
    const off = (seq - this.base) >>> 0;
    if (!this.parts.has(off) || this.parts.get(off)!.length < data.length) this.parts.set(off, data.slice());
  }

  /** The bytes from the first received, as far as they are contiguous. */
  bytes(): Uint8Array {
    const out: number[] = [];
    for (const off of [...this.parts.keys()].sort((a, b) => a - b)) {
      const d = this.parts.get(off)!;
      if (off > out.length) break;
      for (let i = out.length - off; i < d.length; i++) out.push(d[i]);
    }
    return Uint8Array.from(out);
  }
}

export class TcpConversation {
  private insideNext = 1000;
  private remoteNext = 50_000;
  /** Acknowledgement numbers as each side sees the other's (rewritten) stream. */
  private insideAcks = 0;
  private remoteAcks = 0;
  private pub: [number, number] = [0, 0];
  readonly toRemote = new Received();
  readonly toInside = new Received();
  private readonly ia: number;
  private readonly ip: number;
  private readonly ra: number;
  private readonly rp: number;

  constructor(
    private readonly h: AlgHarness,
    readonly inside: EndpointText,
    readonly remote: EndpointText,
  ) {
    [this.ia, this.ip] = endpoint(inside);
    [this.ra, this.rp] = endpoint(remote);
  }

  open(): boolean {
    const syn = this.h.process(this.segment('out', TCP_SYN, this.insideNext, 0, new Uint8Array(0)), Side.Inside);
    if (syn.verdict !== Verdict.ToOutside) return false;
    const out = syn.packets[0];
    const hl = ipv4.headerLength(out, 0);
    this.pub = [ipv4.src(out, 0), (out[hl] << 8) | out[hl + 1]];
    this.insideNext++;
    const synAck = this.h.process(this.segment('in', TCP_SYN | TCP_ACK, this.remoteNext, this.insideNext, new Uint8Array(0)), Side.Outside);
    if (synAck.verdict !== Verdict.ToInside) return false;
    this.remoteNext++;
    this.remoteAcks = this.insideNext;
    this.insideAcks = this.remoteNext;
    this.h.process(this.segment('out', TCP_ACK, this.insideNext, this.insideAcks, new Uint8Array(0)), Side.Inside);
    return true;
  }

  private segment(dir: 'out' | 'in', flags: number, seq: number, ack: number, payload: Uint8Array): Uint8Array {
    if (dir === 'out') return buildTcpPacket({ src: this.ia, dst: this.ra, srcPort: this.ip, dstPort: this.rp, seq, ack, flags, window: 65535, payload });
    return buildTcpPacket({ src: this.ra, dst: this.pub[0], srcPort: this.rp, dstPort: this.pub[1], seq, ack, flags, window: 65535, payload });
  }

  /**
   * Sends `data` from one side in segments ending at `cuts` (offsets into
   * data; out of range ones ignored). What the other side received is in
   * toRemote / toInside.
   */
  send(dir: 'out' | 'in', data: Uint8Array, cuts: readonly number[] = []): Delivery[] {
    const ends = [...new Set(cuts.filter((c) => c > 0 && c < data.length)), data.length].sort((a, b) => a - b);
    const deliveries: Delivery[] = [];
    let from = 0;
    for (const end of ends) {
      const piece = data.subarray(from, end);
      const seq = dir === 'out' ? this.insideNext : this.remoteNext;
      const ack = dir === 'out' ? this.insideAcks : this.remoteAcks;
      const d = this.h.process(this.segment(dir, TCP_ACK | TCP_PSH, seq, ack, piece), dir === 'out' ? Side.Inside : Side.Outside);
      deliveries.push(d);
      for (const p of d.packets) this.received(p);
      if (dir === 'out') this.insideNext = (this.insideNext + piece.length) >>> 0;
      else this.remoteNext = (this.remoteNext + piece.length) >>> 0;
      from = end;
    }
    return deliveries;
  }

  private received(p: Uint8Array): void {
    if (ipv4.protocol(p, 0) !== PROTO_TCP) return;
    const hl = ipv4.headerLength(p, 0);
    const dataOff = (p[hl + 12] >> 4) * 4;
    const seq = ((p[hl + 4] << 24) | (p[hl + 5] << 16) | (p[hl + 6] << 8) | p[hl + 7]) >>> 0;
    const data = p.subarray(hl + dataOff, ipv4.totalLength(p, 0));
    const toRemote = ipv4.dst(p, 0) === this.ra;
    if (toRemote) {
      this.toRemote.add(seq, data);
      this.remoteAcks = Math.max(this.remoteAcks, (seq + data.length) >>> 0) >>> 0;
    } else {
      this.toInside.add(seq, data);
      this.insideAcks = Math.max(this.insideAcks, (seq + data.length) >>> 0) >>> 0;
    }
  }
}
