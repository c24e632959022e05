/** Strict CR LF lines and decimals read in place agree with plain references on any bytes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BARE_LINE_BREAK, crlfLineEnd, leadingCrlfLength, NO_LINE_END } from '../../../src/alg/text/crlf-lines.js';
import { parseUint } from '../../../src/alg/text/decimal.js';
import { latin1Bytes } from '../sip/fixtures.js';

const lineText = fc.array(fc.constantFrom('a', ' ', '\r', '\n', '\r\n', '\t', '0'), { maxLength: 30 }).map((a) => a.join(''));

test('crlfLineEnd: the first CR or LF decides, and only a CR LF ends a line', () => {
  fc.assert(
    fc.property(lineText, (s) => {
      const b = latin1Bytes(s);
      const k = s.search(/[\r\n]/);
      const expected = k < 0 ? NO_LINE_END : s[k] === '\n' ? BARE_LINE_BREAK : k + 1 >= s.length ? NO_LINE_END : s[k + 1] === '\n' ? k : BARE_LINE_BREAK;
      assert.equal(crlfLineEnd(b, 0, b.length), expected, JSON.stringify(s));
    }),
    { numRuns: 3000 },
  );
});

test('leadingCrlfLength counts whole CR LF pairs only', () => {
  assert.equal(leadingCrlfLength(latin1Bytes('\r\n\r\nINVITE'), 0, 10), 4);
  assert.equal(leadingCrlfLength(latin1Bytes('\r\n\r'), 0, 3), 2);
  assert.equal(leadingCrlfLength(latin1Bytes('\n\r\n'), 0, 3), 0);
  assert.equal(leadingCrlfLength(latin1Bytes('x\r\n\r\n'), 1, 5), 4);
  assert.equal(leadingCrlfLength(latin1Bytes('\r\n\r\n'), 0, 3), 2, 'the end bounds it');
});

test('parseUint: digits only, at most max, else -1', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom('0', '1', '5', '9', '-', '+', ' ', 'a'), { maxLength: 8 }).map((a) => a.join('')), fc.constantFrom(255, 65535, 0xffffffff), (s, max) => {
      const expected = /^\d+$/.test(s) && Number(s) <= max ? Number(s) : -1;
      assert.equal(parseUint(latin1Bytes(`x${s}x`), 1, 1 + s.length, max), expected, s);
    }),
    { numRuns: 2000 },
  );
});
