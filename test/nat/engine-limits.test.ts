import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Side, Verdict } from '../../src/nat/engine.js';
import type { NatEvent } from '../../src/nat/events.js';
import { TCP_SYN } from '../../src/wire/tcp.js';
import { makeEngine, tcpPkt, udpPkt } from './packets.js';

const IN = Side.Inside;
const OUT = Side.Outside;

test('flow limit: new flows are dropped and counted, existing ones keep working, one event per 10 s', () => {
  const events: NatEvent[] = [];
  const { engine, clock } = makeEngine({ limits: { flows: 3 } }, { onEvent: (e) => events.push(e) });
  for (let i = 0; i < 3; i++) assert.equal(engine.process(udpPkt(`10.0.0.2:${5000 + i}`, '198.51.100.10:53'), IN), Verdict.ToOutside);
  assert.equal(engine.process(udpPkt('10.0.0.2:6000', '198.51.100.10:53'), IN), Verdict.Drop);
  assert.equal(engine.process(udpPkt('10.0.0.3:6001', '198.51.100.10:53'), IN), Verdict.Drop);
  assert.equal(engine.counters.dropCount('flowLimit'), 2);
  assert.equal(events.filter((e) => e.type === 'limit').length, 1);
  assert.equal(engine.process(udpPkt('10.0.0.2:5001', '198.51.100.10:53'), IN), Verdict.ToOutside);
  clock.advance(10_000);
  engine.process(udpPkt('10.0.0.3:6001', '198.51.100.10:53'), IN);
  assert.equal(events.filter((e) => e.type === 'limit').length, 2);
});

test('flow limit also bounds inbound flows (forwards)', () => {
  const { engine } = makeEngine({ limits: { flows: 1 }, forwards: [{ protocol: 'tcp', port: 80, to: '10.0.0.5' }] });
  assert.equal(engine.process(tcpPkt('198.51.100.1:1000', '203.0.113.1:80', TCP_SYN), OUT), Verdict.ToInside);
  assert.equal(engine.process(tcpPkt('198.51.100.2:1000', '203.0.113.1:80', TCP_SYN), OUT), Verdict.Drop);
  assert.equal(engine.counters.dropCount('flowLimit'), 1);
});

test('per-host limit: one busy host cannot starve the others', () => {
  const { engine } = makeEngine({ limits: { flowsPerHost: 2 } });
  assert.equal(engine.process(udpPkt('10.0.0.2:1', '198.51.100.10:53'), IN), Verdict.ToOutside);
  assert.equal(engine.process(udpPkt('10.0.0.2:2', '198.51.100.10:53'), IN), Verdict.ToOutside);
  assert.equal(engine.process(udpPkt('10.0.0.2:3', '198.51.100.10:53'), IN), Verdict.Drop);
  assert.equal(engine.process(udpPkt('10.0.0.3:3', '198.51.100.10:53'), IN), Verdict.ToOutside);
  assert.equal(engine.counters.dropCount('hostFlowLimit'), 1);
});

test('pending SYN holds are bounded', () => {
  const { engine } = makeEngine({ limits: { pendingSyns: 2 } });
  for (let i = 0; i < 4; i++) engine.process(tcpPkt(`198.51.100.10:${1000 + i}`, '203.0.113.1:40000', TCP_SYN), OUT);
  assert.equal(engine.counters.dropCount('synHeld'), 2);
  assert.equal(engine.counters.dropCount('synHoldOverflow'), 2);
});

test('expired flows release their mapping, port and host entry', () => {
  const { engine, clock } = makeEngine();
  for (let i = 0; i < 50; i++) engine.process(udpPkt(`10.0.0.${2 + (i % 5)}:${5000 + i}`, '198.51.100.10:53'), IN);
  assert.equal(engine.flows.size, 50);
  clock.advance(300_000);
  engine.tick();
  assert.equal(engine.flows.size, 0);
  assert.equal(engine.mappings.size, 0);
  assert.equal(engine.hosts.size, 0);
});
