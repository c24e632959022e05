import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseSipMessage, rewriteSipMessage, processSipMessage, applyEdits,
  type RewriteContext, type SipSummary, type Edit,
} from '../../../src/alg/sip/index.js';
import { sip, sdpBody, text, natContext } from './fixtures.js';

interface Rewritten {
  out: string;
  edits: Edit[];
  summary: SipSummary;
  /** [old text, new text] of every edit, in offset order. */
  changes: [string, string][];
}

function rewrite(b: Uint8Array, ctx: RewriteContext): Rewritten {
  const p = parseSipMessage(b);
  if (!p.ok) assert.fail(`parse: ${p.reason}`);
  const r = rewriteSipMessage(p.message, ctx);
  if (!r.ok) assert.fail(`rewrite: ${r.reason}`);
  const a = applyEdits(b, r.edits);
  if (!a.ok) assert.fail(`apply: ${a.reason}`);
  const sorted = [...r.edits].sort((x, y) => x.start - y.start || x.end - y.end);
  const changes = sorted.map((e): [string, string] => [text(b.subarray(e.start, e.end)), text(e.text)]);
  // Whatever the rewrite did, the result is a message with a consistent Content-Length.
  const again = parseSipMessage(a.bytes);
  if (!again.ok) assert.fail(`rewritten message does not parse: ${again.reason}`);
  if (again.message.contentLength !== null) assert.equal(again.message.contentLength, again.message.body.end - again.message.body.start);
  assert.equal(again.message.headers.length, p.message.headers.length);
  return { out: text(a.bytes), edits: r.edits, summary: r.summary, changes };
}

function refused(b: Uint8Array, ctx: RewriteContext): string {
  const p = parseSipMessage(b);
  if (!p.ok) assert.fail(`parse: ${p.reason}`);
  const r = rewriteSipMessage(p.message, ctx);
  assert.equal(r.ok, false);
  return r.ok ? '' : r.reason;
}

const offer = sdpBody([
  'v=0',
  'o=alice 2890844526 2890844526 IN IP4 10.0.1.2',
  's=-',
  'c=IN IP4 10.0.1.2',
  't=0 0',
  'm=audio 49170 RTP/AVP 0 8 101',
  'a=rtpmap:101 telephone-event/8000',
  'a=ssrc:1234567 cname:alice@10.0.1.2',
  'm=video 51372 RTP/AVP 96',
  'a=rtpmap:96 H264/90000',
]);

function invite(body = offer, extra: string[] = []): Uint8Array {
  return sip(
    [
      'INVITE sip:bob@biloxi.example.com SIP/2.0',
      'Via: SIP/2.0/UDP 10.0.1.2:5060;branch=z9hG4bK776asdhds;rport',
      'Max-Forwards: 70',
      'To: Bob <sip:bob@biloxi.example.com>',
      'From: Alice <sip:alice@10.0.1.2>;tag=1928301774',
      'Call-ID: a84b4c76e66710@10.0.1.2',
      'CSeq: 314159 INVITE',
      'Contact: <sip:alice@10.0.1.2:5060;transport=udp>',
      ...extra,
      'Content-Type: application/sdp',
      `Content-Length: ${body.length}`,
    ],
    body,
  );
}

test('outbound INVITE: Via, Contact, o=, c=, m= ports and Content-Length; nothing else', () => {
  const ctx = natContext({ direction: 'outbound' });
  const b = invite();
  const r = rewrite(b, ctx);
  assert.deepEqual(r.changes, [
    ['10.0.1.2', '203.0.113.1'], // Via sent-by (port kept as written)
    ['10.0.1.2', '203.0.113.1'], // Contact
    [String(offer.length), String(offer.length + 6)], // Content-Length
    ['10.0.1.2', '203.0.113.1'], // o=
    ['10.0.1.2', '203.0.113.1'], // c=
    ['49170', '59170'],
    ['51372', '61372'],
  ]);
  assert.match(r.out, /From: Alice <sip:alice@10\.0\.1\.2>;tag=1928301774/, 'From is left alone by default');
  assert.match(r.out, /Call-ID: a84b4c76e66710@10\.0\.1\.2/, 'Call-ID is an opaque identifier');
  assert.match(r.out, /a=ssrc:1234567 cname:alice@10\.0\.1\.2/, 'cname is opaque and must match RTCP SDES');
  // RTP even/RTCP next: the ALG was asked for both ports of both streams.
  assert.deepEqual(ctx.media.map((m) => [m.kind, m.mediaType, m.port, m.index]), [
    ['rtp', 'audio', 49170, 0], ['rtcp', 'audio', 49171, 0], ['rtp', 'video', 51372, 1], ['rtcp', 'video', 51373, 1],
  ]);
  const s = r.summary;
  assert.equal(s.method, 'INVITE');
  assert.deepEqual(s.cseq, { number: 314159, method: 'INVITE' });
  assert.equal(s.callId, 'a84b4c76e66710@10.0.1.2');
  assert.equal(s.branch, 'z9hG4bK776asdhds');
  assert.equal(s.fromTag, '1928301774');
  assert.equal(s.toTag, null);
  assert.equal(s.hasSdp, true);
  assert.deepEqual(s.media.map((m) => [m.kind, m.original.port, m.mapped?.port]), [
    ['rtp', 49170, 59170], ['rtcp', 49171, 59171], ['rtp', 51372, 61372], ['rtcp', 51373, 61373],
  ]);
  assert.deepEqual(s.contacts, [{ uri: 'sip:alice@10.0.1.2:5060;transport=udp', host: '10.0.1.2', port: 5060, expires: null }]);
  // The context learned where each address was.
  assert.ok(ctx.calls.some((c) => c.field === 'via' && c.port === 5060));
  assert.ok(ctx.calls.some((c) => c.field === 'contact' && c.transport === 'udp'));
});

test('ports: explicit stays explicit, absent stays absent at the default, inserted otherwise', () => {
  const b = sip([
    'REGISTER sip:registrar.example.com SIP/2.0',
    'Via: SIP/2.0/UDP 10.0.1.2;branch=z9hG4bK1',
    'From: <sip:alice@example.com>;tag=1',
    'To: <sip:alice@example.com>',
    'Call-ID: reg1',
    'CSeq: 1 REGISTER',
    'Contact: <sip:alice@10.0.1.2>, <sip:alice@10.0.1.2:5070>, <sips:alice@10.0.1.2>',
    'Content-Length: 0',
  ]);
  const same = rewrite(b, natContext({ direction: 'outbound' }));
  assert.deepEqual(same.changes.map((c) => c[1]), ['203.0.113.1', '203.0.113.1', '203.0.113.1', '203.0.113.1']);
  const moved = rewrite(b, natContext({ direction: 'outbound', sigShift: 30000 }));
  assert.deepEqual(moved.changes, [
    ['10.0.1.2', '203.0.113.1'], ['', ':35060'], // Via: no port written, new one is not the default
    ['10.0.1.2', '203.0.113.1'], ['', ':35060'],
    ['10.0.1.2', '203.0.113.1'], ['5070', '35070'],
    ['10.0.1.2', '203.0.113.1'], ['', ':35061'], // sips defaults to 5061
  ]);
  assert.match(moved.out, /Via: SIP\/2\.0\/UDP 203\.0\.113\.1:35060;branch=z9hG4bK1\r\n/);
});

test('inbound REGISTER 200: top Via with received/rport and the Contact bindings restored', () => {
  const b = sip([
    'SIP/2.0 200 OK',
    'Via: SIP/2.0/UDP 203.0.113.1:40000;branch=z9hG4bK1;received=203.0.113.1;rport=40000',
    'Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bK0',
    'From: <sip:alice@example.com>;tag=1',
    'To: <sip:alice@example.com>;tag=99',
    'Call-ID: reg1',
    'CSeq: 1 REGISTER',
    'Contact: <sip:alice@203.0.113.1:40000>;expires=3600, <sip:alice@198.51.100.7>;expires=60',
    'Expires: 3600',
    'Content-Length: 0',
  ]);
  const r = rewrite(b, natContext({ direction: 'inbound', sigShift: 40000 - 5060 }));
  assert.deepEqual(r.changes, [
    ['203.0.113.1', '10.0.1.2'], ['40000', '5060'], // sent-by
    ['203.0.113.1', '10.0.1.2'], // received
    ['40000', '5060'], // rport
    ['203.0.113.1', '10.0.1.2'], ['40000', '5060'], // our binding; the other contact is someone else's
  ]);
  assert.match(r.out, /Via: SIP\/2\.0\/UDP proxy\.example\.com;branch=z9hG4bK0\r\n/, 'lower Vias untouched');
  assert.equal(r.summary.status, 200);
  assert.equal(r.summary.expires, 3600);
  assert.deepEqual(r.summary.contacts.map((c) => c.expires), [3600, 60]);
  assert.equal(r.summary.toTag, '99');
});

test('inbound response: rport alone (sent-by already public, so no received=) is restored too', () => {
  const b = sip([
    'SIP/2.0 100 Trying',
    'Via: SIP/2.0/UDP 203.0.113.1:40000;rport=40000;branch=z9hG4bK1',
    'From: <sip:alice@example.com>;tag=1',
    'To: <sip:bob@example.com>',
    'Call-ID: c1',
    'CSeq: 2 INVITE',
    'Content-Length: 0',
  ]);
  const ctx = natContext({ direction: 'inbound', sigShift: 40000 - 5060 });
  const r = rewrite(b, ctx);
  assert.deepEqual(r.changes, [['203.0.113.1', '10.0.1.2'], ['40000', '5060'], ['40000', '5060']]);
  assert.ok(ctx.calls.some((c) => c.field === 'via-rport' && c.port === 40000));
});

test('inbound INVITE to the registered contact: Request-URI and To restored, SDP only summarised', () => {
  const remote = sdpBody(['v=0', 'o=bob 1 1 IN IP4 198.51.100.7', 's=-', 'c=IN IP4 198.51.100.7', 't=0 0', 'm=audio 3456 RTP/AVP 0', 'm=image 0 udptl t38']);
  const b = sip(
    [
      'INVITE sip:alice@203.0.113.1:40000 SIP/2.0',
      'Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKr',
      'From: <sip:bob@example.net>;tag=b1',
      'To: <sip:alice@203.0.113.1:40000>',
      'Call-ID: in1',
      'CSeq: 7 INVITE',
      'Contact: <sip:bob@198.51.100.7>',
      'Record-Route: <sip:203.0.113.1:40000;lr>',
      'Content-Type: application/sdp',
      `Content-Length: ${remote.length}`,
    ],
    remote,
  );
  const ctx = natContext({ direction: 'inbound', sigShift: 40000 - 5060 });
  const r = rewrite(b, ctx);
  assert.match(r.out, /^INVITE sip:alice@10\.0\.1\.2:5060 SIP\/2\.0\r\n/);
  assert.match(r.out, /To: <sip:alice@10\.0\.1\.2:5060>\r\n/);
  assert.match(r.out, /Record-Route: <sip:10\.0\.1\.2:5060;lr>\r\n/);
  assert.match(r.out, /Via: SIP\/2\.0\/UDP 198\.51\.100\.7;branch=z9hG4bKr\r\n/, 'request Vias are the remote side');
  assert.ok(r.out.endsWith(remote), 'inbound SDP is not rewritten');
  assert.equal(ctx.media.length, 0, 'no media mapping inbound');
  assert.deepEqual(r.summary.media.map((m) => [m.mediaType, m.kind, m.original.addr, m.original.port, m.disabled, m.mapped]), [
    ['audio', 'rtp', '198.51.100.7', 3456, false, null],
    ['audio', 'rtcp', '198.51.100.7', 3457, false, null],
    ['image', 'data', '198.51.100.7', 0, true, null],
  ]);
});

test('outbound 200 answer: the remote Vias stay, Contact and SDP are rewritten', () => {
  const answer = sdpBody(['v=0', 'o=- 1 1 IN IP4 10.0.1.2', 's=-', 'c=IN IP4 10.0.1.2', 't=0 0', 'm=audio 30000 RTP/AVP 0']);
  const b = sip(
    [
      'SIP/2.0 200 OK',
      'Via: SIP/2.0/UDP 10.0.1.2;branch=z9hG4bKr;received=198.51.100.7',
      'From: <sip:bob@example.net>;tag=b1',
      'To: <sip:alice@10.0.1.2>;tag=a1',
      'Call-ID: in1',
      'CSeq: 7 INVITE',
      'Contact: <sip:alice@10.0.1.2>',
      'Content-Type: application/sdp',
      `Content-Length: ${answer.length}`,
    ],
    answer,
  );
  const r = rewrite(b, natContext({ direction: 'outbound' }));
  assert.match(r.out, /Via: SIP\/2\.0\/UDP 10\.0\.1\.2;branch=z9hG4bKr;received=198\.51\.100\.7\r\n/);
  assert.match(r.out, /To: <sip:alice@10\.0\.1\.2>;tag=a1/);
  assert.match(r.out, /Contact: <sip:alice@203\.0\.113\.1>/);
  assert.match(r.out, /m=audio 40000 RTP\/AVP 0/);
});

test('rewriteFromTo: From and To follow the translated endpoint both ways', () => {
  const out = rewrite(invite(offer, []), natContext({ direction: 'outbound', rewriteFromTo: true }));
  assert.match(out.out, /From: Alice <sip:alice@203\.0\.113\.1>;tag=1928301774/);
  const b = sip([
    'SIP/2.0 180 Ringing',
    'Via: SIP/2.0/UDP 203.0.113.1;branch=z9hG4bK1',
    'From: Alice <sip:alice@203.0.113.1>;tag=1',
    'To: <sip:bob@biloxi.example.com>;tag=2',
    'Call-ID: c',
    'CSeq: 1 INVITE',
    'Content-Length: 0',
  ]);
  const back = rewrite(b, natContext({ direction: 'inbound', rewriteFromTo: true }));
  assert.match(back.out, /From: Alice <sip:alice@10\.0\.1\.2>;tag=1/);
  const without = rewrite(b, natContext({ direction: 'inbound' }));
  assert.match(without.out, /From: Alice <sip:alice@203\.0\.113\.1>;tag=1/);
});

test('RTCP: a=rtcp port and address rewritten; implicit RTCP kept implicit when adjacent, announced when not', () => {
  const explicit = sdpBody(['v=0', 'o=- 1 1 IN IP4 10.0.1.2', 's=-', 'c=IN IP4 10.0.1.2', 't=0 0', 'm=audio 30000 RTP/AVP 0', 'a=rtcp:30011 IN IP4 10.0.1.2']);
  const e = rewrite(invite(explicit), natContext({ direction: 'outbound' }));
  assert.match(e.out, /a=rtcp:40011 IN IP4 203\.0\.113\.1\r\n$/);

  // The ALG hands out a non-adjacent RTCP port: the peer must be told.
  const scattered = natContext({ direction: 'outbound', mapMedia: (s) => ({ addr: '203.0.113.1', port: s.kind === 'rtcp' ? 50001 : 40000 }) });
  const implicit = sdpBody(['v=0', 'o=- 1 1 IN IP4 10.0.1.2', 's=-', 'c=IN IP4 10.0.1.2', 't=0 0', 'm=audio 30000 RTP/AVP 0', 'a=sendrecv', 'm=video 0 RTP/AVP 96']);
  const i = rewrite(invite(implicit), scattered);
  assert.match(i.out, /m=audio 40000 RTP\/AVP 0\r\na=sendrecv\r\na=rtcp:50001\r\nm=video 0 RTP\/AVP 96\r\n$/);
  assert.deepEqual(scattered.media.map((m) => m.kind), ['rtp', 'rtcp'], 'port 0 asks for nothing');

  // Last section without a final line end.
  const noEol = 'v=0\r\no=- 1 1 IN IP4 10.0.1.2\r\ns=-\r\nc=IN IP4 10.0.1.2\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0';
  const n = rewrite(invite(noEol), natContext({ direction: 'outbound', mapMedia: (s) => ({ addr: '203.0.113.1', port: s.kind === 'rtcp' ? 50001 : 40000 }) }));
  assert.ok(n.out.endsWith('m=audio 40000 RTP/AVP 0\r\na=rtcp:50001'));
});

test('T.38 (m=image udptl), port 0, refused mappings, rtcp-mux', () => {
  const body = sdpBody([
    'v=0', 'o=- 1 1 IN IP4 10.0.1.2', 's=-', 'c=IN IP4 10.0.1.2', 't=0 0',
    'm=audio 0 RTP/AVP 0', 'm=image 16756 udptl t38', 'm=video 5004 RTP/AVP 96', 'a=rtcp-mux', 'm=text 6000 RTP/AVP 98',
  ]);
  const ctx = natContext({ direction: 'outbound', mapMedia: (s) => (s.mediaType === 'text' ? null : { addr: '203.0.113.1', port: s.port + 2 }) });
  const r = rewrite(invite(body), ctx);
  assert.match(r.out, /m=audio 0 RTP\/AVP 0\r\n/);
  assert.match(r.out, /m=image 16758 udptl t38\r\n/);
  assert.match(r.out, /m=video 5006 RTP\/AVP 96\r\na=rtcp-mux\r\n/);
  assert.match(r.out, /m=text 6000 RTP\/AVP 98\r\n/, 'refused by the ALG: unchanged');
  assert.deepEqual(ctx.media.map((m) => [m.mediaType, m.kind, m.proto]), [
    ['image', 'data', 'udptl'], ['video', 'rtp', 'RTP/AVP'], ['video', 'rtcp', 'RTP/AVP'], ['text', 'rtp', 'RTP/AVP'], ['text', 'rtcp', 'RTP/AVP'],
  ]);
  const video = r.summary.media.find((m) => m.mediaType === 'video' && m.kind === 'rtp');
  assert.equal(video?.rtcpMux, true);
  assert.equal(r.summary.media.find((m) => m.mediaType === 'audio')?.disabled, true);
});

test('ports below 1024 are never mapped (safety rule 4)', () => {
  const body = sdpBody(['v=0', 'o=- 1 1 IN IP4 10.0.1.2', 's=-', 'c=IN IP4 10.0.1.2', 't=0 0', 'm=application 9 TCP/BFCP *', 'm=audio 1023 RTP/AVP 0', 'm=audio 5004 RTP/AVP 0', 'a=rtcp:999']);
  const ctx = natContext({ direction: 'outbound' });
  const r = rewrite(invite(body), ctx);
  assert.deepEqual(ctx.media.map((m) => [m.kind, m.port]), [['rtp', 5004]]);
  assert.match(r.out, /m=application 9 TCP\/BFCP \*\r\nm=audio 1023 RTP\/AVP 0\r\nm=audio 15004 RTP\/AVP 0\r\na=rtcp:999\r\n$/);
});

test('streams mapped to different public addresses get their own c=', () => {
  const body = sdpBody(['v=0', 'o=- 1 1 IN IP4 10.0.1.2', 's=-', 'c=IN IP4 10.0.1.2', 't=0 0', 'm=audio 30000 RTP/AVP 0', 'i=voice', 'a=sendrecv', 'm=video 30002 RTP/AVP 96']);
  const ctx = natContext({ direction: 'outbound', mapMedia: (s) => ({ addr: s.mediaType === 'audio' ? '203.0.113.1' : '203.0.113.2', port: s.port }) });
  const r = rewrite(invite(body), ctx);
  assert.match(r.out, /c=IN IP4 203\.0\.113\.1\r\n/);
  assert.match(r.out, /m=video 30002 RTP\/AVP 96\r\nc=IN IP4 203\.0\.113\.2\r\n$/);
});

test('IPv6 inside host behind an IPv4 public address', () => {
  const body = sdpBody(['v=0', 'o=- 1 1 IN IP6 fd00::2', 's=-', 'c=IN IP6 fd00::2', 't=0 0', 'm=audio 30000 RTP/AVP 0']);
  const b = sip(
    [
      'INVITE sip:bob@example.com SIP/2.0',
      'Via: SIP/2.0/UDP [fd00::2]:5060;branch=z9hG4bK6',
      'From: <sip:alice@example.com>;tag=1',
      'To: <sip:bob@example.com>',
      'Call-ID: v6',
      'CSeq: 1 INVITE',
      'Contact: <sip:alice@[fd00::2]>',
      'Content-Type: application/sdp',
      `Content-Length: ${body.length}`,
    ],
    body,
  );
  const r = rewrite(b, natContext({ direction: 'outbound', inside: 'fd00::2' }));
  assert.match(r.out, /Via: SIP\/2\.0\/UDP 203\.0\.113\.1:5060;branch=z9hG4bK6/);
  assert.match(r.out, /Contact: <sip:alice@203\.0\.113\.1>/);
  assert.match(r.out, /o=- 1 1 IN IP4 203\.0\.113\.1\r\n/);
  assert.match(r.out, /c=IN IP4 203\.0\.113\.1\r\n/);
  const back = sip([
    'SIP/2.0 100 Trying', 'Via: SIP/2.0/UDP 203.0.113.1:5060;branch=z9hG4bK6', 'From: <sip:a@b>;tag=1', 'To: <sip:b@c>', 'Call-ID: v6', 'CSeq: 1 INVITE', 'l: 0',
  ]);
  const v = rewrite(back, natContext({ direction: 'inbound', inside: 'fd00::2' }));
  assert.match(v.out, /Via: SIP\/2\.0\/UDP \[fd00::2\]:5060;branch=z9hG4bK6/);
});

test('Route, Record-Route and URI maddr naming the inside host (an inside proxy)', () => {
  const b = sip([
    'BYE sip:bob@198.51.100.7 SIP/2.0',
    'Via: SIP/2.0/UDP 10.0.1.2;branch=z9hG4bKp;maddr=10.0.1.2',
    'Via: SIP/2.0/UDP 10.0.1.9;branch=z9hG4bKq',
    'Route: <sip:10.0.1.2;lr>, <sip:proxy.example.net;lr>',
    'Record-Route: <sip:pbx@example.com;maddr=10.0.1.2;lr>',
    'From: <sip:a@example.com>;tag=1',
    'To: <sip:b@example.net>;tag=2',
    'Call-ID: bye',
    'CSeq: 3 BYE',
    'Content-Length: 0',
  ]);
  const r = rewrite(b, natContext({ direction: 'outbound' }));
  assert.match(r.out, /Via: SIP\/2\.0\/UDP 203\.0\.113\.1;branch=z9hG4bKp;maddr=203\.0\.113\.1\r\n/);
  assert.match(r.out, /Via: SIP\/2\.0\/UDP 10\.0\.1\.9;branch=z9hG4bKq\r\n/, 'only the top Via is the sender');
  assert.match(r.out, /Route: <sip:203\.0\.113\.1;lr>, <sip:proxy\.example\.net;lr>\r\n/);
  assert.match(r.out, /Record-Route: <sip:pbx@example\.com;maddr=203\.0\.113\.1;lr>\r\n/);
});

test('Content-Length: absent in a datagram stays absent; compact form edited in place', () => {
  const body = sdpBody(['v=0', 'o=- 1 1 IN IP4 10.0.1.2', 's=-', 'c=IN IP4 10.0.1.2', 't=0 0', 'm=audio 30000 RTP/AVP 0']);
  const head = ['INVITE sip:b@example.com SIP/2.0', 'v: SIP/2.0/UDP 10.0.1.2;branch=z9hG4bK1', 'f: <sip:a@example.com>;tag=1', 't: <sip:b@example.com>', 'i: cl', 'CSeq: 1 INVITE', 'c: application/sdp'];
  const absent = rewrite(sip(head, body), natContext({ direction: 'outbound' }));
  assert.ok(!/Content-Length|\r\nl:/i.test(absent.out));
  assert.equal(absent.out.length, sip(head, body).length + 3 * 3);
  const compact = rewrite(sip([...head, `l:${body.length}`], body), natContext({ direction: 'outbound' }));
  assert.match(compact.out, new RegExp(`\\r\\nl:${body.length + 6}\\r\\n`));
});

test('REGISTER with Contact "*" and Expires: 0', () => {
  const b = sip(['REGISTER sip:example.com SIP/2.0', 'Via: SIP/2.0/UDP 10.0.1.2;branch=z9hG4bK1', 'From: <sip:a@example.com>;tag=1', 'To: <sip:a@example.com>', 'Call-ID: r', 'CSeq: 9 REGISTER', 'Contact: *', 'Expires: 0', 'l: 0']);
  const r = rewrite(b, natContext({ direction: 'outbound' }));
  assert.equal(r.summary.contactStar, true);
  assert.equal(r.summary.expires, 0);
  assert.deepEqual(r.summary.contacts, []);
});

test('refusals: what the rewriter cannot fully read passes unmodified', () => {
  const base = ['Via: SIP/2.0/UDP 10.0.1.2;branch=z9hG4bK1', 'From: <sip:a@example.com>;tag=1', 'To: <sip:b@example.com>', 'Call-ID: x', 'CSeq: 1 INVITE'];
  const ctx = natContext({ direction: 'outbound' });
  const cases: [string, string[], string][] = [
    ['no Via', ['INVITE sip:b@example.com SIP/2.0', ...base.slice(1), 'l: 0'], 'missing Via'],
    ['no Call-ID', ['INVITE sip:b@example.com SIP/2.0', ...base.filter((h) => !h.startsWith('Call-ID')), 'l: 0'], 'missing Call-ID'],
    ['two To', ['INVITE sip:b@example.com SIP/2.0', ...base, 'To: <sip:c@example.com>', 'l: 0'], 'more than one To'],
    ['method mismatch', ['OPTIONS sip:b@example.com SIP/2.0', ...base, 'l: 0'], 'CSeq method differs from the request method'],
    ['bad Contact', ['INVITE sip:b@example.com SIP/2.0', ...base, 'Contact: <sip:a@10.0.1.2>;;', 'l: 0'], 'malformed Contact: malformed parameters'],
    ['"*" with addresses', ['INVITE sip:b@example.com SIP/2.0', ...base, 'Contact: *', 'Contact: <sip:a@10.0.1.2>', 'l: 0'], 'Contact "*" mixed with addresses'],
    ['bad Request-URI', ['INVITE <sip:b@example.com> SIP/2.0', ...base, 'l: 0'], 'malformed Request-URI'],
    ['bad Route', ['INVITE sip:b@example.com SIP/2.0', ...base, 'Route: <garbage>', 'l: 0'], 'malformed Route URI'],
  ];
  for (const [what, lines, reason] of cases) assert.equal(refused(sip(lines), ctx), reason, what);
  const badSdp = 'v=0\r\nm=audio x RTP/AVP 0\r\n';
  assert.equal(refused(invite(badSdp), ctx), 'malformed SDP: malformed m= port');
  const p = processSipMessage(invite(badSdp), ctx);
  assert.equal(p.ok, false);
  assert.equal(!p.ok && p.stage, 'rewrite');
});

test('From/To URIs are read only where they may be rewritten (RFC 4475 badaspec)', () => {
  const lines = ['OPTIONS sip:user@example.org SIP/2.0', 'Via: SIP/2.0/UDP 10.0.1.2:5060;branch=z9hG4bKkdju43234', 'From: "Bell, Alexander" <sip:a.g.bell@example.com>;tag=433423', 'To: "Watson, Thomas" < sip:t.watson@example.org >', 'Call-ID: badaspec', 'CSeq: 3923239 OPTIONS', 'l: 0'];
  const lenient = rewrite(sip(lines), natContext({ direction: 'outbound' }));
  assert.deepEqual(lenient.changes, [['10.0.1.2', '203.0.113.1']]);
  assert.equal(lenient.summary.fromTag, '433423');
  assert.equal(refused(sip(lines), natContext({ direction: 'outbound', rewriteFromTo: true })), 'malformed To URI');
  const inbound = ['OPTIONS sip:user@203.0.113.1 SIP/2.0', ...lines.slice(1)];
  assert.equal(refused(sip(inbound), natContext({ direction: 'inbound' })), 'malformed To URI', 'inbound requests restore To, so it must be readable');
});

test('inbound malformed SDP does not block restoring the headers', () => {
  const b = sip(
    ['INVITE sip:alice@203.0.113.1 SIP/2.0', 'Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK1', 'From: <sip:b@x>;tag=1', 'To: <sip:alice@203.0.113.1>', 'Call-ID: s', 'CSeq: 1 INVITE', 'Content-Type: application/sdp', 'Content-Length: 8'],
    'garbage!',
  );
  const r = rewrite(b, natContext({ direction: 'inbound' }));
  assert.match(r.out, /^INVITE sip:alice@10\.0\.1\.2 SIP\/2\.0/);
  assert.equal(r.summary.hasSdp, true);
  assert.equal(r.summary.sdpError, 'malformed SDP line');
});

test('a context answering nonsense changes nothing rather than corrupting the message', () => {
  for (const bad of [{ addr: '203.0.113.1', port: 0 }, { addr: '203.0.113.1', port: 70000 }, { addr: '203.0.113.1', port: 5060.5 }, { addr: 'evil\r\nX: y', port: 5060 }, { addr: '', port: 5060 }]) {
    const ctx: RewriteContext = {
      direction: 'outbound', transport: 'udp', rewriteFromTo: true,
      isPrivate: () => true, mapSignalling: () => bad, mapMedia: () => bad,
    };
    const r = processSipMessage(invite(), ctx);
    assert.ok(r.ok);
    assert.equal(r.ok && r.edits, 0, JSON.stringify(bad));
    assert.ok(r.ok && r.summary.media.every((m) => m.mapped === null));
  }
});

test('processSipMessage: untouched messages come back as the same bytes', () => {
  const b = sip(['OPTIONS sip:b@example.com SIP/2.0', 'Via: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bK1', 'From: <sip:a@x>;tag=1', 'To: <sip:b@y>', 'Call-ID: o', 'CSeq: 1 OPTIONS', 'l: 0']);
  const r = processSipMessage(b, natContext({ direction: 'outbound' }));
  assert.ok(r.ok);
  assert.equal(r.ok && r.bytes, b);
  assert.equal(r.ok && r.edits, 0);
});

test('TCP: the flow transport reaches mapSignalling for URIs without ;transport=', () => {
  const b = sip(['OPTIONS sip:b@example.com SIP/2.0', 'Via: SIP/2.0/TCP 10.0.1.2:5060;branch=z9hG4bK1', 'From: <sip:a@x>;tag=1', 'To: <sip:b@y>', 'Call-ID: o', 'CSeq: 1 OPTIONS', 'Contact: <sip:a@10.0.1.2:5060>', 'l: 0']);
  const ctx = natContext({ direction: 'outbound', transport: 'tcp' });
  const p = parseSipMessage(b, { transport: 'stream' });
  assert.ok(p.ok);
  const r = p.ok && rewriteSipMessage(p.message, ctx);
  assert.ok(r && r.ok);
  assert.deepEqual(ctx.calls.filter((c) => c.transport).map((c) => [c.field, c.transport]), [['via', 'tcp'], ['contact', 'tcp']]);
});
