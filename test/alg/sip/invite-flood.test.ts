/**
 * An INVITE flood from one phone must not take another phone's call: the SIP
 * ALG's call table is bounded per inside host below its global bound, so the
 * flooding phone forgets its own oldest calls, never another phone's (found by
 * the INVITE flood of bench/floods.ts: a call still ringing lost its media
 * pinholes once one phone's unanswered INVITEs had filled the table).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Side, Verdict } from '../../../src/nat/engine.js';
import { invite, PEER_MEDIA, PROXY, response, rtp, sdp, send, withSip } from './engine-calls.js';

const FLOODER = '10.0.0.9';
const PHONE = '10.0.0.2';

/** The phone's call starts ringing, then `flood` INVITEs from another phone, each with its own media port; then the answer. */
function ringingThroughFlood(flood: number, options: unknown) {
  const { engine, alg } = withSip({ limits: { expectations: 4096 } }, options);
  const out = send(engine, `${PHONE}:5060`, `${PROXY}:5060`, invite(PHONE, 5060, 'ringing'), Side.Inside);
  const media = Number(/m=audio (\d+)/.exec(out.text)![1]);
  const sig = Number(/Contact: <sip:alice@203\.0\.113\.1:(\d+)>/.exec(out.text)![1]);
  send(engine, `${PROXY}:5060`, `203.0.113.1:${sig}`, response('180 Ringing', `203.0.113.1:${sig}`, 'ringing', '1 INVITE'), Side.Outside);
  for (let i = 0; i < flood; i++) send(engine, `${FLOODER}:5060`, `${PROXY}:5060`, invite(FLOODER, 5060, `flood-${i}`, 1, 10_000 + 2 * (i % 20_000)), Side.Inside);
  send(engine, `${PROXY}:5060`, `203.0.113.1:${sig}`, response('200 OK', `203.0.113.1:${sig}`, 'ringing', '1 INVITE', sdp(PEER_MEDIA, 40000)), Side.Outside);
  return { engine, alg, media };
}

test('a phone flooding INVITEs forgets its own oldest calls; another phone\'s ringing call keeps its media pinholes', () => {
  const { engine, alg, media } = ringingThroughFlood(300, { maxCalls: 100 });
  assert.equal(rtp(engine, `${PEER_MEDIA}:40000`, `203.0.113.1:${media}`), Verdict.ToInside, 'the answered call\'s media comes in');
  const groups = new Set(engine.expectations.list().map((e) => e.group));
  assert.ok([...groups].some((g) => g.endsWith('|ringing')), 'the ringing call still has its pinholes');
  const c = alg.counters();
  assert.ok(c.callsActive <= 100, `within maxCalls: ${c.callsActive}`);
  assert.ok(c.callsForgottenHostLimit > 0, 'the flooder\'s calls were forgotten for its per-host bound, and counted');
  assert.equal(c.callsForgottenTableFull ?? 0, 0, 'the table never filled');
});

test('the per-host bound is an option; at the global bound the oldest call of all is still forgotten', () => {
  // maxCallsPerHost as high as maxCalls: one phone may fill the table, and the oldest call (the ringing one) goes.
  const { engine, alg, media } = ringingThroughFlood(300, { maxCalls: 100, maxCallsPerHost: 100 });
  assert.equal(rtp(engine, `${PEER_MEDIA}:40000`, `203.0.113.1:${media}`), Verdict.Drop);
  assert.ok(alg.counters().callsForgottenTableFull > 0);
});
