import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HashIndex, tupleHash } from '../../src/nat/hash-index.js';

test('HashIndex behaves like a multimap under any sequence of inserts and removes', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 5 })), { maxLength: 400 }),
      (ops) => {
        // Small hash space on purpose: many collisions exercise probing and backward shift.
        const idx = new HashIndex(4);
        const model = new Set<string>();
        let nextId = 0;
        const ids = new Map<string, number>();
        for (const [insert, key, hashBucket] of ops) {
          const k = `${key}/${hashBucket}`;
          const hash = hashBucket * 7919;
          if (insert && !model.has(k)) {
            const id = nextId++;
            ids.set(k, id);
            model.add(k);
            idx.insert(hash, id);
          } else if (!insert && model.has(k)) {
            assert.ok(idx.remove(hash, ids.get(k)!));
            model.delete(k);
          }
        }
        assert.equal(idx.size, model.size);
        for (const k of model) {
          const id = ids.get(k)!;
          const hash = Number(k.split('/')[1]) * 7919;
          assert.equal(idx.find(hash, (x) => x === id), id);
        }
      },
    ),
  );
});

test('tupleHash spreads nearby tuples', () => {
  const seen = new Set<number>();
  for (let port = 1000; port < 2000; port++) seen.add(tupleHash(17, 0x0a000002, port, 0xc6336402, 3478) & 0xfff);
  assert.ok(seen.size > 700, `only ${seen.size} distinct low bits out of 1000`);
});
