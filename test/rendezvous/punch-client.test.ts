/** The punching client's behaviour beyond the matrix: keepalives, path death, upgrade, loss, several peers, attacks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NAT_PROFILES } from '../../src/dataplane/sim/index.js';
import type { PunchClient } from '../../src/rendezvous/client/punch-client.js';
import type { NatProfile } from '../../src/dataplane/sim/profiles.js';
import type { PunchEvent } from '../../src/rendezvous/client/types.js';
import { punchProfile } from '../../src/lab/punch/profiles.js';
import { runPair } from '../../src/lab/punch/scenario.js';
import { SimNet, udpPayload } from './fixtures/sim-net.js';

const short20: NatProfile = { mapping: 'eim', filtering: 'apdf', timeouts: { udp: 20, allowBelowRfc: true } };

test('a path that dies is noticed and punched again (20-second NATs, one side keeps it alive too rarely)', async () => {
  const net = await new SimNet().start();
  const a = await net.client(net.host(short20), { keepaliveMs: 30_000 });
  // B never sends on its own within the test: only A's keepalive tells that the NATs forgot the path.
  const b = await net.client(net.host(short20), { keepaliveMs: 600_000 });
  const events: PunchEvent[] = [];
  a.on((e) => events.push(e));
  await net.sim.complete(a.waitForPath(b.id, { direct: true }), 5000);
  await net.sim.runUntil(() => events.some((e) => e.type === 'path-lost'), 60_000);
  const lost = events.findIndex((e) => e.type === 'path-lost');
  assert.ok(lost >= 0, 'A noticed the dead path');
  await net.sim.runUntil(() => events.slice(lost).some((e) => e.type === 'path' && e.path.direct), 30_000);
  assert.ok(events.slice(lost).some((e) => e.type === 'path' && e.path.direct), 'and found a direct one again');
  let got = '';
  b.on((e) => e.type === 'data' && (got = new TextDecoder().decode(e.data)));
  assert.equal(a.send(b.id, new TextEncoder().encode('after')), true);
  await net.sim.runUntil(() => got !== '', 1000);
  assert.equal(got, 'after');
  assert.equal(a.peer(b.id)?.repunches, 1);
  await net.stop(a, b);
});

test('relay first, then the birthday attack finds a direct path and takes over', async () => {
  const r = await runPair(punchProfile('eim-apdf'), punchProfile('apdm-random'), { seed: 2 });
  assert.equal(r.outcome, 'birthday');
  assert.equal(r.upgraded, true);
  assert.ok(r.timeToPathMs! < r.timeToDirectMs!);
  assert.equal(r.birthdaySockets, 256);
});

test('three peers behind three NATs: everyone connects to everyone, directly', async () => {
  const net = await new SimNet().start();
  const clients: PunchClient[] = [];
  for (let i = 0; i < 3; i++) clients.push(await net.client(net.host(NAT_PROFILES['port-restricted'])));
  const all = () => clients.every((c) => c.peers().length === 2 && c.peers().every((p) => p.path?.direct));
  await net.sim.runUntil(all, 5000);
  assert.ok(all(), JSON.stringify(clients.map((c) => c.peers().map((p) => p.path?.kind))));
  await net.stop(...clients);
});

test('20% loss on the internet: retransmitted hellos still punch through', async () => {
  for (const seed of [1, 2, 3]) {
    const net = await new SimNet(seed).start();
    net.internet.loss = 0.2;
    const a = await net.client(net.host(NAT_PROFILES['port-restricted']));
    const b = await net.client(net.host(NAT_PROFILES['port-restricted']));
    await net.sim.runUntil(() => !!a.peer(b.id)?.path?.direct && !!b.peer(a.id)?.path?.direct, 10_000);
    assert.equal(a.peer(b.id)?.path?.kind, 'public', `seed ${seed}`);
    assert.equal(b.peer(a.id)?.path?.kind, 'public', `seed ${seed}`);
    await net.stop(a, b);
  }
});

test('a hello replayed from another address does not move the path; one without the key is ignored', async () => {
  const net = await new SimNet().start();
  const hellos: Uint8Array[] = [];
  net.sim.onPacket((seg, packet) => {
    const u = seg.name === 'internet' ? udpPayload(packet) : null;
    if (u && u.payload[0] === 0x4d && u.payload[3] === 0x10) hellos.push(u.payload);
  });
  const a = await net.client(net.host(null));
  const b = await net.client(net.host(null));
  await net.sim.runUntil(() => !!a.peer(b.id)?.path && !!b.peer(a.id)?.path, 2000);
  const before = a.peer(b.id)!.path!;
  const malloryHost = net.host(null, 'mallory');
  let answered = 0;
  net.sim.onPacket((seg, packet) => {
    const u = seg.name === 'internet' ? udpPayload(packet) : null;
    if (u && u.dst === malloryHost.address && u.src === a.mainSocket.local.address) answered++;
  });
  const mallory = malloryHost.bindUdp({});
  for (const h of hellos.slice(0, 50)) mallory.send(h, a.mainSocket.local);
  await net.sim.run(500);
  assert.equal(answered, 0, 'no answer to a replayed hello');
  assert.deepEqual(a.peer(b.id)!.path!.remote, before.remote);
  assert.equal(a.peer(b.id)!.history.length, 1);
  assert.ok(hellos.length > 0);
  await net.stop(a, b);
});

test('a peer that closes says goodbye; waiting for a path that never comes times out', async () => {
  const net = await new SimNet().start({}, false);
  const a = await net.client(net.host(null), { relay: null });
  await assert.rejects(net.sim.complete(a.waitForPath(undefined, { timeoutMs: 3000 }), 10_000), /no path within 3000 ms/);
  const b = await net.client(net.host(null), { relay: null });
  await net.sim.complete(a.waitForPath(b.id), 2000);
  const left: string[] = [];
  a.on((e) => e.type === 'peer-left' && left.push(e.peerId));
  await net.sim.complete(b.close(), 5000);
  await net.sim.runUntil(() => left.length > 0, 1000);
  assert.deepEqual(left, [b.id]);
  assert.equal(a.peer(b.id), undefined);
  await net.stop(a);
});
