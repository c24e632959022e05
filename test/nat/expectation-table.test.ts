/**
 * ExpectationTable on its own: caps and refusals, inbound matching with
 * wildcards and expiry, outbound matching by inside endpoint, the queries the
 * engine uses to reuse public ports, removal one by one, by group and by time;
 * then a model-based property against a plain array.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ExpectationTable, type Expectation, type ExpectationRequest } from '../../src/nat/expectations.js';

const UDP = 17;
const TCP = 6;
const IN = 0x0a000002; // 10.0.0.2
const PUB = 0xcb007101; // 203.0.113.1
const REM = 0xc6336403; // 198.51.100.3

type Req = Omit<ExpectationRequest, 'publicAddr' | 'publicPort'>;

function req(over: Partial<Req> = {}): Req {
  return {
    proto: UDP,
    insideAddr: IN,
    insidePort: 20000,
    remoteAddr: REM,
    remotePort: 30000,
    ttlMs: 1000,
    singleUse: false,
    group: 'call-1',
    helper: 'sip',
    reason: 'rtp',
    ...over,
  };
}

function added(t: ExpectationTable, r: Req, pubPort = 40000, now = 0, pubAddr = PUB): Expectation {
  const e = t.add(r, pubAddr, pubPort, now);
  assert.equal(typeof e, 'object', `refused: ${String(e)}`);
  return e as Expectation;
}

test('add builds the whole expectation: request fields, the public endpoint, id, expiry and no uses', () => {
  const t = new ExpectationTable(10, 10);
  const r = req({ singleUse: true, reason: 'rtcp' });
  const e = added(t, r, 40001, 500);
  assert.deepEqual(
    { ...e },
    {
      id: 1,
      proto: UDP,
      insideAddr: IN,
      insidePort: 20000,
      publicAddr: PUB,
      publicPort: 40001,
      remoteAddr: REM,
      remotePort: 30000,
      ttlMs: 1000,
      singleUse: true,
      group: 'call-1',
      helper: 'sip',
      reason: 'rtcp',
      direction: 'inbound',
      cls: 'data',
      attach: 0,
      expiresAt: 1500,
      uses: 0,
    },
  );
  assert.notEqual(e, r, 'a new object, not the request');
  assert.equal(t.size, 1);
  assert.equal(t.get(1), e, 'get gives the very object the table matches on');
  assert.equal(t.get(2), undefined);
});

test('ids count up from 1 and are never reused; refusals take none', () => {
  const t = new ExpectationTable(10, 2);
  const a = added(t, req());
  assert.equal(t.add(req(), PUB, 80, 0), 'bad-port');
  const b = added(t, req({ group: 'g2' }));
  t.remove(a.id);
  t.remove(b.id);
  const c = added(t, req());
  assert.deepEqual([a.id, b.id, c.id], [1, 2, 3]);
});

test('bad-port: a public or inside port below 1024 (0 included) opens nothing; 1024 does', () => {
  const t = new ExpectationTable(10, 10);
  assert.equal(t.add(req(), PUB, 0, 0), 'bad-port');
  assert.equal(t.add(req(), PUB, 1023, 0), 'bad-port');
  assert.equal(t.add(req({ insidePort: 0 }), PUB, 40000, 0), 'bad-port');
  assert.equal(t.add(req({ insidePort: 1023 }), PUB, 40000, 0), 'bad-port');
  assert.equal(t.size, 0);
  added(t, req({ insidePort: 1024 }), 1024);
  // The remote port is a pattern, not a port we open: 0 (any) and low ports are fine.
  added(t, req({ remotePort: 0 }), 40001);
  added(t, req({ remotePort: 53 }), 40002);
  assert.equal(t.size, 3);
});

test('limit: the table refuses past its total, and has room again after a removal', () => {
  const t = new ExpectationTable(3, 10);
  const es = [0, 1, 2].map((i) => added(t, req({ group: `g${i}` }), 40000 + i));
  assert.equal(t.add(req({ group: 'g9' }), PUB, 40009, 0), 'limit');
  assert.equal(t.size, 3);
  t.remove(es[1].id);
  added(t, req({ group: 'g9' }), 40009);
  assert.equal(t.size, 3);
});

test('group-limit: each group has its own cap; other groups are not affected', () => {
  const t = new ExpectationTable(100, 2);
  added(t, req({ group: 'a' }), 40000);
  const a2 = added(t, req({ group: 'a' }), 40001);
  assert.equal(t.add(req({ group: 'a' }), PUB, 40002, 0), 'group-limit');
  added(t, req({ group: 'b' }), 40003);
  added(t, req({ group: 'b' }), 40004);
  assert.equal(t.countInGroup('a'), 2);
  t.remove(a2.id);
  added(t, req({ group: 'a' }), 40002);
  assert.equal(t.countInGroup('a'), 2);
});

test('refusals are checked in order: bad-port, then limit, then group-limit', () => {
  const t = new ExpectationTable(2, 1);
  added(t, req({ group: 'a' }), 40000);
  added(t, req({ group: 'b' }), 40001);
  assert.equal(t.add(req({ group: 'a' }), PUB, 80, 0), 'bad-port', 'bad port before a full table');
  assert.equal(t.add(req({ group: 'a' }), PUB, 40002, 0), 'limit', 'full table before a full group');
  const u = new ExpectationTable(10, 1);
  added(u, req({ group: 'a' }), 40000);
  assert.equal(u.add(req({ group: 'a', insidePort: 5 }), PUB, 40001, 0), 'bad-port');
  assert.equal(u.add(req({ group: 'a' }), PUB, 40001, 0), 'group-limit');
});

test('matchInbound: an exact remote pattern admits only that remote', () => {
  const t = new ExpectationTable(10, 10);
  const e = added(t, req(), 40000);
  assert.equal(t.matchInbound(UDP, PUB, 40000, REM, 30000, 0), e);
  assert.equal(t.matchInbound(UDP, PUB, 40000, REM + 1, 30000, 0), null);
  assert.equal(t.matchInbound(UDP, PUB, 40000, REM, 30001, 0), null);
  assert.equal(t.matchInbound(TCP, PUB, 40000, REM, 30000, 0), null);
  assert.equal(t.matchInbound(UDP, PUB + 1, 40000, REM, 30000, 0), null);
  assert.equal(t.matchInbound(UDP, PUB, 40001, REM, 30000, 0), null);
});

test('matchInbound: 0 is a wildcard for the remote address, the remote port, or both', () => {
  const t = new ExpectationTable(10, 10);
  const anyAddr = added(t, req({ remoteAddr: 0 }), 40000);
  const anyPort = added(t, req({ remotePort: 0 }), 40001);
  const anything = added(t, req({ remoteAddr: 0, remotePort: 0 }), 40002);
  assert.equal(t.matchInbound(UDP, PUB, 40000, REM + 7, 30000, 0), anyAddr);
  assert.equal(t.matchInbound(UDP, PUB, 40000, REM + 7, 30001, 0), null, 'the port still has to match');
  assert.equal(t.matchInbound(UDP, PUB, 40001, REM, 1, 0), anyPort);
  assert.equal(t.matchInbound(UDP, PUB, 40001, REM + 1, 30000, 0), null, 'the address still has to match');
  assert.equal(t.matchInbound(UDP, PUB, 40002, 0x01020304, 9, 0), anything);
});

test('matchInbound: an expectation is live until expiresAt, not at it', () => {
  const t = new ExpectationTable(10, 10);
  const e = added(t, req({ ttlMs: 300 }), 40000, 100);
  assert.equal(t.matchInbound(UDP, PUB, 40000, REM, 30000, 399), e);
  assert.equal(t.matchInbound(UDP, PUB, 40000, REM, 30000, 400), null);
  assert.equal(t.size, 1, 'matching does not remove: expire() does');
});

test('matchInbound: several on one public endpoint: the first added that admits the packet and is live', () => {
  const t = new ExpectationTable(10, 10);
  const old = added(t, req({ ttlMs: 100, remoteAddr: 0, remotePort: 0 }), 40000, 0);
  const wild = added(t, req({ ttlMs: 1000, remoteAddr: 0, remotePort: 0, group: 'c2' }), 40000, 0);
  const exact = added(t, req({ ttlMs: 1000, group: 'c3' }), 40000, 0);
  assert.equal(t.matchInbound(UDP, PUB, 40000, REM, 30000, 50), old);
  assert.equal(t.matchInbound(UDP, PUB, 40000, REM, 30000, 100), wild, 'the expired one is skipped');
  t.remove(wild.id);
  assert.equal(t.matchInbound(UDP, PUB, 40000, REM, 30000, 100), exact);
  assert.equal(t.matchInbound(UDP, PUB, 40000, REM + 1, 30000, 100), null);
});

test('matchInbound leaves uses and singleUse to the caller', () => {
  const t = new ExpectationTable(10, 10);
  const e = added(t, req({ singleUse: true }), 40000);
  assert.equal(t.matchInbound(UDP, PUB, 40000, REM, 30000, 0), e);
  assert.equal(t.matchInbound(UDP, PUB, 40000, REM, 30000, 0), e);
  assert.equal(e.uses, 0);
  assert.equal(t.size, 1);
});

test('the table matches on the live object: narrowing the remote or moving expiresAt on it takes effect', () => {
  // The engine's restrictExpectation and extendExpectation write to the object get() returns.
  const t = new ExpectationTable(10, 10);
  const e = added(t, req({ remoteAddr: 0, remotePort: 0, ttlMs: 100 }), 40000);
  const live = t.get(e.id)!;
  live.remoteAddr = REM;
  live.remotePort = 30000;
  assert.equal(t.matchInbound(UDP, PUB, 40000, REM + 1, 30000, 0), null);
  assert.equal(t.matchInbound(UDP, PUB, 40000, REM, 30000, 0), e);
  live.expiresAt = 5000;
  assert.equal(t.matchInbound(UDP, PUB, 40000, REM, 30000, 4999), e);
  assert.equal(t.matchOutbound(UDP, IN, 20000, 4999), e);
  assert.deepEqual(t.expire(4999), []);
  assert.deepEqual(t.expire(5000), [e]);
});

test('matchOutbound: a live expectation of the inside endpoint, whatever the remote pattern', () => {
  const t = new ExpectationTable(10, 10);
  const e = added(t, req({ ttlMs: 300 }), 40000, 0);
  assert.equal(t.matchOutbound(UDP, IN, 20000, 0), e);
  assert.equal(t.matchOutbound(UDP, IN, 20000, 299), e);
  assert.equal(t.matchOutbound(UDP, IN, 20000, 300), null, 'expired at expiresAt');
  assert.equal(t.matchOutbound(TCP, IN, 20000, 0), null);
  assert.equal(t.matchOutbound(UDP, IN + 1, 20000, 0), null);
  assert.equal(t.matchOutbound(UDP, IN, 20001, 0), null);
});

test('matchOutbound: the first added live one when the inside endpoint has several', () => {
  const t = new ExpectationTable(10, 10);
  const first = added(t, req({ ttlMs: 100 }), 40000, 0);
  const second = added(t, req({ ttlMs: 1000, group: 'c2' }), 40002, 0);
  assert.equal(t.matchOutbound(UDP, IN, 20000, 0), first);
  assert.equal(t.matchOutbound(UDP, IN, 20000, 100), second);
  t.remove(second.id);
  assert.equal(t.matchOutbound(UDP, IN, 20000, 100), null);
});

test('publicPortOf: the port an expectation of the inside endpoint holds on that public address, else -1', () => {
  const t = new ExpectationTable(10, 10);
  added(t, req(), 40000, 0, PUB);
  added(t, req({ group: 'other-addr' }), 41000, 0, PUB + 1);
  assert.equal(t.publicPortOf(UDP, IN, 20000, PUB), 40000);
  assert.equal(t.publicPortOf(UDP, IN, 20000, PUB + 1), 41000);
  assert.equal(t.publicPortOf(UDP, IN, 20000, PUB + 2), -1);
  assert.equal(t.publicPortOf(TCP, IN, 20000, PUB), -1);
  assert.equal(t.publicPortOf(UDP, IN + 1, 20000, PUB), -1);
  assert.equal(t.publicPortOf(UDP, IN, 20001, PUB), -1);
});

test('publicPortOf and holds answer for an expectation past its time until expire() removes it', () => {
  // Its public port stays held in the pool until then, so reusing it is safe.
  const t = new ExpectationTable(10, 10);
  const e = added(t, req({ ttlMs: 10 }), 40000, 0);
  assert.equal(t.matchOutbound(UDP, IN, 20000, 10), null);
  assert.equal(t.publicPortOf(UDP, IN, 20000, PUB), 40000);
  assert.equal(t.holds(UDP, IN, 20000, PUB, 40000), true);
  assert.deepEqual(t.expire(10), [e]);
  assert.equal(t.publicPortOf(UDP, IN, 20000, PUB), -1);
  assert.equal(t.holds(UDP, IN, 20000, PUB, 40000), false);
});

test('holds: whether an expectation of this inside endpoint has this public endpoint', () => {
  const t = new ExpectationTable(10, 10);
  added(t, req(), 40000);
  added(t, req({ insidePort: 20001 }), 40001);
  assert.equal(t.holds(UDP, IN, 20000, PUB, 40000), true);
  assert.equal(t.holds(UDP, IN, 20001, PUB, 40001), true);
  assert.equal(t.holds(UDP, IN, 20000, PUB, 40001), false, "another inside endpoint's port");
  assert.equal(t.holds(UDP, IN, 20000, PUB + 1, 40000), false);
  assert.equal(t.holds(TCP, IN, 20000, PUB, 40000), false);
  assert.equal(t.holds(UDP, IN + 1, 20000, PUB, 40000), false);
});

test('remove returns the expectation, takes it out of every query, and leaves its neighbours', () => {
  const t = new ExpectationTable(10, 10);
  const a = added(t, req({ remoteAddr: 0 }), 40000);
  const b = added(t, req({ remoteAddr: 0, group: 'c2' }), 40000); // same public and inside endpoint
  assert.equal(t.remove(a.id), a);
  assert.equal(t.remove(a.id), undefined, 'twice: nothing');
  assert.equal(t.remove(999), undefined);
  assert.equal(t.get(a.id), undefined);
  assert.equal(t.size, 1);
  assert.deepEqual(t.list(), [b]);
  assert.equal(t.countInGroup('call-1'), 0);
  assert.equal(t.matchInbound(UDP, PUB, 40000, REM, 30000, 0), b);
  assert.equal(t.matchOutbound(UDP, IN, 20000, 0), b);
  t.remove(b.id);
  assert.equal(t.size, 0);
  assert.equal(t.matchInbound(UDP, PUB, 40000, REM, 30000, 0), null);
  assert.equal(t.matchOutbound(UDP, IN, 20000, 0), null);
  assert.equal(t.publicPortOf(UDP, IN, 20000, PUB), -1);
  assert.equal(t.holds(UDP, IN, 20000, PUB, 40000), false);
  assert.deepEqual(t.list(), []);
});

test('removeGroup removes and returns exactly that group, in the order added', () => {
  const t = new ExpectationTable(10, 10);
  const a1 = added(t, req({ group: 'a' }), 40000);
  const b1 = added(t, req({ group: 'b', insidePort: 21000 }), 41000);
  const a2 = added(t, req({ group: 'a', insidePort: 20001 }), 40001);
  assert.deepEqual(t.removeGroup('a'), [a1, a2]);
  assert.deepEqual(t.removeGroup('a'), []);
  assert.deepEqual(t.removeGroup('nobody'), []);
  assert.deepEqual(t.list(), [b1]);
  assert.equal(t.countInGroup('a'), 0);
  assert.equal(t.matchInbound(UDP, PUB, 40000, REM, 30000, 0), null);
  assert.equal(t.matchOutbound(UDP, IN, 20001, 0), null);
  assert.equal(t.matchInbound(UDP, PUB, 41000, REM, 30000, 0), b1);
  // The emptied group takes new ones up to its cap again.
  const u = new ExpectationTable(10, 1);
  added(u, req({ group: 'a' }));
  u.removeGroup('a');
  added(u, req({ group: 'a' }));
});

test('expire removes and returns those whose time is up (at expiresAt), and keeps the rest', () => {
  const t = new ExpectationTable(10, 10);
  const short = added(t, req({ ttlMs: 100 }), 40000, 0);
  const mid = added(t, req({ ttlMs: 200, group: 'g2' }), 40001, 0);
  const long = added(t, req({ ttlMs: 300, group: 'g3' }), 40002, 0);
  assert.deepEqual(t.expire(99), []);
  assert.deepEqual(t.expire(200), [short, mid]);
  assert.deepEqual(t.list(), [long]);
  assert.equal(t.countInGroup('call-1'), 0);
  assert.equal(t.matchInbound(UDP, PUB, 40001, REM, 30000, 0), null, 'gone, whatever the time asked');
  assert.deepEqual(t.expire(1e9), [long]);
  assert.equal(t.size, 0);
});

test('countInGroup and list follow adds and removals', () => {
  const t = new ExpectationTable(10, 10);
  assert.equal(t.countInGroup('a'), 0);
  assert.deepEqual(t.list(), []);
  const a = added(t, req({ group: 'a' }), 40000);
  const b = added(t, req({ group: 'b' }), 40001);
  const c = added(t, req({ group: 'a' }), 40002);
  assert.equal(t.countInGroup('a'), 2);
  assert.equal(t.countInGroup('b'), 1);
  assert.deepEqual(t.list(), [a, b, c]);
  const l = t.list();
  l.pop();
  assert.equal(t.list().length, 3, 'list() is a copy');
});

test('endpoints whose index keys meet are still told apart', () => {
  // The key is addr ^ (port * 0x9e3779b1) in 32 bits: this address with port
  // 20002 has the key of IN with 20000, and of PUB with 40000 on the public side.
  const fold = (addr: number, port: number) => (addr ^ Math.imul(port, 0x9e3779b1)) >>> 0;
  const twinOf = (addr: number, port: number, other: number) => (fold(addr, port) ^ Math.imul(other, 0x9e3779b1)) >>> 0;
  const inTwin = twinOf(IN, 20000, 20002);
  const pubTwin = twinOf(PUB, 40000, 40002);
  assert.equal(fold(inTwin, 20002), fold(IN, 20000));
  const t = new ExpectationTable(10, 10);
  const a = added(t, req({ insidePort: 20000 }), 40000, 0, PUB);
  assert.equal(t.matchInbound(UDP, pubTwin, 40002, REM, 30000, 0), null);
  assert.equal(t.matchOutbound(UDP, inTwin, 20002, 0), null);
  assert.equal(t.publicPortOf(UDP, inTwin, 20002, PUB), -1);
  assert.equal(t.holds(UDP, inTwin, 20002, PUB, 40000), false);
  const b = added(t, req({ insideAddr: inTwin, insidePort: 20002, group: 'g2' }), 40002, 0, pubTwin);
  assert.equal(t.matchInbound(UDP, PUB, 40000, REM, 30000, 0), a);
  assert.equal(t.matchInbound(UDP, pubTwin, 40002, REM, 30000, 0), b);
  assert.equal(t.matchOutbound(UDP, IN, 20000, 0), a);
  assert.equal(t.matchOutbound(UDP, inTwin, 20002, 0), b);
  assert.equal(t.publicPortOf(UDP, inTwin, 20002, pubTwin), 40002);
  assert.equal(t.holds(UDP, IN, 20000, pubTwin, 40002), false);
  t.remove(a.id);
  assert.equal(t.matchInbound(UDP, pubTwin, 40002, REM, 30000, 0), b);
  assert.equal(t.matchOutbound(UDP, IN, 20000, 0), null);
  // Outbound expectations, keyed by the remote they dial.
  const remTwin = twinOf(REM, 30000, 30002);
  const d1 = added(t, req({ direction: 'outbound', insidePort: 0, remoteAddr: REM, remotePort: 30000, group: 'd' }));
  const d2 = added(t, req({ direction: 'outbound', insidePort: 0, remoteAddr: remTwin, remotePort: 30002, group: 'd' }));
  assert.equal(t.matchDial(UDP, IN, 5000, REM, 30000, 0), d1);
  assert.equal(t.matchDial(UDP, IN, 5000, remTwin, 30002, 0), d2);
  assert.equal(t.matchDial(UDP, IN, 5000, remTwin, 30000, 0), null);
});

test('endpoints at the top of the address and port ranges do not collide with their neighbours', () => {
  const t = new ExpectationTable(10, 10);
  const top = added(t, req({ insideAddr: 0xffffffff, insidePort: 65535 }), 65535, 0, 0xffffffff);
  const below = added(t, req({ insideAddr: 0xfffffffe, insidePort: 65535, group: 'g2' }), 65535, 0, 0xfffffffe);
  assert.equal(t.matchInbound(UDP, 0xffffffff, 65535, REM, 30000, 0), top);
  assert.equal(t.matchInbound(UDP, 0xfffffffe, 65535, REM, 30000, 0), below);
  assert.equal(t.matchOutbound(UDP, 0xffffffff, 65535, 0), top);
  assert.equal(t.matchOutbound(UDP, 0xfffffffe, 65535, 0), below);
  assert.equal(t.publicPortOf(UDP, 0xffffffff, 65535, 0xffffffff), 65535);
});

// ---------------------------------------------------------------------------
// Model-based: adds, removals and expiry against a plain array in the order added.

type Op =
  | { k: 'add'; proto: number; inHost: number; inPort: number; pubHost: number; pubPort: number; remHost: number; remPort: number; ttl: number; group: number }
  | { k: 'remove'; pick: number }
  | { k: 'removeGroup'; group: number }
  | { k: 'advance'; ms: number }
  | { k: 'expire' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant('add' as const),
      proto: fc.constantFrom(TCP, UDP),
      inHost: fc.integer({ min: 0, max: 1 }),
      inPort: fc.integer({ min: 1023, max: 1026 }), // 1023: refused
      pubHost: fc.integer({ min: 0, max: 1 }),
      pubPort: fc.integer({ min: 1023, max: 1027 }),
      remHost: fc.integer({ min: 0, max: 2 }), // 0: wildcard
      remPort: fc.integer({ min: 0, max: 2 }), // 0: wildcard
      ttl: fc.integer({ min: 1, max: 400 }),
      group: fc.integer({ min: 0, max: 2 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('remove' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('removeGroup' as const), group: fc.integer({ min: 0, max: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 150 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('expire' as const) }) },
);

test('model: after any sequence of operations every query agrees with a plain array of expectations', () => {
  const LIMIT = 6;
  const PER_GROUP = 3;
  const PER_HOST = 4;
  const reached = { limit: 0, groupLimit: 0, hostLimit: 0, badPort: 0, expired: 0, wildcardMatch: 0, missedExpired: 0 };
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 100, size: 'max' }), (ops) => {
      const t = new ExpectationTable(LIMIT, PER_GROUP, PER_HOST);
      let model: Expectation[] = [];
      let now = 0;
      let nextId = 1;
      for (const op of ops) {
        switch (op.k) {
          case 'add': {
            const r = req({
              proto: op.proto,
              insideAddr: IN + op.inHost,
              insidePort: op.inPort,
              remoteAddr: op.remHost === 0 ? 0 : REM + op.remHost,
              remotePort: op.remPort,
              ttlMs: op.ttl,
              group: `g${op.group}`,
            });
            const pubAddr = PUB + op.pubHost;
            const want =
              op.pubPort < 1024 || op.inPort < 1024
                ? 'bad-port'
                : model.length >= LIMIT
                  ? 'limit'
                  : model.filter((e) => e.group === r.group).length >= PER_GROUP
                    ? 'group-limit'
                    : model.filter((e) => e.insideAddr === r.insideAddr).length >= PER_HOST
                      ? 'host-limit'
                      : null;
            const got = t.add(r, pubAddr, op.pubPort, now);
            if (want) {
              assert.equal(got, want);
              reached[want === 'bad-port' ? 'badPort' : want === 'limit' ? 'limit' : want === 'group-limit' ? 'groupLimit' : 'hostLimit']++;
              break;
            }
            assert.equal(typeof got, 'object');
            const e = got as Expectation;
            assert.equal(e.id, nextId++);
            assert.equal(e.expiresAt, now + op.ttl);
            model.push(e);
            break;
          }
          case 'remove': {
            if (model.length === 0) break;
            const e = model[op.pick % model.length];
            assert.equal(t.remove(e.id), e);
            model = model.filter((x) => x !== e);
            break;
          }
          case 'removeGroup': {
            const g = `g${op.group}`;
            assert.deepEqual(t.removeGroup(g), model.filter((e) => e.group === g));
            model = model.filter((e) => e.group !== g);
            break;
          }
          case 'advance':
            now += op.ms;
            break;
          case 'expire': {
            const due = model.filter((e) => e.expiresAt <= now);
            assert.deepEqual(t.expire(now), due);
            if (due.length) reached.expired++;
            model = model.filter((e) => e.expiresAt > now);
            break;
          }
        }
        assert.equal(t.size, model.length);
        assert.deepEqual(t.list(), model);
        for (let g = 0; g < 5; g++) assert.equal(t.countInGroup(`g${g}`), model.filter((e) => e.group === `g${g}`).length);
        for (let h = 0; h < 3; h++) assert.equal(t.countForHost(IN + h), model.filter((e) => e.insideAddr === IN + h).length);
        // Every query over the whole small key space, against the model.
        for (const proto of [TCP, UDP]) {
          for (let h = 0; h < 2; h++) {
            for (let port = 1024; port <= 1027; port++) {
              const pubAddr = PUB + h;
              for (let rh = 1; rh <= 2; rh++) {
                for (let rp = 1; rp <= 2; rp++) {
                  const want =
                    model.find(
                      (e) =>
                        e.proto === proto &&
                        e.publicAddr === pubAddr &&
                        e.publicPort === port &&
                        e.expiresAt > now &&
                        (e.remoteAddr === 0 || e.remoteAddr === REM + rh) &&
                        (e.remotePort === 0 || e.remotePort === rp),
                    ) ?? null;
                  assert.equal(t.matchInbound(proto, pubAddr, port, REM + rh, rp, now), want);
                  if (want && (want.remoteAddr === 0 || want.remotePort === 0)) reached.wildcardMatch++;
                }
              }
              const inAddr = IN + h;
              const mine = model.filter((e) => e.proto === proto && e.insideAddr === inAddr && e.insidePort === port);
              assert.equal(t.matchOutbound(proto, inAddr, port, now), mine.find((e) => e.expiresAt > now) ?? null);
              if (mine.length && mine.every((e) => e.expiresAt <= now)) reached.missedExpired++;
              for (let ph = 0; ph < 2; ph++) {
                assert.equal(t.publicPortOf(proto, inAddr, port, PUB + ph), mine.find((e) => e.publicAddr === PUB + ph)?.publicPort ?? -1);
                for (let pp = 1024; pp <= 1027; pp++) {
                  assert.equal(t.holds(proto, inAddr, port, PUB + ph, pp), mine.some((e) => e.publicAddr === PUB + ph && e.publicPort === pp));
                }
              }
            }
          }
        }
      }
    }),
    { numRuns: 60 },
  );
  for (const [path, n] of Object.entries(reached)) assert.ok(n > 0, `no run reached ${path}`);
});
