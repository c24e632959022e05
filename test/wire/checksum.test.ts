import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  adjustChecksum,
  internetChecksum,
  sumWords,
  updateChecksum16,
  updateChecksum32,
} from '../../src/wire/checksum.js';

/** A from-scratch RFC 1071 checksum, written independently of the code under test. */
function reference(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    sum += (bytes[i] << 8) + (i + 1 < bytes.length ? bytes[i + 1] : 0);
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  return ~sum & 0xffff;
}

test('internetChecksum matches a from-scratch computation', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1500 }), (b) => {
      assert.equal(internetChecksum(b, 0, b.length), reference(b));
    }),
  );
});

test('RFC 1071 example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2', () => {
  const b = Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
  assert.equal(sumWords(b, 0, b.length) % 0xffff, 0xddf2 % 0xffff);
  assert.equal(internetChecksum(b, 0, b.length), ~0xddf2 & 0xffff);
});

test('incremental update of a 16-bit word equals recomputation (RFC 1624)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 4, maxLength: 200 }), fc.nat(), fc.integer({ min: 0, max: 0xffff }), (b, at, word) => {
      const even = b.length & ~1;
      const pos = (at % (even / 2)) * 2;
      const before = reference(b);
      const old = (b[pos] << 8) | b[pos + 1];
      const copy = b.slice();
      copy[pos] = word >> 8;
      copy[pos + 1] = word & 0xff;
      const full = reference(copy);
      const inc = updateChecksum16(before, old, word);
      // One's complement has two zeros; both encodings verify the same way.
      assert.ok(inc === full || (inc ^ full) === 0xffff && (inc === 0 || full === 0), `${inc} vs ${full}`);
    }),
  );
});

test('incremental update of a 32-bit field equals recomputation', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 8, maxLength: 100 }), fc.nat(), fc.nat({ max: 0xffffffff }), (b, at, value) => {
      const slots = Math.floor(b.length / 4);
      const pos = (at % slots) * 4;
      const before = reference(b);
      const old = ((b[pos] << 24) | (b[pos + 1] << 16) | (b[pos + 2] << 8) | b[pos + 3]) >>> 0;
      const copy = b.slice();
      copy[pos] = value >>> 24;
      copy[pos + 1] = (value >>> 16) & 0xff;
      copy[pos + 2] = (value >>> 8) & 0xff;
      copy[pos + 3] = value & 0xff;
      const full = reference(copy);
      const inc = updateChecksum32(before, old, value);
      assert.ok(inc === full || ((inc === 0 || full === 0) && (inc | full) === 0xffff), `${inc} vs ${full}`);
    }),
  );
});

test('adjustChecksum applies a change of many words at once', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 2, maxLength: 64 }).map((b) => b.subarray(0, b.length & ~1)), fc.uint8Array({ minLength: 64, maxLength: 64 }), (b, repl) => {
      if (b.length === 0) return;
      const before = reference(b);
      const oldSum = sumWords(b, 0, b.length);
      const copy = repl.subarray(0, b.length).slice();
      const newSum = sumWords(copy, 0, copy.length);
      const adj = adjustChecksum(before, oldSum, newSum);
      const full = reference(copy);
      assert.ok(adj === full || ((adj === 0 || full === 0) && (adj | full) === 0xffff), `${adj} vs ${full}`);
    }),
  );
});
