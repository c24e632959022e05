/**
 * Fuzzing an ALG whole: its parsers on their own, and the ALG attached to a
 * NAT engine with conversations of mutated real messages. Each input is one
 * connection (TCP: handshake, then 1 to 4 messages in either direction, each
 * mutated from a seed and cut into random segments) or a few datagrams (UDP),
 * through `NatEngine.process()`; the same mutated bytes also go straight to
 * the parsers (`direct`), framed in random pieces.
 *
 * Nothing may escape: an exception out of the engine or a parser stops the
 * run with the input that caused it. After every input the ALG's pinholes are
 * checked: each is for the one inside host of the conversation, on ports of
 * 1024 and up, and an inbound one admits only the conversation's peer (DESIGN
 * safety rules 3 and 4). Every packet that leaves has valid checksums.
 *
 * Deterministic from its seed (xorshift), so a failure is reproduced by its
 * input number. bench/fuzz/{ftp,rtsp,tftp}.ts define the targets; the unit
 * tests run each for a few thousand inputs.
 */
import { attachAlg, findAlg } from '../../src/alg/registry.js';
import { NatEngine, Side, Verdict } from '../../src/nat/engine.js';
import { ManualClock } from '../../src/util/clock.js';
import { ipv4ToString, parseIpv4 } from '../../src/wire/address.js';
import { ipv4, ipv4HeaderChecksumValid, PROTO_TCP, PROTO_UDP } from '../../src/wire/ipv4.js';
import { buildTcpPacket, parseTcpPacket, TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN, tcpChecksumValid } from '../../src/wire/tcp.js';
import { buildUdpPacket, parseUdpPacket, udpChecksumValid } from '../../src/wire/udp.js';
import { FrameResume } from '../../src/alg/tcp-stream.js';
import type { FrameOutcome } from '../../src/alg/helper.js';

export interface FuzzTarget {
  alg: string;
  proto: 6 | 17;
  /** The server's port. */
  port: number;
  /** Messages the client sends, and messages the server sends. */
  fromClient: readonly string[];
  fromServer: readonly string[];
  /** Fragments spliced into messages (keywords, numbers, delimiters). */
  tokens: readonly string[];
  /** Also run conversations with the server inside, behind a static forward on `port`. */
  insideServer?: boolean;
  /** The parsers alone, on raw bytes (framers in pieces, readers whole). Must not throw. */
  direct(bytes: Uint8Array, random: () => number): void;
}

export interface FuzzReport {
  inputs: number;
  packets: number;
  /** Messages the ALG handled, rewrote, and could not parse (passed unchanged). */
  messages: number;
  rewritten: number;
  parseErrors: number;
  streamsNotThisProtocol: number;
  pinholesOpened: number;
  pinholesRefused: number;
  seconds: number;
}

const CLIENT = '10.0.0.2';
const INSIDE_SERVER = '10.0.0.5';
const SERVER = '198.51.100.10';
const OUTSIDE_CLIENT = '198.51.100.20';
const PUBLIC = '203.0.113.1';
const PEERS = new Map([
  [parseIpv4(CLIENT), parseIpv4(SERVER)],
  [parseIpv4(INSIDE_SERVER), parseIpv4(OUTSIDE_CLIENT)],
]);
/** A fresh engine every so many inputs: flows and pinholes of earlier inputs are dropped wholesale. */
const INPUTS_PER_ENGINE = 2000;

/** xorshift32 in [0, 1). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const latin1 = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

/** A mutated copy of `base`: byte flips, inserts, deletes, token splices, truncation, duplication, or random bytes. */
export function mutate(base: Uint8Array, tokens: readonly Uint8Array[], random: () => number): Uint8Array {
  const pick = (n: number) => Math.floor(random() * n);
  let b = Array.from(base);
  const rounds = 1 + pick(4);
  for (let r = 0; r < rounds; r++) {
    const at = pick(b.length + 1);
    switch (pick(9)) {
      case 0:
        if (b.length) b[pick(b.length)] = pick(256);
        break;
      case 1:
        b.splice(at, 0, pick(256));
        break;
      case 2:
        b.splice(at, 1 + pick(8));
        break;
      case 3:
        b.splice(at, 0, ...tokens[pick(tokens.length)]);
        break;
      case 4: {
        // Replace a run of digits or letters by a token (numbers out of range, other keywords).
        const t = tokens[pick(tokens.length)];
        b.splice(at, pick(6), ...t);
        break;
      }
      case 5:
        b = b.slice(0, pick(b.length + 1));
        break;
      case 6:
        b = b.concat(b.slice(pick(b.length + 1)));
        break;
      case 7:
        b = Array.from({ length: pick(64) }, () => pick(256));
        break;
      default:
        // Unchanged: real messages must be exercised too.
        break;
    }
  }
  return Uint8Array.from(b.slice(0, 16 * 1024));
}

/** Cut points for `length` bytes: none, a few, or one-byte pieces. */
function cuts(length: number, random: () => number): number[] {
  const r = random();
  if (r < 0.45 || length < 2) return [];
  if (r < 0.48 && length < 120) return Array.from({ length: length - 1 }, (_, k) => k + 1);
  const n = 1 + Math.floor(random() * 4);
  return Array.from({ length: n }, () => 1 + Math.floor(random() * (length - 1))).sort((a, b) => a - b);
}

class Checker {
  packets = 0;

  /** Processes a packet; every packet out must be well formed. Returns the packets out. */
  process(engine: NatEngine, pkt: Uint8Array, side: Side, now: number): Uint8Array[] {
    this.packets++;
    const v = engine.process(pkt, side, now);
    const out: Uint8Array[] = v === Verdict.Drop ? [] : [engine.output.slice()];
    for (const e of engine.drainEmitted()) out.push(e.packet);
    for (const p of out) this.check(p);
    return out;
  }

  private check(p: Uint8Array): void {
    if (!ipv4HeaderChecksumValid(p, 0)) throw new Error('IPv4 header checksum wrong on a packet out');
    const proto = ipv4.protocol(p, 0);
    if (proto === PROTO_TCP && !tcpChecksumValid(p, 0)) throw new Error('TCP checksum wrong on a packet out');
    if (proto === PROTO_UDP && !udpChecksumValid(p, 0)) throw new Error('UDP checksum wrong on a packet out');
  }
}

interface Endpoint {
  from: string;
  to: string;
  side: Side;
  seq: number;
  ack: number;
}

function tcpSegment(e: Endpoint, flags: number, payload: Uint8Array): Uint8Array {
  const [src, sp] = e.from.split(':');
  const [dst, dp] = e.to.split(':');
  return buildTcpPacket({ src: parseIpv4(src), dst: parseIpv4(dst), srcPort: Number(sp), dstPort: Number(dp), seq: e.seq, ack: e.ack, flags, window: 65535, payload });
}

/** One TCP conversation: handshake, messages in pieces, sometimes a FIN. */
function tcpConversation(engine: NatEngine, c: Checker, now: number, opener: Endpoint, messages: Array<{ fromOpener: boolean; bytes: Uint8Array }>, random: () => number): void {
  const syn = c.process(engine, tcpSegment(opener, TCP_SYN, new Uint8Array(0)), opener.side, now);
  if (syn.length === 0) return;
  const s = parseTcpPacket(syn[0]);
  const peer: Endpoint = {
    from: `${ipv4ToString(s.dst)}:${s.dstPort}`,
    to: `${ipv4ToString(s.src)}:${s.srcPort}`,
    side: opener.side === Side.Inside ? Side.Outside : Side.Inside,
    seq: 90_000,
    ack: (opener.seq + 1) >>> 0,
  };
  c.process(engine, tcpSegment(peer, TCP_SYN | TCP_ACK, new Uint8Array(0)), peer.side, now);
  opener.seq = (opener.seq + 1) >>> 0;
  opener.ack = (peer.seq + 1) >>> 0;
  peer.seq = (peer.seq + 1) >>> 0;
  for (const m of messages) {
    const from = m.fromOpener ? opener : peer;
    const to = m.fromOpener ? peer : opener;
    let at = 0;
    for (const end of [...cuts(m.bytes.length, random), m.bytes.length]) {
      if (end <= at) continue;
      const piece = m.bytes.subarray(at, end);
      const out = c.process(engine, tcpSegment(from, TCP_ACK | TCP_PSH, piece), from.side, now);
      from.seq = (from.seq + piece.length) >>> 0;
      at = end;
      for (const p of out) {
        const t = parseTcpPacket(p);
        if (t.payload.length > 0 && t.seq === to.ack) to.ack = (to.ack + t.payload.length) >>> 0;
      }
    }
  }
  if (random() < 0.5) c.process(engine, tcpSegment(opener, TCP_FIN | TCP_ACK, new Uint8Array(0)), opener.side, now);
}

/** A few datagrams each way on one flow (and some from the server's other ports). */
function udpConversation(engine: NatEngine, c: Checker, now: number, client: string, server: string, messages: Array<{ fromOpener: boolean; bytes: Uint8Array }>, random: () => number): void {
  let seenAs = '';
  for (const m of messages) {
    if (m.fromOpener || seenAs === '') {
      const [src, sp] = client.split(':');
      const [dst, dp] = server.split(':');
      const out = c.process(engine, buildUdpPacket({ src: parseIpv4(src), dst: parseIpv4(dst), srcPort: Number(sp), dstPort: Number(dp), payload: m.bytes }), Side.Inside, now);
      if (out.length && seenAs === '') seenAs = `${ipv4ToString(ipv4.src(out[0], 0))}:${parseUdpPacket(out[0]).srcPort}`;
    } else {
      const [dst, dp] = seenAs.split(':');
      const srcPort = random() < 0.5 ? Number(server.split(':')[1]) : 1024 + Math.floor(random() * 60000);
      c.process(engine, buildUdpPacket({ src: parseIpv4(server.split(':')[0]), dst: parseIpv4(dst), srcPort, dstPort: Number(dp), payload: m.bytes }), Side.Outside, now);
    }
  }
}

/**
 * Every pinhole of the ALG is for an inside host that spoke, on ports >= 1024,
 * admitting only that host's peer (`peers`: inside host -> its peer).
 */
function checkPinholes(engine: NatEngine, alg: string, peers: ReadonlyMap<number, number>): void {
  for (const e of engine.listExpectations()) {
    if (e.helper !== alg) continue;
    const peer = peers.get(e.insideAddr);
    if (peer === undefined) throw new Error(`pinhole ${e.id} for ${ipv4ToString(e.insideAddr)}, a host that did not ask`);
    if (e.direction === 'inbound') {
      if (e.insidePort < 1024 || e.publicPort < 1024) throw new Error(`pinhole ${e.id} on a port below 1024`);
      if (e.remoteAddr !== peer) throw new Error(`pinhole ${e.id} admits ${ipv4ToString(e.remoteAddr)}, not the peer`);
    } else if (e.remoteAddr !== peer || e.remotePort < 1024) {
      throw new Error(`outbound expectation ${e.id} for ${ipv4ToString(e.remoteAddr)}:${e.remotePort}`);
    }
  }
}

function newEngine(target: FuzzTarget, clock: ManualClock): { engine: NatEngine; counters: () => Record<string, number> } {
  const engine = new NatEngine(
    {
      inside: ['10.0.0.0/24'],
      public: [PUBLIC],
      ports: { allocation: 'random' },
      forwards: target.insideServer ? [{ protocol: target.proto === 6 ? 'tcp' : 'udp', port: target.port, to: INSIDE_SERVER }] : [],
    },
    { clock, random: seededRandom(7) },
  );
  const def = findAlg(target.alg);
  if (!def) throw new Error(`no ALG ${target.alg}`);
  const a = attachAlg(engine, def, [{ proto: target.proto, first: target.port, last: target.port }]);
  return { engine, counters: () => a.counters() };
}

export function fuzzAlg(target: FuzzTarget, count: number, seed = 1): FuzzReport {
  const random = seededRandom(seed);
  const pick = (n: number) => Math.floor(random() * n);
  const tokens = target.tokens.map(latin1);
  const fromClient = target.fromClient.map(latin1);
  const fromServer = target.fromServer.map(latin1);
  const clock = new ManualClock(0);
  const checker = new Checker();
  const totals = { messages: 0, rewritten: 0, parseErrors: 0, streamsNotThisProtocol: 0, pinholesOpened: 0, pinholesRefused: 0 };
  const addCounters = (c: Record<string, number>) => {
    totals.messages += c.messages ?? 0;
    totals.rewritten += c.rewritten ?? 0;
    totals.parseErrors += c.passedParseError ?? 0;
    totals.streamsNotThisProtocol += c.streamsNotThisProtocol ?? 0;
    totals.pinholesOpened += c.expectationsOpened ?? 0;
    totals.pinholesRefused += c.expectationsRefused ?? 0;
  };
  const started = process.hrtime.bigint();
  let current = newEngine(target, clock);
  let nextPort = 1024;
  for (let i = 0; i < count; i++) {
    if (i > 0 && i % INPUTS_PER_ENGINE === 0) {
      addCounters(current.counters());
      current = newEngine(target, clock);
    }
    const { engine } = current;
    const messages: Array<{ fromOpener: boolean; bytes: Uint8Array }> = [];
    const n = 1 + pick(4);
    for (let k = 0; k < n; k++) {
      const fromOpener = random() < 0.6;
      const pool = fromOpener ? fromClient : fromServer;
      const bytes = random() < 0.15 ? pool[pick(pool.length)] : mutate(pool[pick(pool.length)], tokens, random);
      messages.push({ fromOpener, bytes });
    }
    const now = clock.now();
    try {
      for (const m of messages) target.direct(m.bytes, random);
      const serverInside = target.insideServer === true && random() < 0.3;
      nextPort = nextPort >= 65000 ? 1024 : nextPort + 1;
      if (target.proto === 6) {
        // Client messages come from the opener; with the server inside, the outside client opens.
        const opener: Endpoint = serverInside
          ? { from: `${OUTSIDE_CLIENT}:${nextPort}`, to: `${PUBLIC}:${target.port}`, side: Side.Outside, seq: 1000 + i, ack: 0 }
          : { from: `${CLIENT}:${nextPort}`, to: `${SERVER}:${target.port}`, side: Side.Inside, seq: 1000 + i, ack: 0 };
        tcpConversation(engine, checker, now, opener, messages, random);
        checkPinholes(engine, target.alg, PEERS);
      } else {
        udpConversation(engine, checker, now, `${CLIENT}:${nextPort}`, `${SERVER}:${target.port}`, messages, random);
        checkPinholes(engine, target.alg, PEERS);
      }
      if (random() < 0.05) {
        clock.advance(1000 + pick(200_000));
        engine.tick(clock.now());
      }
    } catch (err) {
      const shown = messages.map((m) => `${m.fromOpener ? 'client' : 'server'} ${Buffer.from(m.bytes).toString('hex')}`).join('\n');
      throw new Error(`${target.alg} fuzz input ${i} (seed ${seed}): ${(err as Error).stack ?? err}\nmessages:\n${shown}`);
    }
  }
  addCounters(current.counters());
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { inputs: count, packets: checker.packets, ...totals, seconds };
}

/**
 * A framer over `bytes` as the framework drives it: the bytes arrive in
 * random pieces, each call sees everything held so far, one FrameResume per
 * message boundary; framing goes on past each message until an error.
 */
export function framePieces(frame: (b: Uint8Array, start: number, end: number, resume: FrameResume) => FrameOutcome, bytes: Uint8Array, random: () => number): void {
  const resume = new FrameResume();
  let start = 0;
  let end = 0;
  while (end < bytes.length) {
    end = Math.min(bytes.length, end + 1 + Math.floor(random() * 64));
    for (;;) {
      if (start >= end) break;
      const f = frame(bytes, start, end, resume);
      if (f.kind === 'need-more') break;
      if (f.kind === 'error') return;
      if (f.length <= 0 || start + f.length > end) throw new Error(`framer answered ${f.kind} of ${f.length} bytes with ${end - start} held`);
      start += f.length;
      resume.scanned = 0;
    }
  }
}

/** `--count N` (default 1,000,000) and `--seed S`; prints the report as one JSON line. */
export function runFromCommandLine(target: FuzzTarget): void {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const count = arg('count', 1_000_000);
  const seed = arg('seed', 1);
  const report = fuzzAlg(target, count, seed);
  process.stdout.write(`${JSON.stringify({ alg: target.alg, seed, ...report, seconds: Number(report.seconds.toFixed(1)) })}\n`);
}
