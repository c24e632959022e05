/**
 * The word-at-a-time scans agree with a byte loop wherever the range starts
 * and ends (and whatever the array's offset in its buffer), and never throw
 * on offsets outside the array.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { findLineBreak, findByte } from '../../../src/alg/text/byte-search.js';

function naiveLineBreak(b: Uint8Array, i: number, end: number): number {
  for (; i < end; i++) if (b[i] === 0x0d || b[i] === 0x0a) return i;
  return end;
}

function naiveFind(b: Uint8Array, c: number, i: number, end: number): number {
  for (; i < end; i++) if (b[i] === c) return i;
  return -1;
}

/** Bytes biased towards the ones the scans look for and their neighbours (controls, high bytes that alias them). */
const interesting = fc.oneof(
  fc.constantFrom(0x0d, 0x0a, 0x09, 0x00, 0x0e, 0x0c, 0x8d, 0x8a, 0x3e, 0xbe, 0x20, 0x61, 0xff),
  fc.integer({ min: 0, max: 255 }),
);
/** An array that may sit at any offset of a larger buffer (the word reads must respect byteOffset). */
const placedBytes = fc.tuple(fc.array(interesting, { maxLength: 90, size: 'max' }), fc.nat(7), fc.nat(7)).map(([bytes, before, after]) => {
  const buf = new Uint8Array(before + bytes.length + after).fill(0x0d);
  buf.set(bytes, before);
  return buf.subarray(before, before + bytes.length);
});

test('findLineBreak and findByte agree with a byte loop on any range of any placed array', () => {
  fc.assert(
    fc.property(placedBytes, fc.nat(), fc.nat(), interesting, (b, x, y, c) => {
      const i = b.length === 0 ? 0 : x % (b.length + 1);
      const end = i + (b.length - i === 0 ? 0 : y % (b.length - i + 1));
      assert.equal(findLineBreak(b, i, end), naiveLineBreak(b, i, end));
      assert.equal(findByte(b, c, i, end), naiveFind(b, c, i, end));
    }),
    { numRuns: 3000 },
  );
});

test('a long run with the byte only at the end, at every alignment', () => {
  for (let len = 0; len < 70; len++) {
    for (let off = 0; off < 4; off++) {
      const buf = new Uint8Array(off + len + 1).fill(0x61);
      const b = buf.subarray(off, off + len + 1);
      for (const c of [0x0a, 0x0d]) {
        b[len] = c;
        assert.equal(findLineBreak(b, 0, b.length), len);
      }
      b[len] = 0x09;
      assert.equal(findLineBreak(b, 0, b.length), len + 1, 'another control byte is not a line break');
      b[len] = 0x3e;
      assert.equal(findByte(b, 0x3e, 0, b.length), len);
      assert.equal(findByte(b, 0x3e, 0, len), -1, 'the end bounds the search');
    }
  }
});

test('the scans never throw on offsets outside the array', () => {
  const b = new Uint8Array(40).fill(0x61);
  for (const [i, end] of [[-8, 40], [-8, 80], [0, 80], [30, 100], [50, 60], [-100, -50]]) {
    assert.doesNotThrow(() => findLineBreak(b, i, end));
    assert.doesNotThrow(() => findByte(b, 0x3e, i, end));
  }
  assert.equal(findLineBreak(b, 0, 80), 80, 'bytes past the array are not line breaks');
  assert.equal(findByte(b, 0x3e, 0, 80), -1);
});

test('subarrays of one buffer scanned in turn, and a resizable buffer that grew, are each read at their own bytes', () => {
  const buf = new Uint8Array(256).fill(0x61);
  for (let k = 0; k < 256; k += 16) buf[k + 15] = 0x0d;
  for (let round = 0; round < 3; round++) {
    for (let k = 0; k < 256; k += 16) {
      const b = buf.subarray(k, k + 16);
      assert.equal(findLineBreak(b, 0, 16), 15, `subarray at ${k}`);
      assert.equal(findByte(b, 0x0d, 0, 15), -1, `subarray at ${k}: its end bounds the search`);
    }
  }
  // (Resizable buffers are in Node 20 but not in this project's TypeScript lib.)
  const ab = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void })(16, { maxByteLength: 64 });
  const whole = new Uint8Array(ab);
  whole.fill(0x61);
  assert.equal(findLineBreak(whole, 0, whole.length), 16);
  ab.resize(64);
  whole.fill(0x61);
  whole[50] = 0x0a;
  assert.equal(findLineBreak(whole, 0, whole.length), 50, 'the grown bytes are read');
  assert.equal(findByte(new Uint8Array(ab, 32, 32), 0x0a, 0, 32), 18);
});
