/** Host texts checked in place: dotted quads, IPv6 texts, hostnames. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isHostname, isIpv4, isIpv6 } from '../../../src/alg/text/host-text.js';
import { latin1Bytes } from '../sip/fixtures.js';

test('property: isIpv4 is four dot-separated decimal octets of one to three digits, each at most 255', () => {
  const reference = (s: string) => /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(s) && s.split('.').every((o) => Number(o) <= 255);
  const text = fc.array(fc.constantFrom('0', '1', '2', '5', '9', '.', 'a', ':', '25', '255', '256', '00'), { maxLength: 14 }).map((a) => a.join(''));
  fc.assert(
    fc.property(text, (s) => {
      const b = latin1Bytes(`x${s}y`);
      assert.equal(isIpv4(b, 1, 1 + s.length), reference(s), s);
    }),
    { numRuns: 5000 },
  );
});

test('IPv6 texts and hostnames, inside a larger buffer', () => {
  const check = (f: (b: Uint8Array, s: number, e: number) => boolean, s: string) => f(latin1Bytes(`[${s}]`), 1, 1 + s.length);
  for (const s of ['::1', '2001:db8::7', '::ffff:192.0.2.1', 'fe80:0:0:0:0:0:0:1']) assert.ok(check(isIpv6, s), s);
  for (const s of [':', '1:2', '::ffff:192.0.2.256', '2001:db8::g', '1:2:3:4:5:6:7:8:9']) assert.ok(!check(isIpv6, s), s);
  for (const s of ['example.com', 'a', 'pbx-1.example.com.', '10.0.1.2']) assert.ok(check(isHostname, s), s);
  for (const s of ['', '.', '-a.com', 'a-.com', 'a..com', 'a_b.com']) assert.ok(!check(isHostname, s), s);
});
