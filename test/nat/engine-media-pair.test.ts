/**
 * NatEngine.expectMediaPair: a media stream's RTP and RTCP pinholes in one
 * step. It must do what planMediaPorts and two expect() calls did (the
 * H.323 ALG's path before it), all or nothing: checked against that path on a
 * twin engine over random sequences, and on its own for the refusals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Side, Verdict } from '../../src/nat/engine.js';
import type { PinholeRequest } from '../../src/nat/pinholes.js';
import { parseIpv4 } from '../../src/wire/address.js';
import { PROTO_UDP } from '../../src/wire/ipv4.js';
import { describe, makeEngine, udpPkt } from './packets.js';

type Engine = ReturnType<typeof makeEngine>['engine'];

const HOSTS = [parseIpv4('10.0.0.2'), parseIpv4('10.0.0.3')];
const peer = parseIpv4('198.51.100.20');

function rtpRequest(insideAddr: number, insidePort: number, group: string): PinholeRequest {
  return { proto: PROTO_UDP, insideAddr, insidePort, remoteAddr: peer, remotePort: 0, ttlMs: 60_000, singleUse: false, group, helper: 'test', reason: 'rtp', cls: 'audio' };
}

/** The two-step path: plan the ports, open RTP, then RTCP, removing RTP if RTCP is refused. */
function twoStep(engine: Engine, req: PinholeRequest) {
  const plan = engine.planMediaPorts(req.proto, req.insideAddr, req.insidePort, req.publicAddr);
  if (!plan) return 'no-port';
  const a = engine.expect({ ...req, publicAddr: plan.publicAddr, publicPort: plan.rtp });
  if (typeof a !== 'object') return a;
  const b = engine.expect({ ...req, insidePort: req.insidePort + 1, publicAddr: plan.publicAddr, publicPort: plan.rtcp, reason: 'rtcp' });
  if (typeof b !== 'object') {
    engine.removeExpectation(a.id);
    return b;
  }
  return [a, b] as const;
}

/** What a result says: the refusal, or each expectation's endpoints and reason. */
function outcome(r: ReturnType<typeof twoStep> | ReturnType<Engine['expectMediaPair']>): unknown {
  if (typeof r === 'string') return r;
  return r.map((e) => ({ inside: e.insidePort, pub: `${e.publicAddr}:${e.publicPort}`, reason: e.reason, group: e.group }));
}

function tableOf(engine: Engine): unknown {
  return engine.expectations.list().map((e) => [e.insideAddr, e.insidePort, e.publicPort, e.group]);
}

test('a fresh pair: even public RTP, RTCP on the next port, both admitting the peer only', () => {
  const { engine } = makeEngine();
  const r = engine.expectMediaPair(rtpRequest(HOSTS[0], 30000, 'call-1'), 'rtcp');
  assert.ok(typeof r === 'object', String(r));
  const [rtp, rtcp] = r;
  assert.equal(rtp.publicPort % 2, 0);
  assert.equal(rtcp.publicPort, rtp.publicPort + 1);
  assert.deepEqual([rtp.insidePort, rtcp.insidePort, rtp.reason, rtcp.reason], [30000, 30001, 'rtp', 'rtcp']);
  const toRtcp = `203.0.113.1:${rtcp.publicPort}`;
  assert.equal(engine.process(udpPkt('198.51.100.99:4001', toRtcp), Side.Outside), Verdict.Drop);
  const pkt = udpPkt('198.51.100.20:4001', toRtcp);
  assert.equal(engine.process(pkt, Side.Outside), Verdict.ToInside);
  assert.equal(describe(pkt), '198.51.100.20:4001 > 10.0.0.2:30001');
  assert.equal(engine.counters.expectationsOpened, 2);
});

test('all or nothing: RTCP refused by the group cap leaves no RTP pinhole and no port held', () => {
  const { engine } = makeEngine({ limits: { expectationsPerGroup: 3 } });
  const first = engine.expectMediaPair(rtpRequest(HOSTS[0], 30000, 'call-1'), 'rtcp');
  assert.ok(typeof first === 'object');
  assert.equal(engine.expectMediaPair(rtpRequest(HOSTS[0], 30002, 'call-1'), 'rtcp'), 'group-limit');
  assert.equal(engine.expectations.size, 2);
  assert.equal(engine.counters.expectationsRefused, 1);
  // The ports the refused pair took are free again: another group gets the same pair.
  const again = engine.expectMediaPair(rtpRequest(HOSTS[0], 30002, 'call-2'), 'rtcp');
  const twin = makeEngine().engine;
  twin.expectMediaPair(rtpRequest(HOSTS[0], 30000, 'call-1'), 'rtcp');
  const expected = twin.expectMediaPair(rtpRequest(HOSTS[0], 30002, 'call-2'), 'rtcp');
  assert.deepEqual(outcome(again), outcome(expected));
});

test('ports that open nothing are refused before anything is held', () => {
  const { engine } = makeEngine();
  assert.equal(engine.expectMediaPair(rtpRequest(HOSTS[0], 554, 'call-1'), 'rtcp'), 'bad-port');
  assert.equal(engine.expectMediaPair(rtpRequest(HOSTS[0], 65535, 'call-1'), 'rtcp'), 'bad-port');
  assert.equal(engine.expectations.size, 0);
});

const op = fc.oneof(
  fc.record({ k: fc.constant('pair' as const), host: fc.integer({ min: 0, max: 1 }), port: fc.constantFrom(30000, 30002, 40000, 40001), group: fc.integer({ min: 0, max: 2 }) }),
  // An outbound packet gives the inside endpoint a mapping of its own: a pair may then find one port already taken.
  fc.record({ k: fc.constant('send' as const), host: fc.integer({ min: 0, max: 1 }), port: fc.constantFrom(30000, 30001, 30003, 40001, 40002) }),
  fc.record({ k: fc.constant('end' as const), group: fc.integer({ min: 0, max: 2 }) }),
);

test('model: the one step gives what planning and two expect() calls gave, on a twin engine, after any sequence', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), fc.integer({ min: 2, max: 8 }), (ops, perGroup) => {
      const config = { limits: { expectationsPerGroup: perGroup, expectations: 24 } };
      const one = makeEngine(config).engine;
      const two = makeEngine(config).engine;
      for (const o of ops) {
        if (o.k === 'pair') {
          const req = rtpRequest(HOSTS[o.host], o.port, `call-${o.group}`);
          assert.deepEqual(outcome(one.expectMediaPair(req, 'rtcp')), outcome(twoStep(two, req)), JSON.stringify(o));
        } else if (o.k === 'send') {
          const pkt = () => udpPkt(`10.0.0.${2 + o.host}:${o.port}`, '198.51.100.30:5000');
          assert.equal(one.process(pkt(), Side.Inside), two.process(pkt(), Side.Inside));
        } else {
          assert.equal(one.removeExpectationGroup(`call-${o.group}`), two.removeExpectationGroup(`call-${o.group}`));
        }
        assert.deepEqual(tableOf(one), tableOf(two));
      }
    }),
    { numRuns: 300 },
  );
});
