/**
 * Logical channels and what else a call announces, through the engine:
 * six channels each way (the kernel's helper stops at four), two endpoints
 * behind masq on the same local ports calling at once, T.120, tunnelled
 * H.245 in a Facility, a forwarded call, and what must be left as written
 * (a STUN-learned address, port 0, ports below 1024, a fastStart item that
 * does not decode).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Side, Verdict } from '../../../src/nat/engine.js';
import { TCP_SYN } from '../../../src/wire/tcp.js';
import { tcpPkt } from '../../nat/packets.js';
import { vector, withAddresses } from './oracle-vectors.js';
import { addressesIn, h323Engine, PEER, PUBLIC, setupFromX, TcpSession, udpFromOutside, X, X2 } from './session.js';

/** An H.245 PDU with its channel number set (LogicalChannelNumber: the two aligned octets at PER bytes 2-3 of an OpenLogicalChannel or its Ack). */
function withLcn(bytes: Uint8Array, lcn: number): Uint8Array {
  const out = bytes.slice();
  out[6] = (lcn - 1) >> 8;
  out[7] = (lcn - 1) & 255;
  return out;
}

const port = (a: string) => Number(a.split(':')[1]);

/** A call from `x` with its H.245 connection up (the peer connected to the announced address). */
function callWithH245(engine: ReturnType<typeof h323Engine>['engine'], x = X, localQ931 = 40000) {
  const q931 = new TcpSession(engine, `${x}:${localQ931}`, `${PEER}:1720`);
  q931.open();
  const setupOut = addressesIn(q931.fromInside(setupFromX(x)), 'q931');
  const h245 = new TcpSession(engine, `${x}:6000`, `${PEER}:${50000 + localQ931 % 1000}`, 'outside', setupOut[0]);
  assert.equal(h245.open(), Verdict.ToInside);
  return { q931, h245, setupOut };
}


test('six channels each way (audio, video, H.239 content, far-end camera control, and two more): every one public, on its own pair', () => {
  const { engine, alg } = h323Engine();
  const { h245 } = callWithH245(engine);
  const types = [
    { olc: 'h245-olc-audio', cls: 'audio' },
    { olc: 'h245-olc-video-bidirectional', cls: 'video' },
    { olc: 'h245-olc-video-bidirectional', cls: 'video' }, // H.239 content: a second video channel
    { olc: 'h245-olc-data-h224-bidirectional', cls: 'data' }, // far-end camera control
    { olc: 'h245-olc-audio', cls: 'audio' },
    { olc: 'h245-olc-data-h224-bidirectional', cls: 'data' },
  ];
  const received: string[] = [];
  types.forEach((t, k) => {
    const lcn = 200 + k;
    const v = vector(t.olc);
    // The peer opens a channel toward the endpoint...
    const peerOlc = withLcn(withAddresses(v, Object.fromEntries(v.addresses.map((_, i) => [i, [PEER, 9000 + 10 * k + i]]))), lcn);
    h245.fromOutside(peerOlc);
    // ...which the endpoint accepts, naming where it receives.
    const ack = withLcn(withAddresses(vector('h245-olc-ack'), { 0: [X, 6100 + 2 * k], 1: [X, 6101 + 2 * k] }), lcn);
    const [media, control] = addressesIn(h245.fromInside(ack), 'h245');
    assert.ok(media.startsWith(`${PUBLIC}:`), `channel ${k} media ${media}`);
    assert.equal(port(control), port(media) + 1);
    received.push(media);
    const exp = engine.expectations.list().find((e) => e.insidePort === 6100 + 2 * k)!;
    assert.equal(exp.cls, t.cls, `channel ${k} is ${t.cls}`);
    // And the endpoint opens a channel of the same kind toward the peer.
    const own = withLcn(withAddresses(v, Object.fromEntries(v.addresses.map((_, i) => [i, [X, 7000 + 10 * k + i]]))), 100 + k);
    const ownOut = addressesIn(h245.fromInside(own), 'h245');
    assert.ok(ownOut.every((a) => a.startsWith(`${PUBLIC}:`)), `channel ${k} forward: ${ownOut.join(' ')}`);
  });
  assert.equal(new Set(received).size, 6, 'six distinct public pairs');
  for (const [k, media] of received.entries()) {
    assert.deepEqual(udpFromOutside(engine, `${PEER}:${9900 + k}`, media), { verdict: Verdict.ToInside, to: `${X}:${6100 + 2 * k}` });
  }
  assert.equal(alg.counters().mediaRefused, 0);
});

test('two endpoints behind masq on the same local ports call at once: each gets its own public ports, media reaches each', () => {
  const { engine } = h323Engine();
  const a = callWithH245(engine, X, 40000);
  const b = callWithH245(engine, X2, 40000);
  assert.notEqual(a.setupOut[0], b.setupOut[0], 'H.245 addresses differ');
  assert.notEqual(a.setupOut[4], b.setupOut[4], 'audio RTP differs');
  assert.deepEqual(udpFromOutside(engine, `${PEER}:7000`, a.setupOut[4]), { verdict: Verdict.ToInside, to: `${X}:5000` });
  assert.deepEqual(udpFromOutside(engine, `${PEER}:7002`, b.setupOut[4]), { verdict: Verdict.ToInside, to: `${X2}:5000` });
  // Both acknowledge a channel on the same local port.
  const ackA = addressesIn(a.h245.fromInside(withAddresses(vector('h245-olc-ack'), { 0: [X, 6200], 1: [X, 6201] })), 'h245');
  const ackB = addressesIn(b.h245.fromInside(withAddresses(vector('h245-olc-ack'), { 0: [X2, 6200], 1: [X2, 6201] })), 'h245');
  assert.notEqual(ackA[0], ackB[0]);
  assert.equal(udpFromOutside(engine, `${PEER}:7004`, ackB[0]).to, `${X2}:6200`);
});

test('T.120 (separateStack): a TCP pinhole from the peer to the endpoint\'s T.120 port', () => {
  const { engine } = h323Engine();
  const { h245 } = callWithH245(engine);
  const [t120] = addressesIn(h245.fromInside(withAddresses(vector('h245-olc-t120-separate-stack'), { 0: [X, 1503] })), 'h245');
  assert.ok(t120.startsWith(`${PUBLIC}:`));
  assert.equal(engine.process(tcpPkt('192.0.2.66:41000', t120, TCP_SYN, 1), Side.Outside), Verdict.Drop);
  assert.equal(engine.process(tcpPkt(`${PEER}:41000`, t120, TCP_SYN, 1), Side.Outside), Verdict.ToInside);
});

test('H.245 tunnelled in a Facility: T.120 and an acknowledgement, each rewritten with its pinholes', () => {
  const { engine } = h323Engine();
  const q931 = new TcpSession(engine, `${X}:40000`, `${PEER}:1720`);
  q931.open();
  q931.fromInside(setupFromX());
  const before = engine.expectations.size;
  const facility = withAddresses(vector('facility-tunnelled-olc-separate-stack-and-ack'), { 0: [X, 1503], 1: [X, 6300], 2: [X, 6301] });
  const out = addressesIn(q931.fromInside(facility), 'q931');
  assert.ok(out.every((a) => a.startsWith(`${PUBLIC}:`)), out.join(' '));
  assert.equal(engine.expectations.size, before + 3, 'T.120, RTP, RTCP');
});

test('a Facility forwarding the call: the endpoint\'s call to the new target gets the ALG', () => {
  const { engine } = h323Engine();
  const q931 = new TcpSession(engine, `${X}:40000`, `${PEER}:1720`);
  q931.open();
  q931.fromInside(setupFromX());
  q931.fromOutside(withAddresses(vector('facility-call-forwarded'), { 0: ['198.51.100.20', 1730], 1: [PEER, 7000] }));
  const forwarded = new TcpSession(engine, `${X}:40001`, '198.51.100.20:1730');
  forwarded.open();
  const flow = engine.listFlows().find((f) => f.remote[1] === 1730)!;
  assert.equal(engine.helperName(flow.helper), 'h323');
  assert.ok(addressesIn(forwarded.fromInside(setupFromX()), 'q931')[0].startsWith(`${PUBLIC}:`));
});

test('left as written: a STUN-learned public address of the endpoint, port 0, ports below 1024; nothing opened for them', () => {
  const { engine, alg } = h323Engine();
  const q931 = new TcpSession(engine, `${X}:40000`, `${PEER}:1720`);
  q931.open();
  const stun = '192.0.2.200';
  const setup = withAddresses(vector('setup-v4-faststart-tunnelled'), {
    0: [X, 0],
    1: [PEER, 1720],
    2: [X, 1720],
    3: [stun, 5001],
    4: [stun, 5000],
    5: [stun, 5001],
    6: [X, 1001],
    7: [X, 1000],
    8: [X, 1001],
  });
  const out = addressesIn(q931.fromInside(setup), 'q931');
  assert.deepEqual(out, [`${X}:0`, `${PEER}:1720`, `${PUBLIC}:1720`, `${stun}:5001`, `${stun}:5000`, `${stun}:5001`, `${X}:1001`, `${X}:1000`, `${X}:1001`]);
  assert.equal(engine.expectations.size, 0);
  assert.ok(alg.counters().addressesLeft >= 4);
});

test('a fastStart item that does not decode is left as it is and counted; the rest of the Setup is rewritten', () => {
  const { engine, alg } = h323Engine();
  const q931 = new TcpSession(engine, `${X}:40000`, `${PEER}:1720`);
  q931.open();
  const v = vector('setup-v4-faststart-tunnelled');
  const setup = setupFromX();
  // The first fastStart OpenLogicalChannel (its control address is address 3): its first octets made an impossible choice index.
  const olcStart = v.addresses[3].offset - 9;
  setup[olcStart] = 0xff;
  setup[olcStart + 1] = 0xff;
  const out = addressesIn(q931.fromInside(setup), 'q931');
  assert.ok(out[0].startsWith(`${PUBLIC}:`) && out[2].startsWith(`${PUBLIC}:`));
  assert.equal(alg.counters().nestedMalformed, 1);
  void engine;
});

test('H.460.18/.19 generic data in a Setup: the call passes untouched, nothing opens, and the flow stays switched off', () => {
  const { engine, alg } = h323Engine();
  const q931 = new TcpSession(engine, `${X}:40000`, `${PEER}:1720`);
  q931.open();
  const setup = withAddresses(vector('setup-h460-18-19'), { 0: [PEER, 1720], 1: [X, 1720], 2: [X, 5001] });
  assert.deepEqual(q931.fromInside(setup), setup);
  assert.equal(engine.expectations.size, 0);
  const later = withAddresses(vector('facility-tunnelled-olc-separate-stack-and-ack'), { 0: [X, 1503], 1: [X, 6300], 2: [X, 6301] });
  assert.deepEqual(q931.fromInside(later), later, 'the rest of the connection too');
  assert.equal(alg.counters().traversalMessages, 2);
});

test('options: h460 ignore treats an H.460 endpoint as any other; media any admits media from anyone', () => {
  const { engine } = h323Engine({}, { h460: 'ignore', media: 'any' });
  const q931 = new TcpSession(engine, `${X}:40000`, `${PEER}:1720`);
  q931.open();
  const setup = withAddresses(vector('setup-h460-18-19'), { 0: [PEER, 1720], 1: [X, 1720], 2: [X, 5001] });
  const out = addressesIn(q931.fromInside(setup), 'q931');
  assert.ok(out[2].startsWith(`${PUBLIC}:`));
  assert.equal(udpFromOutside(engine, '192.0.2.66:7000', `${PUBLIC}:${port(out[2]) - 1}`).verdict, Verdict.ToInside);
});

test('ReleaseComplete ends every group the call used: T.120 (data), media and H.245 pinholes and the T.120 connection go', () => {
  const { engine } = h323Engine();
  const q931 = new TcpSession(engine, `${X}:40000`, `${PEER}:1720`);
  q931.open();
  q931.fromInside(setupFromX());
  const facility = withAddresses(vector('facility-tunnelled-olc-separate-stack-and-ack'), { 0: [X, 1503], 1: [X, 6300], 2: [X, 6301] });
  const [t120] = addressesIn(q931.fromInside(facility), 'q931');
  assert.equal(engine.process(tcpPkt(`${PEER}:41000`, t120, TCP_SYN, 1), Side.Outside), Verdict.ToInside);
  const flows = engine.flows.size;
  q931.fromInside(vector('release-complete').bytes);
  assert.equal(engine.expectations.size, 0);
  assert.equal(engine.flows.size, flows - 1, 'the T.120 connection went with its group');
  assert.equal(engine.process(tcpPkt(`${PEER}:41001`, t120, TCP_SYN, 1), Side.Outside), Verdict.Drop);
});
