/**
 * The RTSP codec: framing (messages with and without bodies, pipelined,
 * interleaved binary frames, CR LF between messages, HTTP refused), the
 * message reader (start line, folded and repeated headers, CSeq, Session)
 * and the Transport parser (several specs, client_port, server_port,
 * destination, source, interleaved, multicast, quoted values). Any split of
 * a stream frames the same messages; arbitrary bytes never throw.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cseqOf, frameRtspStream, MAX_RTSP_HEADER, parseRtspMessage, parseTransport, sessionOf } from '../../../src/alg/rtsp/index.js';
import { FrameResume } from '../../../src/alg/tcp-stream.js';
import { parseIpv4 } from '../../../src/wire/address.js';
import { frameInPieces } from '../stream-frames.js';

const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

const SETUP =
  'SETUP rtsp://198.51.100.10:8554/test/stream=0 RTSP/1.0\r\n' +
  'CSeq: 3\r\n' +
  'Transport: RTP/AVP;unicast;client_port=5000-5001,RTP/AVP/TCP;unicast;interleaved=0-1\r\n' +
  'User-Agent: test\r\n\r\n';
const DESCRIBE_REPLY = 'RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Length: 10\r\n\r\nv=0\r\ns=x\r\n';

test('messages with and without a body, pipelined, are framed one by one', () => {
  const f = frameInPieces(frameRtspStream, bytes(SETUP + DESCRIBE_REPLY + SETUP));
  assert.deepEqual(f.messages, [SETUP, DESCRIBE_REPLY, SETUP]);
  assert.equal(f.passedThrough, false);
});

test('interleaved binary frames and CR LF between messages are skipped, not handed over', () => {
  const frame = '$\x00\x00\x05hello';
  const s = frame + SETUP + '\r\n' + frame + '$\x01\x00\x00' + DESCRIBE_REPLY;
  const f = frameInPieces(frameRtspStream, bytes(s), [2, 7, 30, 200]);
  assert.deepEqual(f.messages, [SETUP, DESCRIBE_REPLY]);
  assert.equal(Buffer.from(f.sent).toString('latin1'), s);
});

test('HTTP (RTSP tunnelled in HTTP, or HTTP on an RTSP port) is not RTSP: it passes through untouched', () => {
  for (const s of [
    'GET /stream HTTP/1.0\r\nx-sessioncookie: abc\r\nAccept: application/x-rtsp-tunnelled\r\n\r\n',
    'POST /stream HTTP/1.0\r\nx-sessioncookie: abc\r\nContent-Length: 32767\r\n\r\nU0VUVVAgcnRzcDovLzEwLjAuMC4yIFJUU1AvMS4wDQo=',
    'HTTP/1.0 200 OK\r\nContent-Type: application/x-rtsp-tunnelled\r\n\r\n',
  ]) {
    const f = frameInPieces(frameRtspStream, bytes(s));
    assert.deepEqual(f.messages, []);
    assert.equal(f.passedThrough, true);
    assert.equal(Buffer.from(f.sent).toString('latin1'), s);
  }
});

test('framing errors: bare LF, no colon, two Content-Lengths, oversize header, binary', () => {
  for (const s of [
    'SETUP rtsp://x RTSP/1.0\nCSeq: 1\r\n\r\n',
    'SETUP rtsp://x RTSP/1.0\r\nCSeq 1\r\n\r\n',
    'ANNOUNCE rtsp://x RTSP/1.0\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx',
    'ANNOUNCE rtsp://x RTSP/1.0\r\nContent-Length: 999999\r\n\r\n',
    '\x00\x01\x02',
    'SETUP rtsp://x RTSP/1.0 extra\r\n\r\n',
  ]) {
    assert.equal(frameRtspStream(bytes(s), 0, s.length, new FrameResume()).kind, 'error', JSON.stringify(s));
  }
  const big = bytes(`OPTIONS * RTSP/1.0\r\nX: ${'a'.repeat(MAX_RTSP_HEADER)}`);
  assert.equal(frameRtspStream(big, 0, big.length, new FrameResume()).kind, 'error');
  assert.equal(frameRtspStream(big, 0, 1000, new FrameResume()).kind, 'need-more');
});

test('a header section in one-byte segments is read with the scan resumed, to the same message', () => {
  const msg = bytes(SETUP.replace('User-Agent: test', `User-Agent: ${'u'.repeat(3000)}`));
  const resume = new FrameResume();
  let result;
  for (let n = 1; n <= msg.length; n++) {
    result = frameRtspStream(msg, 0, n, resume);
    if (result.kind !== 'need-more') {
      assert.equal(n, msg.length);
      break;
    }
    assert.ok(resume.scanned >= n - 1, `progress kept at ${n}`);
  }
  assert.deepEqual(result, { kind: 'message', length: msg.length });
});

test('message reader: request line, status, folded values, CSeq in any case, Session with timeout', () => {
  const r = parseRtspMessage(bytes('RTSP/1.0 200 OK\r\nCseq: 4\r\nSession: 8c30e102191f49d1;timeout=60\r\nTransport: RTP/AVP;unicast;\r\n client_port=1-2\r\n\r\n'));
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.equal(r.message.status, 200);
  assert.equal(cseqOf(r.message), 4);
  assert.deepEqual(sessionOf(r.message), { id: '8c30e102191f49d1', timeout: 60 });
  const t = r.message.headers[2];
  assert.equal(Buffer.from(r.message.bytes.subarray(t.value.start, t.value.end)).toString('latin1'), 'RTP/AVP;unicast;\r\n client_port=1-2');
  const q = parseRtspMessage(bytes('TEARDOWN rtsp://h/s RTSP/1.0\r\nCSeq: 9\r\nSession: abc\r\n\r\n'));
  assert.ok(q.ok && q.message.method !== null && q.message.status === 0);
  if (!q.ok) return;
  assert.deepEqual(sessionOf(q.message), { id: 'abc', timeout: -1 });
  const x = parseRtspMessage(bytes('OPTIONS * RTSP/1.0\r\nCSeq: x\r\n\r\n'));
  assert.ok(x.ok && cseqOf(x.message) === -1);
});

test('Transport: several specs with their parameters as spans', () => {
  const v = 'RTP/AVP;unicast;client_port=5000-5001;destination=10.0.0.2, RTP/AVP/TCP;interleaved=0-1, RTP/AVP;multicast;ttl=3;mode="PLAY,RECORD", RTP/AVP/UDP;unicast;client_port=6000;server_port=7000-7001;source=198.51.100.10';
  const b = bytes(v);
  const specs = parseTransport(b, 0, b.length);
  assert.equal(specs.length, 4);
  const text = (s: { start: number; end: number }) => v.slice(s.start, s.end);
  assert.equal(text(specs[0].clientPort!.span), '5000-5001');
  assert.deepEqual([specs[0].clientPort!.lo, specs[0].clientPort!.hi], [5000, 5001]);
  assert.equal(specs[0].destination!.addr, parseIpv4('10.0.0.2'));
  assert.equal(text(specs[0].destination!.span), '10.0.0.2');
  assert.equal(specs[1].interleaved, true);
  assert.equal(specs[2].multicast, true, 'the comma inside quotes splits nothing');
  assert.deepEqual([specs[3].clientPort!.lo, specs[3].clientPort!.hi], [6000, -1]);
  assert.deepEqual([specs[3].serverPort!.lo, specs[3].serverPort!.hi], [7000, 7001]);
  assert.equal(specs[3].source!.addr, parseIpv4('198.51.100.10'));
  const tcp = parseTransport(bytes('RTP/AVP/TCP;unicast;client_port=1-2'), 0, 35);
  assert.equal(tcp[0].interleaved, true, 'RTP over TCP rides the RTSP connection');
  const bad = parseTransport(bytes('RTP/AVP;client_port=1-2;client_port=3-4'), 0, 39);
  assert.equal(bad[0].malformed, true);
  assert.equal(parseTransport(bytes('RTP/AVP;client_port=x'), 0, 21)[0].malformed, true);
});

const rtspStream = fc
  .array(
    fc.oneof(
      fc.constantFrom(SETUP, DESCRIBE_REPLY, '$\x00\x00\x03abc', '\r\n', 'RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: 1;timeout=60\r\n\r\n'),
      fc.tuple(fc.constantFrom('OPTIONS', 'PLAY', 'GET_PARAMETER'), fc.stringMatching(/^[a-z0-9]{0,50}$/)).map(([m, body]) => `${m} rtsp://h/ RTSP/1.0\r\nCSeq: 1\r\nContent-Length: ${body.length}\r\n\r\n${body}`),
    ),
    { maxLength: 10 },
  )
  .map((a) => a.join(''));

test('property: any split of an RTSP stream frames the messages of the whole', () => {
  fc.assert(
    fc.property(rtspStream, fc.array(fc.nat(3000), { maxLength: 12 }), (s, cuts) => {
      const b = bytes(s);
      const whole = frameInPieces(frameRtspStream, b);
      const split = frameInPieces(frameRtspStream, b, cuts);
      assert.equal(whole.passedThrough, false);
      assert.deepEqual(split.messages, whole.messages);
      assert.deepEqual(Buffer.from(split.sent), Buffer.from(b));
      for (const m of whole.messages) assert.ok(parseRtspMessage(bytes(m)).ok, 'a framed message reads');
    }),
    { numRuns: 500 },
  );
});

test('property: arbitrary bytes never throw out of the framer, reader or Transport parser', () => {
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.stringMatching(/^[A-Za-z_/;,=\-0-9."| ]{0,120}$/).map(bytes)), fc.array(fc.nat(300), { maxLength: 6 }), (b, cuts) => {
      const f = frameInPieces(frameRtspStream, b, cuts);
      assert.deepEqual(Buffer.from(f.sent), Buffer.from(b));
      parseRtspMessage(b);
      for (const spec of parseTransport(b, 0, b.length)) {
        for (const s of [spec.clientPort?.span, spec.serverPort?.span, spec.destination?.span, spec.span]) if (s) assert.ok(s.start >= 0 && s.end <= b.length && s.start <= s.end);
      }
    }),
    { numRuns: 2000 },
  );
});
