import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCSeq, parseCallId, parseDeltaSeconds, parseContentType, isSdpContentType } from '../../../src/alg/sip/index.js';
import { latin1Bytes } from './fixtures.js';

const whole = (s: string) => {
  const b = latin1Bytes(s);
  return { b, span: { start: 0, end: b.length } };
};

test('CSeq: number and method, leading zeros, folded LWS, 2**32-1 limit', () => {
  const a = whole('314159 INVITE');
  assert.deepEqual({ ...parseCSeq(a.b, a.span)!, method: undefined, numberSpan: undefined }, { number: 314159, methodName: 'INVITE', method: undefined, numberSpan: undefined });
  const w = whole('0009\r\n  INVITE');
  assert.equal(parseCSeq(w.b, w.span)?.number, 9);
  const max = whole('4294967295 ACK');
  assert.equal(parseCSeq(max.b, max.span)?.number, 4294967295);
  for (const s of ['4294967296 ACK', '36893488147419103232 REGISTER', 'INVITE', '1', '1INVITE', '1 INVITE x', '-1 ACK', '']) {
    const x = whole(s);
    assert.equal(parseCSeq(x.b, x.span), null, s);
  }
});

test('Call-ID: word [@ word], no whitespace', () => {
  const a = whole("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
  assert.equal(parseCallId(a.b, a.span), "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
  for (const s of ['', 'a b', 'a@b@c']) {
    const x = whole(s);
    assert.equal(parseCallId(x.b, x.span), null, s);
  }
});

test('delta-seconds', () => {
  for (const [s, v] of [['3600', 3600], ['0', 0], ['4294967295', 4294967295], ['4294967296', null], ['1'.padEnd(101, '0'), null], ['12a', null], ['', null]] as const) {
    const x = whole(s);
    assert.equal(parseDeltaSeconds(x.b, x.span), v, s);
  }
});

test('Content-Type', () => {
  const a = whole('Application/SDP');
  assert.equal(parseContentType(a.b, a.span)?.mediaType, 'application/sdp');
  const m = whole('multipart/mixed;boundary=7a9cbec02ceef655');
  assert.equal(parseContentType(m.b, m.span)?.params.length, 1);
  const sp = whole('application / sdp ; charset = "utf-8"');
  assert.equal(parseContentType(sp.b, sp.span)?.mediaType, 'application/sdp');
  for (const s of ['application', '/sdp', 'application/', 'a/b junk']) {
    const x = whole(s);
    assert.equal(parseContentType(x.b, x.span), null, s);
  }
});

test('isSdpContentType agrees with parseContentType', () => {
  for (const s of ['application/sdp', 'Application/SDP', 'application / sdp ;charset=x', 'application/sdpx', 'application/sd', 'text/plain', 'application/sdp junk', 'application/sdp;', '']) {
    const x = whole(s);
    assert.equal(isSdpContentType(x.b, x.span), parseContentType(x.b, x.span)?.mediaType === 'application/sdp', s);
  }
});
