/** The pieces that keep strangers from using the servers: cookies, bounded answers, rate and share limits, retransmission gating. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CookieMinter, COOKIE_WINDOW_MS } from '../../src/rendezvous/protocol/cookie.js';
import { encodeWithin } from '../../src/rendezvous/protocol/bounded-reply.js';
import { encodeMessage, readMessage, isAuthenticatedType } from '../../src/rendezvous/protocol/messages.js';
import { parsePacket } from '../../src/rendezvous/protocol/wire.js';
import { deriveSessionKey } from '../../src/rendezvous/protocol/keys.js';
import { TokenBuckets } from '../../src/rendezvous/util/token-buckets.js';
import { Occupancy } from '../../src/rendezvous/util/occupancy.js';
import { sourceKey } from '../../src/rendezvous/util/source-key.js';
import { LimitLog } from '../../src/rendezvous/util/limit-log.js';
import { ReliableSender } from '../../src/rendezvous/server/reliable-sender.js';
import { VirtualScheduler } from '../../src/dataplane/sim/index.js';

const KEY = deriveSessionKey('', 'demo');
const N = '00000000000000ff';

test('cookies: bound to address, port and time window; good for one to two windows', () => {
  const m = new CookieMinter(new Uint8Array(32).fill(3));
  const src = { address: '203.0.113.5', port: 4000 };
  const t = 10 * COOKIE_WINDOW_MS + 5;
  const c = m.mint(src, t);
  assert.equal(c.length, 16);
  assert.equal(m.valid(c, src, t), true);
  assert.equal(m.valid(c, src, t + COOKIE_WINDOW_MS), true, 'the next window still takes it');
  assert.equal(m.valid(c, src, t + 2 * COOKIE_WINDOW_MS), false, 'expired');
  assert.equal(m.valid(c, { ...src, port: 4001 }, t), false, 'other port');
  assert.equal(m.valid(c, { ...src, address: '203.0.113.6' }, t), false, 'other address');
  assert.equal(m.valid(undefined, src, t), false);
  assert.equal(m.valid(c.subarray(0, 15), src, t), false);
  assert.equal(new CookieMinter(new Uint8Array(32).fill(4)).valid(c, src, t), false, 'another server secret');
  assert.throws(() => new CookieMinter(new Uint8Array(8)), /16 bytes/);
});

test('bounded answers: an error loses the tail of its reason to fit; anything else that does not fit is not sent', () => {
  const error = { kind: 'error', echo: N, code: 410, reason: 'not in the session (expired?): join again', serverTime: 5 } as const;
  const full = encodeMessage(error, KEY);
  assert.deepEqual(encodeWithin(error, KEY, full.length), full);
  const cut = encodeWithin(error, KEY, full.length - 10)!;
  assert.equal(cut.length, full.length - 10);
  const back = readMessage(parsePacket(cut, isAuthenticatedType));
  assert.equal(back.kind === 'error' && back.code, 410);
  assert.equal(back.kind === 'error' && back.reason, error.reason.slice(0, error.reason.length - 10));
  assert.equal(encodeWithin(error, KEY, full.length - error.reason.length - 1), null, 'not even the code fits');
  const ok = { kind: 'refresh-ok', echo: N, public: { address: '203.0.113.5', port: 1 } } as const;
  assert.equal(encodeWithin(ok, KEY, encodeMessage(ok, KEY).length - 1), null);
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), fc.integer({ min: 0, max: 400 }), (reason, limit) => {
      const bytes = encodeWithin({ kind: 'error', echo: N, code: 400, reason }, KEY, limit);
      if (bytes) assert.ok(bytes.length <= limit);
    }),
  );
});

test('token buckets: a burst, then the rate; per key; bounded table', () => {
  const b = new TokenBuckets({ perSecond: 2, burst: 4, maxKeys: 3 });
  const taken = (key: string, now: number, n: number) => Array.from({ length: n }, () => b.take(key, now)).filter(Boolean).length;
  assert.equal(taken('a', 0, 10), 4);
  assert.equal(taken('b', 0, 10), 4, 'another key has its own bucket');
  assert.equal(taken('a', 500, 10), 1, 'half a second: one token');
  assert.equal(taken('a', 10_000, 10), 4, 'never more than the burst');
  b.take('c', 10_000);
  b.take('d', 10_000);
  assert.equal(b.size, 3, 'the least recently used key was forgotten');
  assert.throws(() => new TokenBuckets({ perSecond: 0, burst: 1 }));
});

test('occupancy: total, open share, sessions, open sessions, per session, per source; moves', () => {
  const o = new Occupancy({ total: 6, open: 3, perSession: 3, perSource: 2 });
  const h = (session: string, open: boolean, source: string) => ({ session, open, source });
  for (let i = 0; i < 3; i++) {
    assert.equal(o.refusal(h(`o${i}`, true, `s${i}`)), null);
    o.add(h(`o${i}`, true, `s${i}`));
  }
  assert.equal(o.refusal(h('o9', true, 's9')), 'open');
  assert.equal(o.refusal(h('k', false, 's9')), null, 'keyed sessions keep the rest');
  o.add(h('k', false, 'x'));
  o.add(h('k', false, 'x'));
  assert.equal(o.refusal(h('k', false, 'x')), 'perSource');
  o.add(h('k', false, 'y'));
  assert.equal(o.refusal(h('k', false, 'z')), 'total');
  o.remove(h('o0', true, 's0'));
  assert.equal(o.refusal(h('k', false, 'z')), 'perSession');
  assert.equal(o.move(h('k', false, 'y'), 'x'), null, 'x is at its cap');
  assert.deepEqual(o.move(h('k', false, 'y'), 'z'), h('k', false, 'z'));
  assert.equal(o.fromSource('y'), 0);
  const s = new Occupancy({ sessions: 2, openSessions: 1 });
  s.add(h('a', true, 'p'));
  assert.equal(s.refusal(h('a', true, 'p')), null, 'an existing session takes more');
  assert.equal(s.refusal(h('b', true, 'p')), 'openSessions');
  s.add(h('c', false, 'p'));
  assert.equal(s.refusal(h('d', false, 'p')), 'sessions');
  s.remove(h('a', true, 'p'));
  assert.deepEqual([s.sessions, s.openSessionCount, s.holders], [1, 0, 1]);
});

test('source keys: an IPv4 address, an IPv6 /64, IPv4-mapped as IPv4', () => {
  assert.equal(sourceKey('203.0.113.5'), '203.0.113.5');
  assert.equal(sourceKey('2001:db8:1:2:aaaa::1'), sourceKey('2001:db8:1:2:bbbb::9'));
  assert.notEqual(sourceKey('2001:db8:1:2::1'), sourceKey('2001:db8:1:3::1'));
  assert.equal(sourceKey('::ffff:203.0.113.5'), '203.0.113.5');
});

test('limit log: the first hit at once, then one line per interval with the count', () => {
  let now = 0;
  const lines: Array<Record<string, unknown>> = [];
  const l = new LimitLog((event, f) => lines.push({ event, ...f }), () => now, 10_000);
  for (let i = 0; i < 5; i++) l.hit('perSource', { source: 'x' });
  l.hit('open');
  now = 10_000;
  l.hit('perSource', { source: 'y' });
  assert.deepEqual(lines, [
    { event: 'limit', limit: 'perSource', source: 'x' },
    { event: 'limit', limit: 'open' },
    { event: 'limit', limit: 'perSource', hitsSinceLastLine: 5, source: 'y' },
  ]);
});

test('reliable sender: no retransmission while the destination has not answered', () => {
  const sched = new VirtualScheduler();
  const r = new ReliableSender(sched, { rtoMs: 100, tries: 4, maxPending: 10 });
  let answered = false;
  let sent = 0;
  const run = (until: number) => {
    while (sched.step(until));
    sched.advanceTo(until);
  };
  r.send('k', () => sent++, () => answered);
  run(350);
  assert.equal(sent, 1, 'sent once, the retransmissions withheld');
  assert.equal(r.withheld, 2);
  answered = true;
  run(2000);
  assert.equal(sent, 2, 'the last try goes out once it has answered');
  assert.equal(r.givenUp, 1);
});
