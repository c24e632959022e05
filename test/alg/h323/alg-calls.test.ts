/**
 * The H.323 ALG through NatEngine.process(): a call from an endpoint behind
 * masq (Setup with fastStart and tunnelled H.245), the H.245 connection the
 * call opens either way, media through the pinholes and nowhere else, the
 * end of the call, and the endpoint called from outside (a static forward).
 * The messages are the oracle's encodings with the test's addresses written
 * at the oracle's offsets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Side, Verdict } from '../../../src/nat/engine.js';
import { parseIpv4 } from '../../../src/wire/address.js';
import { TCP_SYN } from '../../../src/wire/tcp.js';
import { tcpPkt } from '../../nat/packets.js';
import { vector, withAddresses } from './oracle-vectors.js';
import { addressesIn, differences, GK, h323Engine, PEER, PUBLIC, setupFromX, TcpSession, udpFromOutside, X } from './session.js';

function call() {
  const t = h323Engine();
  const q931 = new TcpSession(t.engine, `${X}:40000`, `${PEER}:1720`);
  q931.open();
  return { ...t, q931 };
}

test('an outbound Setup: every address of the caller is public, the callee\'s is not; only the 6-byte address fields change', () => {
  const { engine, q931, alg } = call();
  const setup = setupFromX();
  const out = q931.fromInside(setup);
  const addrs = addressesIn(out, 'q931');
  assert.equal(addrs[1], `${PEER}:1720`, 'destCallSignalAddress is the callee: as written');
  assert.equal(addrs[2], `${PUBLIC}:1720`, 'sourceCallSignalAddress: public address, port as written (not a port the caller sends from)');
  for (const [i, a] of addrs.entries()) if (i !== 1) assert.ok(a.startsWith(`${PUBLIC}:`), `address ${i}: ${a}`);
  const offsets = vector('setup-v4-faststart-tunnelled').addresses.map((a) => a.offset);
  for (const [from, to] of differences(setup, out)) {
    assert.ok(offsets.some((o) => from >= o && to <= o + 6), `bytes ${from}-${to} changed outside an address field`);
  }
  assert.equal(alg.counters().rewritten, 1);
  assert.equal(engine.expectations.size, 5, 'H.245, and one RTP/RTCP pair each for audio and video');
});

test('media pinholes: even/odd pairs, the same public pair for every fastStart proposal naming the same port, the peer only', () => {
  const { engine, q931 } = call();
  const addrs = addressesIn(q931.fromInside(setupFromX()), 'q931');
  const port = (a: string) => Number(a.split(':')[1]);
  const [h245, , , audioRtcpFwd, audioRtp, audioRtcpRev, videoRtcpFwd, videoRtp, videoRtcpRev] = addrs;
  assert.equal(port(audioRtp) % 2, 0);
  assert.equal(port(audioRtcpFwd), port(audioRtp) + 1);
  assert.equal(audioRtcpRev, audioRtcpFwd);
  assert.equal(port(videoRtcpFwd), port(videoRtp) + 1);
  assert.equal(videoRtcpRev, videoRtcpFwd);
  const exps = engine.expectations.list();
  const at = (p: number) => exps.find((e) => e.publicPort === p)!;
  assert.equal(at(port(audioRtp)).cls, 'audio');
  assert.equal(at(port(videoRtp)).cls, 'video');
  assert.equal(at(port(h245)).cls, 'signalling');
  assert.ok(exps.every((e) => e.remoteAddr === parseIpv4(PEER)), 'every pinhole admits the peer only');
  // RTP from the peer reaches the caller's RTP port; from anyone else, nothing.
  assert.deepEqual(udpFromOutside(engine, `${PEER}:7000`, audioRtp), { verdict: Verdict.ToInside, to: `${X}:5000` });
  assert.deepEqual(udpFromOutside(engine, `${PEER}:7001`, audioRtcpFwd), { verdict: Verdict.ToInside, to: `${X}:5001` });
  assert.equal(udpFromOutside(engine, '192.0.2.66:7000', videoRtp).verdict, Verdict.Drop);
});

test('the H.245 pinhole admits the peer\'s connection, once, with the H.245 handler: the caller\'s OpenLogicalChannelAck on it is rewritten with media pinholes', () => {
  const { engine, q931 } = call();
  const h245Public = addressesIn(q931.fromInside(setupFromX()), 'q931')[0];
  // Someone else first: refused.
  assert.equal(engine.process(tcpPkt('192.0.2.66:50000', h245Public, TCP_SYN, 1), Side.Outside), Verdict.Drop);
  const h245 = new TcpSession(engine, `${X}:6000`, `${PEER}:50001`, 'outside', h245Public);
  assert.equal(h245.open(), Verdict.ToInside);
  const ack = withAddresses(vector('h245-olc-ack'), { 0: [X, 5010], 1: [X, 5011] });
  const out = h245.fromInside(ack);
  const [media, control] = addressesIn(out, 'h245');
  assert.ok(media.startsWith(`${PUBLIC}:`) && control.startsWith(`${PUBLIC}:`));
  assert.equal(Number(control.split(':')[1]), Number(media.split(':')[1]) + 1);
  assert.deepEqual(udpFromOutside(engine, `${PEER}:9000`, media), { verdict: Verdict.ToInside, to: `${X}:5010` });
  // The pinhole was single use: a second connection to it is refused.
  assert.equal(engine.process(tcpPkt(`${PEER}:50002`, h245Public, TCP_SYN, 1), Side.Outside), Verdict.Drop);
});

test('an inbound Connect with the peer\'s h245Address: the caller\'s own connection there gets the H.245 handler and the call', () => {
  const { engine, q931 } = call();
  q931.fromInside(setupFromX());
  const connect = withAddresses(vector('connect-h245-faststart-tunnelled-ack'), { 0: [PEER, 7777], 1: [PEER, 8001], 2: [PEER, 8000], 3: [PEER, 8001] });
  const seen = q931.fromOutside(connect);
  assert.deepEqual(addressesIn(seen, 'q931'), addressesIn(connect, 'q931'), 'the peer\'s addresses reach the caller as written');
  const outbound = engine.expectations.list().filter((e) => e.direction === 'outbound');
  assert.equal(outbound.length, 1);
  assert.equal(outbound[0].remotePort, 7777);
  const h245 = new TcpSession(engine, `${X}:41000`, `${PEER}:7777`);
  h245.open();
  const flow = engine.listFlows().find((f) => f.remote[1] === 7777)!;
  assert.equal(engine.helperName(flow.helper), 'h323/h245');
  const olc = withAddresses(vector('h245-olc-video-bidirectional'), { 0: [PEER, 9000], 1: [PEER, 9001], 2: [X, 5020], 3: [X, 5021] });
  const out = h245.fromInside(olc);
  const a = addressesIn(out, 'h245');
  assert.deepEqual(a.slice(0, 2), [`${PEER}:9000`, `${PEER}:9001`], 'another host\'s addresses are left alone');
  assert.ok(a[2].startsWith(`${PUBLIC}:`) && a[3].startsWith(`${PUBLIC}:`), 'the caller\'s reverse channel is public');
});

test('ReleaseComplete ends the call: its pinholes, its H.245 connection and its media flows go', () => {
  const { engine, q931, alg } = call();
  const addrs = addressesIn(q931.fromInside(setupFromX()), 'q931');
  const h245 = new TcpSession(engine, `${X}:6000`, `${PEER}:50001`, 'outside', addrs[0]);
  h245.open();
  udpFromOutside(engine, `${PEER}:7000`, addrs[4]);
  const before = engine.flows.size;
  assert.equal(before, 3, 'signalling, H.245, media');
  q931.fromInside(vector('release-complete').bytes);
  assert.equal(engine.expectations.size, 0);
  assert.equal(engine.flows.size, 1, 'only the call signalling connection is left');
  assert.equal(alg.counters().callsEnded, 1);
  assert.equal(udpFromOutside(engine, `${PEER}:7000`, addrs[4]).verdict, Verdict.Drop, 'the media path is closed');
});

test('a reset call signalling connection ends its call; the end of a connection with no H.245 up does too', () => {
  const { engine, q931 } = call();
  q931.fromInside(setupFromX());
  assert.equal(engine.expectations.size, 5);
  q931.reset();
  assert.equal(engine.expectations.size, 0);
  const second = call();
  second.q931.fromInside(setupFromX());
  second.q931.close();
  assert.equal(second.engine.expectations.size, 0);
});

test('call signalling closed while H.245 runs on its own connection (H.323 allows it): the call lives until the H.245 connection ends', () => {
  const { engine, q931 } = call();
  const addrs = addressesIn(q931.fromInside(setupFromX()), 'q931');
  const h245 = new TcpSession(engine, `${X}:6000`, `${PEER}:50001`, 'outside', addrs[0]);
  h245.open();
  h245.fromInside(withAddresses(vector('h245-olc-audio'), { 0: [X, 5041] }));
  const open = engine.expectations.size;
  assert.ok(open >= 4);
  q931.close();
  assert.equal(engine.expectations.size, open, 'the call goes on');
  h245.close();
  assert.equal(engine.expectations.size, 0, 'its H.245 closed: the call ended');
});

test('a callee behind a static forward of 1720: the Setup\'s destCallSignalAddress names the callee, its Connect\'s h245Address gets a pinhole from the caller', () => {
  const { engine } = h323Engine({ forwards: [{ protocol: 'tcp', port: 1720, to: X }] });
  const q931 = new TcpSession(engine, `${X}:1720`, `${PEER}:41000`, 'outside', `${PUBLIC}:1720`);
  assert.equal(q931.open(), Verdict.ToInside);
  const setup = withAddresses(vector('setup-v4-extensions-without-faststart'), { 0: [PUBLIC, 1720], 1: [PEER, 1720] });
  const seen = addressesIn(q931.fromOutside(setup), 'q931');
  assert.deepEqual(seen, [`${X}:1720`, `${PEER}:1720`]);
  const connect = withAddresses(vector('connect-v2-no-extensions'), { 0: [X, 6100] });
  const [h245] = addressesIn(q931.fromInside(connect), 'q931');
  assert.ok(h245.startsWith(`${PUBLIC}:`));
  const h245Conn = new TcpSession(engine, `${X}:6100`, `${PEER}:41001`, 'outside', h245);
  assert.equal(h245Conn.open(), Verdict.ToInside);
  assert.equal(engine.expectations.list().filter((e) => e.cls === 'signalling').length, 0, 'the H.245 pinhole was used');
  void GK;
});
