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

test('tupleHash keeps tuples that vary together apart (no XOR cancellation)', () => {
  // Consecutive inside addresses x consecutive ports: the pattern of a busy LAN.
  const full = new Set<number>();
  const low = new Set<number>();
  for (let host = 0; host < 256; host++) {
    for (let port = 20000; port < 21024; port++) {
      const h = tupleHash(17, (0x0a000001 + host) >>> 0, port, 0, 0);
      full.add(h);
      low.add(h & 0x3ffff);
    }
  }
  // A random 32-bit hash collides about n^2 / 2^33 = 8 times here; the broken XOR hash collided 99.7%.
  assert.ok(256 * 1024 - full.size < 40, `${256 * 1024 - full.size} full-hash collisions`);
  // Uniform hashing of 262,144 keys into 262,144 buckets fills about 1 - 1/e of them.
  assert.ok(low.size > 0.6 * 262_144, `low 18 bits: ${low.size} distinct`);
});
