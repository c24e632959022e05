/**
 * Issue 17: a call abandoned without a BYE kept its media pinholes for
 * callTimeoutSeconds (an hour). Now an answered call's pinholes live
 * mediaIdleSeconds from its last signalling message (each message renews
 * them), while the media flows they admitted live on by their own idle
 * timeout; and a port a Contact or Via named keeps one pinhole when a
 * registration takes it over. Time from the engine's injected clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Side, Verdict, type NatEngine } from '../../../src/nat/engine.js';
import { udpPkt } from '../../nat/packets.js';
import { invite, msg, PEER_MEDIA, PROXY, response, rtp, sdp, send, withSip } from './engine-calls.js';

const S = 1000;

/** An answered call from 10.0.0.2 with the peer's media at PEER_MEDIA:40000; returns the public RTP port. */
function answeredCall(engine: NatEngine, callId: string): number {
  const out = send(engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5060, callId), Side.Inside);
  send(engine, `${PROXY}:5060`, '203.0.113.1:5060', response('200 OK', '203.0.113.1:5060', callId, '1 INVITE', sdp(PEER_MEDIA, 40000)), Side.Outside);
  return Number(/m=audio (\d+)/.exec(out.text)![1]);
}

const inDialog = (callId: string, method: string, cseq: number) =>
  msg(`${method} sip:bob@${PROXY} SIP/2.0`, { Via: `SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK${method}${cseq}`, From: '<sip:alice@x>;tag=a1', To: '<sip:bob@x>;tag=b1', 'Call-ID': callId, CSeq: `${cseq} ${method}` });

const callPinholes = (engine: NatEngine, callId: string) => engine.expectations.list().filter((e) => e.group.endsWith(`|${callId}`)).length;

test('an abandoned answered call (no BYE, no media) frees its pinholes mediaIdleSeconds after its last signalling, not after an hour', () => {
  const { engine, clock } = withSip();
  answeredCall(engine, 'gone');
  assert.equal(callPinholes(engine, 'gone'), 2);
  clock.advance(299 * S);
  engine.tick();
  assert.equal(callPinholes(engine, 'gone'), 2, 'still open just before the default 300 s');
  clock.advance(2 * S);
  engine.tick();
  assert.equal(callPinholes(engine, 'gone'), 0, 'closed after 300 s of silence');
});

test('every signalling message of the call renews its pinholes; mediaIdleSeconds is configurable', () => {
  const { engine, clock } = withSip({}, { mediaIdleSeconds: 60 });
  answeredCall(engine, 'chatty');
  for (let i = 0; i < 5; i++) {
    clock.advance(50 * S);
    // In-dialog requests either way (session-timer refreshes, INFO, OPTIONS) and their answers.
    send(engine, '10.0.0.2:5060', `${PROXY}:5060`, inDialog('chatty', i % 2 ? 'INFO' : 'OPTIONS', 2 + i), Side.Inside);
    engine.tick();
    assert.equal(callPinholes(engine, 'chatty'), 2, `renewed at ${(i + 1) * 50} s`);
  }
  clock.advance(61 * S);
  engine.tick();
  assert.equal(callPinholes(engine, 'chatty'), 0, '60 s after the last message');
});

test('a call whose media keeps flowing keeps working after its pinholes close; once the media stops too, nothing stays open', () => {
  const { engine, clock } = withSip({}, { mediaIdleSeconds: 60 });
  const port = answeredCall(engine, 'talk');
  // 10 minutes of RTP every 5 s both ways, no signalling at all.
  for (let t = 0; t < 600; t += 5) {
    assert.equal(rtp(engine, `${PEER_MEDIA}:40000`, `203.0.113.1:${port}`), Verdict.ToInside, `the peer's RTP at ${t} s`);
    assert.equal(engine.process(udpPkt('10.0.0.2:30000', `${PEER_MEDIA}:40000`, 'rtp'), Side.Inside), Verdict.ToOutside, `the phone's RTP at ${t} s`);
    clock.advance(5 * S);
    engine.tick();
  }
  assert.equal(callPinholes(engine, 'talk'), 0, 'the pinholes closed; the media flow they admitted carries the call');
  // The media stops; after the flow's idle timeout (UDP, 300 s by default) the peer reaches nothing.
  clock.advance(301 * S);
  engine.tick();
  assert.equal(rtp(engine, `${PEER_MEDIA}:40000`, `203.0.113.1:${port}`), Verdict.Drop, 'nothing left open for the quiet call');
});

test('a port named by Via and Contact keeps one pinhole, also once a registration takes it over', () => {
  const { engine, clock } = withSip();
  const register = (cseq: number) =>
    msg(`REGISTER sip:${PROXY} SIP/2.0`, {
      Via: `SIP/2.0/UDP 10.0.0.2:5070;branch=z9hG4bKr${cseq};rport`,
      From: `<sip:m@${PROXY}>;tag=m1`,
      To: `<sip:m@${PROXY}>`,
      'Call-ID': 'reg',
      CSeq: `${cseq} REGISTER`,
      Contact: '<sip:m@10.0.0.2:5070>',
    });
  const on5070 = () => engine.expectations.list().filter((e) => e.insidePort === 5070);
  const out = send(engine, '10.0.0.2:5060', `${PROXY}:5060`, register(1), Side.Inside);
  const publicPort = Number(/Contact: <sip:m@203\.0\.113\.1:(\d+)>/.exec(out.text)![1]);
  assert.match(out.text, new RegExp(`Via: SIP/2.0/UDP 203\\.0\\.113\\.1:${publicPort};`), 'Via and Contact name the same public port');
  assert.equal(on5070().length, 1);
  send(engine, `${PROXY}:5060`, '203.0.113.1:5060', response('200 OK', `203.0.113.1:${publicPort}`, 'reg', '1 REGISTER', '', { Expires: '600' }), Side.Outside);
  assert.equal(on5070().length, 1, 'the registration\'s pinhole replaces the port\'s own, not beside it');
  assert.match(on5070()[0].group, /^sip-reg:/);
  // A call naming the port again does not shorten the registration's pinhole nor open another.
  clock.advance(100 * S);
  send(engine, '10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 5070, 'via-5070'), Side.Inside);
  assert.equal(on5070().length, 1);
  assert.ok(on5070()[0].expiresAt >= 600 * S, 'still lives to the registration\'s expiry');
  clock.advance(400 * S);
  engine.tick();
  assert.equal(rtp(engine, `${PROXY}:5060`, `203.0.113.1:${publicPort}`), Verdict.ToInside, 'the registrar still reaches the phone at 500 s');
  // Re-registering keeps it to one pinhole as well.
  send(engine, '10.0.0.2:5060', `${PROXY}:5060`, register(2), Side.Inside);
  send(engine, `${PROXY}:5060`, '203.0.113.1:5060', response('200 OK', `203.0.113.1:${publicPort}`, 'reg', '2 REGISTER', '', { Expires: '600' }), Side.Outside);
  assert.equal(on5070().length, 1);
});
