import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeStunMessage, encodeStunMessage, type StunMessage } from '../../src/stun/message.js';
import { StunDecodeError } from '../../src/stun/errors.js';
import type { StunAttribute } from '../../src/stun/attributes.js';
import { formatIPv4, formatIPv6, parseIPv6 } from '../../src/stun/ip-address.js';
import { checkFingerprint, checkIntegrity } from '../../src/stun/integrity.js';

const NUM_RUNS = 2000;

/** Arbitrary bytes, plus bytes behind a plausible header so the attribute walk is exercised too. */
const stunish = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  fc
    .tuple(fc.integer({ min: 0, max: 0x3fff }), fc.uint8Array({ minLength: 12, maxLength: 12 }), fc.uint8Array({ maxLength: 160 }))
    .map(([type, id, body]) => {
      const len = body.length & ~3;
      const b = new Uint8Array(20 + len);
      b[0] = type >> 8;
      b[1] = type & 0xff;
      b[2] = len >> 8;
      b[3] = len & 0xff;
      b.set([0x21, 0x12, 0xa4, 0x42], 4);
      b.set(id, 8);
      b.set(body.subarray(0, len), 20);
      return b;
    }),
);

test('arbitrary bytes: decode returns or throws StunDecodeError, never anything else', () => {
  fc.assert(
    fc.property(stunish, (bytes) => {
      try {
        decodeStunMessage(bytes);
      } catch (e) {
        if (!(e instanceof StunDecodeError)) throw e;
      }
      try {
        decodeStunMessage(bytes, { allowTrailing: true, allowClassic: false });
      } catch (e) {
        if (!(e instanceof StunDecodeError)) throw e;
      }
    }),
    { numRuns: NUM_RUNS * 5 },
  );
});

test('whatever decodes re-encodes to the same bytes, and checks on it never throw', () => {
  fc.assert(
    fc.property(stunish, (bytes) => {
      let d;
      try {
        d = decodeStunMessage(bytes);
      } catch {
        return;
      }
      assert.deepEqual(encodeStunMessage(d), bytes);
      checkFingerprint(d);
      checkIntegrity(d, new Uint8Array(16));
      checkIntegrity(d, new Uint8Array(16), 'sha256');
    }),
    { numRuns: NUM_RUNS * 5 },
  );
});

const ipv4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => formatIPv4(b));
const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatIPv6(b));
const endpoint = fc.record({ address: fc.oneof(ipv4, ipv6), port: fc.integer({ min: 0, max: 65535 }) }, { noNullPrototype: true });
const text = fc.string({ maxLength: 40, unit: 'grapheme' }).filter((s) => !s.startsWith('\uFEFF'));

const attribute: fc.Arbitrary<StunAttribute> = fc.oneof(
  fc.record({
    type: fc.constantFrom(
      'MAPPED-ADDRESS',
      'XOR-MAPPED-ADDRESS',
      'RESPONSE-ORIGIN',
      'OTHER-ADDRESS',
      'ALTERNATE-SERVER',
      'XOR-PEER-ADDRESS',
      'XOR-RELAYED-ADDRESS',
    ),
    address: endpoint,
  }),
  fc.record({ type: fc.constantFrom('USERNAME', 'REALM', 'NONCE', 'SOFTWARE'), value: text }),
  fc.record({ type: fc.constant('ERROR-CODE'), code: fc.integer({ min: 300, max: 699 }), reason: text }),
  fc.record({ type: fc.constant('UNKNOWN-ATTRIBUTES'), types: fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 6 }) }),
  fc.record({ type: fc.constant('CHANGE-REQUEST'), changeIp: fc.boolean(), changePort: fc.boolean() }),
  fc.record({ type: fc.constant('RESPONSE-PORT'), port: fc.integer({ min: 0, max: 65535 }) }),
  fc.record({ type: fc.constant('PADDING'), value: fc.uint8Array({ maxLength: 30 }) }),
  // Codes the codec does not model (0x7f00.. and 0xff00.. are unassigned).
  fc.record({
    type: fc.constant('raw'),
    code: fc.oneof(fc.integer({ min: 0x7f00, max: 0x7fff }), fc.integer({ min: 0xff00, max: 0xffff })),
    value: fc.uint8Array({ maxLength: 30 }),
  }),
  // fc.record builds null-prototype objects; the decoder builds plain ones.
).map((a) => ({ ...a })) as fc.Arbitrary<StunAttribute>;

const message: fc.Arbitrary<StunMessage> = fc.record({
  cls: fc.constantFrom('request', 'indication', 'success', 'error'),
  method: fc.integer({ min: 0, max: 0xfff }),
  transactionId: fc.uint8Array({ minLength: 12, maxLength: 12 }),
  attributes: fc.array(attribute, { maxLength: 8 }),
}) as fc.Arbitrary<StunMessage>;

test('typed messages round-trip through encode and decode', () => {
  fc.assert(
    fc.property(message, fc.boolean(), (m, signed) => {
      const key = new Uint8Array([1, 2, 3]);
      const attrs = signed ? [...m.attributes, { type: 'MESSAGE-INTEGRITY' } as const, { type: 'FINGERPRINT' } as const] : m.attributes;
      const bytes = encodeStunMessage({ ...m, attributes: attrs }, { integrityKey: key });
      assert.equal(bytes.length % 4, 0);
      const d = decodeStunMessage(bytes);
      assert.equal(d.cls, m.cls);
      assert.equal(d.method, m.method);
      assert.deepEqual(d.transactionId, m.transactionId);
      assert.deepEqual(d.attributes.slice(0, m.attributes.length), m.attributes);
      if (signed) {
        assert.equal(checkIntegrity(d, key), 'ok');
        assert.equal(checkFingerprint(d), 'ok');
      }
    }),
    { numRuns: NUM_RUNS },
  );
});

test('IPv6 text: formatting then parsing gives the same 16 bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
      assert.deepEqual(parseIPv6(formatIPv6(b)), b);
    }),
    { numRuns: NUM_RUNS },
  );
});
