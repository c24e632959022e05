import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { handleStunPacket, socketEndpoint, type BindingHandlerConfig, type SocketKey } from '../../../src/stun/server/binding-handler.js';
import { decodeStunMessage, encodeStunMessage, getAttribute, type StunMessage } from '../../../src/stun/message.js';
import { checkFingerprint } from '../../../src/stun/integrity.js';
import { StunMethod } from '../../../src/stun/constants.js';
import type { StunAttribute } from '../../../src/stun/attributes.js';

const primary = { address: '198.51.100.10', port: 3478 };
const alternate = { address: '198.51.100.11', port: 3479 };
const rfc5780: BindingHandlerConfig = { addresses: { primary, alternate } };
const plain: BindingHandlerConfig = { addresses: { primary } };
const client = { address: '203.0.113.5', port: 40000 };
const tid = Uint8Array.from([9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2]);

function request(attributes: StunAttribute[] = [], extra: Partial<StunMessage> = {}): Uint8Array {
  return encodeStunMessage({ cls: 'request', method: StunMethod.Binding, transactionId: tid, attributes, ...extra });
}

function one(config: BindingHandlerConfig, data: Uint8Array, on: SocketKey = 'PP', transport: 'udp' | 'tcp' = 'udp') {
  const r = handleStunPacket(config, data, client, on, transport);
  assert.equal(r.replies.length, 1, `${r.outcome} ${r.detail ?? ''}`);
  const reply = r.replies[0];
  return { r, reply, msg: decodeStunMessage(reply.data) };
}

test('Binding: XOR-MAPPED-ADDRESS of the source, SOFTWARE, same socket, same transaction', () => {
  const { reply, msg } = one(plain, request());
  assert.equal(reply.via, 'PP');
  assert.deepEqual(reply.to, client);
  assert.equal(msg.cls, 'success');
  assert.deepEqual(msg.transactionId, tid);
  assert.deepEqual(getAttribute(msg, 'XOR-MAPPED-ADDRESS')?.address, client);
  assert.equal(getAttribute(msg, 'MAPPED-ADDRESS'), undefined);
  assert.equal(getAttribute(msg, 'SOFTWARE')?.value, 'masq');
  assert.equal(getAttribute(msg, 'OTHER-ADDRESS'), undefined, 'no RFC 5780 without an alternate');
  assert.equal(getAttribute(msg, 'FINGERPRINT'), undefined, 'no FINGERPRINT unless asked');
});

test('IPv6 client gets an IPv6 XOR-MAPPED-ADDRESS', () => {
  const v6 = { address: '2001:db8::5', port: 5000 };
  const r = handleStunPacket({ addresses: { primary: { address: '2001:db8::1', port: 3478 } } }, request(), v6, 'PP', 'udp');
  assert.deepEqual(getAttribute(decodeStunMessage(r.replies[0].data), 'XOR-MAPPED-ADDRESS')?.address, v6);
});

test('FINGERPRINT in the request: FINGERPRINT in the response, and a wrong one is ignored silently', () => {
  const { msg } = one(plain, request([{ type: 'FINGERPRINT' }]));
  assert.equal(checkFingerprint(msg), 'ok');
  assert.equal(msg.attributes.at(-1)?.type, 'FINGERPRINT');
  const bad = request([{ type: 'FINGERPRINT' }]);
  bad[bad.length - 1] ^= 0xff;
  const r = handleStunPacket(plain, bad, client, 'PP', 'udp');
  assert.equal(r.outcome, 'ignored-bad-fingerprint');
  assert.equal(r.replies.length, 0);
});

test('classic RFC 3489 request: MAPPED-ADDRESS, SOURCE-ADDRESS, CHANGED-ADDRESS, the 128-bit id echoed', () => {
  const { msg } = one(rfc5780, request([], { cookie: 0xdeadbeef }));
  assert.equal(msg.cookie, 0xdeadbeef);
  assert.deepEqual(getAttribute(msg, 'MAPPED-ADDRESS')?.address, client);
  assert.deepEqual(getAttribute(msg, 'SOURCE-ADDRESS')?.address, primary);
  assert.deepEqual(getAttribute(msg, 'CHANGED-ADDRESS')?.address, alternate);
  assert.equal(getAttribute(msg, 'XOR-MAPPED-ADDRESS'), undefined);
});

test('RFC 5780: OTHER-ADDRESS and RESPONSE-ORIGIN relative to the socket the request arrived on', () => {
  const cases: Array<[SocketKey, string]> = [
    ['PP', 'AA'],
    ['PA', 'AP'],
    ['AP', 'PA'],
    ['AA', 'PP'],
  ];
  for (const [on, other] of cases) {
    const { reply, msg } = one(rfc5780, request(), on);
    assert.equal(reply.via, on);
    assert.deepEqual(getAttribute(msg, 'RESPONSE-ORIGIN')?.address, socketEndpoint(rfc5780.addresses, on));
    assert.deepEqual(getAttribute(msg, 'OTHER-ADDRESS')?.address, socketEndpoint(rfc5780.addresses, other as SocketKey));
  }
});

test('CHANGE-REQUEST answers from the socket with the other IP and/or port', () => {
  const cases: Array<[boolean, boolean, SocketKey, SocketKey]> = [
    [false, false, 'PP', 'PP'],
    [true, false, 'PP', 'AP'],
    [false, true, 'PP', 'PA'],
    [true, true, 'PP', 'AA'],
    [true, true, 'AA', 'PP'],
    [false, true, 'AP', 'AA'],
  ];
  for (const [changeIp, changePort, on, via] of cases) {
    const { reply, msg } = one(rfc5780, request([{ type: 'CHANGE-REQUEST', changeIp, changePort }]), on);
    assert.equal(reply.via, via, `${changeIp} ${changePort} on ${on}`);
    assert.deepEqual(getAttribute(msg, 'RESPONSE-ORIGIN')?.address, socketEndpoint(rfc5780.addresses, via));
  }
});

test('CHANGE-REQUEST without an alternate address: 420 listing it', () => {
  const { r, msg } = one(plain, request([{ type: 'CHANGE-REQUEST', changeIp: true, changePort: true }]));
  assert.equal(r.outcome, 'error-420');
  assert.equal(msg.cls, 'error');
  assert.equal(getAttribute(msg, 'ERROR-CODE')?.code, 420);
  assert.deepEqual(getAttribute(msg, 'UNKNOWN-ATTRIBUTES')?.types, [0x0003]);
});

test('unknown comprehension-required attributes: 420 with UNKNOWN-ATTRIBUTES; optional ones ignored', () => {
  const { msg } = one(
    plain,
    request([
      { type: 'raw', code: 0x7f01, value: new Uint8Array(4) },
      { type: 'raw', code: 0x0002, value: new Uint8Array(8) }, // RFC 3489 RESPONSE-ADDRESS: never honoured
      { type: 'raw', code: 0xc001, value: new Uint8Array(4) },
    ]),
  );
  assert.equal(getAttribute(msg, 'ERROR-CODE')?.code, 420);
  assert.deepEqual(getAttribute(msg, 'UNKNOWN-ATTRIBUTES')?.types, [0x7f01, 0x0002]);
  const ok = one(plain, request([{ type: 'raw', code: 0xc001, value: new Uint8Array(4) }]));
  assert.equal(ok.msg.cls, 'success');
  // An ICE connectivity check (PRIORITY, USE-CANDIDATE, USERNAME, MESSAGE-INTEGRITY) is still answered.
  const ice = one(
    plain,
    request([
      { type: 'USERNAME', value: 'a:b' },
      { type: 'raw', code: 0x0024, value: new Uint8Array(4) },
      { type: 'raw', code: 0x0025, value: new Uint8Array(0) },
      { type: 'MESSAGE-INTEGRITY', hmac: new Uint8Array(20) },
    ]),
  );
  assert.equal(ice.msg.cls, 'success');
});

test('attributes after MESSAGE-INTEGRITY do not count as unknown', () => {
  const { msg } = one(plain, request([{ type: 'MESSAGE-INTEGRITY', hmac: new Uint8Array(20) }, { type: 'raw', code: 0x7f01, value: new Uint8Array(4) }]));
  assert.equal(msg.cls, 'success');
});

test('malformed: 400 for a bad comprehension-required attribute or a broken attribute walk; silence for non-STUN', () => {
  const badAddr = one(plain, request([{ type: 'raw', code: 0x0003, value: Uint8Array.from([0, 0, 0, 1]) }]));
  assert.equal(badAddr.r.outcome, 'error-420', 'CHANGE-REQUEST unsupported is reported before it is parsed');
  const bad = one(rfc5780, request([{ type: 'raw', code: 0x0003, value: Uint8Array.from([0, 0, 0, 1]) }]));
  assert.equal(bad.r.outcome, 'error-400');
  assert.equal(getAttribute(bad.msg, 'ERROR-CODE')?.code, 400);
  const walk = request([{ type: 'SOFTWARE', value: 'abcd' }]);
  walk[23] = 40; // the attribute runs past the message
  const w = one(plain, walk);
  assert.equal(w.r.outcome, 'error-400');
  assert.deepEqual(w.msg.transactionId, tid);
  for (const junk of [new Uint8Array(10), Uint8Array.from({ length: 40 }, () => 0x80), request([], { cookie: 1 }).map((b, i) => (i === 3 ? 4 : b))]) {
    const r = handleStunPacket(plain, junk, client, 'PP', 'udp');
    assert.equal(r.replies.length, 0, r.outcome);
  }
});

test('only requests are answered; Binding indications and responses are not', () => {
  for (const cls of ['indication', 'success', 'error'] as const) {
    const r = handleStunPacket(plain, request([], { cls }), client, 'PP', 'udp');
    assert.equal(r.outcome, 'ignored-not-request');
    assert.equal(r.replies.length, 0);
  }
  const other = one(plain, request([], { method: StunMethod.Allocate }));
  assert.equal(other.r.outcome, 'error-400');
  assert.equal(other.msg.method, StunMethod.Allocate);
});

test('RESPONSE-PORT: to the same address, that port; 400 with PADDING, on TCP, or for port 0', () => {
  const { reply } = one(rfc5780, request([{ type: 'RESPONSE-PORT', port: 5555 }]));
  assert.deepEqual(reply.to, { address: client.address, port: 5555 });
  assert.equal(one(rfc5780, request([{ type: 'RESPONSE-PORT', port: 5555 }, { type: 'PADDING', value: new Uint8Array(100) }])).r.outcome, 'error-400');
  assert.equal(one(rfc5780, request([{ type: 'RESPONSE-PORT', port: 5555 }]), 'PP', 'tcp').r.outcome, 'error-400');
  assert.equal(one(rfc5780, request([{ type: 'RESPONSE-PORT', port: 0 }])).r.outcome, 'error-400');
  assert.equal(one(rfc5780, request([{ type: 'CHANGE-REQUEST', changeIp: true, changePort: false }]), 'PP', 'tcp').r.outcome, 'error-400');
  assert.equal(one(rfc5780, request([{ type: 'CHANGE-REQUEST', changeIp: false, changePort: false }]), 'PP', 'tcp').r.outcome, 'success');
});

test('PADDING: the response is padded up to the size of the request, never beyond', () => {
  for (const n of [0, 40, 500, 1472]) {
    const req = request([{ type: 'PADDING', value: new Uint8Array(n) }]);
    const { reply, msg } = one(rfc5780, req);
    if (n >= 100) {
      assert.ok(getAttribute(msg, 'PADDING'));
      assert.ok(reply.data.length <= req.length, `${reply.data.length} > ${req.length}`);
      assert.ok(reply.data.length >= req.length - 3, 'padded to the request size');
    } else {
      // Too small a request to pad the answer at all: the padding is left out, not grown.
      assert.equal(getAttribute(msg, 'PADDING')?.value.length ?? 0, 0);
      assert.ok(reply.data.length <= 3 * req.length);
    }
  }
});

test('amplification bound: a minimal request gets what fits in 3x, dropping SOFTWARE first', () => {
  const req = request();
  const { r, reply, msg } = one({ ...rfc5780, software: 'a very long server software description string' }, req);
  assert.ok(reply.data.length <= 3 * req.length);
  assert.ok(getAttribute(msg, 'XOR-MAPPED-ADDRESS'));
  assert.ok(getAttribute(msg, 'OTHER-ADDRESS'));
  assert.ok(getAttribute(msg, 'RESPONSE-ORIGIN'));
  assert.deepEqual(r.trimmed, ['MAPPED-ADDRESS', 'SOFTWARE']);
  // A request with a little more in it buys the plain MAPPED-ADDRESS too (an ALG detector).
  const bigger = one(rfc5780, request([{ type: 'SOFTWARE', value: 'client' }]));
  assert.deepEqual(getAttribute(bigger.msg, 'MAPPED-ADDRESS')?.address, client);
  assert.deepEqual(
    bigger.msg.attributes.map((a) => a.type),
    ['XOR-MAPPED-ADDRESS', 'MAPPED-ADDRESS', 'RESPONSE-ORIGIN', 'OTHER-ADDRESS', 'SOFTWARE'],
  );
});

const anyAttribute: fc.Arbitrary<StunAttribute> = fc.oneof(
  fc.record({ type: fc.constant('PADDING'), value: fc.uint8Array({ maxLength: 1500 }) }, { noNullPrototype: true }),
  fc.record({ type: fc.constant('RESPONSE-PORT'), port: fc.integer({ min: 0, max: 65535 }) }, { noNullPrototype: true }),
  fc.record({ type: fc.constant('CHANGE-REQUEST'), changeIp: fc.boolean(), changePort: fc.boolean() }, { noNullPrototype: true }),
  fc.record({ type: fc.constant('FINGERPRINT') }, { noNullPrototype: true }),
  fc.record({ type: fc.constant('SOFTWARE'), value: fc.string({ maxLength: 30 }) }, { noNullPrototype: true }),
  fc.record({ type: fc.constant('raw'), code: fc.integer({ min: 0, max: 0xffff }), value: fc.uint8Array({ maxLength: 12 }) }, { noNullPrototype: true }),
) as fc.Arbitrary<StunAttribute>;

test('property: no reply is ever more than 3x its request, for any request on any socket', () => {
  const keys: SocketKey[] = ['PP', 'PA', 'AP', 'AA'];
  fc.assert(
    fc.property(
      fc.array(anyAttribute, { maxLength: 40 }),
      fc.boolean(),
      fc.constantFrom(...keys),
      fc.constantFrom<'udp' | 'tcp'>('udp', 'tcp'),
      fc.boolean(),
      (attributes, classic, on, transport, v6) => {
        const attrs = attributes.filter((a, i) => a.type !== 'FINGERPRINT' || i === attributes.length - 1);
        let data: Uint8Array;
        try {
          data = request(attrs, classic ? { cookie: 7 } : {});
        } catch {
          return;
        }
        const from = v6 ? { address: '2001:db8::99', port: 1 } : client;
        const config = { addresses: { primary, alternate }, software: 'masq test server with a long name' };
        for (const reply of handleStunPacket(config, data, from, on, transport).replies) {
          assert.ok(reply.data.length <= 3 * data.length, `${reply.data.length} > 3 x ${data.length}`);
          if (reply.to.address !== from.address) assert.fail('reply to another address');
        }
      },
    ),
    { numRuns: 3000 },
  );
});

test('property: arbitrary bytes never throw out of the handler', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), fc.boolean(), (bytes, cookie) => {
      if (cookie && bytes.length >= 8) bytes.set([0x21, 0x12, 0xa4, 0x42], 4);
      if (bytes.length >= 1) bytes[0] &= 0x3f;
      const r = handleStunPacket(rfc5780, bytes, client, 'PP', 'udp');
      for (const reply of r.replies) assert.ok(reply.data.length <= 3 * Math.max(20, bytes.length));
    }),
    { numRuns: 5000 },
  );
});
