/**
 * Address text and the addon's address words: text goes to words and back
 * unchanged, and IPv6 text is written the way node:dgram (libuv) writes it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { addressWords, ipv6WordsToString } from '../../src/net/address-words.js';
import { ipv4ToString } from '../../src/wire/address.js';

const noInterfaces = () => 0;
const u32 = fc.integer({ min: 0, max: 0xffffffff });

test('IPv4 text to words and back', () => {
  fc.assert(
    fc.property(u32, (a) => {
      const w = addressWords(ipv4ToString(a), noInterfaces);
      assert.deepEqual(w, { family: 4, w0: a, w1: 0, w2: 0, w3: 0, scope: 0 });
    }),
  );
});

test('IPv6 words to text and back (sparse words, so runs of zeros are common)', () => {
  const word = fc.oneof(fc.constant(0), fc.constant(0xffff), u32);
  fc.assert(
    fc.property(word, word, word, word, (w0, w1, w2, w3) => {
      const text = ipv6WordsToString(w0, w1, w2, w3);
      const back = addressWords(text, noInterfaces);
      assert.deepEqual(back, { family: 6, w0, w1, w2, w3, scope: 0 }, text);
    }),
  );
});

test('IPv6 text as libuv writes it: v4-mapped and v4-compatible end in a dotted quad, the rest RFC 5952', () => {
  assert.equal(ipv6WordsToString(0, 0, 0xffff, 0x7f000001), '::ffff:127.0.0.1');
  assert.equal(ipv6WordsToString(0, 0, 0, 0x01020304), '::1.2.3.4');
  assert.equal(ipv6WordsToString(0, 0, 0, 1), '::1');
  assert.equal(ipv6WordsToString(0, 0, 0, 0), '::');
  assert.equal(ipv6WordsToString(0x20010db8, 0, 0, 1), '2001:db8::1');
  assert.equal(ipv6WordsToString(0xfe800000, 0, 0x02000000, 0x0000abcd), 'fe80::200:0:0:abcd');
});

test('zones: a number or an interface name; names are not literals', () => {
  assert.deepEqual(addressWords('fe80::1%7', noInterfaces), { family: 6, w0: 0xfe800000, w1: 0, w2: 0, w3: 1, scope: 7 });
  assert.equal(addressWords('fe80::1%eth9', (n) => (n === 'eth9' ? 3 : 0))?.scope, 3);
  assert.equal(addressWords('fe80::1%nosuch', noInterfaces), null);
  assert.equal(addressWords('localhost', noInterfaces), null);
  assert.equal(addressWords('010.0.0.1', noInterfaces), null);
  assert.equal(addressWords('1::2::3', noInterfaces), null);
});
