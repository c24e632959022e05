import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RangeSet } from '../../src/nat/range-set.js';

test('property: firstIn agrees with a plain set of the same members, and adjacent ranges merge', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 8 })), { maxLength: 30 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 0, max: 12 })), { maxLength: 20 }),
      (adds, queries) => {
        const set = new RangeSet();
        const members = new Set<number>();
        for (const [first, len] of adds) {
          set.add(first, first + len);
          for (let p = first; p <= first + len; p++) members.add(p);
        }
        for (const [first, len] of queries) {
          let expected: number | undefined;
          for (let p = first; p <= first + len && expected === undefined; p++) if (members.has(p)) expected = p;
          assert.equal(set.firstIn(first, first + len), expected);
        }
        // Ranges are maximal: as many as the runs of consecutive members.
        const sorted = [...members].sort((a, b) => a - b);
        const runs = sorted.filter((p, i) => i === 0 || sorted[i - 1] !== p - 1).length;
        assert.equal(set.ranges, runs);
      },
    ),
  );
});
