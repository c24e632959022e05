/**
 * Relay port pairs: even RTP + odd RTCP inside the range, never handed out
 * twice, random choice, quarantine after freeing, exhaustion.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { seededRandom as seeded } from '../../src/dataplane/sim/random.js';
import { PortAllocator } from '../../src/sipproxy/media/port-allocator.js';

test('pairs are an even RTP port and the odd port after it, inside the range', () => {
  const a = new PortAllocator({ min: 30001, max: 30010, random: seeded(1) });
  assert.equal(a.first, 30002);
  assert.equal(a.capacity, 4); // 30002/3, 30004/5, 30006/7, 30008/9 (30010 has no odd partner)
  const got = new Set<number>();
  for (let i = 0; i < 4; i++) {
    const p = a.allocate(0);
    assert.ok(p !== null && p % 2 === 0 && p >= 30002 && p + 1 <= 30010, String(p));
    got.add(p);
  }
  assert.equal(got.size, 4);
  assert.equal(a.allocate(0), null, 'exhausted');
  assert.throws(() => new PortAllocator({ min: 5000, max: 5000, random: seeded(1) }), RangeError);
});

test('the choice is random, not the next port (RTP Bleed sprays predictable ports)', () => {
  const a = new PortAllocator({ min: 30000, max: 39999, random: seeded(7) });
  const ports = Array.from({ length: 50 }, () => a.allocate(0)!);
  let sequential = 0;
  for (let i = 1; i < ports.length; i++) if (ports[i] === ports[i - 1] + 2) sequential++;
  assert.ok(sequential < 5, `${sequential} of 49 allocations took the next pair`);
});

test('a freed pair rests for the quarantine before it is handed out again', () => {
  const a = new PortAllocator({ min: 30000, max: 30007, random: () => 0, quarantineMs: 5000 });
  const ports = [a.allocate(0), a.allocate(0), a.allocate(0)];
  assert.deepEqual(ports, [30000, 30002, 30004]);
  a.freePair(30000, 1000);
  assert.equal(a.inUse, 2);
  assert.ok(a.isTaken(30001), 'resting counts as taken');
  assert.equal(a.allocate(2000), 30006, 'the free pair, not the resting one');
  assert.equal(a.inUse, 3);
  a.freePair(30002, 2500);
  // Range full: only now does the pair that rested longest come back early.
  assert.equal(a.allocate(3000), 30000);
  assert.equal(a.allocate(3000), 30002);
  assert.equal(a.allocate(3000), null);
  a.freePair(30004, 4000);
  assert.equal(a.allocate(9000), 30004, 'after the quarantine');
});

test('freeing twice, or a port outside the range, changes nothing', () => {
  const a = new PortAllocator({ min: 30000, max: 30003, random: () => 0, quarantineMs: 0 });
  const p = a.allocate(0)!;
  a.freePair(p, 0);
  a.freePair(p, 0);
  a.freePair(40000, 0);
  a.freePair(30001, 0);
  assert.equal(a.available, 2);
  assert.equal(a.inUse, 0);
});

test('freeing a resting pair again does not queue it twice', () => {
  const a = new PortAllocator({ min: 30000, max: 30003, random: () => 0, quarantineMs: 100 });
  const p = a.allocate(0)!;
  a.freePair(p, 0);
  a.freePair(p, 50);
  assert.equal(a.inUse, 0);
  assert.equal(a.available, 1);
  assert.equal(a.allocate(200), 30000);
  assert.equal(a.available, 1);
  assert.equal(a.inUse, 1);
});

test('an unusable pair is never handed out again', () => {
  const a = new PortAllocator({ min: 30000, max: 30003, random: () => 0, quarantineMs: 0 });
  const p = a.allocate(0)!;
  a.markUnusable(p);
  assert.equal(a.unusable, 1);
  assert.equal(a.allocate(0), 30002);
  assert.equal(a.allocate(0), null);
  assert.equal(a.inUse, 1);
});

test('property: against a model, no pair is handed out twice while held, and counts add up', () => {
  const op = fc.oneof(fc.constant({ kind: 'alloc' as const }), fc.nat(1000).map((i) => ({ kind: 'free' as const, i })), fc.nat(3000).map((ms) => ({ kind: 'wait' as const, ms })));
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 70 }), fc.integer({ min: 0, max: 3000 }), fc.nat(), fc.array(op, { maxLength: 300 }), (pairs, quarantineMs, seed, ops) => {
      const a = new PortAllocator({ min: 20000, max: 20000 + pairs * 2 - 1, random: seeded(seed), quarantineMs });
      const held = new Set<number>();
      let now = 0;
      for (const o of ops) {
        if (o.kind === 'alloc') {
          const p = a.allocate(now);
          if (p === null) assert.equal(held.size, pairs, 'null only when every pair is held');
          else {
            assert.ok(!held.has(p), `port ${p} handed out twice`);
            assert.ok(p >= 20000 && p % 2 === 0 && p + 1 < 20000 + pairs * 2);
            held.add(p);
          }
        } else if (o.kind === 'free' && held.size > 0) {
          const p = [...held][o.i % held.size];
          held.delete(p);
          a.freePair(p, now);
          if (o.i % 3 === 0) a.freePair(p, now); // a second free (a late BYE) must change nothing
        } else if (o.kind === 'wait') now += o.ms;
        assert.equal(a.inUse, held.size);
        assert.ok(a.available <= pairs - held.size);
      }
    }),
    { numRuns: 300 },
  );
});
