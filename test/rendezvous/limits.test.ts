/**
 * Rendezvous server limits (issue 17): one host could fill the server's
 * sessions through open sessions and lock keyed sessions out. Now sessions
 * and participants are capped per source address, open sessions only get a
 * share, and joins are rate-limited per source address.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveSessionKey, SessionKeys } from '../../src/rendezvous/protocol/keys.js';
import { MemoryRegistry } from '../../src/rendezvous/server/memory-store.js';
import type { RendezvousServerOptions } from '../../src/rendezvous/server/server.js';
import { outcome, rawJoiner } from './fixtures/raw-joiner.js';
import { SERVER, SimNet } from './fixtures/sim-net.js';

const id = (n: number) => n.toString(16).padStart(16, '0');
const KEYED = deriveSessionKey('pw', 'keyed');
const OPEN = (session: string) => deriveSessionKey('', session);

/** `registrySessions`: the registry's own limit on sessions (the server's default registry allows 100,000). */
async function setup(o: Partial<RendezvousServerOptions> = {}, registrySessions?: number) {
  const net = new SimNet();
  const keys = new SessionKeys({ secrets: { keyed: 'pw' }, open: true });
  const store = registrySessions ? { store: new MemoryRegistry({ clock: net.serverHost.env.scheduler, maxSessions: registrySessions }) } : {};
  await net.start({ keys, ...store, ...o }, false);
  const joiner = (address?: string) => rawJoiner(address ? net.sim.host(address, net.internet, `${address}/24`) : net.host(null), SERVER, () => net.sim.now);
  return { net, joiner };
}

test('one host creating open sessions gets a share of the sessions; a keyed member still joins', async () => {
  const logs: Array<Record<string, unknown>> = [];
  // 20 stands for the default 100,000 (and the registry holds no more either): the shape is the same.
  const { net, joiner } = await setup({ maxSessions: 20, warn: (event, f) => logs.push({ event, ...f }) }, 20);
  const attacker = joiner('192.0.2.66');
  for (let i = 0; i < 20; i++) attacker.join(`open-${i}`, id(i + 1), OPEN(`open-${i}`));
  await net.sim.run(500);
  const results = Array.from({ length: 20 }, (_, i) => outcome(attacker, id(i + 1)));
  assert.equal(results.filter((r) => r === 'ok').length, 10, 'open sessions get half');
  assert.match(results.find((r) => r !== 'ok')!, /^429 open sessions are at their share/);
  assert.equal(net.server.counters.refusedOpenSessions, 10);
  assert.deepEqual(net.server.sessionCounts, { sessions: 10, open: 10 });
  assert.deepEqual(logs.filter((l) => l.event === 'limit').map((l) => l.limit), ['openSessions']);

  const member = joiner();
  member.join('keyed', id(0xbeef), KEYED);
  await net.sim.run(200);
  assert.equal(outcome(member, id(0xbeef)), 'ok');
  await net.stop();
});

test('participants are capped per source address; other addresses still join', async () => {
  const { net, joiner } = await setup({ maxPeersPerAddress: 5 });
  const one = joiner('192.0.2.77');
  for (let i = 0; i < 8; i++) one.join('keyed', id(i + 1), KEYED);
  await net.sim.run(500);
  const results = Array.from({ length: 8 }, (_, i) => outcome(one, id(i + 1)));
  assert.equal(results.filter((r) => r === 'ok').length, 5);
  assert.match(results.find((r) => r !== 'ok')!, /^429 5 peers from your address already/);
  assert.equal(net.server.counters.refusedPerAddress, 3);
  const other = joiner();
  other.join('keyed', id(0x100), KEYED);
  await net.sim.run(200);
  assert.equal(outcome(other, id(0x100)), 'ok');
  await net.stop();
});

test('joins are rate-limited per source address (a token bucket: a burst, then the rate)', async () => {
  const { net, joiner } = await setup({ joinsPerSecond: 5 });
  const one = joiner('192.0.2.88');
  for (let i = 0; i < 20; i++) one.join('keyed', id(i + 1), KEYED);
  await net.sim.run(100);
  const results = Array.from({ length: 20 }, (_, i) => outcome(one, id(i + 1)));
  assert.equal(results.filter((r) => r === 'ok').length, 10, 'a burst of twice the rate');
  assert.match(results.find((r) => r !== 'ok')!, /^430 too many joins/);
  assert.equal(net.server.counters.rateLimited, 10);
  // A second later, five more.
  await net.sim.run(1000);
  for (let i = 20; i < 30; i++) one.join('keyed', id(i + 1), KEYED);
  await net.sim.run(100);
  assert.equal(Array.from({ length: 10 }, (_, i) => outcome(one, id(i + 21))).filter((r) => r === 'ok').length, 5);
  // Another address is not affected.
  const other = joiner();
  other.join('keyed', id(0x200), KEYED);
  await net.sim.run(100);
  assert.equal(outcome(other, id(0x200)), 'ok');
  await net.stop();
});
