import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Side, Verdict } from '../../src/nat/engine.js';
import type { NatEvent } from '../../src/nat/events.js';
import { parseIpv4 } from '../../src/wire/address.js';
import { PROTO_UDP } from '../../src/wire/ipv4.js';
import { describe, makeEngine, udpPkt } from './packets.js';

const IN = Side.Inside;
const OUT = Side.Outside;
const phone = parseIpv4('10.0.0.2');
const peer = parseIpv4('198.51.100.20');

function media(engine: ReturnType<typeof makeEngine>['engine'], over: Partial<Parameters<typeof engine.expect>[0]> = {}) {
  return engine.expect({
    proto: PROTO_UDP,
    insideAddr: phone,
    insidePort: 30000,
    remoteAddr: peer,
    remotePort: 0,
    ttlMs: 60_000,
    singleUse: false,
    group: 'call-1',
    helper: 'test',
    reason: 'm=audio',
    ...over,
  });
}

test('an expectation admits the expected peer and no one else', () => {
  const { engine } = makeEngine();
  const e = media(engine);
  assert.ok(typeof e === 'object');
  assert.equal(e.publicPort % 2, 0, 'RTP keeps even parity');
  const to = `203.0.113.1:${e.publicPort}`;
  assert.equal(engine.process(udpPkt('198.51.100.99:4000', to), OUT), Verdict.Drop);
  const rtp = udpPkt('198.51.100.20:4000', to);
  assert.equal(engine.process(rtp, OUT), Verdict.ToInside);
  assert.equal(describe(rtp), '198.51.100.20:4000 > 10.0.0.2:30000');
  assert.equal(engine.counters.expectationsUsed, 1);
});

test('the inside endpoint leaves from the announced public port', () => {
  const { engine } = makeEngine({ mapping: 'apdm' });
  const e = media(engine);
  assert.ok(typeof e === 'object');
  const out = udpPkt('10.0.0.2:30000', '198.51.100.20:4000');
  engine.process(out, IN);
  assert.equal(describe(out), `203.0.113.1:${e.publicPort} > 198.51.100.20:4000`);
});

test('an expectation reuses the port of an existing endpoint-independent mapping', () => {
  const { engine } = makeEngine();
  const first = udpPkt('10.0.0.2:30000', '198.51.100.5:9');
  engine.process(first, IN);
  const mapped = Number(describe(first).split(' ')[0].split(':')[1]);
  const e = media(engine);
  assert.ok(typeof e === 'object');
  assert.equal(e.publicPort, mapped);
});

test('single-use expectations are consumed by the first match', () => {
  const { engine } = makeEngine();
  const e = media(engine, { singleUse: true, remotePort: 4000 });
  assert.ok(typeof e === 'object');
  engine.process(udpPkt('198.51.100.20:4000', `203.0.113.1:${e.publicPort}`), OUT);
  assert.equal(engine.expectations.size, 0);
});

test('expectations time out and release their port', () => {
  const { engine, clock } = makeEngine();
  const e = media(engine);
  assert.ok(typeof e === 'object');
  clock.advance(60_001);
  engine.tick();
  assert.equal(engine.expectations.size, 0);
  assert.equal(engine.process(udpPkt('198.51.100.20:4000', `203.0.113.1:${e.publicPort}`), OUT), Verdict.Drop);
  assert.ok(!engine.pool(parseIpv4('203.0.113.1'), PROTO_UDP).inUse(e.publicPort));
});

test('removing a group (BYE) removes all its expectations', () => {
  const { engine } = makeEngine();
  media(engine);
  media(engine, { insidePort: 30001, reason: 'rtcp' });
  media(engine, { group: 'call-2', insidePort: 30002 });
  assert.equal(engine.removeExpectationGroup('call-1'), 2);
  assert.equal(engine.expectations.size, 1);
});

test('caps: per group and in total; refusals are counted and reported', () => {
  const events: NatEvent[] = [];
  const { engine } = makeEngine({ limits: { expectations: 5, expectationsPerGroup: 2 } }, { onEvent: (e) => events.push(e) });
  assert.equal(typeof media(engine, { insidePort: 30000 }), 'object');
  assert.equal(typeof media(engine, { insidePort: 30002 }), 'object');
  assert.equal(media(engine, { insidePort: 30004 }), 'group-limit');
  for (let i = 0; i < 3; i++) assert.equal(typeof media(engine, { group: `g${i}`, insidePort: 31000 + 2 * i }), 'object');
  assert.equal(media(engine, { group: 'g9', insidePort: 32000 }), 'limit');
  assert.equal(engine.counters.expectationsRefused, 2);
  assert.ok(events.some((e) => e.type === 'limit' && e.limit === 'expectations'));
  assert.ok(events.some((e) => e.type === 'limit' && e.limit === 'expectationsPerGroup'));
});

test('port 0 and ports below 1024 open nothing', () => {
  const { engine } = makeEngine();
  assert.equal(media(engine, { insidePort: 0 }), 'bad-port');
  assert.equal(media(engine, { insidePort: 554 }), 'bad-port');
  assert.equal(engine.expectations.size, 0);
});

test('every pinhole opened is reported with its reason', () => {
  const events: NatEvent[] = [];
  const { engine } = makeEngine({}, { onEvent: (e) => events.push(e) });
  media(engine);
  const opened = events.filter((e) => e.type === 'expectation' && e.action === 'opened');
  assert.equal(opened.length, 1);
  assert.equal((opened[0] as Extract<NatEvent, { type: 'expectation' }>).reason, 'm=audio');
});
