/**
 * The ng protocol's bencode: known encodings, round trips (property), and
 * that hostile input is refused with a reason instead of a throw.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { bdecode, bencode, MAX_DEPTH, text, type BValue } from '../../src/sipproxy/ng/bencode.js';
import { encodeNgMessage, parseNgMessage } from '../../src/sipproxy/ng/message.js';

const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
const str = (b: Uint8Array) => Buffer.from(b).toString('latin1');

test('encodes integers, strings, lists and dictionaries (keys sorted by bytes, undefined left out)', () => {
  assert.equal(str(bencode(42)), 'i42e');
  assert.equal(str(bencode(-7)), 'i-7e');
  assert.equal(str(bencode(true)), 'i1e');
  assert.equal(str(bencode('spam')), '4:spam');
  assert.equal(str(bencode(['a', 1])), 'l1:ai1ee');
  assert.equal(str(bencode({ 'call-id': 'x', command: 'ping', absent: undefined, a: [] })), 'd1:ale7:call-id1:x7:command4:pinge');
  assert.throws(() => bencode(1.5), RangeError);
});

test('decodes what rtpengine sends, byte strings stay bytes', () => {
  const r = bdecode(bytes('d6:result2:ok3:sdp5:v=0\r\n4:listli1ei-2eee'));
  assert.ok(r.ok);
  const d = r.value as Map<string, BValue>;
  assert.equal(text(d.get('result')), 'ok');
  assert.equal(text(d.get('sdp')), 'v=0\r\n');
  assert.deepEqual(d.get('list'), [1, -2]);
});

test('refuses malformed and hostile input with a reason', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /truncated/],
    ['i12', /malformed integer/],
    ['i-0e', /malformed integer/],
    ['i03e', /malformed integer/],
    ['i99999999999999999999e', /too large/],
    ['5:abc', /longer than the message/],
    ['99999999999:a', /longer than the message/],
    ['03:abc', /malformed string length/],
    ['l1:a', /unterminated list/],
    ['d1:a', /truncated/],
    ['di1ei2ee', /dictionary key/],
    ['x', /unexpected byte/],
    ['l'.repeat(40) + 'e'.repeat(40), /nested too deeply/],
  ];
  for (const [input, reason] of cases) {
    const r = bdecode(bytes(input));
    assert.equal(r.ok, false, input);
    if (!r.ok) assert.match(r.reason, reason, input);
  }
  const many = bdecode(bytes('l' + 'i1e'.repeat(5000) + 'e'));
  assert.equal(many.ok, false);
  if (!many.ok) assert.match(many.reason, /too many elements/);
});

test('a repeated dictionary key: the first one stands', () => {
  const r = bdecode(bytes('d1:ai1e1:ai2ee'));
  assert.ok(r.ok);
  assert.equal((r.value as Map<string, BValue>).get('a'), 1);
});

const value: fc.Arbitrary<BValue> = fc.letrec<{ v: BValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.maxSafeInteger(),
    fc.uint8Array({ maxLength: 40 }),
    fc.array(tie('v'), { maxLength: 5 }),
    fc.uniqueArray(fc.tuple(fc.string({ unit: 'binary-ascii', maxLength: 8 }), tie('v')), { maxLength: 5, selector: (e) => e[0] }).map((es) => new Map(es)),
  ),
})).v;

/** Map keys in encoding order (what a round trip through the wire gives back). */
function canonical(v: BValue): unknown {
  if (v instanceof Map) return [...v.entries()].sort((a, b) => Buffer.compare(Buffer.from(a[0], 'latin1'), Buffer.from(b[0], 'latin1'))).map(([k, x]) => [k, canonical(x)]);
  if (Array.isArray(v)) return v.map(canonical);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  return v;
}

test('property: decode(encode(v)) is v, and encode is canonical (re-encoding gives the same bytes)', () => {
  fc.assert(
    fc.property(value, (v) => {
      const enc = bencode(v);
      const r = bdecode(enc);
      assert.ok(r.ok);
      assert.equal(r.end, enc.length);
      assert.deepEqual(canonical(r.value), canonical(v));
      assert.deepEqual(bencode(r.value), enc);
    }),
    { numRuns: 300 },
  );
});

test('property: any bytes decode or give a reason, never throw, never read past the end', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), (junk, tail) => {
      const b = new Uint8Array([...junk, ...tail]);
      const r = bdecode(b, 0, junk.length);
      if (r.ok) assert.ok(r.end <= junk.length);
      else assert.equal(typeof r.reason, 'string');
    }),
    { numRuns: 2000 },
  );
});

test('ng datagram: the cookie comes back with the reply; a datagram without one is refused', () => {
  const m = encodeNgMessage('5323_1', { command: 'ping' });
  assert.equal(str(m), '5323_1 d7:command4:pinge');
  const p = parseNgMessage(m);
  assert.ok(p.ok);
  if (p.ok) {
    assert.equal(p.cookie, '5323_1');
    assert.equal(text(p.request.get('command')), 'ping');
  }
  const noCookie = parseNgMessage(bytes('d7:command4:pinge'));
  assert.deepEqual(noCookie, { ok: false, reason: 'no cookie', cookie: null });
  const notDict = parseNgMessage(bytes('abc li1ee'));
  assert.deepEqual(notDict, { ok: false, reason: 'not a dictionary', cookie: 'abc' });
  const bad = parseNgMessage(bytes('abc d3:fooi1'));
  assert.equal(bad.ok, false);
  if (!bad.ok) assert.equal(bad.cookie, 'abc');
});

test('a string length of no digits is refused (a key `:` once decoded as the empty string)', () => {
  const r = bdecode(bytes('d:i1ee'));
  assert.ok(!r.ok);
  assert.match(r.reason, /malformed string length/);
  assert.ok(!bdecode(bytes(':')).ok);
  assert.ok(bdecode(bytes('d0:i1ee')).ok, 'the empty string is `0:`');
});

test('a decoded dictionary re-encodes its keys as the bytes they were (latin1), not as UTF-8', () => {
  const raw = bytes('d3:\xe9t\xe94:pinge');
  const r = bdecode(raw);
  assert.ok(r.ok);
  assert.deepEqual(bencode(r.value as Map<string, BValue>), raw);
  assert.equal(str(bencode({ 'é': 1 })), 'd2:\xc3\xa9i1ee', 'an object key is text, written as UTF-8');
  assert.throws(() => bencode(new Map([['\u0100', 1]])), RangeError);
});

test('nesting stops at MAX_DEPTH whatever the limits: a whole datagram of `l` is refused, not a blown stack', () => {
  for (const n of [MAX_DEPTH + 1, 20_000, 65_000]) {
    const r = bdecode(bytes('l'.repeat(n) + 'e'.repeat(n)), 0, 2 * n, { maxDepth: Infinity, maxElements: Infinity });
    assert.ok(!r.ok);
    assert.equal(r.reason, 'nested too deeply');
  }
  assert.ok(bdecode(bytes('l'.repeat(MAX_DEPTH) + 'e'.repeat(MAX_DEPTH)), 0, 2 * MAX_DEPTH, { maxDepth: Infinity, maxElements: Infinity }).ok);
});
