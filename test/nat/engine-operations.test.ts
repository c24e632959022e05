/**
 * What operators ask of a running engine: flow events while someone listens
 * (and none built otherwise), listings by conntrack's filters a slice at a
 * time, deleting a flow with its call, and a new configuration taken without
 * dropping a flow.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Side, Verdict } from '../../src/nat/engine.js';
import type { NatEvent } from '../../src/nat/events.js';
import type { FlowFilter } from '../../src/nat/flow-filter.js';
import { NatConfigError } from '../../src/nat/config.js';
import { parseIpv4 } from '../../src/wire/address.js';
import { TCP_ACK, TCP_FIN, TCP_SYN } from '../../src/wire/tcp.js';
import { describe, makeEngine, tcpPkt, udpPkt } from './packets.js';

const IN = Side.Inside;
const OUT = Side.Outside;

function listed(engine: ReturnType<typeof makeEngine>['engine'], filter: FlowFilter, budget = 3): number[] {
  const ids: number[] = [];
  let cursor = 0;
  for (let slices = 0; cursor >= 0; slices++) {
    assert.ok(slices < 1000, 'the scan ends');
    cursor = engine.scanFlows(cursor, budget, filter, (id) => ids.push(id));
  }
  return ids;
}

test('flow events: new, update on the first reply and on TCP state changes, destroy with the reason; nothing without a subscriber', () => {
  const log: NatEvent[] = [];
  const { engine, clock } = makeEngine({}, { onEvent: (e) => log.push(e) });
  // No subscriber: traffic builds no flow event, and the shell's sink never sees one.
  engine.process(udpPkt('10.0.0.2:4000', '198.51.100.10:53'), IN);
  assert.equal(log.filter((e) => e.type === 'flow').length, 0);

  const seen: NatEvent[] = [];
  const stop = engine.subscribe((e) => seen.push(e), { flows: true });
  engine.process(tcpPkt('10.0.0.2:5000', '198.51.100.10:80', TCP_SYN), IN);
  engine.process(tcpPkt('198.51.100.10:80', '203.0.113.1:5000', TCP_SYN | TCP_ACK), OUT);
  engine.process(tcpPkt('10.0.0.2:5000', '198.51.100.10:80', TCP_ACK), IN); // no state change: no event
  const flows = seen.filter((e): e is Extract<NatEvent, { type: 'flow' }> => e.type === 'flow');
  assert.deepEqual(
    flows.map((e) => e.action),
    ['new', 'update'],
    'created (SYN_SENT); the SYN-ACK is its first reply and establishes it (SYN both ways): one update; the ACK changes nothing',
  );
  assert.equal(flows[1].flow.state, 3, 'SYN both ways');
  assert.equal(flows[0].flow.proto, 6);
  assert.deepEqual(flows[0].flow.inside, [parseIpv4('10.0.0.2'), 5000]);
  const id = flows[0].flow.id;
  engine.deleteFlow(id);
  const destroy = seen.at(-1) as Extract<NatEvent, { type: 'flow' }>;
  assert.equal(destroy.action, 'destroy');
  assert.equal(destroy.reason, 'deleted');
  assert.equal(destroy.flow.packetsOut, 2, 'the counters at the end');
  assert.equal(log.filter((e) => e.type === 'flow').length, 0, 'flow events never reach the log sink');

  // Expiry is a destroy with its reason.
  clock.advance(400_000);
  engine.tick();
  assert.ok(seen.some((e) => e.type === 'flow' && e.action === 'destroy' && e.reason === 'expired'));

  stop();
  const before = seen.length;
  engine.process(udpPkt('10.0.0.3:4000', '198.51.100.10:53'), IN);
  assert.equal(seen.length, before, 'unsubscribed');
});

test('a subscriber that throws does not cost the packet', () => {
  const { engine } = makeEngine();
  engine.subscribe(
    () => {
      throw new Error('listener bug');
    },
    { flows: true },
  );
  const p = udpPkt('10.0.0.2:4000', '198.51.100.10:53');
  assert.equal(engine.process(p, IN), Verdict.ToOutside);
});

test('listing by conntrack filters, slice by slice: original and reply tuples per direction', () => {
  const { engine } = makeEngine({ forwards: [{ protocol: 'tcp', port: 8080, to: '10.0.0.5', toPort: 80 }] });
  engine.process(udpPkt('10.0.0.2:4000', '198.51.100.10:53'), IN);
  engine.process(udpPkt('10.0.0.3:4001', '198.51.100.11:53'), IN);
  engine.process(tcpPkt('10.0.0.2:5000', '198.51.100.10:80', TCP_SYN), IN);
  engine.process(tcpPkt('198.51.100.20:7000', '203.0.113.1:8080', TCP_SYN), OUT); // forwarded: opened from outside
  const all = listed(engine, {});
  assert.equal(all.length, 4);
  const proto = (id: number) => engine.flowInfo(id).proto;
  assert.deepEqual(listed(engine, { proto: 17 }).map(proto), [17, 17]);
  assert.equal(listed(engine, { src: parseIpv4('10.0.0.2') }).length, 2);
  assert.equal(listed(engine, { dport: 53 }).length, 2);
  // The forwarded flow: original is remote -> public, reply is inside -> remote.
  const fwd = listed(engine, { src: parseIpv4('198.51.100.20') });
  assert.equal(fwd.length, 1);
  assert.deepEqual(listed(engine, { dst: parseIpv4('203.0.113.1'), dport: 8080 }), fwd);
  assert.deepEqual(listed(engine, { replySrc: parseIpv4('10.0.0.5') }), fwd);
  // An outbound flow's reply goes to the public address.
  assert.equal(listed(engine, { replyDst: parseIpv4('203.0.113.1') }).length, 3);
  assert.equal(listed(engine, { address: parseIpv4('198.51.100.11') }).length, 1);
  assert.equal(listed(engine, { port: 8080 }).length, 1);
  assert.equal(listed(engine, { tcpStates: new Set(['SYN_SENT']) }).length, 1);
  assert.equal(listed(engine, { tcpStates: new Set(['SYN_RECV']) }).length, 1);
  assert.equal(listed(engine, { replied: true }).length, 0);
  assert.equal(listed(engine, { proto: 17, src: parseIpv4('10.0.0.9') }).length, 0);
  const counts = engine.countFlowsByState();
  assert.equal(counts.get(17)?.get(0), 2, 'two UDP flows, neither answered');
  assert.equal([...(counts.get(6)?.values() ?? [])].reduce((a, b) => a + b, 0), 2);
});

test('deleting a call media flow takes the call pinholes and its other flows; other flows stay', () => {
  const { engine } = makeEngine();
  engine.registerHelper((_e, _f, pkt) => pkt, [{ proto: 17, first: 5060, last: 5060 }], undefined, 'sip');
  engine.process(udpPkt('10.0.0.2:5060', '198.51.100.10:5060'), IN); // signalling
  const a = engine.expect({ proto: 17, insideAddr: parseIpv4('10.0.0.2'), insidePort: 40000, publicAddr: parseIpv4('203.0.113.1'), publicPort: 40000, remoteAddr: 0, remotePort: 0, ttlMs: 60_000, singleUse: false, group: 'call-1', helper: 'sip', reason: 'audio' });
  const b = engine.expect({ proto: 17, insideAddr: parseIpv4('10.0.0.2'), insidePort: 40002, publicAddr: parseIpv4('203.0.113.1'), publicPort: 40002, remoteAddr: 0, remotePort: 0, ttlMs: 60_000, singleUse: false, group: 'call-1', helper: 'sip', reason: 'video' });
  assert.ok(typeof a === 'object' && typeof b === 'object');
  engine.process(udpPkt('198.51.100.30:9000', '203.0.113.1:40000'), OUT);
  engine.process(udpPkt('198.51.100.30:9002', '203.0.113.1:40002'), OUT);
  engine.process(udpPkt('10.0.0.7:1000', '198.51.100.10:1000'), IN); // another host, no call
  assert.equal(engine.sizes().flows, 4);
  const media = listed(engine, { dport: 40000 });
  assert.equal(media.length, 1);
  const gone = engine.deleteFlow(media[0]);
  assert.deepEqual(gone, { flows: 2, expectations: 2 });
  assert.equal(engine.sizes().flows, 2, 'signalling and the other host stay');
  assert.equal(engine.listExpectations().length, 0);
});

test('deleting a signalling flow ends the calls its ALG holds for that phone', () => {
  const { engine } = makeEngine();
  engine.registerHelper((_e, _f, pkt) => pkt, [{ proto: 17, first: 5060, last: 5060 }], undefined, 'sip');
  engine.process(udpPkt('10.0.0.2:5060', '198.51.100.10:5060'), IN);
  engine.process(udpPkt('10.0.0.3:5060', '198.51.100.10:5060'), IN);
  const req = (inside: string, group: string) => ({ proto: 17, insideAddr: parseIpv4(inside), insidePort: 40000, remoteAddr: 0, remotePort: 0, ttlMs: 60_000, singleUse: false, group, helper: 'sip', reason: 'audio' });
  engine.expect(req('10.0.0.2', 'call-a'));
  engine.expect(req('10.0.0.3', 'call-b'));
  const signalling = listed(engine, { src: parseIpv4('10.0.0.2') });
  assert.deepEqual(engine.deleteFlow(signalling[0]), { flows: 1, expectations: 1 });
  assert.deepEqual(engine.listExpectations().map((e) => e.group), ['call-b']);
  // Without the call: the flow alone.
  const other = listed(engine, { src: parseIpv4('10.0.0.3') });
  assert.deepEqual(engine.deleteFlow(other[0], false), { flows: 1, expectations: 0 });
  assert.equal(engine.listExpectations().length, 1);
  assert.deepEqual(engine.deleteFlow(other[0]), { flows: 0, expectations: 0 }, 'a flow already gone');
});

test('reconfigure: new forwards, triggers, limits and timeouts apply while live flows keep their mappings', () => {
  const { engine, clock } = makeEngine({ forwards: [{ protocol: 'tcp', port: 8080, to: '10.0.0.5', toPort: 80 }] });
  const out = udpPkt('10.0.0.2:4000', '198.51.100.10:53');
  engine.process(out, IN);
  const mapped = describe(out);
  const summary = engine.reconfigure({
    inside: ['10.0.0.0/24'],
    public: ['203.0.113.1'],
    forwards: [{ protocol: 'udp', port: 9000, to: '10.0.0.6' }],
    triggers: [{ protocol: 'tcp', port: 6667, open: { protocol: 'tcp', ports: '7000-7001' } }],
    limits: { flows: 3 },
    timeouts: { udp: 600 },
  });
  assert.deepEqual(summary.changed.sort(), ['forwards', 'limits', 'timeouts', 'triggers']);
  // The live flow: same public endpoint, still answered.
  const again = udpPkt('10.0.0.2:4000', '198.51.100.10:53');
  engine.process(again, IN);
  assert.equal(describe(again), mapped);
  assert.equal(engine.process(udpPkt('198.51.100.10:53', '203.0.113.1:4000'), OUT), Verdict.ToInside);
  // The old forward is gone, the new one works.
  assert.equal(engine.process(tcpPkt('198.51.100.20:7000', '203.0.113.1:8080', TCP_SYN), OUT), Verdict.Drop);
  const fwd = udpPkt('198.51.100.20:7000', '203.0.113.1:9000');
  assert.equal(engine.process(fwd, OUT), Verdict.ToInside);
  assert.equal(describe(fwd), '198.51.100.20:7000 > 10.0.0.6:9000');
  // Its port went back to the pool: a dynamic mapping may take 8080 now; 9000 is held.
  assert.equal(engine.pool(parseIpv4('203.0.113.1'), 6).inUse(8080), false);
  assert.equal(engine.pool(parseIpv4('203.0.113.1'), 17).inUse(9000), true);
  // The new flow limit (3): two flows live, one more fits, then refusals.
  engine.process(udpPkt('10.0.0.3:4000', '198.51.100.10:53'), IN);
  assert.equal(engine.process(udpPkt('10.0.0.4:4000', '198.51.100.10:53'), IN), Verdict.Drop);
  assert.equal(engine.counters.dropCount('flowLimit'), 1);
  // The new UDP timeout: alive after 500 s of silence (the old 300 s would have ended it).
  clock.advance(500_000);
  engine.tick();
  assert.equal(engine.sizes().flows, 3);
});

test('reconfigure refuses what the tables were built from, naming each field, and changes nothing', () => {
  const { engine } = makeEngine({ forwards: [{ protocol: 'tcp', port: 8080, to: '10.0.0.5' }] });
  const before = engine.config;
  assert.throws(
    () => engine.reconfigure({ inside: ['10.0.0.0/24'], public: ['203.0.113.2'], mapping: 'adm', forwards: [] }),
    (err: unknown) => err instanceof NatConfigError && err.issues.map((i) => i.path.join('.')).sort().join(',') === 'mapping,public',
  );
  assert.throws(() => engine.reconfigure({ inside: ['10.0.0.0/24'], public: ['203.0.113.1'], forwards: [{ port: 80, to: '8.8.8.8' }] }), NatConfigError);
  assert.equal(engine.config, before);
  assert.equal(engine.process(tcpPkt('198.51.100.20:7000', '203.0.113.1:8080', TCP_SYN), OUT), Verdict.ToInside, 'the old forward still works');
});

test('a trigger left unchanged by a reload stays active', () => {
  const trigger = { protocol: 'tcp' as const, port: 6667, open: { protocol: 'tcp' as const, ports: '7000-7001' } };
  const { engine } = makeEngine({ triggers: [trigger] });
  engine.process(tcpPkt('10.0.0.2:5000', '198.51.100.10:6667', TCP_SYN), IN);
  engine.reconfigure({ inside: ['10.0.0.0/24'], public: ['203.0.113.1'], triggers: [trigger], hairpin: false });
  assert.equal(engine.process(tcpPkt('198.51.100.10:4000', '203.0.113.1:7000', TCP_SYN), OUT), Verdict.ToInside);
  // hairpin: false took effect.
  assert.equal(engine.process(udpPkt('10.0.0.2:4000', '203.0.113.1:7000'), IN), Verdict.Drop);
  assert.equal(engine.counters.dropCount('hairpinDisabled'), 1);
  engine.process(tcpPkt('10.0.0.2:5000', '198.51.100.10:6667', TCP_FIN | TCP_ACK), IN);
});
