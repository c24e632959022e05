import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseSdp, sdpAttributes, type Sdp } from '../../../src/alg/sdp/index.js';
import { latin1Bytes, text, sdpBody } from '../sip/fixtures.js';

function sdp(s: string): { b: Uint8Array; d: Sdp } {
  const b = latin1Bytes(s);
  const r = parseSdp(b);
  if (!r.ok) assert.fail(r.reason);
  return { b, d: r.sdp };
}

const at = (b: Uint8Array, s: { start: number; end: number } | null | undefined) => (s ? text(b.subarray(s.start, s.end)) : null);

const offer = sdpBody([
  'v=0',
  'o=alice 2890844526 2890844526 IN IP4 10.0.1.2',
  's=-',
  'c=IN IP4 10.0.1.2',
  'b=AS:128',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'm=audio 49170 RTP/AVP 0 8 101',
  'a=rtpmap:101 telephone-event/8000',
  'a=rtcp:53020 IN IP4 10.0.1.3',
  'a=ssrc:1234 cname:alice@10.0.1.2',
  'm=video 51372/2 RTP/AVP 96',
  'i=camera',
  'c=IN IP4 10.0.1.4/127/3',
  'a=rtcp:51375',
  'a=rtcp-mux',
  'm=image 0 udptl t38',
  'm=application 9 TCP/BFCP *',
]);

test('session: o= address, c= address, attributes', () => {
  const { b, d } = sdp(offer);
  assert.equal(at(b, d.origin?.address), '10.0.1.2');
  assert.equal(at(b, d.origin?.addrtype), 'IP4');
  assert.equal(at(b, d.connection?.address), '10.0.1.2');
  assert.equal(d.connection?.ttl, null);
  assert.deepEqual(sdpAttributes(b, d, null).map((a) => [at(b, a.name), at(b, a.value)]), [['group', 'BUNDLE 0 1']]);
  assert.equal(at(b, { start: d.sessionEnd, end: d.sessionEnd + 7 }), 'm=audio');
  assert.equal(d.eol, '\r\n');
});

test('media: port, /count, proto, formats, media-level c= with ttl/count, a=rtcp with and without address', () => {
  const { b, d } = sdp(offer);
  assert.equal(d.media.length, 4);
  const [audio, video, image, app] = d.media;
  assert.equal(audio.mediaName, 'audio');
  assert.equal(audio.portNumber, 49170);
  assert.equal(at(b, audio.port), '49170');
  assert.equal(audio.protoName, 'RTP/AVP');
  assert.equal(at(b, audio.formats), '0 8 101');
  assert.equal(audio.rtcp?.portNumber, 53020);
  assert.equal(at(b, audio.rtcp?.address), '10.0.1.3');
  assert.equal(audio.connections.length, 0);
  assert.deepEqual(sdpAttributes(b, d, audio).map((a) => at(b, a.name)), ['rtpmap', 'rtcp', 'ssrc'], 'every a= line is still there to read');
  assert.deepEqual(sdpAttributes(b, d, video).map((a) => [at(b, a.name), at(b, a.value)]), [['rtcp', '51375'], ['rtcp-mux', null]]);
  assert.equal(video.portNumber, 51372);
  assert.equal(video.countNumber, 2);
  assert.equal(at(b, video.connections[0].address), '10.0.1.4');
  assert.equal(at(b, video.connections[0].ttl), '127');
  assert.equal(at(b, video.connections[0].count), '3');
  assert.equal(video.rtcp?.portNumber, 51375);
  assert.equal(video.rtcp?.address, null);
  assert.equal(video.rtcpMux, true);
  assert.equal(text(b.subarray(video.afterLine, video.afterLine + 2)), 'c=', 'afterLine skips the i= line');
  assert.equal(image.mediaName, 'image');
  assert.equal(image.portNumber, 0);
  assert.equal(image.protoName, 'udptl');
  assert.equal(app.protoName, 'TCP/BFCP');
  // Section ends: just past each section's last line.
  assert.equal(text(b.subarray(audio.end, audio.end + 7)), 'm=video');
  assert.equal(app.end, b.length);
});

test('IPv6 connection address with a count; LF line ends; no final line end; blank trailing line', () => {
  const six = sdp('v=0\no=- 1 1 IN IP6 fd00::2\nc=IN IP6 FF15::101/3\nm=audio 5004 RTP/AVP 0');
  assert.equal(six.d.eol, '\n');
  assert.equal(at(six.b, six.d.connection?.address), 'FF15::101');
  assert.equal(at(six.b, six.d.connection?.count), '3');
  assert.equal(six.d.connection?.ttl, null);
  assert.equal(six.d.media[0].end, six.b.length);
  const blank = sdp('v=0\r\nm=audio 5004 RTP/AVP 0\r\n\r\n');
  assert.equal(blank.d.media[0].end, blank.b.length - 2);
});

test('malformed descriptions are refused as a whole', () => {
  for (const s of [
    '', 'x=1\r\n', 'o=a 1 1 IN IP4 1.2.3.4\r\n', 'v=0\r\nc=IN IP4\r\n', 'v=0\r\nm=audio x RTP/AVP 0\r\n',
    'v=0\r\nm=audio 70000 RTP/AVP 0\r\n', 'v=0\r\nm=audio 5004/0 RTP/AVP 0\r\n', 'v=0\r\nm=audio\r\n',
    'v=0\r\no=a 1 1 IN IP4\r\n', 'v=0\r\nm=audio 1 RTP/AVP 0\r\na=rtcp:x\r\n', 'v=0\r\nm=audio 1 RTP/AVP 0\r\na=rtcp:5 IN IP4\r\n',
    'v=0\r\nc=IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.5\r\n', 'v=0\r\nbad line\r\n', 'v=0\rc=IN IP4 1.2.3.4\r\n',
    'v=0\r\nc=IN IP4 /12\r\n', 'v=0\r\nc=IN IP4 1.2.3.4/x\r\n',
  ]) {
    assert.equal(parseSdp(latin1Bytes(s)).ok, false, JSON.stringify(s));
  }
});

test('a range inside a larger buffer', () => {
  const b = latin1Bytes('HEADERS' + offer + 'TRAILING');
  const r = parseSdp(b, 7, 7 + offer.length);
  assert.ok(r.ok);
  assert.equal(r.ok && r.sdp.media.length, 4);
  assert.equal(parseSdp(b, 5, 2).ok, false);
});

test('line ends: CR only right before LF or as the very last byte; a long line found by the word scan', () => {
  const lastCr = sdp('v=0\r\nm=audio 5004 RTP/AVP 0\r');
  assert.equal(lastCr.d.eol, '\r\n');
  assert.equal(at(lastCr.b, lastCr.d.media[0].formats), '0', 'the CR is not part of the line');
  assert.equal(lastCr.d.media[0].end, lastCr.b.length);
  const onlyCr = sdp('v=0\r');
  assert.equal(onlyCr.d.eol, '\r\n');
  for (const s of ['v=0\r\nm=audio 5004 RTP/AVP 0\rx\r\n', 'v=0\r\r\n', 'v=0\r\ns=a\rb\n']) {
    const r = parseSdp(latin1Bytes(s));
    assert.equal(r.ok === false && r.reason, 'bare CR in SDP', JSON.stringify(s));
  }
  const long = 'a=fmtp:96 ' + 'x'.repeat(200);
  const d = sdp(`v=0\r\nm=video 5006 RTP/AVP 96\r\n${long}\r\nc=IN IP4 10.0.1.9\r\n`);
  assert.equal(at(d.b, d.d.media[0].connections[0].address), '10.0.1.9');
});

test('a=rtcp and a=rtcp-mux are recognised in any case, other a=rtcp... names are not', () => {
  const d = sdp('v=0\r\nm=audio 5004 RTP/AVP 0\r\na=RTCP:5009\r\na=Rtcp-Mux\r\nm=audio 5006 RTP/AVP 0\r\na=rtcpx:1\r\na=rtcp-fb:* nack\r\n');
  assert.equal(d.d.media[0].rtcp?.portNumber, 5009);
  assert.equal(d.d.media[0].rtcpMux, true);
  assert.equal(d.d.media[1].rtcp, null);
  assert.equal(d.d.media[1].rtcpMux, false);
});

test('property: parseSdp never throws, and a description that parses is read the same from inside a larger buffer', () => {
  const line = fc.oneof(
    fc.constantFrom('v=0', 'o=- 1 1 IN IP4 10.0.1.2', 'c=IN IP4 10.0.1.2', 'c=IN IP6 fd00::1/2', 'm=audio 5004 RTP/AVP 0', 'm=video 0/2 RTP/AVP 96', 'a=rtcp:5005 IN IP4 10.0.1.3', 'a=rtcp-mux', 'i=x', 't=0 0', ''),
    fc.string({ maxLength: 30 }),
  );
  fc.assert(
    fc.property(fc.array(line, { maxLength: 12 }), fc.constantFrom('\r\n', '\n', '\r'), (lines, eol) => {
      const s = lines.join(eol);
      const b = latin1Bytes(s);
      const r = parseSdp(b);
      const framed = latin1Bytes('XY' + s + 'Z');
      const r2 = parseSdp(framed, 2, 2 + b.length);
      assert.equal(r.ok, r2.ok);
      if (r.ok && r2.ok) assert.equal(r2.sdp.media.length, r.sdp.media.length);
      else if (!r.ok && !r2.ok) assert.equal(r2.reason, r.reason);
    }),
    { numRuns: 1000 },
  );
});
