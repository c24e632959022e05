/**
 * RAS through the engine: an endpoint behind masq registers with a
 * gatekeeper outside; its addresses are announced public, and only the
 * gatekeeper's confirmation (same requestSeqNum) opens the pinhole that lets
 * calls in, for the time to live granted, refreshed by keep-alives, closed by
 * URQ. Admission and location confirmations give the endpoint's own call
 * signalling connection the ALG, whatever its port. An endpoint granted
 * H.460.18 is left alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Side, Verdict } from '../../../src/nat/engine.js';
import { parseIpv4 } from '../../../src/wire/address.js';
import { TCP_SYN } from '../../../src/wire/tcp.js';
import { tcpPkt } from '../../nat/packets.js';
import { vector, withAddresses } from './oracle-vectors.js';
import { addressesIn, GK, h323Engine, PEER, PUBLIC, ras, setupFromX, TcpSession, X } from './session.js';

/** A RAS message with its requestSeqNum set (INTEGER (1..65535): two aligned octets after the message's first 10 bits in RRQ and RCF). */
function withSeq(bytes: Uint8Array, seq: number): Uint8Array {
  const out = bytes.slice();
  out[2] = (seq - 1) >> 8;
  out[3] = (seq - 1) & 255;
  return out;
}

const fromX = (engine: Parameters<typeof ras>[0], bytes: Uint8Array) => ras(engine, `${X}:1719`, `${GK}:1719`, bytes, Side.Inside);
const fromGk = (engine: Parameters<typeof ras>[0], bytes: Uint8Array) => ras(engine, `${GK}:1719`, `${PUBLIC}:1719`, bytes, Side.Outside);

function register(options?: unknown) {
  const t = h323Engine({}, options);
  const rrq = withAddresses(vector('ras-rrq'), { 0: [X, 1720], 1: [X, 1719] });
  const out = fromX(t.engine, rrq);
  const [signal, rasAddress] = addressesIn(out.payload, 'ras');
  return { ...t, signal, rasAddress };
}

test('RRQ: the endpoint\'s call signalling and RAS addresses are announced public; nothing opens before the confirmation', () => {
  const { engine, signal, rasAddress } = register();
  assert.ok(signal.startsWith(`${PUBLIC}:`));
  assert.equal(rasAddress, `${PUBLIC}:1719`, 'the RAS address is the flow\'s own public endpoint');
  assert.equal(engine.expectations.size, 0, 'DESIGN safety rule 6: only after the confirmation');
});

test('RCF with the RRQ\'s sequence number opens the registration pinhole: calls from the gatekeeper reach the endpoint, with the ALG', () => {
  const { engine, signal, alg } = register();
  fromGk(engine, withAddresses(vector('ras-rcf-without-features'), { 0: [PUBLIC, Number(signal.split(':')[1])] }));
  const [e] = engine.expectations.list();
  assert.equal(e.insidePort, 1720);
  assert.equal(`${PUBLIC}:${e.publicPort}`, signal, 'the pinhole is on the port the RRQ announced');
  assert.equal(e.remoteAddr, parseIpv4(GK), 'calls from the gatekeeper only (gatekeeper-routed, like the kernel\'s gkrouted_only)');
  assert.equal(e.expiresAt - engine.expectations.list()[0].expiresAt, 0);
  assert.equal(engine.process(tcpPkt('192.0.2.66:41000', signal, TCP_SYN, 1), Side.Outside), Verdict.Drop);
  const q931 = new TcpSession(engine, `${X}:1720`, `${GK}:41000`, 'outside', signal);
  assert.equal(q931.open(), Verdict.ToInside);
  const flow = engine.listFlows().find((f) => f.remote[1] === 41000)!;
  assert.equal(engine.helperName(flow.helper), 'h323');
  assert.equal(alg.counters().registrationsOpened, 1);
});

test('the granted time to live bounds the pinhole; a keep-alive RRQ and its RCF extend it; URQ closes it', () => {
  const { engine, clock, signal } = register();
  fromGk(engine, withAddresses(vector('ras-rcf-without-features'), { 0: [PUBLIC, Number(signal.split(':')[1])] }));
  const first = engine.expectations.list()[0].expiresAt;
  assert.equal(first - clock.now(), 60_000, 'timeToLive 60 s');
  clock.advance(50_000);
  fromX(engine, withSeq(vector('ras-rrq-keepalive').bytes, 3));
  fromGk(engine, withSeq(withAddresses(vector('ras-rcf-without-features'), { 0: [PUBLIC, Number(signal.split(':')[1])] }), 3));
  assert.equal(engine.expectations.list()[0].expiresAt, clock.now() + 60_000, 'refreshed');
  fromX(engine, withAddresses(vector('ras-urq'), { 0: [X, 1720] }));
  assert.equal(engine.expectations.size, 0);
});

test('a confirmation that answers no RRQ seen here opens nothing; nor does a rejection', () => {
  const { engine, signal } = register();
  fromGk(engine, withSeq(withAddresses(vector('ras-rcf-without-features'), { 0: [PUBLIC, Number(signal.split(':')[1])] }), 99));
  assert.equal(engine.expectations.size, 0);
  fromGk(engine, vector('ras-rrj').bytes);
  fromGk(engine, withAddresses(vector('ras-rcf-without-features'), { 0: [PUBLIC, Number(signal.split(':')[1])] }));
  assert.equal(engine.expectations.size, 0, 'the RRJ took the RRQ out');
});

test('no timeToLive in the RCF: the registration lasts registrationSeconds (300 s by default, the kernel\'s default_rrq_ttl)', () => {
  const { engine, clock, signal } = register();
  fromGk(engine, withAddresses(vector('ras-rcf-without-ttl'), { 0: [PUBLIC, Number(signal.split(':')[1])] }));
  assert.equal(engine.expectations.list()[0].expiresAt - clock.now(), 300_000);
});

test('registration: any lets anyone call the registered endpoint (direct-routed calls)', () => {
  const { engine, signal } = register({ registration: 'any' });
  fromGk(engine, withAddresses(vector('ras-rcf-without-features'), { 0: [PUBLIC, Number(signal.split(':')[1])] }));
  assert.equal(engine.expectations.list()[0].remoteAddr, 0);
  assert.equal(engine.process(tcpPkt(`${PEER}:41000`, signal, TCP_SYN, 1), Side.Outside), Verdict.ToInside);
});

test('ARQ: the endpoint\'s source address is its registered public one; ACF: its call to the granted address gets the ALG whatever the port', () => {
  const { engine, signal } = register();
  fromGk(engine, withAddresses(vector('ras-rcf-without-features'), { 0: [PUBLIC, Number(signal.split(':')[1])] }));
  const arq = withAddresses(vector('ras-arq'), { 0: [PEER, 1721], 1: [X, 1720] });
  assert.deepEqual(addressesIn(fromX(engine, arq).payload, 'ras'), [`${PEER}:1721`, signal]);
  fromGk(engine, withAddresses(vector('ras-acf'), { 0: [PEER, 1721] }));
  const q931 = new TcpSession(engine, `${X}:40100`, `${PEER}:1721`);
  q931.open();
  const flow = engine.listFlows().find((f) => f.remote[1] === 1721)!;
  assert.equal(engine.helperName(flow.helper), 'h323', 'attached by the ACF, not by a port rule');
  const out = addressesIn(q931.fromInside(setupFromX()), 'q931');
  assert.ok(out[0].startsWith(`${PUBLIC}:`), 'and its Setup is rewritten');
});

test('GRQ and LRQ: the RAS and reply addresses are public', () => {
  const { engine } = h323Engine();
  assert.deepEqual(addressesIn(fromX(engine, withAddresses(vector('ras-grq'), { 0: [X, 1719] })).payload, 'ras'), [`${PUBLIC}:1719`]);
  assert.deepEqual(addressesIn(fromX(engine, withAddresses(vector('ras-lrq'), { 0: [X, 1719] })).payload, 'ras'), [`${PUBLIC}:1719`]);
  // Another host's address in the same message is not the sender's: as written.
  assert.deepEqual(addressesIn(fromX(engine, withAddresses(vector('ras-grq'), { 0: ['10.0.0.9', 1719] })).payload, 'ras'), ['10.0.0.9:1719']);
});

test('H.460.18 offered and granted: the endpoint is a traversal endpoint: no registration pinhole, its RAS and calls pass untouched', () => {
  const { engine, alg } = h323Engine();
  const rrq = withAddresses(vector('ras-rrq-h460-18'), { 0: [X, 1720], 1: [X, 1721], 2: [X, 1719] });
  fromX(engine, rrq);
  fromGk(engine, vector('ras-rcf').bytes);
  assert.equal(engine.expectations.size, 0);
  assert.deepEqual(fromX(engine, rrq).payload, rrq, 'its next RRQ is left as it is');
  const q931 = new TcpSession(engine, `${X}:40000`, `${PEER}:1720`);
  q931.open();
  const setup = setupFromX();
  assert.deepEqual(q931.fromInside(setup), setup, 'and its calls');
  assert.equal(engine.expectations.size, 0);
  assert.equal(alg.counters().traversalEndpoints, 1);
});

test('H.460.18 offered but not granted (the Tandberg registration of h323.pcap): the ALG works as for any endpoint', () => {
  const { engine } = h323Engine();
  const rrq = withAddresses(vector('ras-rrq-h460-18'), { 0: [X, 1720], 1: [X, 1721], 2: [X, 1719] });
  const out = addressesIn(fromX(engine, rrq).payload, 'ras');
  assert.ok(out.every((a) => a.startsWith(`${PUBLIC}:`)), 'rewritten while the grant is not known');
  fromGk(engine, withAddresses(vector('ras-rcf-without-features'), { 0: [PUBLIC, 1720] }));
  assert.equal(engine.expectations.size, 2, 'both call signalling ports registered');
});

test('the gatekeeper\'s RCF repeating the endpoint\'s public call signalling address: the endpoint sees its own again', () => {
  const { engine, signal } = register();
  const rcf = fromGk(engine, withAddresses(vector('ras-rcf-without-features'), { 0: [PUBLIC, Number(signal.split(':')[1])] }));
  assert.deepEqual(addressesIn(rcf.payload, 'ras'), [`${X}:1720`]);
});
