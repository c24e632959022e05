/**
 * The SDP body is read only in a message that may carry an offer or answer
 * (offer-answer.ts): elsewhere it is left byte for byte, opens nothing and is
 * not refused when malformed. The headers of such a message are still
 * rewritten as usual.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { processSipMessage } from '../../../src/alg/sip/index.js';
import { carriesOfferAnswer } from '../../../src/alg/sip/offer-answer.js';
import { Side } from '../../../src/nat/engine.js';
import { msg, PROXY, sdp, send, withSip } from './engine-calls.js';
import { natContext, sdpBody, sip, text } from './fixtures.js';

const PHONE = '10.0.1.2';
const offer = sdpBody(['v=0', `o=- 1 1 IN IP4 ${PHONE}`, 's=-', `c=IN IP4 ${PHONE}`, 't=0 0', 'm=audio 30000 RTP/AVP 0']);

function request(method: string, body: string, cseqMethod = method): Uint8Array {
  return sip(
    [
      `${method} sip:bob@${PROXY} SIP/2.0`,
      `Via: SIP/2.0/UDP ${PHONE}:5060;branch=z9hG4bKoa1`,
      `From: <sip:alice@${PROXY}>;tag=a1`,
      `To: <sip:bob@${PROXY}>`,
      'Call-ID: oa1',
      `CSeq: 7 ${cseqMethod}`,
      `Contact: <sip:alice@${PHONE}:5060>`,
      'Content-Type: application/sdp',
      `Content-Length: ${body.length}`,
    ],
    body,
  );
}

function response(status: string, cseqMethod: string, body: string): Uint8Array {
  return sip(
    [
      `SIP/2.0 ${status}`,
      `Via: SIP/2.0/UDP ${PROXY}:5060;branch=z9hG4bKoa2`,
      `From: <sip:bob@${PROXY}>;tag=b1`,
      `To: <sip:alice@${PHONE}>;tag=a1`,
      'Call-ID: oa2',
      `CSeq: 7 ${cseqMethod}`,
      `Contact: <sip:alice@${PHONE}:5060>`,
      'Content-Type: application/sdp',
      `Content-Length: ${body.length}`,
    ],
    body,
  );
}

const bodyOf = (b: Uint8Array) => text(b).split('\r\n\r\n').slice(1).join('\r\n\r\n');

test('the SDP of an INVITE, ACK, PRACK, UPDATE or an extension method is rewritten', () => {
  for (const method of ['INVITE', 'ACK', 'PRACK', 'UPDATE', 'XSESSION']) {
    const r = processSipMessage(request(method, offer), natContext({ direction: 'outbound' }));
    assert.ok(r.ok, method);
    assert.equal(r.summary.hasSdp, true, method);
    assert.match(bodyOf(r.bytes), /c=IN IP4 203\.0\.113\.1\r\n/, method);
    assert.match(bodyOf(r.bytes), /m=audio 40000 /, method);
  }
});

test('the SDP of a 18x or 2xx to INVITE, PRACK or UPDATE is rewritten', () => {
  for (const [status, method] of [['183 Session Progress', 'INVITE'], ['200 OK', 'INVITE'], ['200 OK', 'UPDATE'], ['200 OK', 'PRACK']]) {
    const r = processSipMessage(response(status, method, offer), natContext({ direction: 'outbound' }));
    assert.ok(r.ok, status);
    assert.equal(r.summary.hasSdp, true, `${status} ${method}`);
    assert.match(bodyOf(r.bytes), /m=audio 40000 /, `${status} ${method}`);
  }
});

test('SDP that is not an offer or answer is left byte for byte; the headers are still rewritten', () => {
  const cases: Array<[string, Uint8Array]> = [
    ['MESSAGE', request('MESSAGE', offer)],
    ['NOTIFY', request('NOTIFY', offer)],
    ['OPTIONS', request('OPTIONS', offer)],
    ['200 to OPTIONS', response('200 OK', 'OPTIONS', offer)],
    ['200 to REGISTER', response('200 OK', 'REGISTER', offer)],
    ['100 Trying', response('100 Trying', 'INVITE', offer)],
    ['488 to INVITE', response('488 Not Acceptable Here', 'INVITE', offer)],
    ['603 to UPDATE', response('603 Decline', 'UPDATE', offer)],
  ];
  for (const [name, bytes] of cases) {
    const ctx = natContext({ direction: 'outbound' });
    const r = processSipMessage(bytes, ctx);
    assert.ok(r.ok, name);
    assert.equal(bodyOf(r.bytes), offer, `${name}: body untouched`);
    assert.equal(r.summary.hasSdp, false, name);
    assert.deepEqual(r.summary.media, [], name);
    assert.equal(ctx.media.length, 0, `${name}: no media asked for`);
    assert.match(text(r.bytes), /Contact: <sip:alice@203\.0\.113\.1:5060>/, `${name}: Contact rewritten`);
  }
});

test('a malformed SDP body that is not an offer or answer is not a reason to refuse the message', () => {
  const junk = 'v=0\r\nm=audio notaport RTP/AVP 0\r\n';
  assert.equal(processSipMessage(request('INVITE', junk), natContext({ direction: 'outbound' })).ok, false, 'an offer must parse');
  const r = processSipMessage(request('MESSAGE', junk), natContext({ direction: 'outbound' }));
  assert.ok(r.ok);
  assert.equal(bodyOf(r.bytes), junk);
  assert.equal(r.summary.sdpError, null);
});

test('through the engine: a MESSAGE with SDP from the phone opens no pinhole and does not touch its call\'s media', () => {
  const { engine } = withSip();
  const inviteOut = send(engine, '10.0.0.2:5060', `${PROXY}:5060`, msg(`INVITE sip:bob@${PROXY} SIP/2.0`, {
    Via: 'SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKm1;rport',
    From: `<sip:alice@${PROXY}>;tag=a1`,
    To: `<sip:bob@${PROXY}>`,
    'Call-ID': 'm1',
    CSeq: '1 INVITE',
    Contact: '<sip:alice@10.0.0.2:5060>',
    'Content-Type': 'application/sdp',
  }, sdp('10.0.0.2', 30000)), Side.Inside);
  assert.match(inviteOut.text, /c=IN IP4 203\.0\.113\.1/);
  assert.equal(engine.expectations.size, 2);
  const body = sdp('10.0.0.2', 32000);
  const message = send(engine, '10.0.0.2:5060', `${PROXY}:5060`, msg(`MESSAGE sip:bob@${PROXY} SIP/2.0`, {
    Via: 'SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKm2;rport',
    From: `<sip:alice@${PROXY}>;tag=a1`,
    To: `<sip:bob@${PROXY}>`,
    'Call-ID': 'm1',
    CSeq: '2 MESSAGE',
    'Content-Type': 'application/sdp',
  }, body), Side.Inside);
  assert.equal(message.text.split('\r\n\r\n')[1], body, 'the body as the phone wrote it');
  assert.match(message.text, /Via: SIP\/2\.0\/UDP 203\.0\.113\.1:5060;/);
  assert.deepEqual(engine.expectations.list().map((e) => e.insidePort).sort(), [30000, 30001], 'the call\'s streams stay, none added');
});

test('property: the body is rewritten exactly when the message may carry an offer or answer', () => {
  const methods = ['INVITE', 'ACK', 'PRACK', 'UPDATE', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'MESSAGE', 'INFO', 'NOTIFY', 'SUBSCRIBE', 'PUBLISH', 'REFER', 'XOTHER'];
  fc.assert(
    fc.property(fc.boolean(), fc.constantFrom(...methods), fc.integer({ min: 100, max: 699 }), (isRequest, method, status) => {
      const bytes = isRequest ? request(method, offer) : response(`${status} Whatever`, method, offer);
      const r = processSipMessage(bytes, natContext({ direction: 'outbound' }));
      assert.ok(r.ok);
      const rewritten = bodyOf(r.bytes) !== offer;
      assert.equal(rewritten, carriesOfferAnswer(isRequest, method, status, method));
      assert.equal(r.summary.hasSdp, rewritten);
    }),
    { numRuns: 300 },
  );
});
