/**
 * A same-length rewrite that names the spans it changed (HandleResult's
 * `changed`, as the H.323 ALG's address overwrites do): the framework writes
 * and checksums only those spans of the packet when the bytes it writes are
 * the handler's own, and compares the whole message otherwise (several
 * messages joined in one segment, a retransmission answered from the log).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attachHandler } from '../../src/alg/attach.js';
import type { AlgHandler } from '../../src/alg/helper.js';
import { Side, Verdict, type NatEngine } from '../../src/nat/engine.js';
import { parseTcpPacket, TCP_ACK, TCP_PSH, TCP_SYN } from '../../src/wire/tcp.js';
import { parseUdpPacket } from '../../src/wire/udp.js';
import { assertChecksums, makeEngine, tcpPkt, udpPkt } from '../nat/packets.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/**
 * Lines "MSG ...\n": every 'x' becomes 'y' in place, and the spans of the
 * x's are reported, except that with `lie` a '#' also becomes '!' without
 * being reported (to show that the spans are what the framework writes).
 */
function overwriter(lie: boolean): AlgHandler {
  return {
    name: 'overwrite',
    frame(b, start, end) {
      for (let i = start; i < end; i++) if (b[i] === 10) return { kind: 'message', length: i - start + 1 };
      return { kind: 'need-more' };
    },
    handle(_flow, m) {
      const out = m.slice();
      const spans: number[] = [];
      for (let i = 0; i < out.length; i++) {
        if (out[i] === 0x78) {
          out[i] = 0x79;
          spans.push(i, i + 1);
        } else if (lie && out[i] === 0x23) out[i] = 0x21;
      }
      if (spans.length === 0 && !lie) return { kind: 'pass' };
      return { kind: 'rewrite', bytes: out, changed: Int32Array.from(spans), changedCount: spans.length / 2 };
    },
  };
}

function setup(lie = false): NatEngine {
  const { engine } = makeEngine({ filtering: 'eif' });
  attachHandler(engine, overwriter(lie), [{ proto: 6, first: 7000, last: 7000 }, { proto: 17, first: 7000, last: 7000 }]);
  return engine;
}

function run(engine: NatEngine, pkt: Uint8Array, side: Side): Uint8Array {
  assert.notEqual(engine.process(pkt, side), Verdict.Drop);
  assertChecksums(engine.output);
  return engine.output;
}

const C = '10.0.0.2:40000';
const S = '198.51.100.10:7000';
const P = '203.0.113.1:40000';

function open(engine: NatEngine): void {
  run(engine, tcpPkt(C, S, TCP_SYN, 1000, 0), Side.Inside);
  run(engine, tcpPkt(S, P, TCP_SYN | TCP_ACK, 5000, 1001), Side.Outside);
  run(engine, tcpPkt(C, S, TCP_ACK, 1001, 5001), Side.Inside);
}

const payloadOf = (p: Uint8Array) => dec(parseTcpPacket(p).payload);

test('TCP: the named spans are written in place, checksum right, at odd and even offsets and at an odd end', () => {
  const engine = setup();
  open(engine);
  const out = run(engine, tcpPkt(C, S, TCP_ACK | TCP_PSH, 1001, 5001, enc('MSG x ax xx xx\n')), Side.Inside);
  assert.equal(payloadOf(out), 'MSG y ay yy yy\n');
});

test('TCP: the spans are trusted: a change the handler does not name is not written to the packet', () => {
  const engine = setup(true);
  open(engine);
  // The '#' is outside the word the named 'x' shares with its neighbour (spans are widened to whole words).
  const out = run(engine, tcpPkt(C, S, TCP_ACK | TCP_PSH, 1001, 5001, enc('MSG x..#\n')), Side.Inside);
  assert.equal(payloadOf(out), 'MSG y..#\n');
});

test('TCP: two rewritten messages in one segment are joined and compared whole (every change written)', () => {
  const engine = setup(true);
  open(engine);
  const out = run(engine, tcpPkt(C, S, TCP_ACK | TCP_PSH, 1001, 5001, enc('MSG x#\nMSG #x\n')), Side.Inside);
  assert.equal(payloadOf(out), 'MSG y!\nMSG !y\n');
});

test('TCP: a retransmission answered from the log carries every change of the first rewrite', () => {
  const engine = setup();
  open(engine);
  const seg = tcpPkt(C, S, TCP_ACK | TCP_PSH, 1001, 5001, enc('MSG x1 x2\n'));
  const first = run(engine, seg.slice(), Side.Inside);
  const again = run(engine, seg.slice(), Side.Inside);
  assert.equal(payloadOf(first), 'MSG y1 y2\n');
  assert.equal(payloadOf(again), 'MSG y1 y2\n');
});

test('UDP: the named spans are written in place with the checksum right', () => {
  const engine = setup();
  const out = run(engine, udpPkt('10.0.0.2:5000', '198.51.100.10:7000', 'MSG x.x.\n'), Side.Inside);
  assert.equal(dec(parseUdpPacket(out).payload), 'MSG y.y.\n');
});
