/**
 * An ALG option changed by a reload applies to the next message: the SIP
 * ALG's rewriteFromTo, turned on while a flow lives, rewrites the From of its
 * next request (the rewrite context once kept the value it was built with).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attachAlg, findAlg } from '../../src/alg/registry.js';
import { parseAlgOptions } from '../../src/alg/definition.js';
import { Side, Verdict } from '../../src/nat/engine.js';
import { makeEngine, udpPkt } from '../nat/packets.js';

const options = (n: number) =>
  [
    'OPTIONS sip:probe@198.51.100.11 SIP/2.0',
    `Via: SIP/2.0/UDP 10.0.0.3:5062;branch=z9hG4bKopt${n};rport`,
    `From: <sip:alice@10.0.0.3:5062>;tag=t${n}`,
    'To: <sip:probe@198.51.100.11>',
    `Call-ID: reload-option-${n}`,
    'CSeq: 1 OPTIONS',
    'Contact: <sip:alice@10.0.0.3:5062>',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');

test('sip rewriteFromTo turned on by a reload rewrites the next From; off again, the next one is kept', () => {
  const { engine } = makeEngine();
  const def = findAlg('sip')!;
  const sip = attachAlg(engine, def);
  const send = (n: number) => {
    assert.equal(engine.process(udpPkt('10.0.0.3:5062', '198.51.100.11:5060', options(n)), Side.Inside), Verdict.ToOutside);
    return /^From: .*$/m.exec(Buffer.from(engine.output.subarray(28)).toString('latin1'))![0];
  };
  assert.match(send(1), /^From: <sip:alice@10\.0\.0\.3:5062>/);
  assert.ok(sip.reconfigure(parseAlgOptions(def, { rewriteFromTo: true })));
  assert.match(send(2), /^From: <sip:alice@203\.0\.113\.1:\d+>/);
  sip.reconfigure(parseAlgOptions(def, {}));
  assert.match(send(3), /^From: <sip:alice@10\.0\.0\.3:5062>/);
});
