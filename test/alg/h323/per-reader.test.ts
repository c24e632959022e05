import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { PER_FAIL, PerReader } from '../../../src/alg/h323/per-reader.js';

/** The bits of buf from bit `pos`, n of them, one at a time (the reading X.691 describes). */
function slowBits(buf: Uint8Array, pos: number, n: number): number {
  let v = 0;
  for (let p = pos; p < pos + n; p++) v = v * 2 + ((buf[p >>> 3] >>> (7 - (p & 7))) & 1);
  return v;
}

test('bits(n) reads the same number as bit-by-bit reading, at every bit offset and width up to 30', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 12 }), fc.nat(), fc.integer({ min: 1, max: 30 }), (bytes, at, n) => {
      const total = bytes.length * 8;
      if (n > total) return;
      const pos = at % (total - n + 1);
      // A buffer exactly as long as the message: the reader must not need octets past it.
      const r = new PerReader();
      r.reset(bytes, 0, bytes.length, false);
      r.pos = pos;
      assert.equal(r.bits(n), slowBits(bytes, pos, n));
      assert.equal(r.pos, pos + n);
    }),
    { numRuns: 2000 },
  );
});

test('bits(n) past the end of the encoding fails with a reason, without moving', () => {
  const r = new PerReader();
  r.reset(Uint8Array.of(0xff, 0x00, 0xaa), 0, 2, false);
  r.pos = 10;
  assert.throws(() => r.bits(7), (e) => e === PER_FAIL);
  assert.match(r.reason, /truncated at bit 10/);
  assert.equal(r.pos, 10);
  r.pos = 10;
  assert.equal(r.bits(6), 0); // the last 6 bits of the 2-octet encoding, the third octet never read
});
