/**
 * TriggerTable on its own: which rule an outbound packet fires, who holds an
 * active trigger, what it opens inbound (and from whom), refresh, idle expiry
 * and the ports every rule claims; then a model-based property.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TriggerTable, type ActiveTrigger } from '../../src/nat/triggers.js';
import { resolveNatConfig, type ResolvedTrigger } from '../../src/nat/config.js';

const UDP = 17;
const TCP = 6;
const HOST_A = 0x0a000002; // 10.0.0.2
const HOST_B = 0x0a000003;
const PUB = 0xcb007101; // 203.0.113.1
const PUB2 = 0xcb007102;
const IRC = 0xc6336403; // 198.51.100.3
const OTHER = 0xc6336404;

/** An IRC-style rule: outbound TCP to 6667 opens 7000-7010 (TCP and UDP) for a minute of idleness. */
function rule(index: number, over: Partial<ResolvedTrigger> = {}): ResolvedTrigger {
  return {
    index,
    proto: TCP,
    first: 6667,
    last: 6667,
    openProtos: [TCP, UDP],
    openFirst: 7000,
    openLast: 7010,
    idleMs: 60_000,
    onlyFromContacted: false,
    ...over,
  };
}

test('any and anyActive: rules exist; some trigger is open right now', () => {
  assert.equal(new TriggerTable([]).any, false);
  assert.equal(new TriggerTable([]).anyActive, false);
  const t = new TriggerTable([rule(0), rule(1, { first: 27015, last: 27015 })]);
  assert.equal(t.any, true);
  assert.equal(t.anyActive, false);
  t.fire(1, HOST_A, PUB, IRC, 0);
  assert.equal(t.anyActive, true);
  t.expire(60_000);
  assert.equal(t.anyActive, false);
});

test('rules are kept as given', () => {
  const rules = [rule(0), rule(1, { proto: UDP })];
  const t = new TriggerTable(rules);
  assert.equal(t.rules, rules);
});

test('claims: every (proto, port) of every rule’s open range, both ends included, rule by rule', () => {
  const t = new TriggerTable([
    rule(0, { openProtos: [TCP, UDP], openFirst: 7000, openLast: 7002 }),
    rule(1, { openProtos: [UDP], openFirst: 9000, openLast: 9000 }),
  ]);
  assert.deepEqual(
    [...t.claims()],
    [
      [TCP, 7000],
      [TCP, 7001],
      [TCP, 7002],
      [UDP, 7000],
      [UDP, 7001],
      [UDP, 7002],
      [UDP, 9000],
    ],
  );
  assert.deepEqual([...new TriggerTable([]).claims()], []);
});

test('ruleFor: the protocol and the trigger port range, both ends included', () => {
  const t = new TriggerTable([rule(0, { first: 6660, last: 6669 }), rule(1, { proto: UDP, first: 27015, last: 27015 })]);
  assert.equal(t.ruleFor(TCP, 6660), 0);
  assert.equal(t.ruleFor(TCP, 6665), 0);
  assert.equal(t.ruleFor(TCP, 6669), 0);
  assert.equal(t.ruleFor(TCP, 6659), -1);
  assert.equal(t.ruleFor(TCP, 6670), -1);
  assert.equal(t.ruleFor(UDP, 6665), -1, 'another protocol');
  assert.equal(t.ruleFor(UDP, 27015), 1);
  assert.equal(t.ruleFor(TCP, 27015), -1);
  assert.equal(new TriggerTable([]).ruleFor(TCP, 6667), -1);
});

test('ruleFor: when ranges overlap the first rule wins', () => {
  const t = new TriggerTable([rule(0, { first: 6000, last: 6999 }), rule(1, { first: 6667, last: 6667 })]);
  assert.equal(t.ruleFor(TCP, 6667), 0);
});

test('ruleFor gives the rule’s own index, as resolveNatConfig numbers them', () => {
  const c = resolveNatConfig({
    inside: ['10.0.0.0/24'],
    public: ['203.0.113.1'],
    triggers: [
      { protocol: 'tcp', port: 6667, open: { protocol: 'tcp', ports: '7000-7010' } },
      { protocol: 'udp', port: '27015-27016', open: { protocol: 'both', ports: '27020-27030' }, idleTimeout: 30, onlyFromContacted: true },
    ],
  });
  const t = new TriggerTable(c.triggers);
  assert.equal(t.ruleFor(TCP, 6667), 0);
  assert.equal(t.ruleFor(UDP, 27016), 1);
  t.fire(1, HOST_A, PUB, IRC, 0);
  assert.equal(t.matchInbound(TCP, PUB, 27020, IRC, 29_999), 1);
  assert.equal(t.matchInbound(TCP, PUB, 27020, IRC, 30_000), -1, 'idleTimeout is in seconds');
  assert.equal(t.matchInbound(UDP, PUB, 27030, OTHER, 0), -1, 'onlyFromContacted carried through');
});

test('fire: the first use opens the trigger for that host and reports it', () => {
  const t = new TriggerTable([rule(0)]);
  assert.equal(t.get(0), null);
  assert.equal(t.fire(0, HOST_A, PUB, IRC, 100), true);
  assert.deepEqual(t.get(0), { insideAddr: HOST_A, publicAddr: PUB, remoteAddr: IRC, lastActivity: 100 } satisfies ActiveTrigger);
});

test('fire: the same host to the same remote while live only refreshes (no event)', () => {
  const t = new TriggerTable([rule(0)]);
  t.fire(0, HOST_A, PUB, IRC, 0);
  const before = t.get(0);
  assert.equal(t.fire(0, HOST_A, PUB, IRC, 59_999), false);
  assert.equal(t.get(0), before, 'the same record, refreshed in place');
  assert.equal(t.get(0)!.lastActivity, 59_999);
  // The public address of a refresh is not taken over: the trigger keeps the one it opened on.
  assert.equal(t.fire(0, HOST_A, PUB2, IRC, 60_000), false);
  assert.equal(t.get(0)!.publicAddr, PUB);
});

test('fire: another host takes the trigger over (the last one to use it)', () => {
  const t = new TriggerTable([rule(0)]);
  t.fire(0, HOST_A, PUB, IRC, 0);
  assert.equal(t.fire(0, HOST_B, PUB2, IRC, 10), true);
  assert.deepEqual(t.get(0), { insideAddr: HOST_B, publicAddr: PUB2, remoteAddr: IRC, lastActivity: 10 });
  assert.equal(t.matchInbound(TCP, PUB, 7000, IRC, 10), -1, 'no longer open on the first host’s public address');
  assert.equal(t.matchInbound(TCP, PUB2, 7000, IRC, 10), 0);
});

test('fire: the same host to another remote re-targets the trigger and reports it', () => {
  const t = new TriggerTable([rule(0)]);
  t.fire(0, HOST_A, PUB, IRC, 0);
  assert.equal(t.fire(0, HOST_A, PUB, OTHER, 10), true);
  assert.equal(t.get(0)!.remoteAddr, OTHER);
});

test('fire: after the idle timeout (at lastActivity + idleMs) the same use reopens it and reports it', () => {
  const t = new TriggerTable([rule(0, { idleMs: 1000 })]);
  t.fire(0, HOST_A, PUB, IRC, 0);
  assert.equal(t.fire(0, HOST_A, PUB, IRC, 999), false, 'still live one ms before');
  assert.equal(t.fire(0, HOST_A, PUB, IRC, 1998), false, 'the refresh at 999 moved the deadline');
  assert.equal(t.fire(0, HOST_A, PUB, IRC, 2998), true, 'idle exactly idleMs since 1998');
  assert.equal(t.get(0)!.lastActivity, 2998);
});

test('fire on one rule leaves the others alone', () => {
  const t = new TriggerTable([rule(0), rule(1, { first: 6668, last: 6668, openFirst: 8000, openLast: 8000 })]);
  t.fire(1, HOST_A, PUB, IRC, 0);
  assert.equal(t.get(0), null);
  assert.equal(t.matchInbound(TCP, PUB, 7000, IRC, 0), -1);
  assert.equal(t.matchInbound(TCP, PUB, 8000, IRC, 0), 1);
});

test('touch refreshes an active trigger and does nothing to an inactive one', () => {
  const t = new TriggerTable([rule(0, { idleMs: 1000 }), rule(1)]);
  t.fire(0, HOST_A, PUB, IRC, 0);
  t.touch(0, 900);
  assert.equal(t.get(0)!.lastActivity, 900);
  assert.equal(t.matchInbound(TCP, PUB, 7000, IRC, 1899), 0);
  assert.deepEqual(t.expire(1899), []);
  t.touch(1, 900);
  assert.equal(t.get(1), null, 'touch never opens a trigger');
  assert.equal(t.anyActive, true);
});

test('touch does not revive a trigger idle past its timeout that expire() has not closed yet', () => {
  // Once it touched without checking: a packet on the trigger host's own flow
  // reopened the ports silently after their idle time, with no event.
  const t = new TriggerTable([rule(0, { idleMs: 1000 })]);
  t.fire(0, HOST_A, PUB, IRC, 0);
  assert.equal(t.matchInbound(TCP, PUB, 7000, IRC, 1500), -1);
  t.touch(0, 1500);
  assert.equal(t.matchInbound(TCP, PUB, 7000, IRC, 1500), -1);
  t.touch(0, 999);
  assert.equal(t.matchInbound(TCP, PUB, 7000, IRC, 1500), 0, 'a live one is refreshed');
});

test('matchInbound: an open port of a live trigger, on its public address, for each open protocol', () => {
  const t = new TriggerTable([rule(0, { openProtos: [UDP] })]);
  assert.equal(t.matchInbound(UDP, PUB, 7000, IRC, 0), -1, 'nothing before the trigger fires');
  t.fire(0, HOST_A, PUB, IRC, 0);
  assert.equal(t.matchInbound(UDP, PUB, 7000, IRC, 0), 0);
  assert.equal(t.matchInbound(UDP, PUB, 7010, IRC, 0), 0);
  assert.equal(t.matchInbound(UDP, PUB, 7005, OTHER, 0), 0, 'any remote without onlyFromContacted');
  assert.equal(t.matchInbound(UDP, PUB, 6999, IRC, 0), -1);
  assert.equal(t.matchInbound(UDP, PUB, 7011, IRC, 0), -1);
  assert.equal(t.matchInbound(TCP, PUB, 7000, IRC, 0), -1, 'TCP is not opened by this rule');
  assert.equal(t.matchInbound(UDP, PUB2, 7000, IRC, 0), -1, 'another public address');
});

test('matchInbound: live until lastActivity + idleMs, not at it', () => {
  const t = new TriggerTable([rule(0, { idleMs: 1000 })]);
  t.fire(0, HOST_A, PUB, IRC, 500);
  assert.equal(t.matchInbound(TCP, PUB, 7000, IRC, 1499), 0);
  assert.equal(t.matchInbound(TCP, PUB, 7000, IRC, 1500), -1);
  assert.notEqual(t.get(0), null, 'matching does not close: expire() does');
});

test('onlyFromContacted: the opened ports admit only the remote the host contacted, and follow a re-target', () => {
  const t = new TriggerTable([rule(0, { onlyFromContacted: true })]);
  t.fire(0, HOST_A, PUB, IRC, 0);
  assert.equal(t.matchInbound(TCP, PUB, 7000, IRC, 0), 0);
  assert.equal(t.matchInbound(TCP, PUB, 7000, OTHER, 0), -1);
  t.fire(0, HOST_A, PUB, OTHER, 1);
  assert.equal(t.matchInbound(TCP, PUB, 7000, OTHER, 1), 0);
  assert.equal(t.matchInbound(TCP, PUB, 7000, IRC, 1), -1);
});

test('matchInbound with overlapping open ranges: the first rule that is live and admits the packet', () => {
  const t = new TriggerTable([
    rule(0, { onlyFromContacted: true }),
    rule(1, { first: 6668, last: 6668, openFirst: 7005, openLast: 7020 }),
  ]);
  t.fire(1, HOST_B, PUB, OTHER, 0);
  assert.equal(t.matchInbound(TCP, PUB, 7005, IRC, 0), 1, 'rule 0 inactive: rule 1');
  t.fire(0, HOST_A, PUB, IRC, 0);
  assert.equal(t.matchInbound(TCP, PUB, 7005, IRC, 0), 0, 'both live: the first');
  assert.equal(t.matchInbound(TCP, PUB, 7005, OTHER, 0), 1, 'rule 0 refuses this remote: rule 1');
  assert.equal(t.matchInbound(TCP, PUB, 7000, OTHER, 0), -1, 'only rule 0 opens 7000');
});

test('get gives the active trigger or null, per rule', () => {
  const t = new TriggerTable([rule(0), rule(1, { first: 1, last: 1 })]);
  t.fire(0, HOST_A, PUB, IRC, 3);
  assert.deepEqual(t.get(0), { insideAddr: HOST_A, publicAddr: PUB, remoteAddr: IRC, lastActivity: 3 });
  assert.equal(t.get(1), null);
});

test('expire closes and returns the triggers idle past their own timeout (at the deadline), and keeps the rest', () => {
  const t = new TriggerTable([rule(0, { idleMs: 100 }), rule(1, { first: 1, last: 1, idleMs: 1000 }), rule(2, { first: 2, last: 2, idleMs: 100 })]);
  t.fire(0, HOST_A, PUB, IRC, 0);
  t.fire(1, HOST_B, PUB2, OTHER, 0);
  t.fire(2, HOST_A, PUB, IRC, 50);
  assert.deepEqual(t.expire(99), []);
  const a0 = t.get(0);
  assert.deepEqual(t.expire(100), [{ rule: 0, trigger: a0 }]);
  assert.equal(t.get(0), null);
  assert.notEqual(t.get(2), null);
  assert.deepEqual(
    t.expire(1000).map((x) => [x.rule, x.trigger.insideAddr]),
    [
      [1, HOST_B],
      [2, HOST_A],
    ],
    'in rule order',
  );
  assert.deepEqual(t.expire(1e9), []);
  assert.equal(t.anyActive, false);
  // A closed rule fires anew (and reports it).
  assert.equal(t.fire(0, HOST_A, PUB, IRC, 2000), true);
});

// ---------------------------------------------------------------------------
// Model-based: fire/touch/expire against a plain array of records.

type Op =
  | { k: 'fire'; rule: number; host: number; pub: number; rem: number }
  | { k: 'touch'; rule: number }
  | { k: 'advance'; ms: number }
  | { k: 'expire' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ k: fc.constant('fire' as const), rule: fc.integer({ min: 0, max: 2 }), host: fc.integer({ min: 0, max: 1 }), pub: fc.integer({ min: 0, max: 1 }), rem: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('touch' as const), rule: fc.integer({ min: 0, max: 2 }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 60 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('expire' as const) }) },
);

test('model: after any sequence of fire/touch/expire, fire results and every inbound match agree with a simple model', () => {
  // Overlapping open ranges, mixed protocols and timeouts, one rule restricted to the contacted remote.
  const rules = [
    rule(0, { idleMs: 100, openProtos: [TCP], openFirst: 7000, openLast: 7002 }),
    rule(1, { first: 6668, last: 6668, idleMs: 150, openProtos: [UDP, TCP], openFirst: 7002, openLast: 7004, onlyFromContacted: true }),
    rule(2, { proto: UDP, idleMs: 50, openProtos: [UDP], openFirst: 7004, openLast: 7005 }),
  ];
  const hosts = [HOST_A, HOST_B];
  const pubs = [PUB, PUB2];
  const rems = [IRC, OTHER];
  const reached = { reassigned: 0, refreshed: 0, expired: 0, refusedRemote: 0 };
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 100, size: 'max' }), (ops) => {
      const t = new TriggerTable(rules);
      const model: (ActiveTrigger | null)[] = [null, null, null];
      let now = 0;
      const live = (i: number) => model[i] !== null && model[i]!.lastActivity + rules[i].idleMs > now;
      for (const op of ops) {
        switch (op.k) {
          case 'fire': {
            const [inAddr, pubAddr, remAddr] = [hosts[op.host], pubs[op.pub], rems[op.rem]];
            const cur = model[op.rule];
            const refresh = live(op.rule) && cur!.insideAddr === inAddr && cur!.remoteAddr === remAddr;
            assert.equal(t.fire(op.rule, inAddr, pubAddr, remAddr, now), !refresh);
            if (refresh) {
              cur!.lastActivity = now;
              reached.refreshed++;
            } else {
              if (cur && live(op.rule)) reached.reassigned++;
              model[op.rule] = { insideAddr: inAddr, publicAddr: pubAddr, remoteAddr: remAddr, lastActivity: now };
            }
            break;
          }
          case 'touch':
            t.touch(op.rule, now);
            if (model[op.rule] && live(op.rule)) model[op.rule]!.lastActivity = now;
            break;
          case 'advance':
            now += op.ms;
            break;
          case 'expire': {
            const want = model.flatMap((a, i) => (a && !live(i) ? [{ rule: i, trigger: { ...a } }] : []));
            assert.deepEqual(t.expire(now), want);
            for (const w of want) model[w.rule] = null;
            if (want.length) reached.expired++;
            break;
          }
        }
        assert.deepEqual(
          model.map((_, i) => t.get(i)),
          model,
        );
        assert.equal(t.anyActive, model.some((a) => a !== null));
        for (const proto of [TCP, UDP]) {
          for (let port = 6999; port <= 7006; port++) {
            for (const pubAddr of pubs) {
              for (const remAddr of rems) {
                const want = rules.findIndex(
                  (r, i) =>
                    port >= r.openFirst &&
                    port <= r.openLast &&
                    r.openProtos.includes(proto) &&
                    live(i) &&
                    model[i]!.publicAddr === pubAddr &&
                    (!r.onlyFromContacted || model[i]!.remoteAddr === remAddr),
                );
                assert.equal(t.matchInbound(proto, pubAddr, port, remAddr, now), want);
                if (rules[1].onlyFromContacted && live(1) && model[1]!.publicAddr === pubAddr && model[1]!.remoteAddr !== remAddr && port === 7003) {
                  reached.refusedRemote++;
                }
              }
            }
          }
        }
      }
    }),
    { numRuns: 150 },
  );
  for (const [path, n] of Object.entries(reached)) assert.ok(n > 0, `no run reached ${path}`);
});

test('refreshFromOutbound: refreshes its own live trigger, reopens a lapsed one for the sender, leaves another host’s live one', () => {
  const t = new TriggerTable([rule(0, { idleMs: 1000 })]);
  assert.equal(t.refreshFromOutbound(TCP, 6667, HOST_A, PUB, IRC, 0), 0, 'nothing active: opens (an event)');
  assert.equal(t.refreshFromOutbound(TCP, 6667, HOST_A, PUB, IRC, 900), -1);
  assert.equal(t.get(0)!.lastActivity, 900);
  t.fire(0, HOST_B, PUB, OTHER, 950);
  assert.equal(t.refreshFromOutbound(TCP, 6667, HOST_A, PUB, IRC, 1000), -1, 'B took it with a new flow: A’s old flow does not take it back');
  assert.equal(t.get(0)!.insideAddr, HOST_B);
  assert.equal(t.refreshFromOutbound(TCP, 6667, HOST_A, PUB, IRC, 1950), 0, 'B idle for 1000 ms: A reopens it');
  assert.deepEqual(t.get(0), { insideAddr: HOST_A, publicAddr: PUB, remoteAddr: IRC, lastActivity: 1950 });
  assert.equal(t.refreshFromOutbound(TCP, 6668, HOST_A, PUB, IRC, 1960), -1, 'not a trigger port');
});

test('touchByUse: a rule refreshed only by its trigger port ignores traffic on the opened ports', () => {
  const t = new TriggerTable([rule(0, { idleMs: 1000, refreshByUse: false }), rule(1, { first: 6668, last: 6668, openFirst: 8000, openLast: 8000, idleMs: 1000 })]);
  t.fire(0, HOST_A, PUB, IRC, 0);
  t.fire(1, HOST_A, PUB, IRC, 0);
  t.touchByUse(0, 500);
  t.touchByUse(1, 500);
  t.refreshFromInbound(TCP, PUB, 7000, 600);
  assert.equal(t.get(0)!.lastActivity, 0);
  assert.equal(t.get(1)!.lastActivity, 500);
});
