/**
 * The headers the rewriter reads (Via, Contact, Route, Record-Route, From, To,
 * Call-ID, CSeq, Content-Type, Content-Length, Expires) are found wherever
 * they stand among the ones it skips, in compact form, and folded: the
 * rewrite and the summary are those of the plain message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { processSipMessage } from '../../../src/alg/sip/index.js';
import { natContext, sdpBody, sip, text } from './fixtures.js';

const body = sdpBody(['v=0', 'o=- 1 1 IN IP4 10.0.1.2', 's=-', 'c=IN IP4 10.0.1.2', 't=0 0', 'm=audio 30000 RTP/AVP 0']);

/** The headers read, as [full name, compact name, value]. */
const read: Array<[string, string | null, string]> = [
  ['Via', 'v', 'SIP/2.0/UDP 10.0.1.2:5060;branch=z9hG4bKhp1;rport'],
  ['From', 'f', '<sip:alice@example.com>;tag=a1'],
  ['To', 't', '<sip:bob@example.com>'],
  ['Call-ID', 'i', 'hp1@10.0.1.2'],
  ['CSeq', null, '1 INVITE'],
  ['Contact', 'm', '<sip:alice@10.0.1.2:5060>;expires=60'],
  ['Record-Route', null, '<sip:10.0.1.2:5070;lr>'],
  ['Expires', null, '120'],
  ['Content-Type', 'c', 'application/sdp'],
  ['Content-Length', 'l', String(body.length)],
];

/** Headers the rewriter skips. */
const skipped = [
  'Max-Forwards: 70',
  'User-Agent: phone/1.0 (10.0.1.2)',
  'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS',
  'Supported: replaces, timer',
  'X-Inside: 10.0.1.2:5060',
  'Subject: via contact route',
  'Accept: application/sdp',
  'P-Preferred-Identity: <sip:alice@10.0.1.2>',
];

function invite(headers: string[]): Uint8Array {
  return sip(['INVITE sip:bob@example.com SIP/2.0', ...headers], body);
}

/** A value folded after its first space (CR LF and a tab). */
function fold(value: string): string {
  const at = value.indexOf(' ');
  return at < 0 ? value : `${value.slice(0, at)}\r\n\t${value.slice(at + 1)}`;
}

const outbound = () => natContext({ direction: 'outbound', sigShift: 2 });
const plain = processSipMessage(invite([...read.map(([n, , v]) => `${n}: ${v}`), ...skipped]), outbound());
assert.ok(plain.ok);

function expectSameRewrite(bytes: Uint8Array, label: string): void {
  const r = processSipMessage(bytes, outbound());
  assert.ok(r.ok, label);
  assert.deepEqual(r.summary, plain.ok && plain.summary, label);
  assert.equal(r.edits, plain.ok && plain.edits, label);
  const out = text(r.bytes);
  assert.match(out, /^(Via|v) ?: SIP\/2\.0\/UDP 203\.0\.113\.1:5062;/im, label);
  assert.match(out, /^(Contact|m) ?: <sip:alice@203\.0\.113\.1:5062>/im, label);
  assert.match(out, /^Record-Route ?: <sip:203\.0\.113\.1:5072;lr>/im, label);
  assert.ok(out.endsWith(plain.ok ? text(plain.bytes).split('\r\n\r\n')[1] : ''), `${label}: the same rewritten body`);
  for (const line of skipped) assert.ok(out.includes(line), `${label}: ${line} untouched`);
}

test('the headers read are found after every skipped header, in any order', () => {
  fc.assert(
    fc.property(fc.shuffledSubarray([...read.map(([n, , v]) => `${n}: ${v}`), ...skipped], { minLength: read.length + skipped.length }), (headers) => {
      expectSameRewrite(invite(headers), headers.join(' | '));
    }),
    { numRuns: 200 },
  );
});

test('compact forms and any case of the names give the same rewrite', () => {
  expectSameRewrite(invite([...skipped, ...read.map(([n, c, v]) => `${c ?? n}: ${v}`)]), 'compact');
  expectSameRewrite(invite([...skipped, ...read.map(([n, c, v]) => `${(c ?? n).toUpperCase()} : ${v}`)]), 'upper case, space before the colon');
});

test('folded values of the headers read give the same rewrite', () => {
  // Content-Length and Call-ID stay one line (a fold inside a number or an identifier changes its value).
  const headers = read.map(([n, , v]) => `${n}: ${n === 'Content-Length' || n === 'Call-ID' ? v : fold(v)}`);
  const r = processSipMessage(invite([...skipped, ...headers]), outbound());
  assert.ok(r.ok && plain.ok);
  assert.equal(r.summary.callId, plain.summary.callId);
  assert.deepEqual(r.summary.contacts, plain.summary.contacts);
  assert.deepEqual(r.summary.media, plain.summary.media);
  const out = text(r.bytes);
  assert.match(out, /Via: SIP\/2\.0\/UDP\r\n\t203\.0\.113\.1:5062;/);
  assert.match(out, /Contact: <sip:alice@203\.0\.113\.1:5062>;expires=60/);
});

test('a header read that appears only in a skipped header\'s value is not taken for it', () => {
  // "Via:" inside another header's value is text, not a Via: the message has none and is refused.
  const headers = read.filter(([n]) => n !== 'Via').map(([n, , v]) => `${n}: ${v}`);
  const r = processSipMessage(invite(['Subject: Via: SIP/2.0/UDP 10.0.1.2:5060', ...headers]), outbound());
  assert.equal(r.ok, false);
  assert.ok(!r.ok && /Via/.test(r.reason));
});
