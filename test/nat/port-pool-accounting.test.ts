/**
 * PortPool beyond port-pool.test.ts: the free counts per range, empty ranges,
 * the sequential cursor (wrap, parity, low ports), preserve outside the range,
 * allocatePair edges; then a model-based property over all three allocation
 * modes: never a held port, always the range the source port maps into, the
 * parity asked for, the port each mode's rule names, and -1 only when no port
 * qualifies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PortPool, type PortAllocation, type PortPoolOptions } from '../../src/nat/port-pool.js';

const small: PortPoolOptions = { allocation: 'sequential', parity: false, range: [2000, 2009], lowRange: [100, 104], random: () => 0 };

test('available counts the free ports of the range a source port maps into', () => {
  const p = new PortPool(small);
  assert.equal(p.available(5000), 10);
  assert.equal(p.available(1024), 10);
  assert.equal(p.available(1023), 5);
  assert.equal(p.available(0), 5);
  p.hold(2003);
  p.hold(2003); // a second holder: still one port
  p.hold(101);
  assert.equal(p.available(5000), 9);
  assert.equal(p.available(53), 4);
  p.release(2003);
  assert.equal(p.available(5000), 9, 'held until the last holder lets go');
  p.release(2003);
  assert.equal(p.available(5000), 10);
  p.allocate(5000);
  p.allocate(53);
  assert.deepEqual([p.available(5000), p.available(53)], [9, 3]);
});

test('holding a port outside both ranges (a forward on a well-known port) changes no count', () => {
  const p = new PortPool(small);
  p.hold(80);
  p.hold(3000);
  assert.ok(p.inUse(80) && p.inUse(3000));
  assert.deepEqual([p.available(5000), p.available(53)], [10, 5]);
  p.release(80);
  assert.equal(p.inUse(80), false);
  assert.deepEqual([p.available(5000), p.available(53)], [10, 5]);
});

test('an empty range gives -1, for every allocation mode', () => {
  for (const allocation of ['preserve', 'sequential', 'random'] as const) {
    const p = new PortPool({ ...small, allocation, lowRange: [1, 0], range: [3000, 2999] });
    assert.equal(p.available(53), 0);
    assert.equal(p.allocate(53), -1, allocation);
    assert.equal(p.allocate(40000), -1, allocation);
    assert.equal(p.allocatePair(40000), -1, allocation);
  }
});

test('sequential: the cursor wraps to the start of the range and skips held ports', () => {
  const p = new PortPool(small);
  for (let i = 0; i < 9; i++) assert.equal(p.allocate(40000), 2000 + i);
  p.hold(2009);
  p.release(2001);
  p.release(2003);
  assert.equal(p.allocate(40000), 2001, 'past 2009 (held) back to the first free from the start');
  assert.equal(p.allocate(40000), 2003, 'then onwards from there');
  assert.equal(p.allocate(40000), -1);
  p.release(2005);
  assert.equal(p.allocate(40000), 2005);
});

test('sequential with parity: the next free port of the source port’s parity', () => {
  const p = new PortPool({ ...small, parity: true });
  assert.equal(p.allocate(40001), 2001);
  assert.equal(p.allocate(40000), 2002);
  assert.equal(p.allocate(40000), 2004);
  assert.equal(p.allocate(40001), 2005);
  assert.equal(p.allocate(40001, false), 2006, 'parity off for this call');
});

test('sequential: a refusal leaves the cursor where it was', () => {
  const p = new PortPool({ ...small, parity: true, range: [2000, 2003] });
  assert.equal(p.allocate(40000), 2000);
  assert.equal(p.allocate(40000), 2002);
  assert.equal(p.allocate(40000), -1, 'no even port left');
  assert.equal(p.allocate(40001), 2003, 'from the cursor at 2002');
});

test('sequential: low source ports scan the low range from its start', () => {
  const p = new PortPool(small);
  p.allocate(40000);
  assert.equal(p.allocate(53), 100);
  assert.equal(p.allocate(53), 101);
  p.release(100);
  assert.equal(p.allocate(22), 100);
  assert.equal(p.allocate(40000), 2001, 'the dynamic cursor did not move');
});

test('preserve: a source port outside the range is mapped to a random free port inside it', () => {
  const p = new PortPool({ ...small, allocation: 'preserve', random: () => 0.5 });
  assert.equal(p.allocate(5000), 2005);
  assert.equal(p.allocate(2007), 2007, 'inside the range and free: kept');
  assert.equal(p.allocate(2007), 2006, 'taken: from the random start (2005, held) onwards');
});

test('preserve with parity: a free source port is kept; a taken one gives a random port of its parity', () => {
  const p = new PortPool({ ...small, allocation: 'preserve', parity: true, random: () => 0.3 });
  assert.equal(p.allocate(2003), 2003);
  const again = p.allocate(2003);
  assert.equal(again % 2, 1);
  assert.equal(again, 2005, 'random start 2003 is taken, 2004 is even');
});

test('random with parity: RFC 6056 start, then the next free port of the parity', () => {
  const p = new PortPool({ ...small, allocation: 'random', parity: true, random: () => 0.7 });
  assert.equal(p.allocate(40000), 2008);
  assert.equal(p.allocate(40001), 2007);
  assert.equal(p.allocate(40000), 2000, 'from 2007: 2008 held, 2009 odd, wraps');
});

test('allocatePair: the pair never crosses the top of the range, and wraps to the start', () => {
  const p = new PortPool({ ...small, allocation: 'sequential' });
  assert.equal(p.allocatePair(2009), 2008, 'an odd preferred port rounds down to its even neighbour');
  const q = new PortPool({ ...small, range: [2000, 2008] });
  assert.equal(q.allocatePair(2008), 2000, '2008 has no neighbour in range');
  assert.ok(q.inUse(2000) && q.inUse(2001));
});

test('allocatePair: with an odd start of range, the first pair is the even port above it', () => {
  const p = new PortPool({ ...small, range: [2001, 2006] });
  assert.equal(p.allocatePair(1000), 2002);
  assert.equal(p.allocatePair(1000), 2004);
  assert.equal(p.allocatePair(1000), -1, '2006 alone, 2001 alone');
});

test('allocatePair: -1 when no even port has its odd neighbour free, and nothing held then', () => {
  const p = new PortPool(small);
  for (const port of [2001, 2002, 2005, 2006, 2009]) p.hold(port);
  assert.equal(p.allocatePair(2000), -1);
  assert.equal(p.available(5000), 5);
  p.release(2002);
  assert.equal(p.allocatePair(2000), 2002);
});

test('allocatePair in random mode starts from the random source', () => {
  const p = new PortPool({ ...small, allocation: 'random', random: () => 0.65 });
  assert.equal(p.allocatePair(2000), 2006);
});

// ---------------------------------------------------------------------------
// Model-based: any sequence, every mode, against a Map of references.

type Op =
  | { k: 'allocate'; source: number; parity: boolean | null }
  | { k: 'pair'; preferred: number }
  | { k: 'hold'; port: number }
  | { k: 'release'; pick: number };

const LO = 2000;
const HI = 2011;
const LOW_LO = 100;
const LOW_HI = 105;

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('allocate' as const),
      source: fc.oneof(fc.integer({ min: 1, max: 1023 }), fc.integer({ min: 1024, max: 2020 }), fc.integer({ min: 1024, max: 65535 })),
      parity: fc.option(fc.boolean()),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('pair' as const), preferred: fc.integer({ min: 1990, max: 2020 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('hold' as const), port: fc.oneof(fc.integer({ min: 98, max: 107 }), fc.integer({ min: 1998, max: 2013 })) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('release' as const), pick: fc.nat() }) },
);

/** First port at or after `from`, cyclically in [lo, hi], that is free and of the parity (-1: any). */
function firstFree(refs: Map<number, number>, lo: number, hi: number, from: number, parity: number): number {
  for (let i = 0, p = from; i <= hi - lo; i++, p = p === hi ? lo : p + 1) {
    if (!refs.get(p) && (parity < 0 || (p & 1) === parity)) return p;
  }
  return -1;
}

test('model: in every mode, allocations follow the mode’s rule, never overload a port, and fail only when nothing qualifies', () => {
  const reached = { exhausted: 0, pairRefused: 0, preservedKept: 0, lowRange: 0 };
  for (const allocation of ['preserve', 'sequential', 'random'] as PortAllocation[]) {
    for (const defaultParity of [false, true]) {
      fc.assert(
        fc.property(fc.array(opArb, { maxLength: 80, size: 'max' }), fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 20 }), (ops, draws) => {
          let d = 0;
          let lastDraw = 0;
          const random = () => (lastDraw = draws[d++ % draws.length]);
          const p = new PortPool({ allocation, parity: defaultParity, range: [LO, HI], lowRange: [LOW_LO, LOW_HI], random });
          const refs = new Map<number, number>();
          let cursor = LO - 1;
          const take = (port: number) => refs.set(port, (refs.get(port) ?? 0) + 1);
          for (const op of ops) {
            switch (op.k) {
              case 'allocate': {
                const low = op.source < 1024;
                const [lo, hi] = low ? [LOW_LO, LOW_HI] : [LO, HI];
                const parity = op.parity ?? defaultParity;
                const want = parity ? op.source & 1 : -1;
                const got = op.parity === null ? p.allocate(op.source) : p.allocate(op.source, op.parity);
                const anyFree = firstFree(refs, lo, hi, lo, want);
                if (low) reached.lowRange++;
                if (anyFree < 0) {
                  assert.equal(got, -1, 'nothing qualifies');
                  reached.exhausted++;
                  break;
                }
                assert.ok(got >= lo && got <= hi, `${got} outside [${lo}, ${hi}]`);
                assert.ok(!refs.get(got), `${got} was held`);
                if (want >= 0) assert.equal(got & 1, want, 'parity');
                // The port each mode's rule names.
                let expected: number;
                if (allocation === 'preserve' && op.source >= lo && op.source <= hi && !refs.get(op.source)) {
                  expected = op.source;
                  reached.preservedKept++;
                } else if (allocation === 'sequential') {
                  expected = firstFree(refs, lo, hi, cursor + 1 > hi || cursor + 1 < lo ? lo : cursor + 1, want);
                  if (!low) cursor = expected;
                } else {
                  expected = firstFree(refs, lo, hi, lo + Math.floor(lastDraw * (hi - lo + 1)), want);
                }
                assert.equal(got, expected);
                take(got);
                break;
              }
              case 'pair': {
                const got = p.allocatePair(op.preferred);
                const free = (port: number) => !refs.get(port);
                const candidates: number[] = [];
                for (let e = LO + (LO & 1); e + 1 <= HI; e += 2) if (free(e) && free(e + 1)) candidates.push(e);
                if (candidates.length === 0) {
                  assert.equal(got, -1);
                  reached.pairRefused++;
                  break;
                }
                assert.ok(candidates.includes(got), `pair ${got}: not one of ${candidates}`);
                take(got);
                take(got + 1);
                break;
              }
              case 'hold':
                p.hold(op.port);
                take(op.port);
                break;
              case 'release': {
                const held = [...refs.keys()].filter((port) => refs.get(port)! > 0).sort((a, b) => a - b);
                if (held.length === 0) break;
                const port = held[op.pick % held.length];
                p.release(port);
                refs.set(port, refs.get(port)! - 1);
                break;
              }
            }
            const freeIn = (lo: number, hi: number) => {
              let n = 0;
              for (let port = lo; port <= hi; port++) if (!refs.get(port)) n++;
              return n;
            };
            assert.equal(p.available(5000), freeIn(LO, HI));
            assert.equal(p.available(53), freeIn(LOW_LO, LOW_HI));
            for (let port = 95; port <= 110; port++) assert.equal(p.inUse(port), !!refs.get(port));
            for (let port = 1995; port <= 2015; port++) assert.equal(p.inUse(port), !!refs.get(port));
          }
        }),
        { numRuns: 60 },
      );
    }
  }
  for (const [path, n] of Object.entries(reached)) assert.ok(n > 0, `no run reached ${path}`);
});
