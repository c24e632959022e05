/**
 * The H.323 ALG's bound on calls: a host at its own bound (maxCallsPerHost)
 * ends its own oldest call, so one endpoint flooding Setups never makes the
 * ALG forget another endpoint's call; only a table full of many hosts' calls
 * ends the oldest of all. A forgotten call ends with its pinholes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Verdict } from '../../../src/nat/engine.js';
import { resolveH323Options } from '../../../src/alg/h323/context.js';
import { parseIpv4 } from '../../../src/wire/address.js';
import { addressesIn, h323Engine, PEER, setupFromX, TcpSession, udpFromOutside, X, X2 } from './session.js';

/** The Setup with call reference `crv` (TPKT, then 08 02 CRV): each a new call on one connection. */
function withCrv(setup: Uint8Array, crv: number): Uint8Array {
  const m = setup.slice();
  m[6] = crv >>> 8;
  m[7] = crv & 255;
  return m;
}

test('one endpoint flooding Setups ends its own oldest calls; another endpoint\'s call, its pinholes and media survive', () => {
  const { engine, alg } = h323Engine({}, { maxCalls: 8, maxCallsPerHost: 4 });
  const other = new TcpSession(engine, `${X2}:40000`, `${PEER}:1720`);
  other.open();
  const otherAddrs = addressesIn(other.fromInside(setupFromX(X2)), 'q931');
  const flood = new TcpSession(engine, `${X}:40000`, `${PEER}:1720`);
  flood.open();
  const floodSetup = setupFromX(X);
  let lastAudio = '';
  for (let crv = 1; crv <= 200; crv++) lastAudio = addressesIn(flood.fromInside(withCrv(floodSetup, crv)), 'q931')[4];
  const c = alg.counters();
  assert.equal(c.calls, 201);
  assert.equal(c.callsActive, 5, 'the flooding host holds its own bound, the other host its one call');
  assert.equal(c.callsForgottenHostLimit, 196);
  assert.equal(c.callsForgottenTableFull, 0);
  // The other host's call is whole: its five pinholes, and its media reaches it.
  const x2 = parseIpv4(X2);
  assert.equal(engine.expectations.list().filter((e) => e.insideAddr === x2).length, 5);
  assert.deepEqual(udpFromOutside(engine, `${PEER}:7000`, otherAddrs[4]), { verdict: Verdict.ToInside, to: `${X2}:5000` });
  // The flooder's forgotten calls took their pinholes with them: four calls' worth are left.
  const x = parseIpv4(X);
  assert.equal(engine.expectations.list().filter((e) => e.insideAddr === x).length, 4 * 5);
  assert.deepEqual(udpFromOutside(engine, `${PEER}:7002`, lastAudio), { verdict: Verdict.ToInside, to: `${X}:5000` });
});

test('a table full of many hosts\' calls ends the oldest of all', () => {
  const { engine, alg } = h323Engine({}, { maxCalls: 3, maxCallsPerHost: 3 });
  const hosts = ['10.0.0.11', '10.0.0.12', '10.0.0.13', '10.0.0.14'];
  for (const h of hosts) {
    const s = new TcpSession(engine, `${h}:40000`, `${PEER}:1720`);
    s.open();
    s.fromInside(setupFromX(h));
  }
  const c = alg.counters();
  assert.equal(c.callsActive, 3);
  assert.equal(c.callsForgottenTableFull, 1);
  assert.equal(c.callsForgottenHostLimit, 0);
  const first = parseIpv4(hosts[0]);
  assert.equal(engine.expectations.list().filter((e) => e.insideAddr === first).length, 0, 'the oldest call ended with its pinholes');
  assert.equal(engine.expectations.size, 3 * 5);
});

test('the default bound per host is a quarter of maxCalls, at least 64 (or maxCalls when smaller)', () => {
  assert.equal(resolveH323Options({}).maxCallsPerHost, 2_500);
  assert.equal(resolveH323Options({ maxCalls: 100 }).maxCallsPerHost, 64);
  assert.equal(resolveH323Options({ maxCalls: 10 }).maxCallsPerHost, 10);
  // And it is the bound a flooding host meets.
  const { engine, alg } = h323Engine({}, { maxCalls: 100 });
  const flood = new TcpSession(engine, `${X}:40000`, `${PEER}:1720`);
  flood.open();
  const setup = setupFromX(X);
  for (let crv = 1; crv <= 67; crv++) flood.fromInside(withCrv(setup, crv));
  assert.equal(alg.counters().callsActive, 64);
  assert.equal(alg.counters().callsForgottenHostLimit, 3);
});
