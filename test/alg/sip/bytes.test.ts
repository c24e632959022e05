/**
 * The byte helpers the tokenizers rely on: word-at-a-time scans agree with a
 * byte loop wherever the range starts and ends (and whatever the array's
 * offset in its buffer), latin1 and internLatin1 give the same text as a
 * char-by-char build, and none of them throws on offsets outside the array.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { findLineBreak, findByte, latin1, lowerLatin1, internLatin1 } from '../../../src/alg/sip/bytes.js';

function naiveLineBreak(b: Uint8Array, i: number, end: number): number {
  for (; i < end; i++) if (b[i] === 0x0d || b[i] === 0x0a) return i;
  return end;
}

function naiveFind(b: Uint8Array, c: number, i: number, end: number): number {
  for (; i < end; i++) if (b[i] === c) return i;
  return -1;
}

function naiveText(b: Uint8Array, start: number, end: number, lower = false): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(lower && b[i] >= 0x41 && b[i] <= 0x5a ? b[i] | 0x20 : b[i]);
  return s;
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

test('latin1, lowerLatin1 and internLatin1 build the same text as a char-by-char loop', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300, size: 'max' }), fc.nat(), fc.nat(), (b, x, y) => {
      const start = x % (b.length + 1);
      const end = start + (y % (b.length - start + 1));
      assert.equal(latin1(b, start, end), naiveText(b, start, end));
      assert.equal(lowerLatin1(b, start, end), naiveText(b, start, end, true));
      assert.equal(internLatin1(b, start, end), naiveText(b, start, end));
      assert.equal(internLatin1(b, start, end, true), naiveText(b, start, end, true));
    }),
    { numRuns: 1000 },
  );
});

test('internLatin1 gives back the same string for the same bytes, and the right one after a slot is reused', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  const a = enc('x10.0.1.2y');
  const first = internLatin1(a, 1, 9);
  assert.equal(first, '10.0.1.2');
  assert.equal(internLatin1(enc('10.0.1.2'), 0, 8), first);
  // Thousands of other addresses go through the table; each answer stays right.
  for (let k = 0; k < 10000; k++) {
    const s = `10.${(k >> 8) & 255}.${k & 255}.7`;
    assert.equal(internLatin1(enc(s), 0, s.length), s);
  }
  assert.equal(internLatin1(a, 1, 9), '10.0.1.2');
  assert.equal(internLatin1(enc('UDP'), 0, 3, true), 'udp');
  assert.equal(internLatin1(enc('udp'), 0, 3), 'udp');
});
