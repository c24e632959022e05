/**
 * The one dotted-quad rule (tryParseIpv4, parseIpv4): exactly what Node's
 * net.isIPv4 accepts, the number it names, and text back again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv4 } from 'node:net';
import fc from 'fast-check';
import { AddressError, ipv4ToString, isIpv4Text, parseIpv4, parseIpv4Prefix, tryParseIpv4 } from '../../src/wire/address.js';

test('tryParseIpv4 accepts exactly what net.isIPv4 accepts', () => {
  const octet = fc.oneof(fc.nat(300).map(String), fc.constantFrom('0', '00', '01', '010', '255', '256', '1000', '', 'x', ' 1', '1 ', '+1', '-1', '1e2'));
  const text = fc.oneof(
    fc.array(octet, { minLength: 1, maxLength: 5 }).map((p) => p.join('.')),
    fc.string({ maxLength: 16 }),
    fc.constantFrom('1.2.3.4.', '.1.2.3', '1..2.3', '127.0.0.1', '0.0.0.0', '255.255.255.255', '::1', '1.2.3.4 ', ' 1.2.3.4', '010.0.0.1', '1.2.3.04', '١.٢.٣.٤'),
  );
  fc.assert(
    fc.property(text, (t) => {
      assert.equal(tryParseIpv4(t) !== null, isIPv4(t), JSON.stringify(t));
      assert.equal(isIpv4Text(t), isIPv4(t));
    }),
    { numRuns: 5000 },
  );
});

test('the number is the address: octets big-endian, and ipv4ToString gives the text back', () => {
  fc.assert(
    fc.property(fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)), (o) => {
      const text = o.join('.');
      const a = parseIpv4(text);
      assert.equal(a, ((o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]) >>> 0);
      assert.equal(ipv4ToString(a), text);
    }),
  );
  fc.assert(fc.property(fc.nat({ max: 0xffffffff }), (a) => assert.equal(tryParseIpv4(ipv4ToString(a)), a)));
});

test('parseIpv4 names what it was given when it refuses; prefixes follow the same rule', () => {
  for (const bad of ['010.0.0.1', '1.2.3', ' 1.2.3.4', '1.2.3.256', '']) {
    assert.throws(() => parseIpv4(bad), (e: unknown) => e instanceof AddressError && e.message === `not an IPv4 address: ${JSON.stringify(bad)}`);
  }
  assert.equal(parseIpv4Prefix('10.0.1.7/24').network, parseIpv4('10.0.1.0'));
  assert.throws(() => parseIpv4Prefix('010.0.1.0/24'), AddressError);
  assert.throws(() => parseIpv4Prefix('10.0.1.0/24 '), AddressError);
});
