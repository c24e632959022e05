import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
  decodeStunMessage,
  effectiveAttributes,
  encodeStunMessage,
  getAttribute,
  looksLikeStun,
  type StunMessage,
} from '../../src/stun/message.js';
import { decodeMessageType, encodeMessageType, MAGIC_COOKIE, StunMethod } from '../../src/stun/constants.js';
import { checkFingerprint, checkIntegrity } from '../../src/stun/integrity.js';
import { StunDecodeError, StunEncodeError } from '../../src/stun/errors.js';
import type { StunAttribute } from '../../src/stun/attributes.js';

const tid = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
const key = new TextEncoder().encode('secret');
const msg = (attributes: StunAttribute[], cls: StunMessage['cls'] = 'request'): StunMessage => ({
  cls,
  method: StunMethod.Binding,
  transactionId: tid,
  attributes,
});
const roundTrip = (m: StunMessage) => decodeStunMessage(encodeStunMessage(m, { integrityKey: key }));

function decodeError(bytes: Uint8Array, opts = {}): string {
  try {
    decodeStunMessage(bytes, opts);
  } catch (e) {
    assert.ok(e instanceof StunDecodeError, String(e));
    return e.code;
  }
  return 'decoded';
}

test('message type: class bits interleave with the method (RFC 8489 figure 3)', () => {
  assert.equal(encodeMessageType(StunMethod.Binding, 'request'), 0x0001);
  assert.equal(encodeMessageType(StunMethod.Binding, 'indication'), 0x0011);
  assert.equal(encodeMessageType(StunMethod.Binding, 'success'), 0x0101);
  assert.equal(encodeMessageType(StunMethod.Binding, 'error'), 0x0111);
  assert.equal(encodeMessageType(StunMethod.Allocate, 'error'), 0x0113);
  assert.equal(encodeMessageType(0xfff, 'request'), 0x3eef);
  for (let m = 0; m < 0x1000; m += 37) {
    for (const cls of ['request', 'indication', 'success', 'error'] as const) {
      assert.deepEqual(decodeMessageType(encodeMessageType(m, cls)), { method: m, cls });
    }
  }
});

test('header: cookie, transaction id, length counts attributes with padding', () => {
  const b = encodeStunMessage(msg([{ type: 'USERNAME', value: 'abcde' }]));
  assert.equal(b.length, 20 + 4 + 8);
  assert.deepEqual([...b.subarray(0, 8)], [0, 1, 0, 12, 0x21, 0x12, 0xa4, 0x42]);
  assert.deepEqual(b.subarray(8, 20), tid);
  assert.deepEqual([...b.subarray(20)], [0, 6, 0, 5, 97, 98, 99, 100, 101, 0, 0, 0]);
  assert.ok(looksLikeStun(b));
});

test('padding: values of every length up to 9 pad to 4, and an unknown attribute survives', () => {
  for (let n = 0; n < 10; n++) {
    const value = Uint8Array.from({ length: n }, (_, i) => i + 1);
    const m = msg([{ type: 'raw', code: 0x7777, value }, { type: 'SOFTWARE', value: 'x' }]);
    const b = encodeStunMessage(m);
    assert.equal(b.length, 20 + 4 + Math.ceil(n / 4) * 4 + 8);
    const d = decodeStunMessage(b);
    assert.deepEqual(d.attributes[0], { type: 'raw', code: 0x7777, value });
    assert.equal(getAttribute(d, 'SOFTWARE')?.value, 'x');
  }
});

test('non-zero padding is kept so the message re-encodes exactly', () => {
  const b = encodeStunMessage(msg([{ type: 'SOFTWARE', value: 'ab' }]), { paddingByte: 0xee });
  const d = decodeStunMessage(b);
  assert.deepEqual(d.attributes[0].padding, Uint8Array.from([0xee, 0xee]));
  assert.deepEqual(encodeStunMessage(d), b);
});

test('decode errors are typed: truncated, not STUN, bad lengths, trailing bytes', () => {
  const good = encodeStunMessage(msg([{ type: 'SOFTWARE', value: 'abcd' }]));
  assert.equal(decodeError(good.subarray(0, 19)), 'truncated');
  assert.equal(decodeError(good.subarray(0, good.length - 4)), 'truncated');
  const top = good.slice();
  top[0] |= 0x40;
  assert.equal(decodeError(top), 'not-stun');
  const odd = good.slice();
  odd[3] = 6;
  assert.equal(decodeError(odd), 'bad-length');
  const trailing = new Uint8Array(good.length + 4);
  trailing.set(good);
  assert.equal(decodeError(trailing), 'trailing-bytes');
  assert.equal(decodeError(trailing, { allowTrailing: true }), 'decoded');
  const overrun = good.slice();
  overrun[23] = 9; // SOFTWARE claims 9 bytes; padded to 12 it runs past the end
  assert.equal(decodeError(overrun), 'bad-attribute-length');
  const cut = new Uint8Array(24);
  cut.set(good.subarray(0, 20));
  cut[3] = 4;
  cut[20] = 0x80;
  cut[21] = 0x22;
  cut[23] = 1; // a 1-byte value whose padding would pass the end
  assert.equal(decodeError(cut), 'bad-attribute-length');
});

test('classic RFC 3489 messages: accepted by default, refused on request', () => {
  const m = { ...msg([{ type: 'MAPPED-ADDRESS', address: { address: '10.0.0.1', port: 7 } }]), cookie: 0x01020304 };
  const b = encodeStunMessage(m);
  const d = decodeStunMessage(b);
  assert.equal(d.cookie, 0x01020304);
  assert.deepEqual(encodeStunMessage(d), b);
  assert.equal(decodeError(b, { allowClassic: false }), 'not-stun');
  assert.ok(!looksLikeStun(b));
  assert.ok(looksLikeStun(b, true));
});

test('address attributes: IPv4 and IPv6, plain and XOR', () => {
  const attrs: StunAttribute[] = [
    { type: 'XOR-MAPPED-ADDRESS', address: { address: '192.0.2.1', port: 32853 } },
    { type: 'XOR-MAPPED-ADDRESS', address: { address: '2001:db8::1', port: 1 } },
    { type: 'MAPPED-ADDRESS', address: { address: '198.51.100.7', port: 65535 } },
    { type: 'OTHER-ADDRESS', address: { address: '::ffff:192.0.2.9', port: 3479 } },
    { type: 'RESPONSE-ORIGIN', address: { address: 'fe80::1:2', port: 3478 } },
  ];
  const d = roundTrip(msg(attrs, 'success'));
  assert.deepEqual(
    d.attributes.map((a) => ('address' in a ? a.address : null)),
    [
      { address: '192.0.2.1', port: 32853 },
      { address: '2001:db8::1', port: 1 },
      { address: '198.51.100.7', port: 65535 },
      { address: '::ffff:c000:209', port: 3479 },
      { address: 'fe80::1:2', port: 3478 },
    ],
  );
  // XOR really XORs: port 32853 ^ 0x2112 = 0xa147 (RFC 5769 2.2).
  const b = encodeStunMessage(msg([attrs[0]], 'success'));
  assert.deepEqual([...b.subarray(24, 32)], [0, 1, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43]);
});

test('malformed known attributes stay raw with a reason, and still re-encode exactly', () => {
  const cases: Array<[number, number[], RegExp]> = [
    [0x0020, [0, 3, 0, 1, 1, 2, 3, 4], /family 3/],
    [0x0001, [1, 1, 0, 1, 1, 2, 3, 4], /reserved byte/],
    [0x0001, [0, 1, 0, 1, 1, 2, 3], /not 8/],
    [0x0006, [0xff, 0xfe], /UTF-8/],
    [0x0009, [0, 0, 7, 1], /out of range/],
    [0x0009, [0, 0, 4], /shorter/],
    [0x000a, [0, 1, 0], /odd/],
    [0x0003, [0, 0, 0, 1], /bits other/],
    [0x0027, [0x0d, 0x96, 0, 1], /padding/],
    [0x0008, [1, 2, 3, 4], /20 bytes/],
    [0x8028, [1, 2], /4 bytes/],
  ];
  for (const [code, value, why] of cases) {
    const m = msg([{ type: 'raw', code, value: Uint8Array.from(value) }]);
    const b = encodeStunMessage(m);
    const d = decodeStunMessage(b);
    const a = d.attributes[0];
    assert.equal(a.type, 'raw', `0x${code.toString(16)}`);
    assert.match((a as { invalid?: string }).invalid ?? '', why);
    assert.deepEqual(encodeStunMessage(d), b);
  }
});

test('ERROR-CODE, UNKNOWN-ATTRIBUTES, CHANGE-REQUEST, RESPONSE-PORT, PADDING', () => {
  const d = roundTrip(
    msg(
      [
        { type: 'ERROR-CODE', code: 420, reason: 'Unknown Attribute' },
        { type: 'UNKNOWN-ATTRIBUTES', types: [0x0002, 0x7fff, 0x1234] },
        { type: 'CHANGE-REQUEST', changeIp: true, changePort: false },
        { type: 'RESPONSE-PORT', port: 5000 },
        { type: 'PADDING', value: new Uint8Array(7) },
      ],
      'error',
    ),
  );
  assert.deepEqual(getAttribute(d, 'ERROR-CODE'), { type: 'ERROR-CODE', code: 420, reason: 'Unknown Attribute' });
  assert.deepEqual(getAttribute(d, 'UNKNOWN-ATTRIBUTES')?.types, [0x0002, 0x7fff, 0x1234]);
  assert.deepEqual(getAttribute(d, 'CHANGE-REQUEST'), { type: 'CHANGE-REQUEST', changeIp: true, changePort: false });
  assert.equal(getAttribute(d, 'RESPONSE-PORT')?.port, 5000);
  assert.equal(getAttribute(d, 'PADDING')?.value.length, 7);
  const b = encodeStunMessage(msg([{ type: 'ERROR-CODE', code: 438, reason: '' }], 'error'));
  assert.deepEqual([...b.subarray(24, 28)], [0, 0, 4, 38]);
  assert.throws(() => encodeStunMessage(msg([{ type: 'ERROR-CODE', code: 200, reason: '' }])), StunEncodeError);
});

test('MESSAGE-INTEGRITY covers the header with the length ending after it, not FINGERPRINT', () => {
  const b = encodeStunMessage(
    msg([{ type: 'USERNAME', value: 'u:v' }, { type: 'MESSAGE-INTEGRITY' }, { type: 'FINGERPRINT' }]),
    { integrityKey: key },
  );
  const d = decodeStunMessage(b);
  assert.equal(checkIntegrity(d, key), 'ok');
  assert.equal(checkFingerprint(d), 'ok');
  // Independent computation: header with length = up to MI, then USERNAME.
  const miOffset = d.attributeOffsets[1];
  const prefix = b.slice(0, miOffset);
  prefix[3] = miOffset + 24 - 20;
  const mac = createHmac('sha1', key).update(prefix).digest();
  assert.deepEqual(d.attributes[1], { type: 'MESSAGE-INTEGRITY', hmac: new Uint8Array(mac) });
  // Any bit flipped before MI breaks it; flipping the fingerprint does not.
  const tampered = b.slice();
  tampered[25] ^= 1;
  assert.equal(checkIntegrity(decodeStunMessage(tampered), key), 'mismatch');
  const fpFlip = b.slice();
  fpFlip[fpFlip.length - 1] ^= 1;
  assert.equal(checkIntegrity(decodeStunMessage(fpFlip), key), 'ok');
  assert.equal(checkFingerprint(decodeStunMessage(fpFlip)), 'mismatch');
});

test('MESSAGE-INTEGRITY-SHA256: full and truncated, after MESSAGE-INTEGRITY it covers it', () => {
  for (const length of [32, 16, 20]) {
    const b = encodeStunMessage(
      msg([{ type: 'USERNAME', value: 'u' }, { type: 'MESSAGE-INTEGRITY' }, { type: 'MESSAGE-INTEGRITY-SHA256', length }]),
      { integrityKey: key },
    );
    const d = decodeStunMessage(b);
    assert.equal(checkIntegrity(d, key, 'sha256'), 'ok');
    assert.equal(checkIntegrity(d, key, 'sha1'), 'ok');
    const off = d.attributeOffsets[2];
    const prefix = b.slice(0, off);
    prefix[3] = off + 4 + length - 20;
    const mac = createHmac('sha256', key).update(prefix).digest().subarray(0, length);
    assert.deepEqual(getAttribute(d, 'MESSAGE-INTEGRITY-SHA256')?.hmac, new Uint8Array(mac));
  }
  assert.throws(
    () => encodeStunMessage(msg([{ type: 'MESSAGE-INTEGRITY-SHA256', length: 18 }]), { integrityKey: key }),
    StunEncodeError,
  );
  assert.throws(() => encodeStunMessage(msg([{ type: 'MESSAGE-INTEGRITY' }])), StunEncodeError);
});

test('attributes after MESSAGE-INTEGRITY are ignored except -SHA256 and FINGERPRINT; nothing after FINGERPRINT', () => {
  const m = msg([
    { type: 'USERNAME', value: 'before' },
    { type: 'MESSAGE-INTEGRITY', hmac: new Uint8Array(20) },
    { type: 'SOFTWARE', value: 'ignored' },
    { type: 'MESSAGE-INTEGRITY-SHA256', hmac: new Uint8Array(32) },
    { type: 'REALM', value: 'ignored too' },
    { type: 'FINGERPRINT', crc: 1 },
    { type: 'NONCE', value: 'after fingerprint' },
  ]);
  const d = decodeStunMessage(encodeStunMessage(m));
  assert.deepEqual(
    effectiveAttributes(d).map((a) => a.type),
    ['USERNAME', 'MESSAGE-INTEGRITY', 'MESSAGE-INTEGRITY-SHA256', 'FINGERPRINT'],
  );
  assert.equal(getAttribute(d, 'SOFTWARE'), undefined);
  assert.equal(d.attributes.length, 7, 'all kept for re-encoding');
  assert.equal(checkFingerprint(d), 'mismatch', 'FINGERPRINT not last');
});

test('magic cookie constant', () => {
  assert.equal(MAGIC_COOKIE, 0x2112a442);
});
