/** Q.931 as H.225.0 carries it: header, call reference, information elements, and the User-User element with its 16-bit length. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseQ931, Q931 } from '../../../src/alg/h323/q931.js';
import { vector } from './oracle-vectors.js';

test('the oracle Setup: call reference, flag, type, and where the PER encoding lies', () => {
  const b = vector('setup-v4-faststart-tunnelled').bytes;
  const q = parseQ931(b, 4, b.length);
  assert.equal(typeof q, 'object');
  const m = q as Exclude<typeof q, string>;
  assert.equal(m.messageType, Q931.SETUP);
  assert.equal(m.callReference, 0x77f4);
  assert.equal(m.fromDestination, false);
  assert.equal(m.userInfoStart, 4 + 2 + 2 + 1 + 3 + 1);
  assert.equal(m.userInfoEnd, b.length);
});

test('the call reference flag of the answering side', () => {
  const b = vector('connect-h245-faststart-tunnelled-ack').bytes;
  const m = parseQ931(b, 4, b.length) as Exclude<ReturnType<typeof parseQ931>, string>;
  assert.equal(m.fromDestination, true);
  assert.equal(m.callReference, 0x77f4);
});

/** Q.931 with the given elements after a Setup header (call reference 1). */
const q931 = (...ies: number[]) => Uint8Array.from([8, 2, 0, 1, 5, ...ies]);

test('elements before the User-User element are stepped over by their lengths; single-octet ones take one octet', () => {
  const b = q931(0x04, 3, 0x88, 0x90, 0xa5, 0xa1, 0x6c, 2, 0x01, 0x80, 0x7e, 0, 3, 5, 0xaa, 0xbb);
  const m = parseQ931(b, 0, b.length) as Exclude<ReturnType<typeof parseQ931>, string>;
  assert.equal(m.userInfoStart, b.length - 2);
  assert.equal(m.userInfoEnd, b.length);
});

test('no User-User element: a message with nothing to rewrite', () => {
  const b = q931(0x04, 3, 0x88, 0x90, 0xa5);
  assert.equal((parseQ931(b, 0, b.length) as { userInfoStart: number }).userInfoStart, -1);
});

test('CVE-2026-23455 shape: a User-User element of length 0 (no protocol discriminator) is refused, not read before its start', () => {
  const b = q931(0x7e, 0, 0);
  assert.equal(parseQ931(b, 0, b.length), 'User-User element with no protocol discriminator');
});

test('lengths that run past the message are refused', () => {
  assert.match(String(parseQ931(q931(0x7e, 0, 9, 5, 1), 0, 10)), /runs past/);
  assert.match(String(parseQ931(q931(0x04, 9, 1), 0, 8)), /runs past/);
  assert.match(String(parseQ931(q931(0x7e, 0), 0, 7)), /ends inside/);
  assert.match(String(parseQ931(Uint8Array.from([8, 2, 0]), 0, 3)), /ends inside its call reference/);
  assert.match(String(parseQ931(Uint8Array.from([9, 2, 0, 1, 5]), 0, 5)), /discriminator/);
});

test('two User-User elements are refused (which one would the peer read?)', () => {
  const b = q931(0x7e, 0, 2, 5, 1, 0x7e, 0, 2, 5, 2);
  assert.equal(parseQ931(b, 0, b.length), 'two User-User elements');
});

test('after a locking shift to another codeset, 0x7E is that codeset\'s element, not H.225.0\'s', () => {
  const b = q931(0x96, 0x7e, 2, 5, 1);
  assert.equal((parseQ931(b, 0, b.length) as { userInfoStart: number }).userInfoStart, -1);
  // A non-locking shift covers the next element only.
  const c = q931(0x9e, 0x7e, 2, 5, 1, 0x7e, 0, 2, 5, 7);
  assert.equal((parseQ931(c, 0, c.length) as { userInfoStart: number }).userInfoStart, c.length - 1);
});

test('property: arbitrary bytes never throw, and what is found lies inside the message', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), (b) => {
      const q = parseQ931(b, 0, b.length);
      if (typeof q === 'string') return;
      if (q.userInfoStart >= 0) assert.ok(q.userInfoStart <= q.userInfoEnd && q.userInfoEnd <= b.length);
    }),
    { numRuns: 3000 },
  );
});
