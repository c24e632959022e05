/**
 * The pinhole side of the ALG framework, with a toy signalling protocol on
 * UDP 7100 (one command per datagram):
 *   OPEN <port> <class> [attach]   from inside: a pinhole to the sender's <port>
 *   PAIR <port> <class>            from inside: RTP and RTCP pinholes to <port> and <port>+1, in one step
 *   DIAL <addr> <port>             from outside: the inside host will dial <addr>:<port>
 *   END                            either way: the call is over (expectations and child flows)
 * The toy's related handler "ctl" counts the messages it sees on the flows
 * the pinholes admit, and what call they belong to.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attachHandler } from '../../src/alg/attach.js';
import type { ExpectationPolicy } from '../../src/alg/definition.js';
import type { AlgHandler } from '../../src/alg/helper.js';
import { Side, Verdict, type NatEngine } from '../../src/nat/engine.js';
import type { ExpectationClass } from '../../src/nat/expectations.js';
import type { NatEvent } from '../../src/nat/events.js';
import { parseIpv4 } from '../../src/wire/address.js';
import { TCP_SYN } from '../../src/wire/tcp.js';
import { makeEngine, tcpPkt, udpPkt } from '../nat/packets.js';

const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function toy(name = 'toy') {
  const seen: Array<{ flow: number; group: string | null; text: string }> = [];
  const results: unknown[] = [];
  const ctl: AlgHandler = {
    name: 'ctl',
    frame: (_b, s, e) => ({ kind: 'message', length: e - s }),
    handle(flow, m) {
      seen.push({ flow: flow.id, group: flow.group, text: dec(m) });
      return { kind: 'pass' };
    },
  };
  const handler: AlgHandler = {
    name,
    related: { ctl },
    frame: (_b, s, e) => ({ kind: 'message', length: e - s }),
    handle(flow, m, services) {
      const [cmd, a, b, c] = dec(m).trim().split(' ');
      if (cmd === 'OPEN' && flow.outbound) {
        results.push(
          services.expect({
            proto: 17,
            insideAddr: flow.insideAddr,
            insidePort: Number(a),
            remoteAddr: flow.remoteAddr,
            remotePort: 0,
            singleUse: false,
            group: 'call',
            cls: b as ExpectationClass,
            attach: c,
            reason: `toy open ${a}`,
          }),
        );
      } else if (cmd === 'PAIR' && flow.outbound) {
        const req = { proto: 17, insideAddr: flow.insideAddr, insidePort: Number(a), remoteAddr: flow.remoteAddr, remotePort: 0, singleUse: false, group: 'call', cls: b as ExpectationClass, reason: `toy rtp ${a}` };
        results.push(services.expectMediaPair(req, `toy rtcp ${a}`));
      } else if (cmd === 'DIAL' && !flow.outbound) {
        results.push(
          services.expect({
            proto: 6,
            direction: 'outbound',
            insideAddr: flow.insideAddr,
            insidePort: 0,
            remoteAddr: parseIpv4(a),
            remotePort: Number(b),
            singleUse: true,
            group: 'call',
            cls: 'signalling',
            attach: 'ctl',
            reason: 'toy dial',
          }),
        );
      } else if (cmd === 'END') {
        results.push(services.endGroup('call'));
      }
      return { kind: 'pass' };
    },
  };
  return { handler, seen, results };
}

const POLICY: ExpectationPolicy = {
  signalling: { perGroup: 2, total: 4, ttlMs: 10_000 },
  audio: { perGroup: 2, total: 3, ttlMs: 5_000 },
};

function setup(policy: ExpectationPolicy = POLICY, config = {}) {
  const events: NatEvent[] = [];
  const { engine, clock } = makeEngine(config, { onEvent: (e) => events.push(e) });
  const t = toy();
  const alg = attachHandler(engine, t.handler, [{ proto: 17, first: 7100, last: 7100 }], policy);
  return { engine, clock, alg, events, ...t };
}

const PHONE = '10.0.0.2';
const PEER = '198.51.100.10';
const send = (engine: NatEngine, from: string, to: string, text: string, side: Side) => engine.process(udpPkt(from, to, text), side);
const fromPhone = (engine: NatEngine, text: string) => send(engine, `${PHONE}:5000`, `${PEER}:7100`, text, Side.Inside);
const fromPeer = (engine: NatEngine, text: string) => send(engine, `${PEER}:7100`, '203.0.113.1:5000', text, Side.Outside);

test('a pinhole that names a related handler: the flow it admits runs that handler and knows its call', () => {
  const { engine, seen, results } = setup();
  fromPhone(engine, 'OPEN 30000 audio ctl');
  const e = results[0] as { publicPort: number; attach: number };
  assert.equal(typeof e, 'object');
  assert.equal(send(engine, `${PEER}:40000`, `203.0.113.1:${e.publicPort}`, 'media 1', Side.Outside), Verdict.ToInside);
  assert.deepEqual(seen, [{ flow: seen[0].flow, group: 'call', text: 'media 1' }]);
  const listed = engine.listFlows().find((f) => f.inside[1] === 30000)!;
  assert.equal(engine.helperName(listed.helper), 'toy/ctl');
});

test('a pinhole without a related handler: the admitted flow gets the helper its ports would give (none here)', () => {
  const { engine, seen, results } = setup();
  fromPhone(engine, 'OPEN 30002 audio');
  const e = results[0] as { publicPort: number };
  assert.equal(send(engine, `${PEER}:40000`, `203.0.113.1:${e.publicPort}`, 'media', Side.Outside), Verdict.ToInside);
  assert.equal(seen.length, 0);
});

test('an outbound expectation: the inside host dialling the announced endpoint gets the handler and the call; nobody else does', () => {
  const { engine, seen, results } = setup();
  fromPhone(engine, 'HELLO');
  fromPeer(engine, 'DIAL 198.51.100.20 8000');
  assert.equal(typeof results[0], 'object');
  // Another inside host dialling the same endpoint: an ordinary flow.
  engine.process(tcpPkt('10.0.0.3:41000', '198.51.100.20:8000', TCP_SYN, 1, 0), Side.Inside);
  const other = engine.listFlows().find((f) => f.inside[0] === parseIpv4('10.0.0.3'))!;
  assert.equal(other.helper, 0);
  // The phone dials it: its flow gets the related handler, and the single-use expectation is spent.
  engine.process(tcpPkt(`${PHONE}:41000`, '198.51.100.20:8000', TCP_SYN, 1, 0), Side.Inside);
  const dialled = engine.listFlows().find((f) => f.inside[0] === parseIpv4(PHONE) && f.remote[1] === 8000)!;
  assert.equal(engine.helperName(dialled.helper), 'toy/ctl');
  assert.deepEqual(engine.groupOfFlow(dialled.id), { helper: 'toy', group: 'call' });
  assert.equal(engine.expectations.list().filter((e) => e.direction === 'outbound').length, 0);
  assert.equal(seen.length, 0, 'a bare SYN carries no message');
});

test('an outbound expectation names a remote it dials: no remote, or a port below 1024, opens nothing', () => {
  const { engine, results } = setup();
  fromPeer(engine, 'DIAL 0.0.0.0 8000');
  fromPeer(engine, 'DIAL 198.51.100.20 80');
  // (the inbound DIALs arrive on no flow: the phone must speak first)
  assert.equal(results.length, 0);
  fromPhone(engine, 'HELLO');
  fromPeer(engine, 'DIAL 0.0.0.0 8000');
  fromPeer(engine, 'DIAL 198.51.100.20 80');
  assert.deepEqual(results, ['bad-port', 'bad-port']);
});

test('ending a call removes its pinholes and the flows they admitted', () => {
  const { engine, results } = setup();
  fromPhone(engine, 'OPEN 30000 audio ctl');
  fromPhone(engine, 'OPEN 30002 audio');
  const [a, b] = results as Array<{ publicPort: number }>;
  send(engine, `${PEER}:40000`, `203.0.113.1:${a.publicPort}`, 'x', Side.Outside);
  send(engine, `${PEER}:40002`, `203.0.113.1:${b.publicPort}`, 'y', Side.Outside);
  assert.equal(engine.flows.size, 3, 'signalling and two media flows');
  fromPhone(engine, 'END');
  assert.deepEqual(results[2], { expectations: 2, flows: 2 });
  assert.equal(engine.flows.size, 1, 'only the signalling flow is left');
  assert.equal(engine.expectations.size, 0);
  assert.equal(send(engine, `${PEER}:40000`, `203.0.113.1:${a.publicPort}`, 'late', Side.Outside), Verdict.Drop, 'the media path is closed');
});

test('the ALG policy: per class, per group and in total; a class it leaves out opens nothing; each refusal counted', () => {
  const { engine, alg, results } = setup();
  fromPhone(engine, 'OPEN 30000 audio');
  fromPhone(engine, 'OPEN 30002 audio');
  fromPhone(engine, 'OPEN 30004 audio'); // third in the group
  fromPhone(engine, 'OPEN 30006 video'); // not in the policy
  fromPhone(engine, 'OPEN 30008 signalling');
  assert.deepEqual(
    results.map((r) => (typeof r === 'object' ? 'ok' : r)),
    ['ok', 'ok', 'class-limit', 'class-limit', 'ok'],
  );
  const c = alg.counters();
  assert.equal(c.classLimit_audio, 1);
  assert.equal(c.classLimit_video, 1);
  assert.equal(c.expectationsRefused, 2);
  assert.equal(c.expectationsOpened, 3);
});

test('a media pair through the ALG policy: both pinholes or neither, the class cap counting both', () => {
  const { engine, alg, results } = setup();
  fromPhone(engine, 'PAIR 30000 audio');
  const pair = results[0] as Array<{ insidePort: number; publicPort: number; reason: string }>;
  assert.ok(Array.isArray(pair), String(results[0]));
  assert.deepEqual(pair.map((e) => [e.insidePort, e.reason]), [[30000, 'toy rtp 30000'], [30001, 'toy rtcp 30000']]);
  assert.equal(pair[1].publicPort, pair[0].publicPort + 1);
  assert.equal(send(engine, `${PEER}:40001`, `203.0.113.1:${pair[1].publicPort}`, 'rtcp', Side.Outside), Verdict.ToInside);
  // The group's audio cap (2) is full: a second pair, or one more pinhole, opens nothing.
  fromPhone(engine, 'PAIR 30002 audio');
  fromPhone(engine, 'OPEN 30004 audio');
  assert.deepEqual(results.slice(1), ['class-limit', 'class-limit']);
  // Room for one pinhole is not room for a pair.
  const one = setup();
  fromPhone(one.engine, 'OPEN 30000 audio');
  fromPhone(one.engine, 'PAIR 30002 audio');
  assert.equal(one.results[1], 'class-limit');
  assert.equal(one.engine.expectations.size, 1);
  const c = alg.counters();
  assert.deepEqual([c.expectationsOpened, c.expectationsRefused, c.classLimit_audio], [2, 2, 2]);
});

test('the ALG policy: the total cap spans groups; the class timeout is the default time to live', () => {
  const { engine, clock } = setup();
  const t = toy('toy2');
  attachHandler(engine, t.handler, [{ proto: 17, first: 7200, last: 7200 }], { audio: { perGroup: 10, total: 2, ttlMs: 5_000 } });
  for (const port of [30000, 30002, 30004]) send(engine, `${PHONE}:5002`, `${PEER}:7200`, `OPEN ${port} audio`, Side.Inside);
  assert.deepEqual(t.results.map((r) => (typeof r === 'object' ? 'ok' : r)), ['ok', 'ok', 'class-limit']);
  clock.advance(4_999);
  engine.tick();
  assert.equal(engine.expectations.size, 2);
  clock.advance(1);
  engine.tick();
  assert.equal(engine.expectations.size, 0);
});

test('groups are each ALG\'s own: one ALG ending its call leaves another ALG\'s call of the same name', () => {
  const { engine, results } = setup();
  const t2 = toy('toy2');
  attachHandler(engine, t2.handler, [{ proto: 17, first: 7200, last: 7200 }], POLICY);
  fromPhone(engine, 'OPEN 30000 audio');
  send(engine, `${PHONE}:5002`, `${PEER}:7200`, 'OPEN 30010 audio', Side.Inside);
  assert.equal(engine.expectations.size, 2);
  fromPhone(engine, 'END');
  assert.deepEqual(results[1], { expectations: 1, flows: 0 });
  assert.deepEqual(engine.expectations.list().map((e) => [e.helper, e.group, e.insidePort]), [['toy2', 'call', 30010]]);
});

test('an ALG acts only on its own expectations by id', () => {
  const { engine } = setup();
  let mine = 0;
  let theirs = 0;
  const attempts: boolean[] = [];
  const probe: AlgHandler = {
    name: 'probe',
    frame: (_b, s, e) => ({ kind: 'message', length: e - s }),
    handle(flow, _m, services) {
      if (mine === 0) {
        const e = services.expect({ proto: 17, insideAddr: flow.insideAddr, insidePort: 31000, remoteAddr: 0, remotePort: 0, singleUse: false, group: 'g', reason: 'probe', cls: 'audio' });
        mine = (e as { id: number }).id;
      }
      attempts.push(services.restrictExpectation(theirs, 1, 1), services.extendExpectation(theirs, 1), services.removeExpectation(theirs));
      attempts.push(services.extendExpectation(mine, 1000));
      return { kind: 'pass' };
    },
  };
  attachHandler(engine, probe, [{ proto: 17, first: 7300, last: 7300 }], POLICY);
  fromPhone(engine, 'OPEN 30000 audio');
  theirs = engine.expectations.list()[0].id;
  send(engine, `${PHONE}:5004`, `${PEER}:7300`, 'poke', Side.Inside);
  assert.deepEqual(attempts, [false, false, false, true]);
  assert.equal(engine.expectations.size, 2);
});

test('the engine caps one inside host\'s share of the expectation table; another host still gets its pinholes', () => {
  const { engine, events, results } = setup({ audio: { perGroup: 100, total: 100, ttlMs: 60_000 } }, { limits: { expectations: 100, expectationsPerHost: 3 } });
  for (let i = 0; i < 4; i++) fromPhone(engine, `OPEN ${30000 + 2 * i} audio`);
  send(engine, '10.0.0.3:5000', `${PEER}:7100`, 'OPEN 30000 audio', Side.Inside);
  assert.deepEqual(results.map((r) => (typeof r === 'object' ? 'ok' : r)), ['ok', 'ok', 'ok', 'host-limit', 'ok']);
  assert.ok(events.some((e) => e.type === 'limit' && e.limit === 'expectationsPerHost'));
});

test('the per-host share defaults to a quarter of the table, at least 64', () => {
  assert.equal(makeEngine({ limits: { expectations: 4096 } }).engine.config.limits.expectationsPerHost, 1024);
  assert.equal(makeEngine({ limits: { expectations: 100 } }).engine.config.limits.expectationsPerHost, 64);
});

test('without a random source the engine takes the OS CSPRNG, never Math.random', () => {
  const original = Math.random;
  Math.random = () => {
    throw new Error('Math.random used');
  };
  try {
    const { engine } = makeEngine({ ports: { allocation: 'random' } }, { random: undefined });
    for (let i = 0; i < 20; i++) assert.equal(engine.process(udpPkt(`10.0.0.2:${5000 + i}`, `${PEER}:53`, 'q'), Side.Inside), Verdict.ToOutside);
    const ports = new Set(engine.listFlows().map((f) => f.public[1]));
    assert.equal(ports.size, 20);
  } finally {
    Math.random = original;
  }
});

test('a pinhole naming a handler the ALG does not have is refused, not thrown', () => {
  const { engine, results } = setup();
  fromPhone(engine, 'OPEN 30000 audio nosuch');
  assert.deepEqual(results, ['unknown-handler']);
  assert.equal(engine.expectations.size, 0);
});
