/**
 * Two rendezvous servers sharing a real redis-server (loopback) while that
 * Redis restarts under them, empty, and stays away longer than a peer's TTL:
 * the servers keep serving (degraded, and say so), a newcomer joining during
 * the outage meets the peer on its own server, nobody expires or has to join
 * again, and once Redis is back every registration is in it again, so a peer
 * joining the other server afterwards meets all of them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { prerequisites } from './prereq.js';
import { TestRedis } from '../rendezvous/fixtures/redis-server.js';
import { RedisRegistry } from '../../src/rendezvous/redis/redis-store.js';
import { RendezvousServer } from '../../src/rendezvous/server/server.js';
import { PunchClient } from '../../src/rendezvous/client/punch-client.js';
import { SessionKeys, sessionSecretFromMaster } from '../../src/rendezvous/protocol/keys.js';
import { nodeNetEnv } from '../../src/net/node-udp.js';

const pre = prerequisites({ tools: ['redis-server'] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('rendezvous servers while their Redis restarts', { skip: pre.skip }, () => {
  let redis: TestRedis;
  const closers: Array<() => Promise<unknown>> = [];

  before(async () => {
    pre.assert();
    redis = await TestRedis.start();
  });
  after(async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
    await redis?.stop();
  });

  test('they keep serving degraded, say so, lose no registration, and use Redis again once it is back', async () => {
    const master = new Uint8Array(32).fill(9);
    const keys = new SessionKeys({ master });
    const secret = sessionSecretFromMaster(master, 'team');
    const prefix = `rvf${process.pid}`;
    const warned: Array<{ server: number; event: string; fields: Record<string, unknown> }> = [];
    const stores = await Promise.all([0, 1].map(() => RedisRegistry.connect({ url: redis.url, prefix, commandTimeoutMs: 500 })));
    closers.push(() => Promise.all(stores.map((s) => s.close())));
    const servers = await Promise.all(
      stores.map((store, i) =>
        RendezvousServer.start(nodeNetEnv, {
          listen: { address: '127.0.0.1', port: 0 },
          observe: null,
          keys,
          store,
          serverId: `server-${i}`,
          wallClock: Date.now,
          refreshMs: 1000,
          ttlMs: 3000,
          warn: (event, fields = {}) => warned.push({ server: i, event, fields }),
        }),
      ),
    );
    closers.push(() => Promise.all(servers.map((s) => s.close())));
    const join = async (server: number, name: string) => {
      const c = await PunchClient.start(nodeNetEnv, {
        server: servers[server].local,
        observe: null,
        session: 'team',
        secret,
        name,
        bind: { address: '127.0.0.1' },
        relay: null,
        wallClock: Date.now,
      });
      closers.push(() => c.close());
      return c;
    };
    const a = await join(0, 'a');
    const b = await join(1, 'b');
    await until('a and b to know each other', () => a.peer(b.id)?.info !== undefined && b.peer(a.id)?.info !== undefined, 5000);
    const joinsBefore = servers.map((s) => s.counters.joins);

    // Redis goes away for longer than a peer's TTL and comes back empty.
    const restarting = redis.restart(4000);
    await until('server 0 to notice', () => servers[0].registryStatus.state === 'degraded', 5000);
    const c = await join(0, 'c');
    await until('c to meet a on their server while Redis is away', () => c.peer(a.id)?.info !== undefined && a.peer(c.id)?.info !== undefined, 5000);
    assert.equal(servers[0].registryStatus.state, 'degraded', 'c joined while Redis was still away');
    redis = await restarting;

    await until('both servers to use Redis again', () => servers.every((s) => s.registryStatus.state === 'ok'), 20_000);
    // Every registration is back in the restarted (empty) Redis, by a rewrite or a refresh.
    const fresh = await RedisRegistry.connect({ url: redis.url, prefix });
    closers.push(() => fresh.close());
    await until('a, b and c in Redis', async () => (await fresh.list('team')).length === 3, 5000);

    const d = await join(1, 'd');
    await until('d to meet a, b and c', () => [a, b, c].every((p) => d.peer(p.id)?.info !== undefined), 5000);

    const expired = servers.reduce((n, s) => n + s.counters.expired, 0);
    assert.equal(expired, 0, 'no peer expired during the outage');
    assert.equal(servers[0].counters.joins - joinsBefore[0], 1, 'server 0 saw only c join: a did not have to join again');
    assert.equal(servers[1].counters.joins - joinsBefore[1], 1, 'server 1 saw only d join: b did not have to join again');
    assert.ok(servers[0].counters.degradedAnswers > 0, 'server 0 answered from its own state');
    const said = warned.filter((w) => w.server === 0).map((w) => w.event);
    assert.ok(said.includes('registry-degraded') && said.includes('registry-restored'), `server 0 said so: ${said.join(', ')}`);
    assert.equal(servers[0].registryStatus.outages, 1);
  });
});
