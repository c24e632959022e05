/**
 * The Redis connection (node-redis) and the Redis registry against a real redis-server started
 * on loopback for this file; then two rendezvous servers sharing that Redis
 * introduce peers that joined different servers (real UDP sockets on loopback).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { prerequisites } from '../lab/prereq.js';
import { TestRedis } from './fixtures/redis-server.js';
import { checkRedisUrl, RedisCommandError, RedisConnection, redactRedisUrl } from '../../src/rendezvous/redis/connection.js';
import { RedisRegistry } from '../../src/rendezvous/redis/redis-store.js';
import { RendezvousServer } from '../../src/rendezvous/server/server.js';
import { PunchClient } from '../../src/rendezvous/client/punch-client.js';
import { SessionKeys, sessionSecretFromMaster } from '../../src/rendezvous/protocol/keys.js';
import { nodeNetEnv } from '../../src/net/node-udp.js';
import type { PeerRecord, RegistryEvent } from '../../src/rendezvous/server/registry.js';
import type { PeerStatus } from '../../src/rendezvous/client/types.js';

const pre = prerequisites({ tools: ['redis-server'] });

const record = (id: string, server: string, port: number): PeerRecord => ({
  id,
  public: { address: '203.0.113.1', port },
  locals: [{ address: '10.0.0.2', port }],
  server,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Redis', { skip: pre.skip }, () => {
  let redis: TestRedis;
  before(async () => {
    pre.assert();
    redis = await TestRedis.start();
  });
  after(async () => {
    await redis?.stop();
  });

  test('connection: commands pipelined in order, error replies, nil', async () => {
    const c = await RedisConnection.connect({ url: redis.url });
    try {
      const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => c.command('SET', `k${i}`, `v${i}`)));
      assert.ok(replies.every((r) => r === 'OK'));
      const got = await Promise.all(Array.from({ length: 200 }, (_, i) => c.command('GET', `k${i}`)));
      assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => `v${i}`));
      assert.equal(await c.command('GET', 'missing'), null);
      await assert.rejects(c.command('NOSUCHCOMMAND'), RedisCommandError);
    } finally {
      await c.close();
    }
  });

  test('connection: a command past its timeout is refused, and the next ones get their own replies', async () => {
    const c = await RedisConnection.connect({ url: redis.url, commandTimeoutMs: 100 });
    try {
      await c.command('SET', 'order', 'right');
      // A slow command (DEBUG SLEEP holds the server 0.4 s): well past the timeout.
      await assert.rejects(c.command('DEBUG', 'SLEEP', '0.4'), /timed? ?out|Timeout/i);
      await sleep(500);
      assert.equal(await c.command('GET', 'order'), 'right');
    } finally {
      await c.close();
    }
  });

  test('connection: reconnects after the server drops it, with commands issued meanwhile', async () => {
    const c = await RedisConnection.connect({ url: redis.url, reconnectMinMs: 20 });
    const admin = await RedisConnection.connect({ url: redis.url });
    try {
      await c.command('CLIENT', 'SETNAME', 'victim');
      const killed = await admin.command('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      assert.ok(typeof killed === 'number' && killed >= 1);
      const deadline = Date.now() + 3000;
      let v: unknown = null;
      while (Date.now() < deadline) {
        try {
          v = await c.command('PING');
          break;
        } catch {
          await sleep(20);
        }
      }
      assert.equal(v, 'PONG');
    } finally {
      await c.close();
      await admin.close();
    }
  });

  test('connection: commands waiting for a reply are bounded', async () => {
    const c = await RedisConnection.connect({ url: redis.url, maxPending: 5, commandTimeoutMs: 2000 });
    try {
      const first = c.command('DEBUG', 'SLEEP', '0.2');
      const more = Array.from({ length: 4 }, () => c.command('PING'));
      await assert.rejects(c.command('PING'), /queue|full|max/i);
      await first;
      await Promise.all(more);
    } finally {
      await c.close();
    }
  });

  test('connection: pub/sub on its own connection; a refused first connection fails at once', async () => {
    const pub = await RedisConnection.connect({ url: redis.url });
    const sub = await pub.duplicate();
    try {
      const got: string[] = [];
      await sub.subscribe('ch', (m) => got.push(m.toString()));
      assert.equal(await pub.command('PUBLISH', 'ch', 'hello'), 1);
      const deadline = Date.now() + 2000;
      while (got.length === 0 && Date.now() < deadline) await sleep(10);
      assert.deepEqual(got, ['hello']);
    } finally {
      await sub.close();
      await pub.close();
    }
    const t0 = Date.now();
    await assert.rejects(RedisConnection.connect({ url: 'redis://127.0.0.1:1' }), RedisCommandError);
    assert.ok(Date.now() - t0 < 3000, 'no retrying before the first success');
    assert.throws(() => checkRedisUrl('http://x'), /scheme/);
    assert.throws(() => checkRedisUrl('redis://x/abc'), /database/);
  });

  test('a wrong password fails at once with a message that does not contain it', async () => {
    const locked = await TestRedis.start({ password: 'right-secret-1234' });
    try {
      const url = `redis://:wrong-secret-9876@127.0.0.1:${locked.port}`;
      const t0 = Date.now();
      const err = await RedisConnection.connect({ url }).then(
        () => assert.fail('connected with a wrong password'),
        (e: Error) => e,
      );
      assert.ok(Date.now() - t0 < 3000, 'fails at once, no retry loop');
      assert.match(err.message, /WRONGPASS|NOAUTH|invalid|password/i);
      assert.doesNotMatch(err.message, /wrong-secret-9876/);
      assert.equal(redactRedisUrl(url), `redis://:***@127.0.0.1:${locked.port}`);
      const ok = await RedisConnection.connect({ url: `redis://:right-secret-1234@127.0.0.1:${locked.port}` });
      assert.equal(await ok.command('PING'), 'PONG');
      await ok.close();
    } finally {
      await locked.stop();
    }
  });

  test('registry: upsert lists the others, touch, remove, expiry by TTL, malformed records ignored', async () => {
    const store = await RedisRegistry.connect({ url: redis.url, prefix: `t${process.pid}` });
    const raw = await RedisConnection.connect({ url: redis.url });
    try {
      assert.deepEqual(await store.upsert('s', record('00000000000000a1', 'srv1', 1000), 5000), []);
      const others = await store.upsert('s', record('00000000000000b2', 'srv2', 2000), 200);
      assert.deepEqual(others.map((r) => r.id), ['00000000000000a1']);
      assert.equal(await store.touch('s', '00000000000000a1', 5000), true);
      await raw.command('SET', `t${process.pid}:peer:s:00000000000000c3`, '{"id":"not valid"}', 'PX', 5000);
      await raw.command('SADD', `t${process.pid}:members:s`, '00000000000000c3');
      assert.equal((await store.list('s')).length, 2);
      assert.ok(store.rejected >= 1);
      await sleep(300);
      assert.deepEqual((await store.list('s')).map((r) => r.id), ['00000000000000a1'], 'b2 expired by its TTL');
      assert.equal(await store.touch('s', '00000000000000b2', 5000), false);
      assert.deepEqual(await store.remove('s', '00000000000000a1'), []);
    } finally {
      await store.close();
      await raw.close();
    }
  });

  test('registry: events reach the subscribed server only', async () => {
    const a = await RedisRegistry.connect({ url: redis.url, prefix: `e${process.pid}` });
    const b = await RedisRegistry.connect({ url: redis.url, prefix: `e${process.pid}` });
    try {
      const atA: RegistryEvent[] = [];
      const atB: RegistryEvent[] = [];
      await a.subscribe('A', (e) => atA.push(e));
      await b.subscribe('B', (e) => atB.push(e));
      await b.publish('A', { type: 'peer-left', session: 's', to: '00000000000000a1', peerId: '00000000000000b2' });
      const deadline = Date.now() + 2000;
      while (atA.length === 0 && Date.now() < deadline) await sleep(10);
      assert.equal(atA.length, 1);
      assert.equal(atB.length, 0);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('two rendezvous servers sharing Redis introduce peers that joined different servers', async () => {
    const master = new Uint8Array(32).fill(7);
    const keys = new SessionKeys({ master });
    const secret = sessionSecretFromMaster(master, 'shared');
    const stores = await Promise.all([0, 1].map(() => RedisRegistry.connect({ url: redis.url, prefix: `x${process.pid}` })));
    const servers = await Promise.all(
      stores.map((store, i) => RendezvousServer.start(nodeNetEnv, { listen: { address: '127.0.0.1', port: 0 }, observe: null, keys, store, serverId: `server-${i}`, wallClock: Date.now })),
    );
    const clients: PunchClient[] = [];
    try {
      for (const [i, s] of servers.entries()) {
        clients.push(
          await PunchClient.start(nodeNetEnv, {
            server: s.local,
            observe: null,
            session: 'shared',
            secret,
            name: `peer-${i}`,
            bind: { address: '127.0.0.1' },
            relay: null,
            wallClock: Date.now,
          }),
        );
      }
      const paths = await Promise.race([
        Promise.all([clients[0].waitForPath(clients[1].id, { direct: true }), clients[1].waitForPath(clients[0].id, { direct: true })]),
        sleep(5000).then(() => null),
      ]);
      assert.ok(paths, 'both peers got a direct path');
      // A hello can outrun the introduction (which crosses Redis): wait for both introductions.
      const deadline = Date.now() + 3000;
      while (Date.now() < deadline && !(clients[0].peer(clients[1].id)?.info && clients[1].peer(clients[0].id)?.info)) await sleep(10);
      const p0 = clients[0].peer(clients[1].id) as PeerStatus;
      const p1 = clients[1].peer(clients[0].id) as PeerStatus;
      assert.equal(p0.name, 'peer-1');
      assert.equal(p1.name, 'peer-0');
      assert.equal(p0.info?.public.port, clients[1].mainSocket.local.port);
      assert.equal(servers[0].counters.introductions + servers[1].counters.introductions >= 1, true);
      // The first peer joined server 0 and heard of the second through server 0 (via the bus).
      assert.equal(servers[0].attachedCount, 1);
      assert.equal(servers[1].attachedCount, 1);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await Promise.all(servers.map((s) => s.close()));
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});
