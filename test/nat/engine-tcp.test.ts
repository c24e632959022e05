import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Side, Verdict } from '../../src/nat/engine.js';
import { describeTcpState } from '../../src/nat/tcp-tracker.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../src/wire/tcp.js';
import { ICMP_DEST_UNREACHABLE, UNREACH_PORT } from '../../src/wire/icmp.js';
import { assertChecksums, describe, makeEngine, tcpPkt } from './packets.js';

const IN = Side.Inside;
const OUT = Side.Outside;
const C = '10.0.0.2:40000';
const S = '198.51.100.10:80';
const P = '203.0.113.1:40000';

function handshake(engine: ReturnType<typeof makeEngine>['engine']) {
  assert.equal(engine.process(tcpPkt(C, S, TCP_SYN), IN), Verdict.ToOutside);
  assert.equal(engine.process(tcpPkt(S, P, TCP_SYN | TCP_ACK), OUT), Verdict.ToInside);
  assert.equal(engine.process(tcpPkt(C, S, TCP_ACK), IN), Verdict.ToOutside);
}

const stateOf = (engine: ReturnType<typeof makeEngine>['engine']) => describeTcpState(engine.listFlows()[0].state);

test('TCP: translation keeps checksums valid both ways', () => {
  const { engine } = makeEngine();
  const syn = tcpPkt(C, S, TCP_SYN, 1, 0, new TextEncoder().encode('hello'));
  engine.process(syn, IN);
  assertChecksums(syn);
  assert.equal(describe(syn), `${P} > ${S}`);
  const synack = tcpPkt(S, P, TCP_SYN | TCP_ACK);
  engine.process(synack, OUT);
  assertChecksums(synack);
  assert.equal(describe(synack), `${S} > ${C}`);
});

test('TCP: established connections idle out after 7440 s, not before', () => {
  const { engine, clock } = makeEngine();
  handshake(engine);
  assert.equal(stateOf(engine), 'ESTABLISHED');
  clock.advance(7_439_000);
  assert.equal(engine.process(tcpPkt(S, P, TCP_ACK), OUT), Verdict.ToInside);
  clock.advance(7_440_000);
  assert.equal(engine.process(tcpPkt(S, P, TCP_ACK), OUT), Verdict.Drop);
});

test('TCP: a half-open connection uses the transitory timeout (240 s)', () => {
  const { engine, clock } = makeEngine();
  engine.process(tcpPkt(C, S, TCP_SYN), IN);
  assert.equal(stateOf(engine), 'SYN_SENT');
  clock.advance(240_001);
  assert.equal(engine.process(tcpPkt(S, P, TCP_SYN | TCP_ACK), OUT), Verdict.Drop);
});

test('TCP: FIN both ways moves to the transitory timeout', () => {
  const { engine, clock } = makeEngine();
  handshake(engine);
  engine.process(tcpPkt(C, S, TCP_FIN | TCP_ACK), IN);
  assert.equal(stateOf(engine), 'FIN_WAIT');
  engine.process(tcpPkt(S, P, TCP_FIN | TCP_ACK), OUT);
  assert.equal(stateOf(engine), 'TIME_WAIT');
  clock.advance(240_001);
  engine.tick();
  assert.equal(engine.flows.size, 0);
  assert.equal(engine.mappings.size, 0);
});

test('TCP: a RST closes; a new SYN on the same tuple starts over', () => {
  const { engine } = makeEngine();
  handshake(engine);
  engine.process(tcpPkt(S, P, TCP_RST), OUT);
  assert.equal(stateOf(engine), 'CLOSE');
  engine.process(tcpPkt(C, S, TCP_SYN), IN);
  assert.equal(stateOf(engine), 'SYN_SENT');
});

test('TCP: inbound segments other than SYN never open a flow', () => {
  const { engine } = makeEngine({ filtering: 'eif' });
  engine.process(tcpPkt(C, S, TCP_SYN), IN);
  assert.equal(engine.process(tcpPkt('198.51.100.77:1234', P, TCP_ACK), OUT), Verdict.Drop);
  assert.equal(engine.counters.dropCount('tcpNoFlow'), 1);
  // ...while a SYN may, with endpoint-independent filtering (RFC 5382 REQ-3).
  assert.equal(engine.process(tcpPkt('198.51.100.77:1234', P, TCP_SYN), OUT), Verdict.ToInside);
});

test('TCP: an outbound stray RST with no flow is dropped, not given a mapping', () => {
  const { engine } = makeEngine();
  assert.equal(engine.process(tcpPkt(C, S, TCP_RST), IN), Verdict.Drop);
  assert.equal(engine.mappings.size, 0);
});

test('TCP: a connection picked up mid-stream becomes established when the far side answers', () => {
  const { engine } = makeEngine();
  assert.equal(engine.process(tcpPkt(C, S, TCP_ACK), IN), Verdict.ToOutside);
  assert.equal(stateOf(engine), 'NONE');
  assert.equal(engine.process(tcpPkt(S, P, TCP_ACK), OUT), Verdict.ToInside);
  assert.equal(stateOf(engine), 'ESTABLISHED');
});

test('TCP: unsolicited inbound SYN is held silently, then answered with port unreachable after 6 s', () => {
  const { engine, clock } = makeEngine();
  assert.equal(engine.process(tcpPkt('198.51.100.10:5555', '203.0.113.1:40000', TCP_SYN), OUT), Verdict.Drop);
  assert.equal(engine.counters.dropCount('synHeld'), 1);
  clock.advance(5_999);
  engine.tick();
  assert.equal(engine.drainEmitted().length, 0);
  clock.advance(2);
  engine.tick();
  const out = engine.drainEmitted();
  assert.equal(out.length, 1);
  assert.equal(out[0].side, Side.Outside);
  const icmp = out[0].packet;
  assertChecksums(icmp);
  assert.equal(icmp[20], ICMP_DEST_UNREACHABLE);
  assert.equal(icmp[21], UNREACH_PORT);
  assert.equal(describe(icmp).split(' proto')[0], '203.0.113.1 > 198.51.100.10');
});

test('TCP: unsolicited SYN followed by our own SYN (simultaneous open) is dropped silently', () => {
  const { engine, clock } = makeEngine();
  engine.process(tcpPkt('198.51.100.10:5555', '203.0.113.1:40000', TCP_SYN), OUT);
  clock.advance(1000);
  engine.process(tcpPkt(C, '198.51.100.10:5555', TCP_SYN), IN);
  clock.advance(10_000);
  engine.tick();
  assert.equal(engine.drainEmitted().length, 0);
  // and the connection completes through the new mapping
  assert.equal(engine.process(tcpPkt('198.51.100.10:5555', P, TCP_SYN | TCP_ACK), OUT), Verdict.ToInside);
});

test('TCP: unsolicitedSyn "drop" holds and then stays silent', () => {
  const { engine, clock } = makeEngine({ unsolicitedSyn: 'drop' });
  engine.process(tcpPkt('198.51.100.10:5555', '203.0.113.1:40000', TCP_SYN), OUT);
  clock.advance(7000);
  engine.tick();
  assert.equal(engine.drainEmitted().length, 0);
});
