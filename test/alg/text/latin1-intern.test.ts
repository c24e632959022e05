/**
 * Strings from bytes: latin1, lowerLatin1 and internLatin1 give the same
 * text as a char-by-char build, and interning never returns another text's
 * string.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { latin1, lowerLatin1 } from '../../../src/alg/text/latin1.js';
import { internLatin1 } from '../../../src/alg/text/intern.js';

function naiveText(b: Uint8Array, start: number, end: number, lower = false): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(lower && b[i] >= 0x41 && b[i] <= 0x5a ? b[i] | 0x20 : b[i]);
  return s;
}

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
