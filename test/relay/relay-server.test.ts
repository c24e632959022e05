/** The relay in sim: authenticated bindings, forwarding inside a session only, limits, expiry. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Simulator, type SimHost } from '../../src/dataplane/sim/index.js';
import { RelayServer } from '../../src/relay/relay-server.js';
import { deriveSessionKey, SessionKeys } from '../../src/rendezvous/protocol/keys.js';
import { encodeMessage, isAuthenticatedType, readMessage, type Message } from '../../src/rendezvous/protocol/messages.js';
import { parsePacket } from '../../src/rendezvous/protocol/wire.js';
import type { UdpSocket } from '../../src/net/udp.js';

const RELAY = { address: '198.51.100.10', port: 7100 };
const keys = new SessionKeys({ secrets: { s1: 'one', s2: 'two' } });
const K1 = deriveSessionKey('one', 's1');
const K2 = deriveSessionKey('two', 's2');
const A = 'aaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbb';
const C = 'cccccccccccccccc';

async function setup(o: { ttl?: number; rate?: number } = {}) {
  const sim = new Simulator({ seed: 1 });
  const net = sim.segment('internet', { delayMs: 5 });
  const server = sim.host('relay', net, `${RELAY.address}/24`);
  const relay = await sim.complete(
    RelayServer.start(server.env, { listen: RELAY, keys, ...(o.ttl ? { bindingTtlMs: o.ttl } : {}), ...(o.rate ? { bytesPerSecond: o.rate } : {}) }),
    100,
  );
  let n = 0;
  const peer = (): { host: SimHost; sock: UdpSocket; got: Message[]; raw: Uint8Array[] } => {
    const host = sim.host(`p${++n}`, net, `192.0.2.${n}/24`);
    const sock = host.bindUdp({});
    const got: Message[] = [];
    const raw: Uint8Array[] = [];
    sock.onMessage((d) => {
      raw.push(d);
      got.push(readMessage(parsePacket(d, isAuthenticatedType)));
    });
    return { host, sock, got, raw };
  };
  let nonce = 0;
  const bind = (sock: UdpSocket, session: string, peerId: string, key: Uint8Array) =>
    sock.send(encodeMessage({ kind: 'relay-bind', session, peerId, nonce: (++nonce).toString(16).padStart(16, '0'), timestamp: sim.now }, key), RELAY);
  const send = (sock: UdpSocket, to: string, payload: Uint8Array) => sock.send(encodeMessage({ kind: 'relay-send', to, payload }, null), RELAY);
  return { sim, relay, peer, bind, send };
}

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
  const t = await setup({ ttl: 10_000 });
  const a = t.peer();
  const b = t.peer();
  let bindBytes: Uint8Array | null = null;
  t.sim.onPacket((_seg, p) => {
    if (!bindBytes && p[9] === 17 && p[28] === 0x4d && p[31] === 0x20) bindBytes = p.slice(28);
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
  const t = await setup({ rate: 1000 });
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
