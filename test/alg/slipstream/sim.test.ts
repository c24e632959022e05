/**
 * Every NAT Slipstreaming scenario (scenarios.ts) in the engine with masq's
 * ALG for its protocol: nothing opens, and the attacker reaches nothing. The
 * same scenarios run through `masq gateway` and the kernel's helpers in
 * test/lab/slipstream.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONTROL_SCENARIOS, SLIPSTREAM_SCENARIOS } from './scenarios.js';
import { runInSim, SIM_HOSTS } from './run-sim.js';
import { parsePacket } from '../../../src/rendezvous/protocol/wire.js';
import { decodeStunMessage } from '../../../src/stun/message.js';
import { parseSipMessage } from '../../../src/alg/sip/index.js';

for (const s of SLIPSTREAM_SCENARIOS) {
  test(`slipstreaming in sim: ${s.id}: nothing opens`, (t) => {
    const r = runInSim(s);
    if (!r.algPresent) t.diagnostic(`masq has no ${s.alg} ALG yet: the engine alone ran it`);
    assert.deepEqual(r.pinholes, [], 'no pinhole at all');
    assert.equal(r.reached, false, `the attacker reached the goal through one of ${r.tried.join(', ')}`);
  });
}

for (const s of CONTROL_SCENARIOS) {
  test(`control in sim: ${s.id}: a pinhole opens and the registrar reaches the phone`, () => {
    const r = runInSim(s);
    assert.ok(r.pinholes.length > 0, 'the legitimate exchange opens a pinhole');
    assert.equal(r.reached, true);
  });
}

test('the crafted traffic is what the scenario says: the message starts a segment, and it is the protocol\'s', () => {
  for (const s of SLIPSTREAM_SCENARIOS) {
    const c = s.craft(SIM_HOSTS);
    if (c.transport !== 'tcp' || c.cuts.length === 0) continue;
    const starts = [0, ...c.cuts].map((at) => new TextDecoder('latin1').decode(c.stream.subarray(at, at + 8)));
    const wanted = s.alg === 'sip' ? /^(REGISTER|INVITE )/ : s.alg === 'h323' ? /^\x03\x00/ : /^PORT /;
    assert.ok(starts.some((x) => wanted.test(x)), `${s.id}: no segment starts with the message (${JSON.stringify(starts)})`);
  }
  // The TURN carrier is a real TURN request, and the REGISTER in it parses as SIP on its own.
  const turn = SLIPSTREAM_SCENARIOS.find((s) => s.id.includes('TURN USERNAME (UDP'))!.craft(SIM_HOSTS);
  assert.equal(turn.transport, 'udp');
  if (turn.transport === 'udp') {
    const m = decodeStunMessage(turn.datagrams[0]);
    assert.equal(m.method, 0x003);
    const username = m.attributes.find((a) => a.type === 'USERNAME');
    assert.ok(username && 'value' in username && typeof username.value === 'string');
    const sip = new TextEncoder().encode(username.value as string);
    assert.ok(parseSipMessage(sip).ok);
  }
  assert.throws(() => parsePacket(new Uint8Array(4), () => true));
});
