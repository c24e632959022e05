/**
 * Mutated H.323 messages through NatEngine.process() with the H.323 ALG: the
 * call signalling (TCP 1720, both directions), RAS (UDP 1719, both
 * directions) and an H.245 connection admitted through a Setup's pinhole.
 * Seeds: the oracle's vectors, the messages of the shared captures, and the
 * shapes of CVE-2026-23455 (a User-User element of length 0) and
 * CVE-2024-26851 (RAS extension bitmaps: every single-bit flip of every RAS
 * seed sets extension bits and bitmap lengths the encoder never wrote).
 * Mutations keep the TPKT length right most of the time, so the PER walkers
 * are what is exercised, and sometimes break it, so framing is too.
 *
 * Nothing may escape the engine: an exception is a failure. What the ALG
 * made of each message is in its counters (bench/h323-fuzz.ts prints them).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { attachAlg, findAlg } from '../../../src/alg/registry.js';
import { NatEngine, Side, Verdict } from '../../../src/nat/engine.js';
import { ManualClock } from '../../../src/util/clock.js';
import { ipv4ToString } from '../../../src/wire/address.js';
import { readCapture } from '../../../src/wire/capture.js';
import { ipv4, PROTO_TCP, PROTO_UDP } from '../../../src/wire/ipv4.js';
import { decodeLinkFrame } from '../../../src/wire/link-layer.js';
import { parseTcpPacket, tcp, TCP_ACK, TCP_PSH, TCP_SYN } from '../../../src/wire/tcp.js';
import { parseUdpPacket, udp } from '../../../src/wire/udp.js';
import { tcpPkt, udpPkt } from '../../nat/packets.js';
import { capturesDir } from '../../lab/prereq.js';
import { oracle, vector } from './oracle-vectors.js';
import { PEER, setupFromX, X } from './session.js';

type Kind = 'q931' | 'ras' | 'h245';

export interface Seeds {
  q931: Uint8Array[];
  ras: Uint8Array[];
  h245: Uint8Array[];
}

/** TPKT messages and RAS datagrams of a capture (segments that hold whole TPKT messages). */
function captureSeeds(file: string, into: Seeds): void {
  if (!existsSync(file)) return;
  for (const r of readCapture(new Uint8Array(readFileSync(file))).records) {
    let p: Uint8Array;
    try {
      p = decodeLinkFrame(r.linkType, r.data).payload;
    } catch {
      continue;
    }
    if (p.length < 20 || p[0] >> 4 !== 4) continue;
    const hl = ipv4.headerLength(p, 0);
    const end = Math.min(p.length, ipv4.totalLength(p, 0));
    if (ipv4.protocol(p, 0) === PROTO_UDP) {
      if (udp.srcPort(p, hl) === 1719 || udp.dstPort(p, hl) === 1719) into.ras.push(p.slice(hl + 8, end));
    } else if (ipv4.protocol(p, 0) === PROTO_TCP) {
      const data = p.slice(hl + tcp.headerLength(p, hl), end);
      if (data.length < 5 || data[0] !== 3 || data[1] !== 0) continue;
      const signalling = tcp.srcPort(p, hl) === 1720 || tcp.dstPort(p, hl) === 1720;
      (signalling ? into.q931 : into.h245).push(data);
    }
  }
}

/** The CVE-2026-23455 shape: a Setup whose User-User element has length 0. */
function emptyUserUser(): Uint8Array {
  const q931 = [0x08, 0x02, 0x01, 0x01, 0x05, 0x7e, 0x00, 0x00];
  return Uint8Array.from([3, 0, 0, q931.length + 4, ...q931]);
}

export function seeds(): Seeds {
  const s: Seeds = { q931: [], ras: [], h245: [] };
  for (const v of oracle().vectors) s[v.kind].push(v.bytes);
  s.q931.push(setupFromX(), emptyUserUser());
  captureSeeds(join(capturesDir, 'h323.pcap'), s);
  captureSeeds(join(capturesDir, 'h323-overflow.pcap'), s);
  return s;
}

/** xorshift32: a repeatable stream of mutations from a seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x3f, 0x40, 0xc0, 0x20];

/** One mutation of `m`: bit flips, interesting bytes, cuts, repeats, splices. TPKT's length is mended unless `breakFraming`. */
function mutate(m: Uint8Array, next: () => number, other: Uint8Array, tpkt: boolean): Uint8Array {
  let b = m.slice();
  const start = tpkt ? 4 : 0;
  const n = 1 + (next() % 4);
  for (let k = 0; k < n; k++) {
    const span = Math.max(1, b.length - start);
    const at = start + (next() % span);
    switch (next() % 7) {
      case 0:
      case 1:
        if (at < b.length) b[at] ^= 1 << (next() % 8);
        break;
      case 2:
        if (at < b.length) b[at] = INTERESTING[next() % INTERESTING.length];
        break;
      case 3:
        b = b.slice(0, Math.max(start + 1, at));
        break;
      case 4: {
        const len = 1 + (next() % 16);
        const piece = b.slice(at, at + len);
        const out = new Uint8Array(b.length + piece.length);
        out.set(b.subarray(0, at));
        out.set(piece, at);
        out.set(b.subarray(at), at + piece.length);
        b = out;
        break;
      }
      case 5: {
        const from = next() % Math.max(1, other.length);
        const piece = other.slice(from, from + 1 + (next() % 24));
        b = Uint8Array.from([...b.subarray(0, at), ...piece, ...b.subarray(at)]);
        break;
      }
      case 6:
        if (at + 1 < b.length) b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + 1)]);
        break;
    }
  }
  if (tpkt && b.length >= 4) {
    b[0] = 3;
    b[1] = 0;
    // One message in sixteen keeps a wrong length: framing is fuzzed too.
    if (next() % 16 !== 0) {
      b[2] = (b.length >> 8) & 255;
      b[3] = b.length & 255;
    }
  }
  return b.length > 60_000 ? b.subarray(0, 60_000) : b;
}

/** Every single-bit flip of a RAS datagram (the CVE-2024-26851 shapes among them). */
function* bitFlips(b: Uint8Array): Generator<Uint8Array> {
  for (let i = 0; i < b.length * 8; i++) {
    const m = b.slice();
    m[i >> 3] ^= 0x80 >> (i & 7);
    yield m;
  }
}

export interface FuzzReport {
  messages: number;
  byKind: Record<Kind, number>;
  verdicts: Record<string, number>;
  engines: number;
  counters: Record<string, number>;
}

/** A connection through the engine that mutated messages are sent on; replaced when its stream gives up. */
class Conn {
  seqIn = 1000;
  seqOut = 50_000;
  constructor(
    readonly inside: string,
    readonly outside: string,
    readonly publicEp: string,
  ) {}
}

const PUBLIC = '203.0.113.1';

/**
 * Runs `count` mutated messages through fresh engines (one per `perEngine`
 * messages, so that caps reached by earlier calls do not hide later paths).
 * Throws on the first exception out of the engine, naming the message.
 */
export function fuzzH323(count: number, seed = 1, perEngine = 500): FuzzReport {
  const s = seeds();
  const next = rng(seed);
  const report: FuzzReport = { messages: 0, byKind: { q931: 0, ras: 0, h245: 0 }, verdicts: {}, engines: 0, counters: {} };
  const flips = [...s.ras.flatMap((r) => [...bitFlips(r)])];
  let flip = 0;
  let localPort = 20_000;
  const h245Seed = vector('setup-v4-faststart-tunnelled');

  while (report.messages < count) {
    const clock = new ManualClock(0);
    const engine = new NatEngine({ inside: ['10.0.0.0/8'], public: [PUBLIC] }, { clock, random: rng(seed + report.engines) });
    const def = findAlg('h323')!;
    const alg = attachAlg(engine, def);
    report.engines++;
    const run = (pkt: Uint8Array, side: Side, what: string): Verdict => {
      let v: Verdict;
      try {
        v = engine.process(pkt, side);
      } catch (err) {
        throw new Error(`${what}: the engine threw: ${(err as Error).stack}\npacket ${Buffer.from(pkt).toString('hex')}`);
      }
      engine.drainEmitted();
      report.verdicts[String(v)] = (report.verdicts[String(v)] ?? 0) + 1;
      return v;
    };
    const open = (remote: string): Conn => {
      const inside = `${X}:${(localPort = localPort >= 60_000 ? 20_000 : localPort + 1)}`;
      const c = new Conn(inside, remote, '');
      run(tcpPkt(inside, remote, TCP_SYN, c.seqIn - 1, 0), Side.Inside, 'SYN');
      const out = parseTcpPacket(engine.output);
      const conn = new Conn(inside, remote, `${ipv4ToString(out.src)}:${out.srcPort}`);
      run(tcpPkt(remote, conn.publicEp, TCP_SYN | TCP_ACK, conn.seqOut - 1, conn.seqIn), Side.Outside, 'SYN-ACK');
      return conn;
    };
    /** An H.245 connection: a Setup opens its pinhole, the peer connects to the public port it names. */
    const openH245 = (): Conn | null => {
      const q = open(`${PEER}:1720`);
      const setup = setupFromX(X, 5000, 6000 + (localPort % 1000));
      run(tcpPkt(q.inside, q.outside, TCP_ACK | TCP_PSH, q.seqIn, q.seqOut, setup), Side.Inside, 'Setup');
      const payload = parseTcpPacket(engine.output).payload;
      const at = h245Seed.addresses[0].offset;
      if (payload.length < at + 6) return null;
      const pub = `${payload[at]}.${payload[at + 1]}.${payload[at + 2]}.${payload[at + 3]}:${(payload[at + 4] << 8) | payload[at + 5]}`;
      const remote = `${PEER}:${30_000 + (localPort % 1000)}`;
      if (run(tcpPkt(remote, pub, TCP_SYN, 49_999, 0), Side.Outside, 'H.245 SYN') === Verdict.Drop) return null;
      const c = new Conn(`${X}:${6000 + (localPort % 1000)}`, remote, pub);
      run(tcpPkt(c.inside, remote, TCP_SYN | TCP_ACK, c.seqIn - 1, c.seqOut), Side.Inside, 'H.245 SYN-ACK');
      return c;
    };
    let q931 = open(`${PEER}:1720`);
    let h245 = openH245();
    let sent = 0;
    const given = () => {
      const c = alg.counters();
      return c.streamsNotThisProtocol + c.streamsOversize;
    };
    let gaveUp = given();
    for (let i = 0; i < perEngine && report.messages < count; i++, report.messages++) {
      const r = next() % 10;
      const kind: Kind = r < 5 ? 'q931' : r < 8 ? 'ras' : 'h245';
      report.byKind[kind]++;
      const inbound = next() % 3 === 0;
      if (kind === 'ras') {
        const m = flip < flips.length && next() % 4 === 0 ? flips[flip++] : mutate(s.ras[next() % s.ras.length], next, s.ras[next() % s.ras.length], false);
        if (inbound) {
          // A reply to the mapping an RRQ made.
          run(udpPkt(`${X}:1719`, `${PEER}:1719`, s.ras[0]), Side.Inside, 'RAS out');
          const mapped = parseUdpPacket(engine.output);
          run(udpPkt(`${PEER}:1719`, `${ipv4ToString(mapped.src)}:${mapped.srcPort}`, m), Side.Outside, `RAS in ${i}`);
        } else run(udpPkt(`${X}:1719`, `${PEER}:1719`, m), Side.Inside, `RAS out ${i}`);
        continue;
      }
      const conn = kind === 'q931' ? q931 : h245;
      if (!conn) continue;
      const pool = kind === 'q931' ? s.q931 : s.h245;
      const m = mutate(pool[next() % pool.length], next, pool[next() % pool.length], true);
      if (inbound) {
        run(tcpPkt(conn.outside, conn.publicEp, TCP_ACK | TCP_PSH, conn.seqOut, conn.seqIn, m), Side.Outside, `${kind} in ${i}`);
        conn.seqOut += m.length;
      } else {
        run(tcpPkt(conn.inside, conn.outside, TCP_ACK | TCP_PSH, conn.seqIn, conn.seqOut, m), Side.Inside, `${kind} out ${i}`);
        conn.seqIn += m.length;
      }
      // A stream that is not (or no longer) H.323 passes untouched from then on: start another to keep fuzzing the walkers.
      if (++sent % 64 === 0 || given() !== gaveUp) {
        gaveUp = given();
        q931 = open(`${PEER}:1720`);
        h245 = openH245();
      }
      clock.advance(1);
    }
    for (const [k, v] of Object.entries(alg.counters())) report.counters[k] = (report.counters[k] ?? 0) + v;
  }
  return report;
}
