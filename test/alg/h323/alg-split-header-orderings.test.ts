/**
 * A Setup sent NetMeeting's way (the 4-byte TPKT header alone, the body
 * later) under every ordering the caller's TCP and a busy path can produce:
 * the header retransmitted, header and body coalesced from the header's
 * sequence number, the body first and the header after, duplicates, window
 * probes and pure ACKs in between, the header alone for a long time. Each
 * time the callee (a model of a TCP receiver: in-order bytes only) must get
 * the rewritten Setup exactly once, at the right sequence numbers, and the
 * caller must see an acknowledgement for everything it sent once the callee
 * has it.
 *
 * The lab's lost Setups (docs/h323.md): a caller whose retransmission timer
 * fires before it writes the body has a congestion window of one segment,
 * taken by the unacknowledged header; it sends the header again and again
 * and the body only once the header is acknowledged. The header therefore
 * goes on at once (it never changes), and the callee acknowledges it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Side, Verdict, type NatEngine } from '../../../src/nat/engine.js';
import { ipv4ToString } from '../../../src/wire/address.js';
import { parseTcpPacket, TCP_ACK, TCP_PSH, TCP_SYN } from '../../../src/wire/tcp.js';
import { tcpPkt } from '../../nat/packets.js';
import { h323Engine, PEER, setupFromX, TcpSession, X } from './session.js';

const CALLER = `${X}:40000`;
const CALLEE = `${PEER}:1720`;
/** The caller's first data byte (its SYN was at ISN_A - 1), and the callee's. */
const ISN_A = 1000;
const ISN_B = 50_000;

/** What the engine sends for the Setup in one segment: the bytes the callee must receive. */
const reference = (() => {
  const { engine } = h323Engine();
  const s = new TcpSession(engine, CALLER, CALLEE);
  s.open();
  return s.fromInside(setupFromX());
})();

/** A caller behind the engine, a callee outside that keeps only in-order bytes (as a TCP receiver does). */
function call() {
  const { engine, clock, alg } = h323Engine();
  engine.process(tcpPkt(CALLER, CALLEE, TCP_SYN, ISN_A - 1, 0), Side.Inside);
  const pub = parseTcpPacket(engine.output);
  const publicEndpoint = `${ipv4ToString(pub.src)}:${pub.srcPort}`;
  engine.process(tcpPkt(CALLEE, publicEndpoint, TCP_SYN | TCP_ACK, ISN_B - 1, ISN_A), Side.Outside);
  engine.process(tcpPkt(CALLER, CALLEE, TCP_ACK, ISN_A, ISN_B), Side.Inside);
  const callee = new Receiver(ISN_A);
  const setup = setupFromX();
  return {
    engine,
    clock,
    alg,
    setup,
    callee,
    /** The caller sends setup[from, to) at its sequence number (a retransmission when sent before). */
    send(from: number, to: number, flags = TCP_ACK | TCP_PSH) {
      deliver(engine, callee, tcpPkt(CALLER, CALLEE, flags, ISN_A + from, ISN_B, setup.subarray(from, to)));
    },
    /** A segment with no data at `seq` (a pure ACK, or a window probe one byte below the next unacknowledged one). */
    bare(seqOffset: number) {
      deliver(engine, callee, tcpPkt(CALLER, CALLEE, TCP_ACK, ISN_A + seqOffset, ISN_B));
    },
    /** The callee acknowledges what it has; returns the acknowledgement number the caller sees, as an offset. */
    ack(): number {
      const v = engine.process(tcpPkt(CALLEE, publicEndpoint, TCP_ACK, ISN_B, callee.next), Side.Outside);
      assert.notEqual(v, Verdict.Drop);
      return (parseTcpPacket(engine.output).ack - ISN_A) | 0;
    },
  };
}

/** A TCP receiver's view: bytes accepted only at the next expected sequence number, the overlap of a repeat ignored. */
class Receiver {
  readonly bytes: number[] = [];
  constructor(public next: number) {}
  take(seq: number, payload: Uint8Array): void {
    const skip = (this.next - seq) | 0;
    if (skip < 0 || skip >= payload.length) return;
    for (let i = skip; i < payload.length; i++) this.bytes.push(payload[i]);
    this.next = (this.next + payload.length - skip) >>> 0;
  }
}

function deliver(engine: NatEngine, callee: Receiver, pkt: Uint8Array): void {
  const v = engine.process(pkt, Side.Inside);
  const out: Uint8Array[] = v === Verdict.Drop ? [] : [engine.output];
  for (const e of engine.drainEmitted()) out.push(e.packet);
  for (const p of out) {
    const s = parseTcpPacket(p);
    assert.equal(ipv4ToString(s.dst), PEER, 'everything goes to the callee');
    callee.take(s.seq, s.payload);
  }
}

/** The callee got the rewritten Setup once, and the caller sees all it sent acknowledged. */
function delivered(c: ReturnType<typeof call>, why: string): void {
  assert.deepEqual(Uint8Array.from(c.callee.bytes), reference, `${why}: the callee has the rewritten Setup, once`);
  assert.equal(c.ack(), c.setup.length, `${why}: the caller sees its whole Setup acknowledged`);
  assert.equal(c.alg.counters().messages, 1, `${why}: one message handled`);
}

const H = 4;

test('header, header again (retransmitted alone), then the body', () => {
  const c = call();
  c.send(0, H);
  c.send(0, H);
  assert.deepEqual(c.callee.bytes, [...reference.subarray(0, H)], 'the header went on at once, as it came');
  c.send(H, c.setup.length);
  delivered(c, 'retransmitted header');
});

test('the lab\'s lost Setup: the caller sends the body only once its header is acknowledged', () => {
  // Its retransmission timer fired before the body was written: the header,
  // alone, is all it may have in flight until an acknowledgement comes.
  const c = call();
  c.send(0, H);
  let acked = c.ack();
  for (let backoff = 0; acked < H && backoff < 8; backoff++) {
    c.clock.advance(200 << backoff);
    c.send(0, H);
    acked = c.ack();
  }
  assert.equal(acked, H, 'the callee acknowledged the header');
  c.send(H, c.setup.length);
  delivered(c, 'body after the header\'s acknowledgement');
});

test('header, then header and body coalesced from the header\'s sequence number', () => {
  const c = call();
  c.send(0, H);
  c.send(0, c.setup.length);
  delivered(c, 'coalesced');
});

test('header, body lost, then header and body coalesced', () => {
  const c = call();
  c.send(0, H);
  c.send(0, c.setup.length);
  delivered(c, 'body lost');
});

test('header, body, then the body again and the whole again (retransmissions of what was sent)', () => {
  const c = call();
  c.send(0, H);
  c.send(H, c.setup.length);
  c.send(H, c.setup.length);
  c.send(0, c.setup.length);
  delivered(c, 'duplicates');
});

test('header, a pure ACK and a window probe, then the body', () => {
  const c = call();
  c.send(0, H);
  c.bare(H);
  c.bare(H - 1);
  c.bare(0);
  assert.equal(c.ack(), H, 'the caller sees its header acknowledged');
  c.send(H, c.setup.length);
  delivered(c, 'pure ACK and window probe');
});

test('header alone for a minute, retransmitted with backoff, then the body', () => {
  const c = call();
  c.send(0, H);
  for (const wait of [200, 400, 800, 1600, 3200, 6400, 12_800, 25_600]) {
    c.clock.advance(wait);
    c.send(0, H);
  }
  c.send(H, c.setup.length);
  delivered(c, 'long wait');
});

test('header lost on the way, body first, then header and body coalesced', () => {
  const c = call();
  c.send(H, c.setup.length);
  c.send(0, c.setup.length);
  delivered(c, 'body first, coalesced retransmission');
});

test('header lost on the way, body first, then the header alone, acknowledged, then the body again', () => {
  // The body beyond the gap is dropped; the header retransmitted alone goes on
  // and is acknowledged, so the caller sends the body again.
  const c = call();
  c.send(H, c.setup.length);
  c.send(0, H);
  assert.equal(c.ack(), H);
  c.send(H, c.setup.length);
  delivered(c, 'body first, header alone');
});

test('header lost, body twice (tail loss probe), the header alone again and again', () => {
  const c = call();
  c.send(H, c.setup.length);
  c.send(H, c.setup.length);
  for (let i = 0; i < 3; i++) c.send(0, H);
  c.send(H, c.setup.length);
  delivered(c, 'body first twice, header alone three times');
});
