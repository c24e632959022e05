/**
 * The RTSP ALG through NatEngine.process(): SETUP's client_port on public
 * even/odd pairs with pinholes for the server only, the reply given back the
 * client's own ports, several SETUPs in one session, TEARDOWN per session
 * (and per stream), failed SETUPs, offers the server did not choose, session
 * timeouts and keep-alives, and what passes as it is: interleaved, multicast,
 * third-party destinations, HTTP tunnelling.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attachAlg, findAlg } from '../../../src/alg/registry.js';
import { Side, type NatEngine } from '../../../src/nat/engine.js';
import type { NatConfigInput } from '../../../src/nat/config.js';
import { parseIpv4 } from '../../../src/wire/address.js';
import { describe as show, makeEngine, udpPkt } from '../../nat/packets.js';
import { run, TcpConversation } from '../tcp-conversation.js';

const CLIENT = '10.0.0.2';
const SERVER = '198.51.100.10';
const PUBLIC = '203.0.113.1';
const URL = `rtsp://${SERVER}:8554/test`;

function withRtsp(config: Partial<NatConfigInput> = {}, options?: unknown) {
  // Random public ports: the rewrite shows (with preserved ports the text would stay the same).
  const { engine, clock } = makeEngine({ ports: { allocation: 'random' }, ...config });
  const def = findAlg('rtsp')!;
  const alg = attachAlg(engine, def, def.defaultPorts, options);
  return { engine, clock, alg, counters: () => alg.counters() };
}

const pinholes = (engine: NatEngine) => engine.listExpectations().filter((e) => e.helper === 'rtsp');

function request(method: string, url: string, cseq: number, headers: Record<string, string> = {}): string {
  return `${method} ${url} RTSP/1.0\r\nCSeq: ${cseq}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

function response(cseq: number, headers: Record<string, string> = {}, status = '200 OK'): string {
  return `RTSP/1.0 ${status}\r\nCSeq: ${cseq}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

/** The public ports a rewritten SETUP announces. */
function announced(text: string): [number, number] {
  const m = /client_port=(\d+)-(\d+)/.exec(text);
  assert.ok(m, text);
  return [Number(m[1]), Number(m[2])];
}

/** A UDP datagram from outside to a public port: where it went, or null. */
function media(engine: NatEngine, from: string, publicPort: number): string | null {
  const out = run(engine, udpPkt(from, `${PUBLIC}:${publicPort}`, 'rtp'), Side.Outside);
  return out.length ? show(out[0]) : null;
}

function connect(engine: NatEngine, port = 41000, serverPort = 8554) {
  return TcpConversation.open(engine, `${CLIENT}:${port}`, `${SERVER}:${serverPort}`, Side.Inside);
}

/** SETUP of one stream (client ports rtp, rtp+1) and its 200 OK; returns the public pair. */
function setup(c: TcpConversation, stream: string, cseq: number, rtp: number, session?: string): { pub: [number, number]; reply: string } {
  const headers: Record<string, string> = { Transport: `RTP/AVP;unicast;client_port=${rtp}-${rtp + 1}` };
  if (session) headers.Session = session;
  const out = c.send(request('SETUP', `${URL}/${stream}`, cseq, headers));
  const pub = announced(out.text);
  const reply = c.reply(response(cseq, { Transport: `RTP/AVP/UDP;unicast;client_port=${pub[0]}-${pub[1]};server_port=6970-6971;ssrc=1234`, Session: `${session ?? 'S1'};timeout=60` }));
  return { pub, reply: reply.text };
}

test('SETUP: client_port moves to a public even/odd pair; the reply gets the client\'s ports back; media from the server only', () => {
  const { engine, counters } = withRtsp();
  const c = connect(engine);
  const { pub, reply } = setup(c, 'stream=0', 3, 5001);
  assert.equal(pub[0] % 2, 0, 'RTP even');
  assert.equal(pub[1], pub[0] + 1, 'RTCP the next port');
  assert.match(reply, /client_port=5001-5002;server_port=6970-6971/);
  const ps = pinholes(engine);
  assert.deepEqual(ps.map((e) => [e.insidePort, e.publicPort, e.remoteAddr]).sort(), [
    [5001, pub[0], parseIpv4(SERVER)],
    [5002, pub[1], parseIpv4(SERVER)],
  ]);
  assert.equal(media(engine, '198.51.100.99:6970', pub[0]), null, 'another host');
  assert.equal(media(engine, `${SERVER}:6970`, pub[0]), `${SERVER}:6970 > ${CLIENT}:5001`);
  assert.equal(media(engine, `${SERVER}:6971`, pub[1]), `${SERVER}:6971 > ${CLIENT}:5002`);
  assert.equal(counters().streams, 1);
  assert.equal(counters().sessionsActive, 1);
});

test('audio and video: two SETUPs make one session; TEARDOWN ends its pinholes and media flows, and no other session\'s', () => {
  const { engine, counters } = withRtsp();
  const c = connect(engine);
  const audio = setup(c, 'trackID=0', 3, 5000, undefined);
  const video = setup(c, 'trackID=1', 4, 5002, 'S1');
  assert.equal(pinholes(engine).length, 4);
  assert.ok(media(engine, `${SERVER}:6970`, audio.pub[0]));
  assert.ok(media(engine, `${SERVER}:6970`, video.pub[0]));
  // A second session on another connection of the same client.
  const d = connect(engine, 41001);
  const other = setup(d, 'trackID=0', 1, 5004, 'S2');
  assert.equal(pinholes(engine).length, 6);
  c.send(request('PLAY', URL, 5, { Session: 'S1' }));
  c.send(request('TEARDOWN', URL, 6, { Session: 'S1' }));
  const left = pinholes(engine);
  assert.deepEqual(left.map((e) => e.insidePort).sort(), [5004, 5005], 'only the other session\'s pinholes remain');
  assert.equal(media(engine, `${SERVER}:6970`, audio.pub[0]), null, 'the media flow ended with its session');
  assert.ok(media(engine, `${SERVER}:6970`, other.pub[0]));
  assert.equal(counters().teardowns, 1);
  assert.equal(counters().sessionsActive, 1);
});

test('TEARDOWN of one stream\'s URI ends that stream only', () => {
  const { engine } = withRtsp();
  const c = connect(engine);
  setup(c, 'trackID=0', 1, 5000);
  setup(c, 'trackID=1', 2, 5002, 'S1');
  c.send(request('TEARDOWN', `${URL}/trackID=1`, 3, { Session: 'S1' }));
  assert.deepEqual(pinholes(engine).map((e) => e.insidePort).sort(), [5000, 5001]);
  c.send(request('TEARDOWN', URL, 4, { Session: 'S1' }));
  assert.equal(pinholes(engine).length, 0);
});

test('a failed SETUP closes what it opened; a 2xx with no Session too', () => {
  const { engine, counters } = withRtsp();
  const c = connect(engine);
  c.send(request('SETUP', `${URL}/a`, 1, { Transport: 'RTP/AVP;unicast;client_port=5000-5001' }));
  assert.equal(pinholes(engine).length, 2);
  c.reply(response(1, {}, '461 Unsupported Transport'));
  assert.equal(pinholes(engine).length, 0);
  c.send(request('SETUP', `${URL}/a`, 2, { Transport: 'RTP/AVP;unicast;client_port=5000-5001' }));
  c.reply(response(2, { Transport: 'RTP/AVP;unicast;client_port=5000-5001' }));
  assert.equal(pinholes(engine).length, 0);
  assert.equal(counters().setupsFailed, 2);
});

test('several specs offered: the one the server chooses keeps its pinholes; an interleaved choice closes them all', () => {
  const { engine, counters } = withRtsp();
  const c = connect(engine);
  const offer = 'RTP/AVP;unicast;client_port=5000-5001,RTP/AVP;unicast;client_port=5010-5011,RTP/AVP/TCP;unicast;interleaved=0-1';
  const out = c.send(request('SETUP', `${URL}/a`, 1, { Transport: offer }));
  const pairs = [...out.text.matchAll(/client_port=(\d+)-(\d+)/g)].map((m) => Number(m[1]));
  assert.equal(pairs.length, 2);
  assert.match(out.text, /RTP\/AVP\/TCP;unicast;interleaved=0-1\r\n/, 'the interleaved spec as written');
  assert.equal(pinholes(engine).length, 4);
  c.reply(response(1, { Transport: `RTP/AVP;unicast;client_port=${pairs[1]}-${pairs[1] + 1};server_port=6970-6971`, Session: 'S9' }));
  assert.deepEqual(pinholes(engine).map((e) => e.insidePort).sort(), [5010, 5011]);
  assert.equal(counters().specsNotChosen, 1);
  c.send(request('SETUP', `${URL}/b`, 2, { Transport: offer, Session: 'S9' }));
  c.reply(response(2, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1', Session: 'S9' }));
  assert.deepEqual(pinholes(engine).map((e) => e.insidePort).sort(), [5010, 5011], 'the interleaved choice opened nothing');
});

test('interleaved and multicast transports pass as written and open nothing', () => {
  const { engine, counters } = withRtsp();
  const c = connect(engine);
  for (const t of ['RTP/AVP/TCP;unicast;interleaved=0-1', 'RTP/AVP;multicast;destination=232.1.1.1;port=5000-5001;ttl=3', 'RTP/AVP;unicast;interleaved=2-3']) {
    const msg = request('SETUP', `${URL}/a`, 1, { Transport: t });
    assert.equal(c.send(msg).text, msg);
  }
  assert.equal(pinholes(engine).length, 0);
  assert.equal(counters().interleaved, 2);
  assert.equal(counters().multicast, 1);
});

test('destination: the client\'s own address becomes the public one; another host\'s opens nothing', () => {
  const { engine, counters } = withRtsp();
  const c = connect(engine);
  const out = c.send(request('SETUP', `${URL}/a`, 1, { Transport: `RTP/AVP;unicast;destination=${CLIENT};client_port=5000-5001` }));
  assert.match(out.text, /destination=203\.0\.113\.1;client_port=\d+-\d+/);
  const third = request('SETUP', `${URL}/b`, 2, { Transport: 'RTP/AVP;unicast;destination=10.0.0.3;client_port=5020-5021' });
  assert.equal(c.send(third).text, third);
  assert.equal(counters().thirdParty, 1);
  assert.equal(pinholes(engine).length, 2);
});

test('ports below 1024 open nothing', () => {
  const { engine, counters } = withRtsp();
  const c = connect(engine);
  const msg = request('SETUP', `${URL}/a`, 1, { Transport: 'RTP/AVP;unicast;client_port=554-555' });
  assert.equal(c.send(msg).text, msg);
  assert.equal(counters().lowPort, 1);
  assert.equal(pinholes(engine).length, 0);
});

test('a session nobody keeps alive ends after twice its timeout; keep-alives hold it', () => {
  const { engine, clock, counters } = withRtsp();
  const c = connect(engine);
  const kept = setup(c, 'a', 1, 5000, 'KEEP');
  const d = connect(engine, 41002);
  const idle = setup(d, 'a', 1, 5010, 'IDLE');
  assert.ok(media(engine, `${SERVER}:6970`, idle.pub[0]));
  for (let k = 0; k < 5; k++) {
    clock.advance(30_000);
    engine.tick(clock.now());
    c.send(request('GET_PARAMETER', URL, 10 + k, { Session: 'KEEP' }));
  }
  // 150 s later: the idle one (timeout 60 s) is gone with its media flow; the other stays.
  assert.deepEqual(pinholes(engine).map((e) => e.insidePort).sort(), [5000, 5001]);
  assert.equal(media(engine, `${SERVER}:6970`, idle.pub[0]), null);
  assert.ok(media(engine, `${SERVER}:6970`, kept.pub[0]));
  assert.equal(counters().timedOut, 1);
  assert.ok(counters().keepAlives >= 5);
});

test('pipelined SETUPs split across segments, their replies pipelined too', () => {
  const { engine } = withRtsp();
  const c = connect(engine);
  const two =
    request('SETUP', `${URL}/a`, 1, { Transport: 'RTP/AVP;unicast;client_port=5000-5001' }) +
    request('SETUP', `${URL}/b`, 2, { Transport: 'RTP/AVP;unicast;client_port=5002-5003' });
  const out = c.send(two, [10, 70, 100, 150]);
  const pubs = [...out.text.matchAll(/client_port=(\d+)-(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
  assert.equal(pubs.length, 2);
  const replies =
    response(1, { Transport: `RTP/AVP;unicast;client_port=${pubs[0][0]}-${pubs[0][1]}`, Session: 'P' }) +
    response(2, { Transport: `RTP/AVP;unicast;client_port=${pubs[1][0]}-${pubs[1][1]}`, Session: 'P' });
  const back = c.reply(replies, [5, 40]);
  assert.deepEqual([...back.text.matchAll(/client_port=(\d+-\d+)/g)].map((m) => m[1]), ['5000-5001', '5002-5003']);
  assert.equal(pinholes(engine).length, 4);
});

test('RTSP tunnelled in HTTP on port 554 passes unchanged and opens nothing', () => {
  const { engine } = withRtsp();
  const c = connect(engine, 41003, 554);
  const get = 'GET /test HTTP/1.0\r\nx-sessioncookie: 1\r\nAccept: application/x-rtsp-tunnelled\r\n\r\n';
  assert.equal(c.send(get).text, get);
  const setupB64 = Buffer.from(request('SETUP', `${URL}/a`, 1, { Transport: 'RTP/AVP;unicast;client_port=5000-5001' })).toString('base64');
  const post = `POST /test HTTP/1.0\r\nx-sessioncookie: 1\r\nContent-Length: 32767\r\n\r\n${setupB64}`;
  const d = connect(engine, 41004, 554);
  assert.equal(d.send(post).text, post);
  assert.equal(pinholes(engine).length, 0);
});

test('a TEARDOWN for an unknown session, or none, touches nothing', () => {
  const { engine } = withRtsp();
  const c = connect(engine);
  setup(c, 'a', 1, 5000, 'S1');
  c.send(request('TEARDOWN', URL, 2, { Session: 'S2' }));
  c.send(request('TEARDOWN', URL, 3));
  assert.equal(pinholes(engine).length, 2);
});
