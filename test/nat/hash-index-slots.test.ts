/**
 * HashIndex beyond the multimap property of hash-index.test.ts: the probe API
 * the tables walk on the hot path, runs that wrap past the end of the slot
 * array, growth, unsigned hashes, failed removals, clear(), and the
 * linear-probing invariant after every operation. Also what tupleHash
 * guarantees per field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HashIndex, tupleHash } from '../../src/nat/hash-index.js';

/** Slots in the index: 8 bytes each (hash and id). */
const slotsOf = (idx: HashIndex) => idx.bytes / 8;

/** Every id stored under `hash`, walking the probe run as FlowTable and MappingTable do. */
function idsUnder(idx: HashIndex, hash: number): number[] {
  const h = hash | 0;
  const out: number[] = [];
  for (let s = idx.probe(h), n = 0; n < slotsOf(idx); s = idx.next(s), n++) {
    const id = idx.idAt(s);
    if (id < 0) return out;
    if (idx.hashAt(s) === h) out.push(id);
  }
  throw new Error('probe run never reached an empty slot');
}

/**
 * Linear probing without tombstones: every entry sits in the run that starts at
 * its home slot (no empty slot between home and where it is), the count of
 * filled slots is the size, and at least one slot stays empty.
 */
function assertProbeInvariant(idx: HashIndex): void {
  const n = slotsOf(idx);
  const mask = n - 1;
  let filled = 0;
  for (let s = 0; s < n; s++) {
    if (idx.idAt(s) < 0) continue;
    filled++;
    for (let j = idx.hashAt(s) & mask; j !== s; j = (j + 1) & mask) {
      assert.ok(idx.idAt(j) >= 0, `slot ${s}: empty slot ${j} between it and its home`);
    }
  }
  assert.equal(filled, idx.size);
  assert.ok(filled * 2 <= n, 'load factor at most 1/2');
}

test('capacity: the smallest power of two holding twice the initial capacity, 16 slots at least', () => {
  assert.equal(slotsOf(new HashIndex(0)), 16);
  assert.equal(slotsOf(new HashIndex(8)), 16);
  assert.equal(slotsOf(new HashIndex(9)), 32);
  assert.equal(slotsOf(new HashIndex(1000)), 2048);
  assert.equal(slotsOf(new HashIndex(1024)), 2048);
  assert.equal(slotsOf(new HashIndex()), 2048);
});

test('the probe API: a run from probe(hash) through next() to an empty slot holds every id stored under the hash', () => {
  const idx = new HashIndex(8);
  assert.equal(idx.idAt(idx.probe(12345)), -1, 'an empty index ends the run at once');
  idx.insert(12345, 1);
  idx.insert(12345, 2);
  idx.insert(12345 + 16, 3); // same home slot, another hash
  assert.deepEqual(idsUnder(idx, 12345), [1, 2]);
  assert.deepEqual(idsUnder(idx, 12345 + 16), [3]);
  assert.deepEqual(idsUnder(idx, 777), []);
  assert.equal(idx.next(slotsOf(idx) - 1), 0, 'next wraps at the end');
});

test('a run that wraps past the last slot is found, and backward shift keeps it whole across the wrap', () => {
  const idx = new HashIndex(8); // 16 slots
  // Homes 14 and 15: the run fills 14, 15, 0, 1, 2.
  const entries: Array<[number, number]> = [
    [14, 0],
    [15, 1],
    [14 + 16, 2],
    [15 + 32, 3],
    [14 + 48, 4],
  ];
  for (const [h, id] of entries) idx.insert(h, id);
  assert.deepEqual([idx.idAt(14), idx.idAt(15), idx.idAt(0), idx.idAt(1), idx.idAt(2)], [0, 1, 2, 3, 4]);
  assertProbeInvariant(idx);
  for (const victim of [1, 0, 3]) {
    assert.equal(idx.remove(entries[victim][0], victim), true);
    assertProbeInvariant(idx);
    for (const [h, id] of entries) {
      const want = [1, 0, 3].slice(0, [1, 0, 3].indexOf(victim) + 1).includes(id) ? [] : [id];
      assert.deepEqual(idsUnder(idx, h), want, `hash ${h} after removing #${victim}`);
    }
  }
  // A home-0 entry must never be shifted in front of its home (slot 15 is before 0 cyclically).
  idx.insert(0, 9);
  idx.remove(14 + 16, 2);
  assertProbeInvariant(idx);
  assert.deepEqual(idsUnder(idx, 0), [9]);
  assert.deepEqual(idsUnder(idx, 14 + 48), [4]);
});

test('remove: false and nothing changed when the pair is not there (absent id, or the id under another hash)', () => {
  const idx = new HashIndex(8);
  idx.insert(100, 1);
  idx.insert(116, 2);
  assert.equal(idx.remove(100, 2), false);
  assert.equal(idx.remove(200, 1), false);
  assert.equal(idx.remove(5, 5), false);
  assert.equal(idx.size, 2);
  assert.deepEqual(idsUnder(idx, 100), [1]);
  assert.deepEqual(idsUnder(idx, 116), [2]);
  assert.equal(idx.remove(100, 1), true);
  assert.equal(idx.remove(100, 1), false, 'only once');
  assert.equal(idx.size, 1);
});

test('a pair inserted twice is held twice and removed one at a time', () => {
  const idx = new HashIndex(8);
  idx.insert(42, 7);
  idx.insert(42, 7);
  assert.equal(idx.size, 2);
  assert.deepEqual(idsUnder(idx, 42), [7, 7]);
  assert.equal(idx.remove(42, 7), true);
  assert.deepEqual(idsUnder(idx, 42), [7]);
  assert.equal(idx.remove(42, 7), true);
  assert.deepEqual(idsUnder(idx, 42), []);
});

test('hashes are taken as 32-bit: an unsigned hash and its signed form are the same key', () => {
  const idx = new HashIndex(8);
  idx.insert(0xdeadbeef, 1);
  assert.equal(idx.find(0xdeadbeef, (id) => id === 1), 1);
  assert.equal(idx.find(0xdeadbeef | 0, (id) => id === 1), 1);
  assert.deepEqual(idsUnder(idx, 0xdeadbeef), [1]);
  assert.equal(idx.remove(0xdeadbeef | 0, 1), true);
  idx.insert(0xffffffff | 0, 2);
  assert.equal(idx.remove(0xffffffff, 2), true);
  assert.equal(idx.size, 0);
});

test('find stops at the first id the predicate accepts, in probe order, and asks only about ids under that hash', () => {
  const idx = new HashIndex(8);
  idx.insert(3, 10);
  idx.insert(19, 11); // same home, other hash
  idx.insert(3, 12);
  const asked: number[] = [];
  assert.equal(
    idx.find(3, (id) => {
      asked.push(id);
      return id === 12;
    }),
    12,
  );
  assert.deepEqual(asked, [10, 12]);
  assert.equal(idx.find(3, () => false), -1);
});

test('growth keeps the load at most 1/2 and every entry findable', () => {
  const idx = new HashIndex(8);
  const sizes = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    idx.insert(tupleHash(17, i, i, 0, 0), i);
    sizes.add(slotsOf(idx));
    assert.ok(idx.size * 2 <= slotsOf(idx));
  }
  assert.deepEqual([...sizes], [16, 32, 64, 128, 256, 512, 1024, 2048]);
  for (let i = 0; i < 1000; i++) assert.ok(idsUnder(idx, tupleHash(17, i, i, 0, 0)).includes(i), String(i));
  assertProbeInvariant(idx);
});

test('clear empties the index and keeps it usable', () => {
  const idx = new HashIndex(8);
  for (let i = 0; i < 20; i++) idx.insert(i * 16, i);
  const bytes = idx.bytes;
  idx.clear();
  assert.equal(idx.size, 0);
  assert.equal(idx.bytes, bytes, 'the slots stay allocated');
  for (let i = 0; i < 20; i++) assert.deepEqual(idsUnder(idx, i * 16), []);
  idx.insert(32, 99);
  assert.deepEqual(idsUnder(idx, 32), [99]);
  assertProbeInvariant(idx);
});

test('model: under any sequence of inserts and removes, the probe runs hold exactly the model’s pairs and the invariant holds', () => {
  // Hashes crowded onto a few home slots at the end of the table, so runs wrap and shift.
  const hashArb = fc.integer({ min: 0, max: 11 }).map((k) => ((13 + (k % 3)) | ((k >> 2) << 4)) + 0x7ffffff0 * (k & 1));
  const opArb = fc.tuple(fc.boolean(), hashArb, fc.integer({ min: 0, max: 5 }), fc.nat());
  let removedSome = 0;
  let grew = 0;
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 200, size: 'max' }), (ops) => {
      const idx = new HashIndex(4);
      const model: Array<[number, number]> = [];
      const startSlots = slotsOf(idx);
      for (const [insert, hash, id, pick] of ops) {
        if (insert || model.length === 0) {
          idx.insert(hash, id);
          model.push([hash | 0, id]);
        } else {
          const [h, i] = model.splice(pick % model.length, 1)[0];
          assert.equal(idx.remove(h, i), true);
          removedSome++;
        }
        assert.equal(idx.size, model.length);
        assertProbeInvariant(idx);
      }
      if (slotsOf(idx) > startSlots) grew++;
      const hashes = new Set(model.map(([h]) => h));
      for (const h of hashes) {
        const want = model.filter(([mh]) => mh === h).map(([, i]) => i).sort();
        assert.deepEqual(idsUnder(idx, h).sort(), want);
      }
    }),
    { numRuns: 200 },
  );
  assert.ok(removedSome > 0 && grew > 0, 'the runs removed entries and grew the index');
});

test('tupleHash: deterministic, a signed 32-bit value, and never equal for two tuples that differ in one field', () => {
  // Each mixing round is a bijection of the state for a fixed word, and of the word
  // for a fixed state: tuples that differ in exactly one field cannot collide.
  const tupleArb = fc.tuple(
    fc.integer({ min: 0, max: 255 }),
    fc.nat({ max: 0xffffffff }),
    fc.nat({ max: 0xffff }),
    fc.nat({ max: 0xffffffff }),
    fc.nat({ max: 0xffff }),
  );
  fc.assert(
    fc.property(tupleArb, fc.integer({ min: 0, max: 4 }), fc.nat({ max: 0xffffffff }), (x, field, raw) => {
      const h = tupleHash(...x);
      assert.equal(tupleHash(...x), h);
      assert.equal(h | 0, h);
      const y = [...x] as typeof x;
      const limit = [256, 2 ** 32, 65536, 2 ** 32, 65536][field];
      y[field] = raw % limit;
      if (y[field] === x[field]) y[field] = (y[field] + 1) % limit;
      assert.notEqual(tupleHash(...y), h);
    }),
    { numRuns: 5000 },
  );
});

test('tupleHash: protocol and first port share a word without overlap: ICMP, TCP and UDP with every port give distinct hashes', () => {
  const seen = new Set<number>();
  for (const proto of [1, 6, 17]) for (let port = 0; port < 65536; port++) seen.add(tupleHash(proto, 0x0a000002, port, 0xc6336403, 3478));
  assert.equal(seen.size, 3 * 65536);
});
