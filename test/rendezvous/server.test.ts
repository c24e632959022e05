/** The rendezvous server in sim: joins, introductions, authentication, replay, leaves, expiry. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NAT_PROFILES } from '../../src/dataplane/sim/index.js';
import type { PunchClient } from '../../src/rendezvous/client/punch-client.js';
import type { PunchEvent } from '../../src/rendezvous/client/types.js';
import type { NatProfile } from '../../src/dataplane/sim/profiles.js';
import { encodeMessage, type Message } from '../../src/rendezvous/protocol/messages.js';
import { deriveSessionKey } from '../../src/rendezvous/protocol/keys.js';
import { SECRET, SERVER, SESSION, SimNet, udpPayload } from './fixtures/sim-net.js';

test('a join through a NAT: the server records the public endpoint it sees and introduces the newcomer', async () => {
  const net = await new SimNet().start();
  const a = await net.client(net.host(NAT_PROFILES['port-restricted']));
  const events: PunchEvent[] = [];
  a.on((e) => events.push(e));
  assert.equal(a.publicEndpoint?.address.startsWith('203.0.113.'), true);
  assert.deepEqual(a.natKind, { mapping: 'eim' });
  assert.equal(a.peers().length, 0);
  const b = await net.client(net.host(null));
  assert.deepEqual(b.natKind, { mapping: 'none' });
  // The newcomer hears of A in its join answer; A hears of B through an introduction.
  const aAtB = b.peer(a.id);
  assert.ok(aAtB?.info);
  assert.deepEqual(aAtB.info.public, a.publicEndpoint);
  assert.deepEqual(aAtB.info.locals, [a.mainSocket.local]);
  await net.sim.runUntil(() => events.some((e) => e.type === 'peer'), 1000);
  const intro = events.find((e) => e.type === 'peer');
  assert.equal(intro?.type === 'peer' && intro.peer.id, b.id);
  assert.equal(net.server.counters.joins, 2);
  assert.ok(net.server.counters.introductions >= 1);
  await net.stop(a, b);
});

test('the observation port tells each NAT kind apart', async () => {
  const net = await new SimNet().start();
  const kinds: Record<string, string> = {};
  for (const name of ['full-cone', 'port-restricted', 'symmetric-preserve', 'symmetric-sequential', 'symmetric-random'] as const) {
    const c = await net.client(net.host(NAT_PROFILES[name]));
    kinds[name] = c.natKind.mapping;
    await net.sim.complete(c.close(), 5000);
  }
  assert.deepEqual(kinds, {
    'full-cone': 'eim',
    'port-restricted': 'eim',
    'symmetric-preserve': 'preserving',
    'symmetric-sequential': 'sequential',
    'symmetric-random': 'random',
  });
  await net.stop();
});

test('a wrong secret does not get in; the server says why in a hint no larger than the request', async () => {
  const net = await new SimNet().start();
  const host = net.host(null);
  await assert.rejects(net.client(host, { secret: 'wrong' }), /authentication failed/);
  assert.ok(net.server.counters.unauthenticated > 0);
  assert.equal(net.server.counters.joins, 0);
  // A tiny forged request: the hint it provokes is not bigger.
  const sock = host.bindUdp({});
  let reply: Uint8Array | null = null;
  sock.onMessage((d) => (reply = d));
  const forged = encodeMessage({ kind: 'refresh', session: SESSION, peerId: '0000000000000001', nonce: '0000000000000002', timestamp: 0 }, deriveSessionKey('x', SESSION));
  sock.send(forged, SERVER);
  await net.sim.run(100);
  assert.ok(reply !== null);
  assert.ok((reply as Uint8Array).length <= forged.length);
  await net.stop();
});

test('a session the server does not know is refused when sessions are listed', async () => {
  const net = await new SimNet().start();
  await assert.rejects(net.client(net.host(null), { session: 'elsewhere' }), /not configured/);
  assert.equal(net.server.counters.unknownSession > 0, true);
  await net.stop();
});

test('a captured join replayed from another address is dropped; the recorded endpoint stays', async () => {
  const net = await new SimNet().start();
  let captured: Uint8Array | null = null;
  net.sim.onPacket((seg, packet) => {
    const u = seg.name === 'internet' ? udpPayload(packet) : null;
    // The join the server accepted: the last one (the first only fetched the cookie).
    if (u && u.dport === SERVER.port && u.payload[3] === 0x01) captured = u.payload;
  });
  const a = await net.client(net.host(NAT_PROFILES['port-restricted']));
  assert.ok(captured);
  const attacker = net.host(null, 'mallory').bindUdp({});
  attacker.send(captured as Uint8Array, SERVER);
  await net.sim.run(100);
  assert.equal(net.server.counters.replayed, 1);
  // After the acceptance window the same bytes are stale, still not applied.
  await net.sim.run(16_000);
  attacker.send(captured as Uint8Array, SERVER);
  await net.sim.run(100);
  assert.equal(net.server.counters.stale, 1);
  const b = await net.client(net.host(null));
  assert.deepEqual(b.peer(a.id)?.info?.public, a.publicEndpoint);
  await net.stop(a, b);
});

test('a client whose clock is an hour off learns the offset from the server and joins', async () => {
  const net = await new SimNet().start();
  const c = await net.client(net.host(null), { wallClock: () => net.sim.now + 3_600_000 });
  assert.ok(net.server.counters.stale >= 1);
  assert.equal(net.server.counters.joins, 1);
  await net.stop(c);
});

test('introductions from anyone but the server, or without the key, are ignored', async () => {
  const net = await new SimNet().start();
  const a = await net.client(net.host(null));
  const mallory = net.host(null, 'mallory').bindUdp({});
  const fake: Message = { kind: 'introduce', target: a.id, seq: 99, peer: { id: '00000000000000ee', public: { address: '192.0.2.66', port: 1 }, locals: [] } };
  mallory.send(encodeMessage(fake, deriveSessionKey('guess', SESSION)), a.mainSocket.local);
  // Even with the key (a member gone rogue), only the server's address may introduce.
  mallory.send(encodeMessage(fake, deriveSessionKey(SECRET, SESSION)), a.mainSocket.local);
  await net.sim.run(100);
  assert.equal(a.peers().length, 0);
  assert.ok(a.counters.unauthenticated >= 1);
  await net.stop(a);
});

test('leave: the others hear the peer left; expiry: a silent peer is dropped after the TTL', async () => {
  const net = await new SimNet().start({ refreshMs: 5000 });
  const a = await net.client(net.host(null));
  const bHost = net.host(NAT_PROFILES['port-restricted']);
  const b = await net.client(bHost);
  const c = await net.client(net.host(null));
  const left: string[] = [];
  a.on((e) => e.type === 'peer-left' && left.push(e.peerId));
  await net.sim.complete(c.close(), 5000);
  await net.sim.runUntil(() => left.includes(c.id), 2000);
  assert.deepEqual(left, [c.id]);
  // B goes silent (its LAN drops everything): no refresh, no leave.
  net.lans.get(bHost.name)!.loss = 1;
  await net.sim.runUntil(() => left.includes(b.id), 30_000);
  assert.deepEqual(left, [c.id, b.id]);
  assert.equal(net.server.counters.expired, 1);
  assert.equal(net.server.attachedCount, 1);
  await net.stop(a);
});

test('a full session refuses more peers', async () => {
  const net = await new SimNet().start({ maxPeersPerSession: 2 });
  const a = await net.client(net.host(null));
  const b = await net.client(net.host(null));
  await assert.rejects(net.client(net.host(null)), /session has 2 peers/);
  assert.equal(net.server.counters.refusedFull, 1);
  await net.stop(a, b);
});

test('a large session: participants beyond one reply arrive as introductions, and everyone knows everyone', async () => {
  const net = await new SimNet().start({}, false);
  const clients: PunchClient[] = [];
  for (let i = 0; i < 30; i++) clients.push(await net.client(net.host(null), { relay: null }));
  await net.sim.runUntil(() => clients.every((c) => c.peers().filter((p) => p.info).length === 29), 10_000);
  for (const c of clients) assert.equal(c.peers().filter((p) => p.info).length, 29);
  // The last one's join answer could not carry 29 peers.
  let lastReply = 0;
  net.sim.onPacket((seg, packet) => {
    const u = seg.name === 'internet' ? udpPayload(packet) : null;
    if (u && u.sport === SERVER.port && u.payload[3] === 0x81) lastReply = u.payload.length;
  });
  const extra = await net.client(net.host(null), { relay: null });
  assert.ok(lastReply > 1000 && lastReply <= 1400, `join answer ${lastReply} bytes`);
  await net.sim.runUntil(() => extra.peers().filter((p) => p.info).length === 30, 10_000);
  assert.equal(extra.peers().filter((p) => p.info).length, 30);
  await net.stop(...clients, extra);
});

test('a NAT that gives a peer a new mapping: its refresh from there proves it with a cookie, and newcomers hear the new endpoint', async () => {
  const net = await new SimNet().start({ refreshMs: 30_000 }, false);
  // The mapping toward the server times out between two refreshes; the next one comes from a new port.
  const forgetful: NatProfile = { mapping: 'eim', filtering: 'apdf', ports: { allocation: 'random' }, timeouts: { udp: 20, allowBelowRfc: true } };
  const a = await net.client(net.host(forgetful), { relay: null, keepaliveMs: 600_000 });
  const first = a.publicEndpoint!;
  const challenges = net.server.counters.challenges;
  await net.sim.run(35_000);
  assert.equal(net.server.counters.refreshes, 1);
  assert.equal(net.server.counters.challenges, challenges + 1, 'the refresh from a new mapping had to echo a cookie');
  const b = await net.client(net.host(null), { relay: null });
  const seen = b.peer(a.id)?.info?.public;
  assert.equal(seen?.address, first.address);
  assert.notEqual(seen?.port, first.port, 'the server took the new mapping');
  await net.stop(a, b);
});
