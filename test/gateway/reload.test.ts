/**
 * A reload of a running gateway's configuration (SIGHUP, --reload, POST
 * /reload), on the engine and ALGs the gateway builds from the same file:
 * forwards, limits, ALG ports and the log level change while a call's
 * signalling flow, its media pinholes and an ordinary flow live on; an
 * invalid file and a restart-only change are refused with file, line and
 * field, and change nothing.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadGatewayConfigFile } from '../../src/control/config/load.js';
import { createLogger } from '../../src/control/logging.js';
import { activeAlgs, attachConfiguredAlgs, reloadGateway } from '../../src/gateway/reload.js';
import { NatEngine, Side, Verdict } from '../../src/nat/engine.js';
import { ManualClock } from '../../src/util/clock.js';
import { describe as show, udpPkt } from '../nat/packets.js';
import { SIP_PROXY as PROXY, sipInvite as invite } from '../control/sip-invite.js';

const dir = mkdtempSync(join(tmpdir(), 'masq-reload-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function config(extra: { forwardPort?: number; flows?: number; sipPorts?: string; level?: string; outside?: string; garbage?: string } = {}): string {
  return [
    'interfaces:',
    '  inside: [lan0]',
    `  outside: ${extra.outside ?? 'wan0'}`,
    'inside: [10.0.0.0/24]',
    'public: [203.0.113.1]',
    'forwards:',
    `  - { protocol: udp, port: ${extra.forwardPort ?? 7000}, to: 10.0.0.9 }`,
    'algs:',
    '  - name: sip',
    `    ports: [${extra.sipPorts ?? 'udp/5060'}]`,
    'limits:',
    `  flows: ${extra.flows ?? 1000}`,
    ...(extra.garbage ? [extra.garbage] : []),
    'status:',
    '  listen: 127.0.0.1:8787',
    'log:',
    `  level: ${extra.level ?? 'info'}`,
    '',
  ].join('\n');
}


function running(file: string) {
  const loaded = loadGatewayConfigFile(file);
  const clock = new ManualClock(0);
  const engine = new NatEngine(loaded.nat, { clock });
  const algs = attachConfiguredAlgs(engine, loaded);
  const log = createLogger(loaded.config.log.level, { write: () => {} } as never);
  // A call: its INVITE opens RTP and RTCP pinholes; an ordinary flow beside it.
  const out = engine.process(udpPkt('10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 'reload-call')), Side.Inside);
  assert.equal(out, Verdict.ToOutside);
  engine.process(udpPkt('10.0.0.3:4000', '198.51.100.53:53', 'q'), Side.Inside);
  return { loaded, engine, algs, log, clock };
}

test('a reload changes forwards, limits, ALG ports and the log level; the call, its pinholes and the other flows stay', () => {
  const file = join(dir, 'ok.yaml');
  writeFileSync(file, config());
  const g = running(file);
  const flowsBefore = g.engine.listFlows().map((f) => `${f.id} ${f.public.join(':')}`).sort();
  const pinholes = g.engine.listExpectations().map((e) => e.publicPort).sort();
  assert.equal(pinholes.length, 2);
  // The forward answers on 7000 before.
  assert.equal(g.engine.process(udpPkt('198.51.100.20:1000', '203.0.113.1:7000'), Side.Outside), Verdict.ToInside);

  writeFileSync(file, config({ forwardPort: 7100, flows: 2000, sipPorts: 'udp/5060, udp/5070', level: 'debug' }));
  const r = reloadGateway(file, g.loaded, g.engine, g.algs, g.log);
  assert.ok(r.ok, JSON.stringify(r));
  assert.deepEqual(r.changed, ['algs', 'forwards', 'limits', 'log']);
  assert.equal(g.log.level, 'debug');
  assert.equal(g.engine.config.limits.flows, 2000);
  for (const before of flowsBefore) assert.ok(g.engine.listFlows().some((f) => `${f.id} ${f.public.join(':')}` === before), `flow ${before} kept its id and mapping`);
  assert.deepEqual(g.engine.listExpectations().map((e) => e.publicPort).sort(), pinholes, 'the call keeps its pinholes');
  // Media still comes in on the pinhole; the new forward answers, the old one no longer makes new flows.
  const rtp = g.engine.process(udpPkt(`${PROXY}:40000`, `203.0.113.1:${pinholes[0]}`, 'rtp'), Side.Outside);
  assert.equal(rtp, Verdict.ToInside);
  assert.equal(g.engine.process(udpPkt('198.51.100.21:1000', '203.0.113.1:7100'), Side.Outside), Verdict.ToInside);
  assert.notEqual(g.engine.process(udpPkt('198.51.100.22:1000', '203.0.113.1:7000'), Side.Outside), Verdict.ToInside);
  // The SIP ALG now also watches 5070.
  const sip = activeAlgs(g.algs, r.ok ? r.loaded : g.loaded)[0];
  const before = sip.counters().messages;
  const out = udpPkt('10.0.0.5:5070', `${PROXY}:5070`, invite('10.0.0.5', 'reload-call-2'));
  g.engine.process(out, Side.Inside);
  assert.equal(sip.counters().messages, before + 1);
  assert.match(show(out), /^203\.0\.113\.1:\d+ > 198\.51\.100\.10:5070$/);
});

test('an invalid file is refused with its line and field; nothing changes', () => {
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, config());
  const g = running(file);
  writeFileSync(file, config({ flows: -5 }));
  const r = reloadGateway(file, g.loaded, g.engine, g.algs, g.log);
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.problems.some((p) => p.includes(file) && /:12:\d+/.test(p) && /limits\.flows/.test(p)), JSON.stringify(r));
  assert.equal(g.engine.config.limits.flows, 1000, 'the running limit stays');
  assert.equal(g.engine.listFlows().length, 2);

  writeFileSync(file, config({ garbage: 'bogus: [' }));
  const broken = reloadGateway(file, g.loaded, g.engine, g.algs, g.log);
  assert.equal(broken.ok, false);
  assert.ok(!broken.ok && broken.problems.every((p) => p.startsWith(file)), JSON.stringify(broken));
});

test('a field that needs a restart refuses the whole reload, naming it; the rest is not applied either', () => {
  const file = join(dir, 'restart.yaml');
  writeFileSync(file, config());
  const g = running(file);
  writeFileSync(file, config({ outside: 'wan9', flows: 3000 }));
  const r = reloadGateway(file, g.loaded, g.engine, g.algs, g.log);
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.problems.some((p) => /interfaces: cannot change while running: restart/.test(p)), JSON.stringify(r));
  assert.equal(g.engine.config.limits.flows, 1000, 'the limit in the same file was not applied');
});

test('turning the kernel fast path on (dataplane) needs a restart: the reload is refused, naming it', () => {
  const file = join(dir, 'dataplane.yaml');
  writeFileSync(file, config());
  const g = running(file);
  writeFileSync(file, config({ garbage: 'dataplane:\n  kernelOffload: true' }));
  const r = reloadGateway(file, g.loaded, g.engine, g.algs, g.log);
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.problems.some((p) => /dataplane: cannot change while running: restart/.test(p)), JSON.stringify(r));
});
