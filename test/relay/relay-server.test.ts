/** The relay in sim: authenticated bindings, forwarding inside a session only, limits, expiry. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Simulator, type SimHost } from '../../src/dataplane/sim/index.js';
import { RelayServer, type RelayServerOptions } from '../../src/relay/relay-server.js';
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

interface Peer {
  host: SimHost;
  sock: UdpSocket;
  /** Answers and deliveries (cookies aside: those are answered by the peer itself, as a client would). */
  got: Message[];
  raw: Uint8Array[];
  cookies: number;
}

async function setup(o: Partial<RelayServerOptions> = {}) {
  const sim = new Simulator({ seed: 1 });
  const net = sim.segment('internet', { delayMs: 5 });
  const server = sim.host('relay', net, `${RELAY.address}/24`);
  const relay = await sim.complete(RelayServer.start(server.env, { listen: RELAY, keys, ...o }), 100);
  let nonce = 0;
  const sendBind = (sock: UdpSocket, session: string, peerId: string, key: Uint8Array, cookie?: Uint8Array) =>
    sock.send(encodeMessage({ kind: 'relay-bind', session, peerId, nonce: (++nonce).toString(16).padStart(16, '0'), timestamp: sim.now, ...(cookie ? { cookie } : {}) }, key), RELAY);
  /** The bind each socket last sent, to send again with the cookie the relay asks for. */
  const lastBind = new Map<UdpSocket, [string, string, Uint8Array]>();
  let n = 0;
  const peer = (address = `192.0.2.${n + 1}`): Peer => {
    const host = sim.host(`p${++n}`, net, `${address}/24`);
    const sock = host.bindUdp({});
    const p: Peer = { host, sock, got: [], raw: [], cookies: 0 };
    sock.onMessage((d) => {
      const m = readMessage(parsePacket(d, isAuthenticatedType));
      const last = lastBind.get(sock);
      if (m.kind === 'cookie' && last) {
        p.cookies++;
        sendBind(sock, ...last, m.cookie);
        return;
      }
      p.raw.push(d);
      p.got.push(m);
    });
    return p;
  };
  const bind = (sock: UdpSocket, session: string, peerId: string, key: Uint8Array) => {
    lastBind.set(sock, [session, peerId, key]);
    sendBind(sock, session, peerId, key);
  };
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
