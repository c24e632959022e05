/**
 * The SIP ALG's calls survive a restart: the engine's state and the ALG's
 * state, exported from one engine and put into another (through JSON, as a
 * store would), keep the call's media flowing, and a BYE on the new engine
 * still closes the call's pinholes. Damaged ALG state is refused, not thrown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Side, Verdict } from '../../../src/nat/engine.js';
import { describe as show, udpPkt } from '../../nat/packets.js';
import { invite, msg, PEER_MEDIA, PROXY, response, rtp, sdp, send, withSip } from './engine-calls.js';

const json = <T>(v: T): T =>
  JSON.parse(
    JSON.stringify(v, (_k, x) => (ArrayBuffer.isView(x) ? { $t: x.constructor.name, d: Array.from(x as unknown as ArrayLike<number>) } : x)),
    (_k, x) => (x && typeof x === 'object' && '$t' in x ? new (globalThis as unknown as Record<string, new (d: number[]) => unknown>)[x.$t](x.d) : x),
  ) as T;

function answeredCall() {
  const a = withSip({ mapping: 'apdm' });
  const out = send(a.engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5060, 'call-s'), Side.Inside);
  const media = Number(/m=audio (\d+)/.exec(out.text)![1]);
  send(a.engine, `${PROXY}:5060`, '203.0.113.1:5060', response('200 OK', '203.0.113.1:5060', 'call-s', '1 INVITE', sdp(PEER_MEDIA, 40000)), Side.Outside);
  assert.equal(rtp(a.engine, `${PEER_MEDIA}:40000`, `203.0.113.1:${media}`), Verdict.ToInside);
  return { ...a, media };
}

test('a call restored on a new engine: media flows both ways, the pinholes admit the peer only, BYE closes them', () => {
  const a = answeredCall();
  const saved = json({ engine: a.engine.exportState(), sip: a.alg.exportState(a.clock.now()) });
  assert.equal(a.alg.stateChanged, false, 'exported: nothing new since');

  const b = withSip({ mapping: 'apdm' });
  b.clock.set(1_000_000);
  const report = b.engine.applyState(saved.engine, 500);
  assert.equal(report.skipped.conflict + report.skipped.unknown, 0, JSON.stringify(report));
  assert.equal(b.alg.importState(saved.sip, b.clock.now() - 500 - saved.engine.at), null);
  assert.equal(b.alg.counters().callsActive, 1);

  assert.equal(rtp(b.engine, `${PEER_MEDIA}:40000`, `203.0.113.1:${a.media}`), Verdict.ToInside);
  assert.equal(show(b.engine.output), `${PEER_MEDIA}:40000 > 10.0.0.2:30000`);
  assert.equal(rtp(b.engine, '198.51.100.99:40000', `203.0.113.1:${a.media + 1}`), Verdict.Drop, 'no one else');
  const phoneRtp = udpPkt('10.0.0.2:30000', `${PEER_MEDIA}:40000`, 'rtp');
  b.engine.process(phoneRtp, Side.Inside);
  assert.equal(show(phoneRtp), `203.0.113.1:${a.media} > ${PEER_MEDIA}:40000`);

  const bye = msg(`BYE sip:bob@${PROXY} SIP/2.0`, { Via: 'SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKbye', From: '<sip:a@x>;tag=1', To: '<sip:b@x>;tag=2', 'Call-ID': 'call-s', CSeq: '2 BYE' });
  send(b.engine, '10.0.0.2:5060', `${PROXY}:5060`, bye, Side.Inside);
  assert.equal(b.engine.expectations.size, 0, 'the restored call\'s BYE removed its pinholes');
  assert.equal(b.alg.counters().callsActive, 0);
});

test('damaged SIP state is refused whole, and the ALG keeps what it had', () => {
  const a = answeredCall();
  const good = a.alg.exportState(a.clock.now()) as { calls: unknown[] };
  const bad: unknown[] = [
    null,
    42,
    { v: 2 },
    { ...good, calls: [['k', { group: 1 }]] },
    { ...good, calls: 'x' },
    { ...good, phonePorts: [{ proto: 17, insideAddr: -1, insidePort: 1, publicAddr: 1, publicPort: 1, expectation: 1, expiresAt: 0 }] },
    { ...good, extra: true },
  ];
  for (const state of bad) {
    const r = a.alg.importState(state, 0);
    assert.match(String(r), /refused/, JSON.stringify(state));
    assert.equal(a.alg.counters().callsActive, 1, 'the live call is still known');
  }
});
