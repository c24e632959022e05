/**
 * The ALG framework with a toy line protocol: messages are lines starting with
 * "MSG " and ending in LF; the handler replaces the inside address text with
 * the (longer) public one, so every rewrite changes the stream's length.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attachHandler as attachAlg } from '../../src/alg/attach.js';
import type { AlgHandler } from '../../src/alg/helper.js';
import { Side, Verdict, type NatEngine } from '../../src/nat/engine.js';
import { ipv4ToString } from '../../src/wire/address.js';
import { ipv4 } from '../../src/wire/ipv4.js';
import { OPT_SACK, parseTcpOptions, parseTcpPacket, TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN, tcpChecksumValid } from '../../src/wire/tcp.js';
import { parseUdpPacket } from '../../src/wire/udp.js';
import { assertChecksums, makeEngine, tcpPkt, udpPkt } from '../nat/packets.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

const lineHandler: AlgHandler = {
  name: 'lines',
  frame(b, start, end) {
    if (end - start >= 4 && dec(b.subarray(start, start + 4)) !== 'MSG ') return { kind: 'error', reason: 'not MSG' };
    for (let i = start; i < end; i++) if (b[i] === 10) return { kind: 'message', length: i - start + 1 };
    return { kind: 'need-more' };
  },
  handle(_flow, m) {
    const t = dec(m);
    if (!t.startsWith('MSG ')) return { kind: 'error', reason: 'not MSG' };
    return t.includes('10.0.0.2') ? { kind: 'rewrite', bytes: enc(t.replaceAll('10.0.0.2', '203.0.113.1')) } : { kind: 'pass' };
  },
};

function setup(): { engine: NatEngine; alg: ReturnType<typeof attachAlg> } {
  const { engine } = makeEngine({ filtering: 'eif' });
  const alg = attachAlg(engine, lineHandler, [{ proto: 6, first: 7000, last: 7000 }, { proto: 17, first: 7000, last: 7000 }]);
  return { engine, alg };
}

/** Processes and returns every packet that goes out for this input (output plus emitted). */
function run(engine: NatEngine, pkt: Uint8Array, side: Side): Uint8Array[] {
  const v = engine.process(pkt, side);
  const out = v === Verdict.Drop ? [] : [engine.output];
  for (const e of engine.drainEmitted()) out.push(e.packet);
  for (const p of out) assertChecksums(p);
  return out;
}

const C = '10.0.0.2:40000';
const S = '198.51.100.10:7000';
const P = '203.0.113.1:40000';
const CISN = 1000;
const SISN = 5000;

function open(engine: NatEngine) {
  run(engine, tcpPkt(C, S, TCP_SYN, CISN, 0), Side.Inside);
  run(engine, tcpPkt(S, P, TCP_SYN | TCP_ACK, SISN, CISN + 1), Side.Outside);
  run(engine, tcpPkt(C, S, TCP_ACK, CISN + 1, SISN + 1), Side.Inside);
}

const data = (from: string, to: string, seq: number, ack: number, text: string, flags = TCP_ACK | TCP_PSH) => tcpPkt(from, to, flags, seq, ack, enc(text));

test('UDP: a datagram is one message; lengths and checksums follow the rewrite', () => {
  const { engine, alg } = setup();
  const [out] = run(engine, udpPkt('10.0.0.2:5000', '198.51.100.10:7000', 'MSG at 10.0.0.2\n'), Side.Inside);
  assert.equal(dec(parseUdpPacket(out).payload), 'MSG at 203.0.113.1\n');
  assert.equal(alg.counters().rewritten, 1);
});

test('TCP: one message rewritten; later data and the peer\'s ACKs shift by the growth', () => {
  const { engine } = setup();
  open(engine);
  const m1 = 'MSG hello from 10.0.0.2\n';
  const [o1] = run(engine, data(C, S, CISN + 1, SISN + 1, m1), Side.Inside);
  const s1 = parseTcpPacket(o1);
  assert.equal(dec(s1.payload), 'MSG hello from 203.0.113.1\n');
  assert.equal(s1.seq, CISN + 1);
  const grown = 3;
  const m2 = 'MSG plain\n';
  const [o2] = run(engine, data(C, S, CISN + 1 + m1.length, SISN + 1, m2), Side.Inside);
  assert.equal(parseTcpPacket(o2).seq, CISN + 1 + m1.length + grown, 'later data moves by the growth');
  // The server acknowledges everything it received, in its (longer) numbering...
  const [ack] = run(engine, tcpPkt(S, P, TCP_ACK, SISN + 1, CISN + 1 + m1.length + grown + m2.length), Side.Outside);
  // ...and the client sees its own numbering back.
  assert.equal(parseTcpPacket(ack).ack, CISN + 1 + m1.length + m2.length);
});

test('TCP: a message split across segments is held until complete, then rewritten whole', () => {
  const { engine, alg } = setup();
  open(engine);
  const m = 'MSG split at 10.0.0.2 in two\n';
  const cut = 14; // inside the address
  const first = run(engine, data(C, S, CISN + 1, SISN + 1, m.slice(0, cut), TCP_ACK), Side.Inside);
  assert.equal(first.length, 1);
  assert.equal(parseTcpPacket(first[0]).payload.length, 0, 'the partial message is held; a bare ACK goes on');
  const second = run(engine, data(C, S, CISN + 1 + cut, SISN + 1, m.slice(cut)), Side.Inside);
  const payload = second.map((p) => dec(parseTcpPacket(p).payload)).join('');
  assert.equal(payload, 'MSG split at 203.0.113.1 in two\n');
  assert.equal(parseTcpPacket(second[0]).seq, CISN + 1);
  assert.equal(alg.counters().rewritten, 1);
});

test('TCP: several messages in one segment are each handled', () => {
  const { engine, alg } = setup();
  open(engine);
  const [o] = run(engine, data(C, S, CISN + 1, SISN + 1, 'MSG a 10.0.0.2\nMSG b\nMSG c 10.0.0.2\n'), Side.Inside);
  assert.equal(dec(parseTcpPacket(o).payload), 'MSG a 203.0.113.1\nMSG b\nMSG c 203.0.113.1\n');
  assert.equal(alg.counters().messages, 3);
  assert.equal(alg.counters().rewritten, 2);
});

test('TCP: a retransmitted segment is rewritten identically', () => {
  const { engine, alg } = setup();
  open(engine);
  const seg = data(C, S, CISN + 1, SISN + 1, 'MSG again 10.0.0.2\n');
  const [a] = run(engine, seg.slice(), Side.Inside);
  const [b] = run(engine, seg.slice(), Side.Inside);
  assert.deepEqual(parseTcpPacket(b).payload, parseTcpPacket(a).payload);
  assert.equal(parseTcpPacket(b).seq, parseTcpPacket(a).seq);
  assert.equal(alg.counters().retransmissionsRewritten, 1);
  assert.equal(alg.counters().messages, 1, 'handled once');
});

test('TCP: SACK edges from the peer are moved back too', () => {
  const { engine } = setup();
  open(engine);
  const m1 = 'MSG one 10.0.0.2\n';
  run(engine, data(C, S, CISN + 1, SISN + 1, m1), Side.Inside);
  const newEnd = CISN + 1 + m1.length + 3;
  const sack = Uint8Array.of(1, 1, 5, 10, ...be32(newEnd + 100), ...be32(newEnd + 200));
  const pkt = tcpPkt(S, P, TCP_ACK, SISN + 1, newEnd, new Uint8Array(0));
  const withSack = withOptions(pkt, sack);
  const [out] = run(engine, withSack, Side.Outside);
  const opts = parseTcpOptions(out, ipv4.headerLength(out, 0));
  const s = opts.find((o) => o.kind === OPT_SACK) as { blocks: Array<[number, number]> };
  assert.deepEqual(s.blocks, [[newEnd + 100 - 3, newEnd + 200 - 3]]);
  assert.ok(tcpChecksumValid(out, 0));
});

test('TCP: data beyond a gap is dropped for the sender to repeat', () => {
  const { engine, alg } = setup();
  open(engine);
  const out = run(engine, data(C, S, CISN + 100, SISN + 1, 'MSG later\n'), Side.Inside);
  assert.equal(out.length, 0);
  assert.equal(alg.counters().segmentsOutOfOrder, 1);
});

test('TCP: a stream that does not start with the protocol passes through untouched (slipstreaming)', () => {
  const { engine, alg } = setup();
  open(engine);
  const body = 'POST / HTTP/1.1\r\nContent-Length: 40\r\n\r\nMSG register 10.0.0.2\n';
  const [o] = run(engine, data(C, S, CISN + 1, SISN + 1, body), Side.Inside);
  assert.equal(dec(parseTcpPacket(o).payload), body);
  assert.equal(alg.counters().streamsNotThisProtocol, 1);
  assert.equal(alg.counters().messages, 0);
});

test('TCP: a flow picked up mid-stream is never parsed', () => {
  const { engine, alg } = setup();
  const [o] = run(engine, data(C, S, CISN + 1, SISN + 1, 'MSG 10.0.0.2\n'), Side.Inside);
  assert.equal(dec(parseTcpPacket(o).payload), 'MSG 10.0.0.2\n');
  assert.equal(alg.counters().messages, 0);
});

test('TCP: FIN flushes a held partial message unmodified and closes after it', () => {
  const { engine } = setup();
  open(engine);
  run(engine, data(C, S, CISN + 1, SISN + 1, 'MSG cut 10.0', TCP_ACK), Side.Inside);
  const out = run(engine, tcpPkt(C, S, TCP_FIN | TCP_ACK, CISN + 1 + 12, SISN + 1), Side.Inside);
  const last = parseTcpPacket(out.at(-1)!);
  assert.equal(out.map((p) => dec(parseTcpPacket(p).payload)).join(''), 'MSG cut 10.0');
  assert.ok(last.flags & TCP_FIN);
  assert.equal(last.seq, CISN + 1);
});

test('TCP: a grown message larger than the segment is split into several segments', () => {
  const { engine } = setup();
  open(engine);
  const m = `MSG ${'10.0.0.2 '.repeat(100)}\n`; // 905 bytes, grows by 300
  const out = run(engine, data(C, S, CISN + 1, SISN + 1, m), Side.Inside);
  assert.ok(out.length >= 2);
  const segs = out.map((p) => parseTcpPacket(p));
  assert.equal(segs.map((s) => dec(s.payload)).join(''), m.replaceAll('10.0.0.2', '203.0.113.1'));
  for (const s of segs) assert.ok(s.payload.length <= m.length);
  assert.equal(segs[1].seq, segs[0].seq + segs[0].payload.length);
  assert.ok(segs.at(-1)!.flags & TCP_PSH);
  assert.ok(!(segs[0].flags & TCP_PSH));
});

function be32(n: number): number[] {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
}

/** The same segment with TCP options added. */
function withOptions(pkt: Uint8Array, options: Uint8Array): Uint8Array {
  const s = parseTcpPacket(pkt);
  return tcpPkt(`${ipv4ToString(s.src)}:${s.srcPort}`, `${ipv4ToString(s.dst)}:${s.dstPort}`, s.flags, s.seq, s.ack, s.payload, options);
}

test('TCP: a framer resumes where it stopped within a message, and starts afresh at each new boundary', () => {
  // The line framer again, resuming its search for LF from resume.scanned.
  let bytesRead = 0;
  const calls: { start: number; end: number; scanned: number }[] = [];
  const resuming: AlgHandler = {
    ...lineHandler,
    frame(b, start, end, resume) {
      assert.ok(resume, 'the framework hands a resume record on TCP');
      calls.push({ start, end, scanned: resume.scanned });
      if (resume.scanned === 0 && end - start >= 4 && dec(b.subarray(start, start + 4)) !== 'MSG ') return { kind: 'error', reason: 'not MSG' };
      for (let i = start + resume.scanned; i < end; i++) {
        bytesRead++;
        if (b[i] === 10) return { kind: 'message', length: i - start + 1 };
      }
      resume.scanned = end - start;
      return { kind: 'need-more' };
    },
  };
  const { engine } = makeEngine({ filtering: 'eif' });
  attachAlg(engine, resuming, [{ proto: 6, first: 7000, last: 7000 }]);
  open(engine);
  // One message, one byte a segment, then two messages and the start of a third in one segment.
  const first = `MSG ${'x'.repeat(2000)} 10.0.0.2\n`;
  let seq = CISN + 1;
  const sent: string[] = [];
  for (const ch of first) {
    for (const p of run(engine, data(C, S, seq, SISN + 1, ch), Side.Inside)) sent.push(dec(parseTcpPacket(p).payload));
    seq++;
  }
  assert.equal(sent.join(''), first.replace('10.0.0.2', '203.0.113.1'));
  assert.ok(bytesRead <= first.length, `read ${bytesRead} bytes of a ${first.length}-byte message`);
  const rest = 'MSG b 10.0.0.2\nMSG c\nMSG d 10.0';
  const [o] = run(engine, data(C, S, seq, SISN + 1, rest), Side.Inside);
  assert.equal(dec(parseTcpPacket(o).payload), 'MSG b 203.0.113.1\nMSG c\n');
  const last3 = calls.slice(-3);
  assert.deepEqual(
    last3.map((c) => c.scanned),
    [0, 0, 0],
    'each new boundary starts afresh',
  );
  seq += rest.length;
  const [o2] = run(engine, data(C, S, seq, SISN + 1, '.0.2\n'), Side.Inside);
  assert.equal(dec(parseTcpPacket(o2).payload), 'MSG d 203.0.113.1\n');
  assert.equal(calls.at(-1)!.scanned, 'MSG d 10.0'.length, 'the held message resumes where it stopped, from its boundary');
  assert.equal(calls.at(-1)!.start, 0);
});

test('a handler that throws does not take the engine with it: the message passes as it came, counted', () => {
  const { engine } = makeEngine({ filtering: 'eif' });
  const broken: AlgHandler = {
    name: 'broken',
    frame() {
      throw new Error('framer bug');
    },
    handle() {
      throw new Error('handler bug');
    },
  };
  const alg = attachAlg(engine, broken, [{ proto: 17, first: 7000, last: 7000 }, { proto: 6, first: 7000, last: 7000 }]);
  const [out] = run(engine, udpPkt('10.0.0.2:5000', '198.51.100.10:7000', 'MSG at 10.0.0.2\n'), Side.Inside);
  assert.equal(dec(parseUdpPacket(out).payload), 'MSG at 10.0.0.2\n');
  open(engine);
  const [o] = run(engine, data(C, S, CISN + 1, SISN + 1, 'MSG x\n'), Side.Inside);
  assert.equal(dec(parseTcpPacket(o).payload), 'MSG x\n', 'the stream passes through');
  assert.equal(alg.counters().handlerFailures, 2);
});

test('TCP: a new connection on the tuple of a finished one (port reused after TIME_WAIT) is parsed from its own SYN', () => {
  const { engine, alg } = setup();
  open(engine);
  const m1 = 'MSG first from 10.0.0.2\n';
  run(engine, data(C, S, CISN + 1, SISN + 1, m1), Side.Inside);
  const cfin = CISN + 1 + m1.length;
  run(engine, tcpPkt(C, S, TCP_FIN | TCP_ACK, cfin, SISN + 1), Side.Inside);
  run(engine, tcpPkt(S, P, TCP_FIN | TCP_ACK, SISN + 1, cfin + 3 + 1), Side.Outside);
  run(engine, tcpPkt(C, S, TCP_ACK, cfin + 1, SISN + 2), Side.Inside);
  // The same client port again, a new initial sequence number far from the old stream's.
  const isn2 = 900_000;
  const sisn2 = 700_000;
  run(engine, tcpPkt(C, S, TCP_SYN, isn2, 0), Side.Inside);
  run(engine, tcpPkt(S, P, TCP_SYN | TCP_ACK, sisn2, isn2 + 1), Side.Outside);
  run(engine, tcpPkt(C, S, TCP_ACK, isn2 + 1, sisn2 + 1), Side.Inside);
  const m2 = 'MSG second from 10.0.0.2\n';
  const out = run(engine, data(C, S, isn2 + 1, sisn2 + 1, m2), Side.Inside);
  assert.equal(out.length, 1, 'the first message of the new connection goes out');
  const s = parseTcpPacket(out[0]);
  assert.equal(dec(s.payload), 'MSG second from 203.0.113.1\n');
  assert.equal(s.seq, isn2 + 1, 'the new stream is not shifted by the old one\'s growth');
  // The peer's ACK of the grown message comes back in the client's own numbers.
  const [ack] = run(engine, tcpPkt(S, P, TCP_ACK, sisn2 + 1, isn2 + 1 + m2.length + 3), Side.Outside);
  assert.equal(parseTcpPacket(ack).ack, isn2 + 1 + m2.length);
  assert.equal(alg.counters().rewritten, 2);
  assert.equal(alg.counters().segmentsOutOfOrder, 0);
});

test('TCP: a retransmitted SYN (same sequence number) keeps the stream as it is', () => {
  const { engine, alg } = setup();
  run(engine, tcpPkt(C, S, TCP_SYN, CISN, 0), Side.Inside);
  run(engine, tcpPkt(C, S, TCP_SYN, CISN, 0), Side.Inside);
  run(engine, tcpPkt(S, P, TCP_SYN | TCP_ACK, SISN, CISN + 1), Side.Outside);
  run(engine, tcpPkt(C, S, TCP_ACK, CISN + 1, SISN + 1), Side.Inside);
  const [o] = run(engine, data(C, S, CISN + 1, SISN + 1, 'MSG x 10.0.0.2\n'), Side.Inside);
  assert.equal(dec(parseTcpPacket(o).payload), 'MSG x 203.0.113.1\n');
  assert.equal(alg.counters().rewritten, 1);
});
