/**
 * The template answer to a plain Binding request (no attributes) must be the
 * very bytes the general path encodes, for every configuration, socket and
 * sender; and anything that is not plain must take the general path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  handleStunPacket,
  handleStunPacketGeneral,
  type BindingHandlerConfig,
  type SocketKey,
} from '../../../src/stun/server/binding-handler.js';
import { fillPlainAnswer, isPlainBindingRequest, isPlainBindingRequestAt, templateFrom, writePlainAnswer } from '../../../src/stun/server/plain-binding.js';
import { StunServerCore, type CoreEvent } from '../../../src/stun/server/server-core.js';
import { parseIpv4 } from '../../../src/wire/address.js';
import { decodeStunMessage, encodeStunMessage, getAttribute } from '../../../src/stun/message.js';
import { StunMethod } from '../../../src/stun/constants.js';

const plainRequest = (tid: Uint8Array): Uint8Array =>
  encodeStunMessage({ cls: 'request', method: StunMethod.Binding, transactionId: tid, attributes: [] });

const arbIpv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.'));
const arbPort = fc.integer({ min: 1, max: 65535 });
const arbTid = fc.uint8Array({ minLength: 12, maxLength: 12 });

const arbConfig: fc.Arbitrary<BindingHandlerConfig> = fc
  .record({
    primary: fc.record({ address: arbIpv4, port: arbPort }),
    alternate: fc.option(fc.record({ address: fc.oneof(arbIpv4, fc.constant('2001:db8::1')), port: arbPort }), { nil: undefined }),
    software: fc.option(fc.oneof(fc.constant('masq'), fc.string({ maxLength: 40 })), { nil: undefined }),
    amplificationFactor: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
  })
  .map(({ primary, alternate, software, amplificationFactor }) => ({
    addresses: alternate ? { primary, alternate } : { primary },
    ...(software !== undefined ? { software } : {}),
    ...(amplificationFactor !== undefined ? { amplificationFactor } : {}),
  }));

function socketsOf(config: BindingHandlerConfig): SocketKey[] {
  return config.addresses.alternate ? ['PP', 'PA', 'AP', 'AA'] : ['PP'];
}

test('plain requests: the template answer is byte for byte the general path answer (any config, socket, sender, transport)', () => {
  fc.assert(
    fc.property(arbConfig, arbIpv4, arbPort, arbTid, fc.nat(3), fc.constantFrom('udp' as const, 'tcp' as const), (config, address, port, tid, k, transport) => {
      const keys = socketsOf(config);
      const on = keys[k % keys.length];
      const from = { address, port };
      const data = plainRequest(tid);
      assert.ok(isPlainBindingRequest(data));
      const fast = handleStunPacket(config, data, from, on, transport);
      const general = handleStunPacketGeneral(config, data, from, on, transport);
      assert.equal(fast.outcome, general.outcome);
      assert.deepEqual(fast.trimmed, general.trimmed);
      assert.equal(fast.replies.length, 1);
      assert.equal(fast.replies[0].via, general.replies[0].via);
      assert.deepEqual(fast.replies[0].to, general.replies[0].to);
      assert.deepEqual([...fast.replies[0].data], [...general.replies[0].data]);
    }),
    { numRuns: 400 },
  );
});

test('plain request from an IPv6 sender: general path, still answered', () => {
  const config: BindingHandlerConfig = { addresses: { primary: { address: '2001:db8::10', port: 3478 } } };
  const from = { address: '2001:db8::99', port: 5000 };
  const r = handleStunPacket(config, plainRequest(new Uint8Array(12).fill(3)), from, 'PP', 'udp');
  assert.equal(r.outcome, 'success');
  assert.deepEqual(getAttribute(decodeStunMessage(r.replies[0].data), 'XOR-MAPPED-ADDRESS')?.address, from);
});

test('not plain: attributes, a classic (cookie-less) request, other methods, trailing bytes', () => {
  const tid = new Uint8Array(12).fill(1);
  const withSoftware = encodeStunMessage({
    cls: 'request',
    method: StunMethod.Binding,
    transactionId: tid,
    attributes: [{ type: 'SOFTWARE', value: 'x' }],
  });
  const classic = encodeStunMessage({ cls: 'request', method: StunMethod.Binding, transactionId: tid, cookie: 0x01020304, attributes: [] });
  const allocate = encodeStunMessage({ cls: 'request', method: StunMethod.Allocate, transactionId: tid, attributes: [] });
  const indication = encodeStunMessage({ cls: 'indication', method: StunMethod.Binding, transactionId: tid, attributes: [] });
  const trailing = new Uint8Array([...plainRequest(tid), 0, 0, 0, 0]);
  for (const data of [withSoftware, classic, allocate, indication, trailing]) assert.equal(isPlainBindingRequest(data), false);
});

test('answers never share bytes: an earlier answer is intact after many later ones (slab regions are not reused)', () => {
  const config: BindingHandlerConfig = { addresses: { primary: { address: '192.0.2.1', port: 3478 }, alternate: { address: '192.0.2.2', port: 3479 } } };
  const first = handleStunPacket(config, plainRequest(new Uint8Array(12).fill(0xaa)), { address: '203.0.113.1', port: 1111 }, 'PP', 'udp');
  const kept = [...first.replies[0].data];
  // Enough answers to run through several 64 KiB slabs.
  for (let i = 0; i < 5000; i++) {
    handleStunPacket(config, plainRequest(new Uint8Array(12).fill(i & 0xff)), { address: '203.0.113.2', port: 2000 + (i % 1000) }, 'PP', 'udp');
  }
  assert.deepEqual([...first.replies[0].data], kept);
  assert.deepEqual(getAttribute(decodeStunMessage(first.replies[0].data), 'XOR-MAPPED-ADDRESS')?.address, { address: '203.0.113.1', port: 1111 });
});

test('fillPlainAnswer declines a sender that is not IPv4; templateFrom refuses an answer without XOR-MAPPED-ADDRESS', () => {
  const config: BindingHandlerConfig = { addresses: { primary: { address: '192.0.2.1', port: 3478 } } };
  const encoded = handleStunPacketGeneral(config, plainRequest(new Uint8Array(12)), { address: '0.0.0.0', port: 0 }, 'PP', 'udp').replies[0].data;
  const template = templateFrom(encoded);
  assert.equal(fillPlainAnswer(template, plainRequest(new Uint8Array(12)), { address: '::1', port: 1 }), null);
  const noMapped = encodeStunMessage({ cls: 'success', method: StunMethod.Binding, transactionId: new Uint8Array(12), attributes: [{ type: 'SOFTWARE', value: 'x' }] });
  assert.throws(() => templateFrom(noMapped), /XOR-MAPPED-ADDRESS/);
});

test('the batched shell\'s path (handlePlainIpv4 + writePlainAnswer into a shared buffer) answers, counts, limits and reports like handle()', () => {
  fc.assert(
    fc.property(
      arbConfig,
      fc.array(fc.tuple(fc.constantFrom('198.51.100.1', '198.51.100.2', '203.0.113.9'), arbPort, arbTid, fc.integer({ min: 0, max: 400 })), { minLength: 1, maxLength: 40 }),
      fc.nat(3),
      (config, requests, k) => {
        const on = socketsOf(config)[k % socketsOf(config).length];
        const rateLimit = { ratePerSecond: 5, burst: 2 };
        const eventsA: CoreEvent[] = [];
        const eventsB: CoreEvent[] = [];
        const general = new StunServerCore({ ...config, rateLimit }, (e) => eventsA.push(e));
        const fast = new StunServerCore({ ...config, rateLimit }, (e) => eventsB.push(e));
        const out = new Uint8Array(4096);
        let now = 0;
        for (const [address, port, tid, gap] of requests) {
          now += gap;
          // The request sits somewhere inside a larger buffer, as in a wake's read buffer.
          const buffer = new Uint8Array(64);
          buffer.set(plainRequest(tid), 7);
          assert.ok(isPlainBindingRequestAt(buffer, 7, 20));
          const expected = general.handle(buffer.slice(7, 27), { address, port }, on, 'udp', now);
          const template = fast.handlePlainIpv4(parseIpv4(address), port, on, now);
          if (template === null) {
            assert.equal(expected.length, 0);
            continue;
          }
          writePlainAnswer(out, 100, template, buffer, 7, parseIpv4(address), port);
          assert.equal(expected.length, 1);
          assert.deepEqual([...out.subarray(100, 100 + template.bytes.length)], [...expected[0].data]);
        }
        assert.deepEqual(fast.counters, general.counters);
        assert.deepEqual(eventsB, eventsA);
      },
    ),
    { numRuns: 200 },
  );
});
