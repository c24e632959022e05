import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeStunMessage, encodeStunMessage, getAttribute, type StunMessage } from '../../src/stun/message.js';
import { checkFingerprint, checkIntegrity, longTermKey, shortTermKey } from '../../src/stun/integrity.js';
import { saslprep } from '../../src/stun/saslprep.js';
import { StunMethod } from '../../src/stun/constants.js';
import {
  longTerm,
  sampleIPv4Response,
  sampleIPv6Response,
  sampleLongTermRequest,
  sampleRequest,
  shortTermPassword,
} from './fixtures/rfc5769.js';

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((h) => parseInt(h, 16)));
const key = shortTermKey(shortTermPassword);

test('transcribed vectors have the lengths their headers announce', () => {
  for (const v of [sampleRequest, sampleIPv4Response, sampleIPv6Response, sampleLongTermRequest]) {
    assert.equal(v.length, 20 + ((v[2] << 8) | v[3]));
  }
  assert.equal(sampleRequest.length, 108);
  assert.equal(sampleLongTermRequest.length, 116);
});

test('2.1 sample request: decodes, integrity and fingerprint verify', () => {
  const m = decodeStunMessage(sampleRequest);
  assert.equal(m.cls, 'request');
  assert.equal(m.method, StunMethod.Binding);
  assert.equal(getAttribute(m, 'SOFTWARE')?.value, 'STUN test client');
  assert.equal(getAttribute(m, 'USERNAME')?.value, 'evtj:h6vY');
  const priority = m.attributes.find((a) => a.type === 'raw' && a.code === 0x0024);
  assert.deepEqual(priority && priority.type === 'raw' ? [...priority.value] : null, [0x6e, 0x00, 0x01, 0xff]);
  assert.equal(checkIntegrity(m, key), 'ok');
  assert.equal(checkFingerprint(m), 'ok');
  assert.equal(checkIntegrity(m, shortTermKey('wrong password')), 'mismatch');
});

test('2.1 sample request: re-encodes byte for byte, and builds from scratch with computed MI and FINGERPRINT', () => {
  const m = decodeStunMessage(sampleRequest);
  assert.deepEqual(encodeStunMessage(m), sampleRequest);
  const built: StunMessage = {
    cls: 'request',
    method: StunMethod.Binding,
    transactionId: hex('b7e7a701bc34d686fa87dfae'),
    attributes: [
      { type: 'SOFTWARE', value: 'STUN test client' },
      { type: 'raw', code: 0x0024, value: hex('6e0001ff') },
      { type: 'raw', code: 0x8029, value: hex('932ff9b151263b36') },
      { type: 'USERNAME', value: 'evtj:h6vY' },
      { type: 'MESSAGE-INTEGRITY' },
      { type: 'FINGERPRINT' },
    ],
  };
  // The RFC pads with spaces (any value is allowed), and both MI and FINGERPRINT cover the padding.
  assert.deepEqual(encodeStunMessage(built, { integrityKey: key, paddingByte: 0x20 }), sampleRequest);
});

test('2.2 sample IPv4 response: XOR-MAPPED-ADDRESS 192.0.2.1:32853, MI and FINGERPRINT', () => {
  const m = decodeStunMessage(sampleIPv4Response);
  assert.equal(m.cls, 'success');
  assert.deepEqual(getAttribute(m, 'XOR-MAPPED-ADDRESS')?.address, { address: '192.0.2.1', port: 32853 });
  assert.equal(getAttribute(m, 'SOFTWARE')?.value, 'test vector');
  assert.equal(checkIntegrity(m, key), 'ok');
  assert.equal(checkFingerprint(m), 'ok');
  assert.deepEqual(encodeStunMessage(m), sampleIPv4Response);
  const built: StunMessage = {
    cls: 'success',
    method: StunMethod.Binding,
    transactionId: m.transactionId,
    attributes: [
      { type: 'SOFTWARE', value: 'test vector' },
      { type: 'XOR-MAPPED-ADDRESS', address: { address: '192.0.2.1', port: 32853 } },
      { type: 'MESSAGE-INTEGRITY' },
      { type: 'FINGERPRINT' },
    ],
  };
  assert.deepEqual(encodeStunMessage(built, { integrityKey: key, paddingByte: 0x20 }), sampleIPv4Response);
});

test('2.3 sample IPv6 response: XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853', () => {
  const m = decodeStunMessage(sampleIPv6Response);
  assert.deepEqual(getAttribute(m, 'XOR-MAPPED-ADDRESS')?.address, {
    address: '2001:db8:1234:5678:11:2233:4455:6677',
    port: 32853,
  });
  assert.equal(checkIntegrity(m, key), 'ok');
  assert.equal(checkFingerprint(m), 'ok');
  assert.deepEqual(encodeStunMessage(m), sampleIPv6Response);
  const built: StunMessage = {
    cls: 'success',
    method: StunMethod.Binding,
    transactionId: m.transactionId,
    attributes: [
      { type: 'SOFTWARE', value: 'test vector' },
      { type: 'XOR-MAPPED-ADDRESS', address: { address: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 } },
      { type: 'MESSAGE-INTEGRITY' },
      { type: 'FINGERPRINT' },
    ],
  };
  assert.deepEqual(encodeStunMessage(built, { integrityKey: key, paddingByte: 0x20 }), sampleIPv6Response);
});

test('2.4 long-term authentication: SASLprep, MD5 key, MESSAGE-INTEGRITY', () => {
  assert.equal(saslprep(longTerm.password), 'TheMatrIX');
  const m = decodeStunMessage(sampleLongTermRequest);
  assert.equal(getAttribute(m, 'USERNAME')?.value, longTerm.username);
  assert.equal(getAttribute(m, 'NONCE')?.value, longTerm.nonce);
  assert.equal(getAttribute(m, 'REALM')?.value, longTerm.realm);
  const k = longTermKey(longTerm.username, longTerm.realm, longTerm.password);
  assert.equal(checkIntegrity(m, k), 'ok');
  assert.equal(checkFingerprint(m), 'absent');
  assert.equal(checkIntegrity(m, longTermKey(longTerm.username, longTerm.realm, 'TheMatrix')), 'mismatch');
  assert.deepEqual(encodeStunMessage(m), sampleLongTermRequest);
  const built: StunMessage = {
    cls: 'request',
    method: StunMethod.Binding,
    transactionId: m.transactionId,
    attributes: [
      { type: 'USERNAME', value: longTerm.username },
      { type: 'NONCE', value: longTerm.nonce },
      { type: 'REALM', value: longTerm.realm },
      { type: 'MESSAGE-INTEGRITY' },
    ],
  };
  assert.deepEqual(encodeStunMessage(built, { integrityKey: k }), sampleLongTermRequest);
});
