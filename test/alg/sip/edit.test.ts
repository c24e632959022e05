import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyEdits, edit, type Edit } from '../../../src/alg/sip/index.js';
import { latin1Bytes, text } from './fixtures.js';

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
