/**
 * An ALG added by a reload has its call state kept like those configured at
 * start: a call through it is in the journal, and a gateway restarted from
 * that journal, with the new configuration, has the call back.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadGatewayConfigFile } from '../../../src/control/config/load.js';
import { createLogger } from '../../../src/control/logging.js';
import { attachConfiguredAlgs, reloadGateway } from '../../../src/gateway/reload.js';
import { GatewayState } from '../../../src/gateway/state/gateway-state.js';
import { NatEngine, Side, Verdict } from '../../../src/nat/engine.js';
import { ManualClock } from '../../../src/util/clock.js';
import { udpPkt } from '../../nat/packets.js';
import { SIP_PROXY, sipInvite } from '../../control/sip-invite.js';

const dir = mkdtempSync(join(tmpdir(), 'masq-reload-state-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function config(withSip: boolean): string {
  return [
    'interfaces:',
    '  inside: [lan0]',
    '  outside: wan0',
    'inside: [10.0.0.0/24]',
    'public: [203.0.113.1]',
    ...(withSip ? ['algs:', '  - name: sip', '    ports: [udp/5060]'] : ['algs: []']),
    'state:',
    `  dir: ${join(dir, 'state')}`,
    '  flushMs: 50',
    'status:',
    '  listen: 127.0.0.1:8787',
    '',
  ].join('\n');
}

/** What `masq gateway` does at start, up to the first packet (src/gateway/gateway.ts). */
async function start(file: string) {
  const loaded = loadGatewayConfigFile(file);
  const clock = new ManualClock(0);
  const engine = new NatEngine(loaded.nat, { clock });
  const algs = attachConfiguredAlgs(engine, loaded);
  const log = createLogger('error', { write: () => {} } as never);
  const state = await GatewayState.open(loaded.config.state, engine, [...algs.values()], log, clock);
  assert.ok(state);
  return { loaded, engine, algs, log, clock, state };
}

test('a reload that adds the SIP ALG: its call is journalled, and a restart brings it back', async () => {
  const file = join(dir, 'gw.yaml');
  writeFileSync(file, config(false));
  const g = await start(file);
  g.state.start();
  try {
    writeFileSync(file, config(true));
    const r = reloadGateway(file, g.loaded, g.engine, g.algs, g.log);
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.attached.map((a) => a.name), ['sip']);
    g.state.keepAlgs(r.attached);
    g.state.keepAlgs(r.attached); // twice: still kept once
    // A call through the new ALG: its INVITE opens the media pinholes, and the ALG holds the call.
    assert.equal(g.engine.process(udpPkt('10.0.0.2:5060', `${SIP_PROXY}:5060`, sipInvite('10.0.0.2', 'reload-kept')), Side.Inside), Verdict.ToOutside);
    assert.equal(g.algs.get('sip')!.counters().callsActive, 1);
    g.state.keeper.flush();
    const journalled = g.state.store!.load().records.at(-1)!;
    assert.ok('sip' in journalled.algs, `the flush after the call wrote the SIP ALG's state: ${JSON.stringify(Object.keys(journalled.algs))}`);
  } finally {
    await g.state.stop();
  }

  const b = await start(file);
  try {
    assert.deepEqual(b.state.restored?.algs, ['sip'], JSON.stringify(b.state.restored));
    assert.deepEqual(b.state.restored?.problems, []);
    assert.equal(b.algs.get('sip')!.counters().callsActive, 1, 'the call is back in the ALG');
    assert.equal(b.engine.listExpectations().length, 2, 'with its RTP and RTCP pinholes');
  } finally {
    b.state.store?.close();
  }
});
