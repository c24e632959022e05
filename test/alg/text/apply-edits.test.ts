/** Edits applied in one copy: equal to a string splice, whatever their order, and outputs never reused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyEdits } from '../../../src/alg/text/apply-edits.js';
import { edit, type Edit } from '../../../src/alg/text/edit.js';
import { latin1Bytes, text } from '../sip/fixtures.js';

test('replace, insert and delete in one pass, with the length delta', () => {
  const b = latin1Bytes('host=10.0.1.2 port=5060 x');
  const r = applyEdits(b, [edit(5, 13, '203.0.113.1'), edit(19, 23, '40000'), edit(24, 24, 'y'), edit(24, 25, '')]);
  assert.ok(r.ok);
  assert.equal(r.ok && text(r.bytes), 'host=203.0.113.1 port=40000 y');
  assert.equal(r.ok && r.delta, 3 + 1 + 1 - 1);
});

test('unsorted edits are sorted; insertions at one offset keep their order', () => {
  const b = latin1Bytes('abc');
  const r = applyEdits(b, [edit(2, 3, 'C'), edit(1, 1, '1'), edit(1, 1, '2'), edit(0, 1, 'A')]);
  assert.equal(r.ok && text(r.bytes), 'A12bC');
});

test('overlapping or out-of-range edits are refused', () => {
  const b = latin1Bytes('abcdef');
  for (const edits of [
    [edit(0, 3, 'x'), edit(2, 4, 'y')],
    [edit(4, 7, 'x')],
    [edit(-1, 1, 'x')],
    [edit(3, 2, 'x')],
    [edit(1.5, 2, 'x')],
  ]) {
    assert.equal(applyEdits(b, edits).ok, false, JSON.stringify(edits.map((e) => [e.start, e.end])));
  }
});

test('no edits: an equal copy', () => {
  const b = latin1Bytes('unchanged');
  const r = applyEdits(b, []);
  assert.ok(r.ok);
  assert.deepEqual(r.ok && r.bytes, b);
  assert.notEqual(r.ok && r.bytes, b);
});

test('property: applying edits equals the string-splice reference', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.array(fc.tuple(fc.nat(), fc.nat(8), fc.string({ maxLength: 12 })), { maxLength: 8 }),
      (bytes, raw) => {
        // Build non-overlapping edits from random cut points.
        const edits: Edit[] = [];
        let pos = 0;
        for (const [gap, len, s] of raw) {
          const start = Math.min(bytes.length, pos + (gap % 20));
          const end = Math.min(bytes.length, start + len);
          edits.push(edit(start, end, s.replace(/[^\x20-\x7e]/g, '')));
          pos = end;
        }
        const given = [...edits].reverse();
        const r = applyEdits(bytes, given);
        assert.ok(r.ok);
        // The reference: a stable sort by position, so insertions at one offset keep the given order.
        const ordered = [...given].sort((a, b) => a.start - b.start || a.end - b.end);
        let expected = '';
        let src = 0;
        for (const e of ordered) {
          expected += text(bytes.subarray(src, e.start)) + text(e.text);
          src = e.end;
        }
        expected += text(bytes.subarray(src));
        assert.equal(text(r.bytes), expected);
        assert.equal(r.delta, r.bytes.length - bytes.length);
      },
    ),
    { numRuns: 300 },
  );
});

/** The reference result: a stable sort by position, then a splice per edit. */
function spliced(bytes: Uint8Array, edits: readonly Edit[]): Uint8Array {
  const ordered = [...edits].sort((a, b) => a.start - b.start || a.end - b.end);
  const parts: number[] = [];
  let src = 0;
  for (const e of ordered) {
    for (let i = src; i < e.start; i++) parts.push(bytes[i]);
    for (const c of e.text) parts.push(c);
    src = e.end;
  }
  for (let i = src; i < bytes.length; i++) parts.push(bytes[i]);
  return Uint8Array.from(parts);
}

/** Non-overlapping edits over `length` bytes: any mix of growing, shrinking and same-length ones, long texts too. */
const editSet = (length: number) =>
  fc
    .array(fc.tuple(fc.nat(60), fc.nat(12), fc.uint8Array({ maxLength: 40 })), { maxLength: 10, size: 'max' })
    .map((raw) => {
      const edits: Edit[] = [];
      let pos = 0;
      for (const [gap, len, text] of raw) {
        const start = Math.min(length, pos + gap);
        const end = Math.min(length, start + len);
        edits.push({ start, end, text });
        pos = end;
      }
      return edits;
    });

test('property: any order, any length change, inputs large and small: equals the reference', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 6000 }).chain((n) => fc.tuple(fc.uint8Array({ minLength: n, maxLength: n }), editSet(n), fc.nat())),
      ([bytes, edits, seed]) => {
        // A deterministic shuffle of the edits (insertions at one offset keep their relative order in the reference too).
        const given = edits.map((e, k) => ({ e, key: (k * 2654435761 + seed) % 97 })).sort((a, b) => a.key - b.key).map((x) => x.e);
        const r = applyEdits(bytes, given);
        assert.ok(r.ok, r.ok ? '' : r.reason);
        assert.deepEqual(r.bytes, spliced(bytes, given));
        assert.equal(r.delta, r.bytes.length - bytes.length);
      },
    ),
    { numRuns: 400 },
  );
});

test('outputs are never reused: results kept across thousands of later calls stay as they were', () => {
  const kept: { bytes: Uint8Array; copy: Uint8Array }[] = [];
  const base = latin1Bytes('Via: SIP/2.0/UDP 10.0.1.2:5060;branch=z9hG4bK1\r\n'.repeat(8));
  for (let k = 0; k < 5000; k++) {
    const r = applyEdits(base, [edit(17, 25, `203.0.113.${k % 250}`), edit(26, 30, String(k))]);
    assert.ok(r.ok);
    r.bytes[0] = k & 0xff; // callers may modify what they get
    if (k % 97 === 0) kept.push({ bytes: r.bytes, copy: r.bytes.slice() });
  }
  for (const { bytes, copy } of kept) assert.deepEqual(bytes, copy);
});
