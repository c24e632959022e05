/**
 * The framework refuses a pinhole toward an inside host other than the one of
 * the message's flow, and one admitting an inside address, whatever the
 * handler asks (DESIGN safety rule 3; NAT Slipstreaming v2 names a third
 * inside host in the message). Found by the sip-alg fuzz targets: a peer's SDP
 * announcing an inside address narrowed the phone's pinholes to admit it.
 *
 * A toy protocol on UDP 7200, one command per datagram from inside:
 *   OPEN <inside-addr> <port> [<remote-addr>]   a pinhole to <inside-addr>:<port> admitting <remote-addr> (default the peer)
 *   NARROW <remote-addr>                         narrow the last pinhole opened to <remote-addr>
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attachHandler } from '../../src/alg/attach.js';
import type { AlgHandler } from '../../src/alg/helper.js';
import { Side } from '../../src/nat/engine.js';
import { ipv4ToString, parseIpv4 } from '../../src/wire/address.js';
import { makeEngine, udpPkt } from '../nat/packets.js';

function toy() {
  const results: unknown[] = [];
  let last = -1;
  const handler: AlgHandler = {
    name: 'toy',
    frame: (_b, s, e) => ({ kind: 'message', length: e - s }),
    handle(flow, m, services) {
      const [cmd, a, b, c] = new TextDecoder().decode(m).trim().split(' ');
      if (cmd === 'OPEN') {
        const r = services.expect({
          proto: 17,
          insideAddr: parseIpv4(a),
          insidePort: Number(b),
          remoteAddr: c ? parseIpv4(c) : flow.remoteAddr,
          remotePort: 0,
          singleUse: false,
          group: 'call',
          cls: 'audio',
          reason: 'toy',
        });
        if (typeof r === 'object') last = r.id;
        results.push(typeof r === 'object' ? 'ok' : r);
      } else if (cmd === 'NARROW') {
        results.push(services.restrictExpectation(last, parseIpv4(a), 0));
      }
      return { kind: 'pass' };
    },
  };
  return { handler, results };
}

function setup() {
  const { engine } = makeEngine({ inside: ['10.0.0.0/24'], public: ['203.0.113.1'] });
  const t = toy();
  const alg = attachHandler(engine, t.handler, [{ proto: 17, first: 7200, last: 7200 }], { audio: { perGroup: 8, total: 64, ttlMs: 30_000 } });
  const say = (text: string, from = '10.0.0.2:5000') => engine.process(udpPkt(from, '198.51.100.10:7200', text), Side.Inside);
  return { engine, alg, say, results: t.results };
}

test('a pinhole toward another inside host than the message\'s own is refused, and nothing opens', () => {
  const { engine, alg, say, results } = setup();
  say('OPEN 10.0.0.3 30000');
  assert.deepEqual(results, ['bad-address']);
  assert.equal(engine.expectations.size, 0);
  assert.equal(alg.counters().expectationsRefused, 1);
  assert.match(alg.lastError ?? '', /toward 10\.0\.0\.3, not this flow's inside host 10\.0\.0\.2/);
  say('OPEN 10.0.0.2 30000');
  assert.deepEqual(results, ['bad-address', 'ok'], 'toward the sender itself it opens');
  assert.equal(ipv4ToString(engine.expectations.list()[0].insideAddr), '10.0.0.2');
});

test('a pinhole admitting an inside address is refused; narrowing to one is refused and keeps the pinhole as it was', () => {
  const { engine, say, results } = setup();
  say('OPEN 10.0.0.2 30000 10.0.0.7');
  assert.deepEqual(results, ['bad-address']);
  say('OPEN 10.0.0.2 30000');
  say('NARROW 10.0.0.9');
  assert.deepEqual(results, ['bad-address', 'ok', false]);
  assert.equal(ipv4ToString(engine.expectations.list()[0].remoteAddr), '198.51.100.10', 'still admits the signalling peer only');
  say('NARROW 198.51.100.77');
  assert.deepEqual(results.at(-1), true);
  assert.equal(ipv4ToString(engine.expectations.list()[0].remoteAddr), '198.51.100.77');
});

test('a pinhole admitting our own public address is refused, unless the message\'s peer is hairpinned from it', () => {
  const { engine, say, results } = setup();
  say('OPEN 10.0.0.2 30000 203.0.113.1');
  say('OPEN 10.0.0.2 30000');
  say('NARROW 203.0.113.1');
  assert.deepEqual(results, ['bad-address', 'ok', false]);
  assert.equal(ipv4ToString(engine.expectations.list()[0].remoteAddr), '198.51.100.10');
  // Hairpinned: 10.0.0.3 talks to 10.0.0.2's public endpoint, so its messages come from 203.0.113.1.
  const { engine: e2, results: r2 } = (() => {
    const s = setup();
    s.engine.process(udpPkt('10.0.0.2:7200', '198.51.100.10:9', 'map 7200 first'), Side.Inside);
    return s;
  })();
  const v = e2.process(udpPkt('10.0.0.3:5000', '203.0.113.1:7200', 'OPEN 10.0.0.2 30002 203.0.113.1'), Side.Inside);
  assert.ok(v !== 0, 'hairpinned');
  // The ALG sees the message on both legs: leaving 10.0.0.3 (a pinhole toward 10.0.0.2 is not for it),
  // then arriving at 10.0.0.2 from 203.0.113.1 (its peer's own address may be admitted).
  assert.deepEqual(r2, ['bad-address', 'ok']);
  assert.equal(ipv4ToString(e2.expectations.list()[0].remoteAddr), '203.0.113.1');
});
