/**
 * The STUN server's amplification rule (docs/security.md, "Reflection and
 * amplification"): an answer is at most three times its request, and the bound
 * never trims the mapped address a Binding success exists to carry. The
 * smallest requests are where the rule is tightest, so each kind is tried here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEFAULT_AMPLIFICATION_FACTOR, handleStunPacket, type BindingHandlerConfig } from '../../../src/stun/server/binding-handler.js';
import { decodeStunMessage, encodeStunMessage, type StunMessage } from '../../../src/stun/message.js';
import { StunMethod } from '../../../src/stun/constants.js';
import type { StunAttribute } from '../../../src/stun/attributes.js';

const primary = { address: '198.51.100.10', port: 3478 };
const alternate = { address: '198.51.100.11', port: 3479 };
const CONFIGS: Record<string, BindingHandlerConfig> = {
  plain: { addresses: { primary } },
  rfc5780: { addresses: { primary, alternate } },
  'rfc5780, long SOFTWARE': { addresses: { primary, alternate }, software: 'a server software description longer than any bound' },
};
const SOURCES = { IPv4: { address: '203.0.113.5', port: 40000 }, IPv6: { address: '2001:db8::5', port: 40000 } };
const tid = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);

function request(attributes: StunAttribute[] = [], extra: Partial<StunMessage> = {}): Uint8Array {
  return encodeStunMessage({ cls: 'request', method: StunMethod.Binding, transactionId: tid, attributes, ...extra });
}

const SMALLEST: Record<string, Uint8Array> = {
  'plain Binding (20 B)': request(),
  'classic RFC 3489 Binding (20 B)': request([], { cookie: 0x01020304 }),
  'Binding with FINGERPRINT (28 B)': request([{ type: 'FINGERPRINT' }]),
  'unknown comprehension-required attribute (420)': request([{ type: 'raw', code: 0x7f01, value: new Uint8Array(0) }]),
  'unknown attribute and FINGERPRINT (420)': request([{ type: 'raw', code: 0x7f01, value: new Uint8Array(0) }, { type: 'FINGERPRINT' }]),
  'a method not served (400)': encodeStunMessage({ cls: 'request', method: 0x003, transactionId: tid, attributes: [] }),
};

test('the smallest request of each kind gets an answer within 3x that keeps its mapped address', () => {
  assert.equal(DEFAULT_AMPLIFICATION_FACTOR, 3);
  let answers = 0;
  for (const [configName, config] of Object.entries(CONFIGS)) {
    for (const [sourceName, from] of Object.entries(SOURCES)) {
      for (const [kind, data] of Object.entries(SMALLEST)) {
        const what = `${kind} from ${sourceName}, ${configName}`;
        const r = handleStunPacket(config, data, from, 'PP', 'udp');
        assert.equal(r.replies.length, 1, `${what}: ${r.outcome}`);
        const answer = r.replies[0].data;
        assert.ok(answer.length <= DEFAULT_AMPLIFICATION_FACTOR * data.length, `${what}: ${answer.length} B to ${data.length} B`);
        const msg = decodeStunMessage(answer);
        if (msg.cls === 'success') {
          const mapped = msg.attributes.find((a) => a.type === 'XOR-MAPPED-ADDRESS' || a.type === 'MAPPED-ADDRESS');
          assert.deepEqual(mapped && 'address' in mapped ? mapped.address : undefined, from, `${what}: the mapped address`);
        }
        answers++;
      }
    }
  }
  assert.equal(answers, 36);
});

test('the minimal Binding answer: 40 B to a 20 B request (XOR-MAPPED-ADDRESS, SOFTWARE), 32 B without SOFTWARE', () => {
  const sizes = (config: BindingHandlerConfig) =>
    Object.values(SOURCES).map((from) => handleStunPacket(config, SMALLEST['plain Binding (20 B)'], from, 'PP', 'udp').replies[0].data.length);
  assert.deepEqual(sizes(CONFIGS.plain), [40, 52]);
  assert.deepEqual(sizes({ addresses: { primary }, software: null }), [32, 44]);
  assert.deepEqual(
    Object.values(SOURCES).map((from) => handleStunPacket(CONFIGS.plain, SMALLEST['classic RFC 3489 Binding (20 B)'], from, 'PP', 'udp').replies[0].data.length),
    [52, 56],
  );
});

test('docs/security.md states the bound the code enforces', () => {
  const doc = readFileSync(new URL('../../../docs/security.md', import.meta.url), 'utf8');
  const stun = doc.slice(doc.indexOf('## STUN server'), doc.indexOf('\n## ', doc.indexOf('## STUN server') + 3));
  assert.match(stun, /### Reflection and amplification/);
  const words = ['zero', 'one', 'two', 'three', 'four', 'five'];
  assert.match(stun, new RegExp(`an answer is at\\s+most ${words[DEFAULT_AMPLIFICATION_FACTOR]} times the size of its request`));
  assert.match(stun, /smallest answer to the\s+smallest request is 32 bytes \(44 from an IPv6 source\)/);
});
