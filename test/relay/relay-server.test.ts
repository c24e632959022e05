/** The relay in sim: authenticated bindings, forwarding inside a session only, limits, expiry. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveSessionKey, SessionKeys } from '../../src/rendezvous/protocol/keys.js';
import { encodeMessage, isAuthenticatedType, readMessage } from '../../src/rendezvous/protocol/messages.js';
import { parsePacket } from '../../src/rendezvous/protocol/wire.js';
import type { RelayServerOptions } from '../../src/relay/relay-server.js';
import { RELAY, relaySim } from './fixtures/relay-sim.js';
import { parseIpv4 } from '../../src/wire/address.js';

const keys = new SessionKeys({ secrets: { s1: 'one', s2: 'two' } });
const K1 = deriveSessionKey('one', 's1');
const K2 = deriveSessionKey('two', 's2');
const A = 'aaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbb';
const C = 'cccccccccccccccc';

const setup = (o: Partial<RelayServerOptions> = {}) => relaySim(keys, o);

test('two bound peers of a session exchange frames; the delivered frame is the size of the sent one', async () => {
  const t = await setup();
  const a = t.peer();
  const b = t.peer();
  t.bind(a.sock, 's1', A, K1);
  t.bind(b.sock, 's1', B, K1);
  await t.sim.run(50);
  assert.deepEqual(a.got.map((m) => m.kind), ['relay-bind-ok']);
  const payload = new Uint8Array(300).fill(7);
  t.send(a.sock, B, payload);
  await t.sim.run(50);
  const d = b.got.at(-1)!;
  assert.equal(d.kind, 'relay-deliver');
  assert.equal(d.kind === 'relay-deliver' && d.from, A);
  assert.deepEqual(d.kind === 'relay-deliver' && [...d.payload], [...payload]);
  assert.equal(b.raw.at(-1)!.length, encodeMessage({ kind: 'relay-send', to: B, payload }, null).length);
  assert.equal(t.relay.counters.forwarded, 1);
  t.relay.close();
});

test('no forwarding without a binding, across sessions, or to an unknown peer; a bad MAC binds nothing', async () => {
  const t = await setup();
  const a = t.peer();
  const b = t.peer();
  const c = t.peer();
  t.bind(a.sock, 's1', A, K1);
  t.bind(b.sock, 's1', B, deriveSessionKey('wrong', 's1'));
  t.bind(c.sock, 's2', C, K2);
  await t.sim.run(50);
  assert.equal(t.relay.counters.unauthenticated, 1);
  t.send(a.sock, B, new Uint8Array(10)); // B never bound
  t.send(a.sock, C, new Uint8Array(10)); // C is in another session
  t.send(t.peer().sock, A, new Uint8Array(10)); // an unbound source
  await t.sim.run(50);
  assert.equal(t.relay.counters.forwarded, 0);
  assert.equal(t.relay.counters.unknownTarget, 2);
  assert.equal(t.relay.counters.unbound, 1);
  assert.equal(c.got.filter((m) => m.kind === 'relay-deliver').length, 0);
  t.relay.close();
});

test('a replayed bind from another address is refused; bindings expire unless refreshed', async () => {
  const t = await setup({ bindingTtlMs: 10_000 });
  const a = t.peer();
  const b = t.peer();
  let bindBytes: Uint8Array | null = null;
  t.sim.onPacket((_seg, p) => {
    // The bind the relay accepted: the one that echoes a cookie.
    if (!bindBytes && p[9] === 17 && p[28] === 0x4d && p[31] === 0x20) {
      const m = readMessage(parsePacket(p.slice(28), isAuthenticatedType));
      if (m.kind === 'relay-bind' && m.cookie) bindBytes = p.slice(28);
    }
  });
  t.bind(a.sock, 's1', A, K1);
  t.bind(b.sock, 's1', B, K1);
  await t.sim.run(50);
  const mallory = t.peer();
  mallory.sock.send(bindBytes!, RELAY);
  await t.sim.run(50);
  assert.equal(t.relay.counters.replayed, 1);
  t.send(b.sock, A, new Uint8Array(4));
  await t.sim.run(50);
  assert.equal(a.got.filter((m) => m.kind === 'relay-deliver').length, 1, 'A still reachable at its own address');
  await t.sim.run(16_000);
  assert.equal(t.relay.bindings, 0);
  t.send(b.sock, A, new Uint8Array(4));
  await t.sim.run(50);
  assert.equal(t.relay.counters.unbound, 1);
  t.relay.close();
});

test('each binding is rate-limited', async () => {
  const t = await setup({ bytesPerSecond: 1000 });
  const a = t.peer();
  const b = t.peer();
  t.bind(a.sock, 's1', A, K1);
  t.bind(b.sock, 's1', B, K1);
  await t.sim.run(50);
  for (let i = 0; i < 10; i++) t.send(a.sock, B, new Uint8Array(200));
  await t.sim.run(50);
  assert.equal(t.relay.counters.forwarded, 5);
  assert.equal(t.relay.counters.rateLimited, 5);
  await t.sim.run(1000);
  t.send(a.sock, B, new Uint8Array(200));
  await t.sim.run(50);
  assert.equal(t.relay.counters.forwarded, 6);
  t.relay.close();
});

test('a bind from a forged source binds nothing; that address gets one cookie no larger than the bind', async () => {
  const t = await setup();
  const victim = t.peer(t.host('192.0.2.200'));
  const b = t.peer();
  t.bind(b.sock, 's1', B, K1);
  // A member (it has the key) binds A at the victim's address, to aim B's frames there.
  const bind = encodeMessage({ kind: 'relay-bind', session: 's1', peerId: A, nonce: '00000000000000f1', timestamp: t.sim.now }, K1);
  t.host('192.0.2.250').sendUdp(parseIpv4('192.0.2.200'), victim.sock.local.port, parseIpv4(RELAY.address), RELAY.port, bind);
  await t.sim.run(100);
  assert.equal(t.relay.bindings, 1, 'only B');
  for (let i = 0; i < 10; i++) t.send(b.sock, A, new Uint8Array(1000));
  await t.sim.run(100);
  assert.equal(t.relay.counters.unknownTarget, 10);
  // The victim's socket saw one packet: the cookie, smaller than the forged bind.
  assert.deepEqual(victim.got.map((m) => m.kind), ['cookie']);
  assert.ok(victim.raw[0].length <= bind.length, `${victim.raw[0].length} bytes for a ${bind.length}-byte bind`);
  assert.equal(t.relay.counters.challenges, 2, "B's and the forged one");
  t.relay.close();
});
