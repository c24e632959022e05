/**
 * The SIP ALG attached to the NAT engine: signalling rewritten, media pinholes
 * opened for the peer only, registrations, teardown, two phones with the same
 * ports, SIP over TCP, and what must open nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatConfigInput } from '../../../src/nat/config.js';
import { Side, Verdict } from '../../../src/nat/engine.js';
import { parseTcpPacket, TCP_ACK, TCP_PSH, TCP_SYN } from '../../../src/wire/tcp.js';
import { describe as show, tcpPkt, udpPkt } from '../../nat/packets.js';
import { dec, invite, msg, PEER_MEDIA, PROXY, response, rtp, sdp, send, withSip } from './engine-calls.js';


test('outbound INVITE: Via, Contact, SDP rewritten, Content-Length right; RTP/RTCP pinholes on an even/odd pair', () => {
  const { engine, alg } = withSip();
  const out = send(engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5060, 'c1'), Side.Inside);
  assert.match(out.text, /Via: SIP\/2.0\/UDP 203\.0\.113\.1:5060;/);
  assert.match(out.text, /Contact: <sip:alice@203\.0\.113\.1:5060>/);
  assert.match(out.text, /c=IN IP4 203\.0\.113\.1\r\n/);
  assert.match(out.text, /o=- 1 1 IN IP4 203\.0\.113\.1\r\n/);
  const body = out.text.split('\r\n\r\n')[1];
  assert.equal(Number(/Content-Length: (\d+)/.exec(out.text)![1]), new TextEncoder().encode(body).length);
  assert.ok(!out.text.includes('10.0.0.2'), 'no inside address left');
  const media = Number(/m=audio (\d+)/.exec(out.text)![1]);
  assert.equal(media % 2, 0);
  const exps = engine.expectations.list().sort((a, b) => a.publicPort - b.publicPort);
  assert.deepEqual(exps.map((e) => e.publicPort), [media, media + 1]);
  assert.deepEqual(exps.map((e) => e.insidePort), [30000, 30001]);
  assert.ok(exps.every((e) => e.remoteAddr === 0xc6336400 + 10), 'admits the signalling peer only');
  assert.equal(alg.counters().rewritten, 1);
});

test('the answer narrows media to the peer\'s media address; RTP flows both ways on the announced port', () => {
  const { engine } = withSip({ mapping: 'apdm' });
  const out = send(engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5060, 'c2'), Side.Inside);
  const media = Number(/m=audio (\d+)/.exec(out.text)![1]);
  const ok = send(engine, `${PROXY}:5060`, '203.0.113.1:5060', response('200 OK', '203.0.113.1:5060', 'c2', '1 INVITE', sdp(PEER_MEDIA, 40000)), Side.Outside);
  assert.match(ok.text, /Via: SIP\/2.0\/UDP 10\.0\.0\.2:5060;/, 'Via restored for the phone');
  assert.equal(rtp(engine, `${PROXY}:40000`, `203.0.113.1:${media}`), Verdict.Drop, 'the signalling peer may no longer send media');
  assert.equal(rtp(engine, `${PEER_MEDIA}:40000`, `203.0.113.1:${media}`), Verdict.ToInside);
  assert.equal(show(engine.output), `${PEER_MEDIA}:40000 > 10.0.0.2:30000`);
  const phoneRtp = udpPkt('10.0.0.2:30000', `${PEER_MEDIA}:40000`, 'rtp');
  engine.process(phoneRtp, Side.Inside);
  assert.equal(show(phoneRtp), `203.0.113.1:${media} > ${PEER_MEDIA}:40000`, 'the phone\'s RTP leaves from the port its SDP announced');
});

test('BYE, CANCEL and a failed initial INVITE remove the call\'s pinholes; a failed re-INVITE does not', () => {
  const { engine } = withSip();
  send(engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5060, 'bye'), Side.Inside);
  assert.equal(engine.expectations.size, 2);
  send(engine, '10.0.0.2:5060', `${PROXY}:5060`, msg(`BYE sip:bob@${PROXY} SIP/2.0`, { Via: 'SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKb', From: '<sip:a@x>;tag=1', To: '<sip:b@x>;tag=2', 'Call-ID': 'bye', CSeq: '2 BYE' }), Side.Inside);
  assert.equal(engine.expectations.size, 0, 'BYE');
  send(engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5060, 'cancel'), Side.Inside);
  send(engine, '10.0.0.2:5060', `${PROXY}:5060`, msg(`CANCEL sip:bob@${PROXY} SIP/2.0`, { Via: 'SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKcancel1', From: '<sip:a@x>;tag=1', To: '<sip:b@x>', 'Call-ID': 'cancel', CSeq: '1 CANCEL' }), Side.Inside);
  assert.equal(engine.expectations.size, 0, 'CANCEL');
  send(engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5060, 'busy'), Side.Inside);
  send(engine, `${PROXY}:5060`, '203.0.113.1:5060', response('486 Busy Here', '203.0.113.1:5060', 'busy', '1 INVITE'), Side.Outside);
  assert.equal(engine.expectations.size, 0, 'error to the initial INVITE');
  send(engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5060, 'reinv'), Side.Inside);
  send(engine, `${PROXY}:5060`, '203.0.113.1:5060', response('200 OK', '203.0.113.1:5060', 'reinv', '1 INVITE', sdp(PEER_MEDIA, 40000)), Side.Outside);
  send(engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5060, 'reinv', 2), Side.Inside);
  send(engine, `${PROXY}:5060`, '203.0.113.1:5060', response('491 Request Pending', '203.0.113.1:5060', 'reinv', '2 INVITE'), Side.Outside);
  assert.equal(engine.expectations.size, 2, 'a failed re-INVITE leaves the call\'s media open');
});

test('a re-INVITE keeps the public media ports and does not pile up pinholes', () => {
  const { engine } = withSip();
  const first = send(engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5060, 'r'), Side.Inside);
  send(engine, `${PROXY}:5060`, '203.0.113.1:5060', response('200 OK', '203.0.113.1:5060', 'r', '1 INVITE', sdp(PEER_MEDIA, 40000)), Side.Outside);
  for (let cseq = 2; cseq < 10; cseq++) {
    const again = send(engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5060, 'r', cseq), Side.Inside);
    assert.equal(/m=audio (\d+)/.exec(again.text)![1], /m=audio (\d+)/.exec(first.text)![1]);
  }
  assert.equal(engine.expectations.size, 2);
});

test('a re-INVITE that moves the media closes the old ports once the peer accepts it; a rejected one closes only the new ports', () => {
  const { engine } = withSip();
  const first = send(engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5060, 'mv'), Side.Inside);
  const oldPort = Number(/m=audio (\d+)/.exec(first.text)![1]);
  send(engine, `${PROXY}:5060`, '203.0.113.1:5060', response('200 OK', '203.0.113.1:5060', 'mv', '1 INVITE', sdp(PEER_MEDIA, 40000)), Side.Outside);
  const moved = send(engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5060, 'mv', 2, 32000), Side.Inside);
  const newPort = Number(/m=audio (\d+)/.exec(moved.text)![1]);
  assert.notEqual(newPort, oldPort);
  assert.equal(engine.expectations.size, 4, 'until the answer, the old streams stay open next to the new ones');
  assert.equal(rtp(engine, `${PEER_MEDIA}:40000`, `203.0.113.1:${oldPort}`), Verdict.ToInside);
  send(engine, `${PROXY}:5060`, '203.0.113.1:5060', response('200 OK', '203.0.113.1:5060', 'mv', '2 INVITE', sdp(PEER_MEDIA, 40000)), Side.Outside);
  assert.deepEqual(engine.expectations.list().map((e) => e.insidePort).sort(), [32000, 32001], 'only the new streams are expected');
  assert.equal(rtp(engine, `${PEER_MEDIA}:40000`, `203.0.113.1:${newPort}`), Verdict.ToInside);
  assert.equal(show(engine.output), `${PEER_MEDIA}:40000 > 10.0.0.2:32000`);

  // A second move that the peer refuses: the streams in use stay, the offered ones close.
  send(engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5060, 'mv', 3, 34000), Side.Inside);
  send(engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5060, 'mv', 3, 34000), Side.Inside); // a retransmission
  assert.equal(engine.expectations.size, 4);
  send(engine, `${PROXY}:5060`, '203.0.113.1:5060', response('488 Not Acceptable Here', '203.0.113.1:5060', 'mv', '3 INVITE'), Side.Outside);
  assert.deepEqual(engine.expectations.list().map((e) => e.insidePort).sort(), [32000, 32001]);
  // A 2xx to another transaction (an old CSeq) does not act on the pending offer.
  send(engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5060, 'mv', 4, 36000), Side.Inside);
  send(engine, `${PROXY}:5060`, '203.0.113.1:5060', response('200 OK', '203.0.113.1:5060', 'mv', '3 INVITE', sdp(PEER_MEDIA, 40000)), Side.Outside);
  assert.equal(engine.expectations.size, 4, 'a 2xx with another CSeq retires nothing');
});

test('the phone answering a re-INVITE with its media on new ports closes the old ones at once', () => {
  const { engine } = withSip();
  // The phone is called: its answer (a 200 with SDP) opens its streams.
  const peerInvite = (cseq: number) =>
    msg(`INVITE sip:alice@203.0.113.1:5060 SIP/2.0`, { Via: `SIP/2.0/UDP ${PROXY}:5060;branch=z9hG4bKin${cseq}`, From: '<sip:bob@x>;tag=b1', To: '<sip:alice@x>;tag=a1', 'Call-ID': 'ans', CSeq: `${cseq} INVITE`, 'Content-Type': 'application/sdp' }, sdp(PEER_MEDIA, 40000));
  const answer = (cseq: number, port: number) => response('200 OK', `${PROXY}:5060`, 'ans', `${cseq} INVITE`, sdp('10.0.0.2', port), { Contact: '<sip:alice@10.0.0.2:5060>' });
  send(engine, '10.0.0.2:5060', `${PROXY}:5060`, msg(`OPTIONS sip:${PROXY} SIP/2.0`, { Via: 'SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKo', From: '<sip:a@x>;tag=1', To: '<sip:b@x>', 'Call-ID': 'opt', CSeq: '1 OPTIONS' }), Side.Inside);
  assert.equal(send(engine, `${PROXY}:5060`, '203.0.113.1:5060', peerInvite(1), Side.Outside).verdict, Verdict.ToInside);
  send(engine, '10.0.0.2:5060', `${PROXY}:5060`, answer(1, 30000), Side.Inside);
  assert.deepEqual(engine.expectations.list().map((e) => e.insidePort).sort(), [30000, 30001]);
  send(engine, `${PROXY}:5060`, '203.0.113.1:5060', peerInvite(2), Side.Outside);
  send(engine, '10.0.0.2:5060', `${PROXY}:5060`, answer(2, 31000), Side.Inside);
  assert.deepEqual(engine.expectations.list().map((e) => e.insidePort).sort(), [31000, 31001]);
});

test('an INVITE nobody answers keeps its pinholes only for the transaction (Timer B, 32 s); a response extends them', () => {
  const { engine, clock } = withSip();
  send(engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5060, 'silent'), Side.Inside);
  send(engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5060, 'ringing'), Side.Inside);
  assert.equal(engine.expectations.size, 4);
  clock.advance(20_000);
  send(engine, `${PROXY}:5060`, '203.0.113.1:5060', response('180 Ringing', '203.0.113.1:5060', 'ringing', '1 INVITE'), Side.Outside);
  clock.advance(20_000);
  engine.tick();
  assert.deepEqual(
    engine.expectations.list().map((e) => e.group),
    ['sip:167772162|ringing', 'sip:167772162|ringing'],
    'the unanswered call\'s pinholes are gone; the ringing call\'s stay',
  );
});

test('hundreds of unanswered calls from one phone and one media port: the next call still gets its pinholes', () => {
  const { engine, alg } = withSip({ limits: { expectations: 100_000, expectationsPerGroup: 16 } } as Partial<NatConfigInput>);
  for (let i = 0; i < 600; i++) send(engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5060, `u${i}`), Side.Inside);
  assert.equal(engine.expectations.size, 1200);
  const next = send(engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5060, 'next'), Side.Inside);
  assert.equal(next.verdict, Verdict.ToOutside);
  assert.match(next.text, /m=audio 30000 /, 'the same public media port as every earlier call of this phone');
  assert.equal(alg.counters().passedParseError ?? 0, 0);
  assert.equal(engine.expectations.list().filter((e) => e.group.endsWith('|next')).length, 2);
});

test('calls beyond maxCalls: the oldest is forgotten together with its pinholes', () => {
  const { engine } = withSip({}, { maxCalls: 2 });
  for (const id of ['m1', 'm2', 'm3']) send(engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5060, id), Side.Inside);
  assert.deepEqual([...new Set(engine.expectations.list().map((e) => e.group))].sort(), ['sip:167772162|m2', 'sip:167772162|m3']);
});

test('two phones with the same SIP and media ports call out at once: each gets its own public ports, media goes to the right phone', () => {
  const { engine } = withSip();
  const a = send(engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5060, 'pa'), Side.Inside);
  const b = send(engine, '10.0.0.3:5060', `${PROXY}:5060`, invite('10.0.0.3', 5060, 'pb'), Side.Inside);
  const portA = Number(/m=audio (\d+)/.exec(a.text)![1]);
  const portB = Number(/m=audio (\d+)/.exec(b.text)![1]);
  assert.notEqual(portA, portB);
  const sigA = Number(/Contact: <sip:alice@203\.0\.113\.1:(\d+)>/.exec(a.text)![1]);
  const sigB = Number(/Contact: <sip:alice@203\.0\.113\.1:(\d+)>/.exec(b.text)![1]);
  assert.notEqual(sigA, sigB);
  // Both answers arrive; media to each public port reaches its own phone.
  send(engine, `${PROXY}:5060`, `203.0.113.1:${sigA}`, response('200 OK', `203.0.113.1:${sigA}`, 'pa', '1 INVITE', sdp(PEER_MEDIA, 40000)), Side.Outside);
  send(engine, `${PROXY}:5060`, `203.0.113.1:${sigB}`, response('200 OK', `203.0.113.1:${sigB}`, 'pb', '1 INVITE', sdp(PEER_MEDIA, 40002)), Side.Outside);
  rtp(engine, `${PEER_MEDIA}:40000`, `203.0.113.1:${portA}`);
  assert.equal(show(engine.output), `${PEER_MEDIA}:40000 > 10.0.0.2:30000`);
  rtp(engine, `${PEER_MEDIA}:40002`, `203.0.113.1:${portB}`);
  assert.equal(show(engine.output), `${PEER_MEDIA}:40002 > 10.0.0.3:30000`);
});

function register(cseq: number, expires = 600): string {
  return msg(`REGISTER sip:${PROXY} SIP/2.0`, {
    Via: `SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKreg${cseq};rport`,
    From: `<sip:alice@${PROXY}>;tag=r1`,
    To: `<sip:alice@${PROXY}>`,
    'Call-ID': 'reg-1',
    CSeq: `${cseq} REGISTER`,
    Contact: `<sip:alice@10.0.0.2:5060>`,
    Expires: String(expires),
  });
}

test('registration: the pinhole opens only after the 2xx with the matching CSeq, lets the registrar call in, and Expires 0 closes it', () => {
  const { engine, clock } = withSip();
  const incoming = () =>
    send(engine, `${PROXY}:5080`, '203.0.113.1:5060', msg('INVITE sip:alice@203.0.113.1:5060 SIP/2.0', { Via: `SIP/2.0/UDP ${PROXY}:5080;branch=z9hG4bKin`, From: '<sip:bob@x>;tag=9', To: '<sip:alice@x>', 'Call-ID': `in-${clock.now()}`, CSeq: '1 INVITE' }), Side.Outside);
  send(engine, '10.0.0.2:5060', `${PROXY}:5060`, register(1), Side.Inside);
  assert.equal(engine.expectations.size, 0, 'nothing before the 2xx');
  send(engine, `${PROXY}:5060`, '203.0.113.1:5060', response('401 Unauthorized', '203.0.113.1:5060', 'reg-1', '1 REGISTER'), Side.Outside);
  send(engine, '10.0.0.2:5060', `${PROXY}:5060`, register(2), Side.Inside);
  send(engine, `${PROXY}:5060`, '203.0.113.1:5060', response('200 OK', '203.0.113.1:5060', 'reg-1', '1 REGISTER', '', { Contact: '<sip:alice@203.0.113.1:5060>;expires=600' }), Side.Outside);
  assert.equal(engine.expectations.size, 0, 'a 2xx for another CSeq opens nothing');
  send(engine, `${PROXY}:5060`, '203.0.113.1:5060', response('200 OK', '203.0.113.1:5060', 'reg-1', '2 REGISTER', '', { Contact: '<sip:alice@203.0.113.1:5060>;expires=600' }), Side.Outside);
  assert.equal(engine.expectations.size, 1);
  // The signalling flow idles out; the registrar (from another port) still reaches the phone.
  clock.advance(400_000);
  engine.tick();
  const inv = incoming();
  assert.equal(inv.verdict, Verdict.ToInside);
  assert.match(inv.text, /^INVITE sip:alice@10\.0\.0\.2:5060 SIP\/2\.0/, 'Request-URI restored for the phone');
  send(engine, '10.0.0.2:5060', `${PROXY}:5060`, register(3, 0), Side.Inside);
  send(engine, `${PROXY}:5060`, '203.0.113.1:5060', response('200 OK', '203.0.113.1:5060', 'reg-1', '3 REGISTER', '', { Expires: '0' }), Side.Outside);
  assert.equal(engine.expectations.size, 0, 'Expires 0 closes it');
});

test('a registration refused (403) closes its pinhole', () => {
  const { engine } = withSip();
  send(engine, '10.0.0.2:5060', `${PROXY}:5060`, register(1), Side.Inside);
  send(engine, `${PROXY}:5060`, '203.0.113.1:5060', response('200 OK', '203.0.113.1:5060', 'reg-1', '1 REGISTER', '', { Expires: '600' }), Side.Outside);
  assert.equal(engine.expectations.size, 1);
  send(engine, '10.0.0.2:5060', `${PROXY}:5060`, register(2), Side.Inside);
  send(engine, `${PROXY}:5060`, '203.0.113.1:5060', response('403 Forbidden', '203.0.113.1:5060', 'reg-1', '2 REGISTER'), Side.Outside);
  assert.equal(engine.expectations.size, 0);
});

test('media "any" admits media from anywhere (as sip_direct_media=0)', () => {
  const { engine } = withSip({}, { media: 'any' });
  send(engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5060, 'any'), Side.Inside);
  assert.ok(engine.expectations.list().every((e) => e.remoteAddr === 0));
});

test('malformed SIP passes unmodified and is counted; it opens nothing', () => {
  const { engine, alg } = withSip();
  const junk = 'INVITE sip:bob@x SIP/2.0\r\nVia: garbage\r\nContent-Length: 99999\r\n\r\nc=IN IP4 10.0.0.2\r\nm=audio 30000 RTP/AVP 0\r\n';
  const out = send(engine, '10.0.0.2:5060', `${PROXY}:5060`, junk, Side.Inside);
  assert.equal(out.text, junk);
  assert.equal(alg.counters().passedParseError, 1);
  assert.equal(engine.expectations.size, 0);
});

test('SIP over TCP: an INVITE split across segments is rewritten whole; the peer\'s ACK numbers come back', () => {
  const { engine } = withSip();
  const C = '10.0.0.2:40000';
  const S = `${PROXY}:5060`;
  const P = '203.0.113.1:40000';
  engine.process(tcpPkt(C, S, TCP_SYN, 100, 0), Side.Inside);
  engine.process(tcpPkt(S, P, TCP_SYN | TCP_ACK, 900, 101), Side.Outside);
  engine.process(tcpPkt(C, S, TCP_ACK, 101, 901), Side.Inside);
  const text = invite('10.0.0.2', 40000, 'tcp1').replace('SIP/2.0/UDP', 'SIP/2.0/TCP');
  const bytes = new TextEncoder().encode(text);
  const cut = 200;
  engine.process(tcpPkt(C, S, TCP_ACK, 101, 901, bytes.subarray(0, cut)), Side.Inside);
  const held = parseTcpPacket(engine.output);
  assert.equal(held.payload.length, 0, 'first half held');
  const v = engine.process(tcpPkt(C, S, TCP_ACK | TCP_PSH, 101 + cut, 901, bytes.subarray(cut)), Side.Inside);
  assert.equal(v, Verdict.ToOutside);
  const segs = [engine.output, ...engine.drainEmitted().map((e) => e.packet)].map((p) => parseTcpPacket(p));
  const sent = segs.map((s) => dec(s.payload)).join('');
  assert.match(sent, /c=IN IP4 203\.0\.113\.1/);
  assert.equal(Number(/Content-Length: (\d+)/.exec(sent)![1]), new TextEncoder().encode(sent.split('\r\n\r\n')[1]).length);
  const growth = new TextEncoder().encode(sent).length - bytes.length;
  engine.process(tcpPkt(S, P, TCP_ACK, 901, 101 + bytes.length + growth), Side.Outside);
  assert.equal(parseTcpPacket(engine.output).ack, 101 + bytes.length);
});

test('NAT Slipstreaming: a REGISTER inside an HTTP POST body to TCP 5060 opens nothing', () => {
  const { engine, alg } = withSip();
  const C = '10.0.0.2:40001';
  const S = `${PROXY}:5060`;
  const P = '203.0.113.1:40001';
  engine.process(tcpPkt(C, S, TCP_SYN, 100, 0), Side.Inside);
  engine.process(tcpPkt(S, P, TCP_SYN | TCP_ACK, 900, 101), Side.Outside);
  const body = `${'A'.repeat(300)}${register(1)}`;
  const post = `POST /form HTTP/1.1\r\nHost: ${PROXY}:5060\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  engine.process(tcpPkt(C, S, TCP_ACK | TCP_PSH, 101, 901, new TextEncoder().encode(post)), Side.Inside);
  assert.equal(dec(parseTcpPacket(engine.output).payload), post, 'passed through untouched');
  send(engine, `${PROXY}:5060`, '203.0.113.1:5060', response('200 OK', '203.0.113.1:5060', 'reg-1', '1 REGISTER', '', { Expires: '600' }), Side.Outside);
  assert.equal(engine.expectations.size, 0);
  assert.equal(alg.counters().streamsNotThisProtocol, 1);
});

test('after anything in a stream that is not SIP, later "messages" are never parsed', () => {
  const { engine, alg } = withSip();
  const C = '10.0.0.2:40002';
  const S = `${PROXY}:5060`;
  const P = '203.0.113.1:40002';
  engine.process(tcpPkt(C, S, TCP_SYN, 100, 0), Side.Inside);
  engine.process(tcpPkt(S, P, TCP_SYN | TCP_ACK, 900, 101), Side.Outside);
  const options = msg(`OPTIONS sip:${PROXY} SIP/2.0`, { Via: 'SIP/2.0/TCP 10.0.0.2:40002;branch=z9hG4bKo', From: '<sip:a@x>;tag=1', To: '<sip:b@x>', 'Call-ID': 'o1', CSeq: '1 OPTIONS' });
  const payload = `${options}GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n${register(1)}`;
  engine.process(tcpPkt(C, S, TCP_ACK | TCP_PSH, 101, 901, new TextEncoder().encode(payload)), Side.Inside);
  const sent = dec(parseTcpPacket(engine.output).payload);
  assert.ok(sent.endsWith(register(1)), 'the REGISTER after the junk is untouched (still names 10.0.0.2)');
  assert.equal(alg.counters().messages, 1, 'only the OPTIONS was parsed');
  send(engine, `${PROXY}:5060`, '203.0.113.1:5060', response('200 OK', '203.0.113.1:5060', 'reg-1', '1 REGISTER', '', { Expires: '600' }), Side.Outside);
  assert.equal(engine.expectations.size, 0);
});

// Issue 17, SIP pinhole exhaustion: three UDP messages from one phone whose
// Contact lists named 4,200 of its own ports filled the gateway-wide table
// (4,096), and another phone's call then got no media pinhole while its SDP
// still announced the public address; renewable every 32 s.
function registerNaming(phone: string, ports: number[], cseq: number): string {
  return msg(`REGISTER sip:${PROXY} SIP/2.0`, {
    Via: `SIP/2.0/UDP ${phone}:5060;branch=z9hG4bKreg${cseq};rport`,
    From: `<sip:mallory@${PROXY}>;tag=m1`,
    To: `<sip:mallory@${PROXY}>`,
    'Call-ID': `flood-${cseq}`,
    CSeq: `${cseq} REGISTER`,
    Contact: ports.map((p) => `<sip:m@${phone}:${p}>`).join(', '),
  });
}

test('a phone naming thousands of its own ports cannot take the pinholes another phone\'s call needs', () => {
  const { engine, alg } = withSip();
  for (let m = 0; m < 3; m++) {
    const ports = Array.from({ length: 1400 }, (_, i) => 20000 + m * 1400 + i);
    send(engine, '10.0.0.66:5060', `${PROXY}:5060`, registerNaming('10.0.0.66', ports, m + 1), Side.Inside);
  }
  const mallory = engine.expectations.list().filter((e) => e.insideAddr === 0x0a000042).length;
  assert.ok(mallory <= 16, `one phone's other ports are one group, capped: ${mallory}`);
  assert.ok(alg.counters().portsRefused >= 4200 - 16, 'the rest are refused and counted');
  // Another phone calls: its media gets pinholes, and its SDP names them.
  const call = send(engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5060, 'victim'), Side.Inside);
  assert.match(call.text, /c=IN IP4 203\.0\.113\.1\r\n/);
  const port = Number(/m=audio (\d+) /.exec(call.text)![1]);
  assert.equal(rtp(engine, `${PROXY}:40000`, `203.0.113.1:${port}`), Verdict.ToInside, 'the peer\'s media reaches the phone');
});

test('a message naming its own port again keeps the one pinhole open rather than opening another', () => {
  const { engine, clock } = withSip();
  for (let i = 1; i <= 40; i++) {
    send(engine, '10.0.0.2:5060', `${PROXY}:5060`, registerNaming('10.0.0.2', [5070], i), Side.Inside);
    clock.advance(10_000);
  }
  assert.equal(engine.expectations.list().filter((e) => e.insidePort === 5070).length, 1);
});

test('when a call\'s media pinholes are refused, its SDP is left as the phone wrote it, and counted', () => {
  const { engine, alg } = withSip({ limits: { expectations: 1, expectationsPerGroup: 16 } });
  // The only expectation the table holds goes to the first stream's RTP; its RTCP and the next call are refused.
  const first = send(engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5060, 'one'), Side.Inside);
  assert.match(first.text, /c=IN IP4 203\.0\.113\.1\r\n/);
  const second = send(engine, '10.0.0.3:5060', `${PROXY}:5060`, invite('10.0.0.3', 5060, 'two', 1, 31000), Side.Inside);
  assert.match(second.text, /c=IN IP4 10\.0\.0\.3\r\n/, 'no public address announced without a pinhole behind it');
  assert.match(second.text, /m=audio 31000 /);
  assert.match(second.text, /Via: SIP\/2\.0\/UDP 203\.0\.113\.1:/, 'the signalling is still rewritten');
  assert.ok(alg.counters().mediaRefused >= 2);
});

test('the table of phones\' other ports forgets ports whose pinholes are gone', () => {
  const { engine, alg, clock } = withSip({}, { maxCalls: 50 });
  for (let i = 0; i < 400; i++) {
    send(engine, `10.0.0.${2 + (i % 200)}:5060`, `${PROXY}:5060`, registerNaming(`10.0.0.${2 + (i % 200)}`, [6000 + i], i + 1), Side.Inside);
    clock.advance(1_000);
  }
  assert.ok(alg.counters().phonePortsTracked <= 50, `bounded by maxCalls: ${alg.counters().phonePortsTracked}`);
});
