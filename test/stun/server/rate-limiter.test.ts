import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TokenBucketLimiter } from '../../../src/stun/server/rate-limiter.js';

test('a burst is allowed, then the sustained rate', () => {
  const l = new TokenBucketLimiter({ ratePerSecond: 10, burst: 5 });
  const allowed = Array.from({ length: 8 }, () => l.allow('a', 0)).filter(Boolean).length;
  assert.equal(allowed, 5);
  assert.equal(l.allow('a', 50), false, 'half a token after 50 ms');
  assert.equal(l.allow('a', 100), true, 'one token after 100 ms');
  assert.equal(l.allow('a', 100), false);
  // Idle time refills up to the burst, not beyond.
  const after = Array.from({ length: 10 }, () => l.allow('a', 100_000)).filter(Boolean).length;
  assert.equal(after, 5);
});

test('keys are independent', () => {
  const l = new TokenBucketLimiter({ ratePerSecond: 1, burst: 1 });
  assert.equal(l.allow('a', 0), true);
  assert.equal(l.allow('a', 0), false);
  assert.equal(l.allow('b', 0), true);
});

test('the table is bounded: least recently seen key is forgotten first', () => {
  const l = new TokenBucketLimiter({ ratePerSecond: 1, burst: 1, maxTracked: 3 });
  l.allow('a', 0);
  l.allow('b', 0);
  l.allow('c', 0);
  l.allow('a', 0); // a is now the most recent (and refused)
  l.allow('d', 0); // evicts b
  assert.equal(l.tracked, 3);
  assert.equal(l.allow('b', 0), true, 'b was forgotten, so it starts with a full bucket');
  assert.equal(l.allow('d', 0), false, 'd is still tracked');
});

test('rate 0 means unlimited; time going backwards grants nothing', () => {
  const u = new TokenBucketLimiter({ ratePerSecond: 0, burst: 1 });
  for (let i = 0; i < 1000; i++) assert.ok(u.allow('x', 0));
  const l = new TokenBucketLimiter({ ratePerSecond: 1000, burst: 1 });
  assert.ok(l.allow('x', 1000));
  assert.equal(l.allow('x', 0), false);
});

test('property: over any window, allowed <= burst + rate x elapsed', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 1000 }),
      fc.integer({ min: 1, max: 50 }),
      fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 300 }),
      (rate, burst, gaps) => {
        const l = new TokenBucketLimiter({ ratePerSecond: rate, burst });
        let t = 0;
        let allowed = 0;
        for (const g of gaps) {
          t += g;
          if (l.allow('k', t)) allowed++;
        }
        assert.ok(allowed <= burst + (rate * t) / 1000 + 1e-9, `${allowed} > ${burst} + ${rate}*${t}ms`);
      },
    ),
    { numRuns: 500 },
  );
});

test('property: the table forgets exactly the least recently seen key, like a reference LRU', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.array(fc.oneof(fc.integer({ min: 0, max: 9 }), fc.constantFrom('a', 'b', 'c')), { minLength: 1, maxLength: 200 }),
      (maxTracked, keys) => {
        const l = new TokenBucketLimiter({ ratePerSecond: 1, burst: 2, maxTracked });
        // The reference: recency order and token counts, time standing still.
        let order: (string | number)[] = [];
        const tokens = new Map<string | number, number>();
        for (const k of keys) {
          if (!tokens.has(k) && order.length >= maxTracked) tokens.delete(order.shift()!);
          order = order.filter((x) => x !== k).concat([k]);
          const t = tokens.get(k) ?? 2;
          tokens.set(k, t >= 1 ? t - 1 : t);
          assert.equal(l.allow(k, 0), t >= 1, `key ${String(k)}`);
        }
        assert.equal(l.tracked, order.length);
      },
    ),
    { numRuns: 300 },
  );
});
