/**
 * The proxy's Redis stores against a real redis-server on loopback: what one
 * proxy saves, another reads back (node-redis hands HGETALL back as an
 * object, not the flat array of RESP2: the reader must take both), expired
 * and malformed bindings are dropped, calls listed and ended.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { prerequisites } from '../lab/prereq.js';
import { TestRedis } from '../rendezvous/fixtures/redis-server.js';
import { RedisStores } from '../../src/sipproxy/store/redis.js';
import type { Binding } from '../../src/sipproxy/store/stores.js';

const pre = prerequisites({ tools: ['redis-server'] });

let now = Date.now();
const clock = () => now;

function binding(aor: string, contact: string, proxy: string, o: Partial<Binding> = {}): Binding {
  return {
    aor,
    contact,
    expiresAt: now + 600_000,
    registeredAt: now,
    callId: `c-${contact}`,
    cseq: 1,
    q: 1000,
    flow: { transport: 'udp', address: '203.0.113.2', port: 40000, connId: 0, listener: 0 },
    proxy,
    proxyAddress: { transport: 'udp', address: '198.51.100.10', port: 5060 },
    ...o,
  };
}

describe('sip-proxy Redis stores (real redis-server)', { skip: pre.skip }, () => {
  let redis: TestRedis;
  let a: RedisStores;
  let b: RedisStores;

  before(async () => {
    pre.assert();
    redis = await TestRedis.start();
    a = await RedisStores.connect({ url: redis.url, wallClock: clock });
    b = await RedisStores.connect({ url: redis.url, wallClock: clock });
  });

  after(async () => {
    await a?.close();
    await b?.close();
    await redis?.stop();
  });

  test('a binding saved through one proxy is found by the other', async () => {
    const bob = binding('bob@example.org', 'sip:bob@10.0.2.2:5060', 'proxy-a');
    const saved = await a.save('bob@example.org', [bob], [], 10);
    assert.deepEqual(saved, [bob]);
    assert.deepEqual(await b.lookup('bob@example.org'), [bob]);
    assert.ok(a.connected && b.connected);
  });

  test('the limit per address of record counts the bindings already stored', async () => {
    await a.save('carol@example.org', [binding('carol@example.org', 'sip:carol@10.0.0.1', 'proxy-a')], [], 1);
    assert.equal(await b.save('carol@example.org', [binding('carol@example.org', 'sip:carol@10.0.0.2', 'proxy-b')], [], 1), 'full');
    const both = await b.save('carol@example.org', [binding('carol@example.org', 'sip:carol@10.0.0.2', 'proxy-b')], ['sip:carol@10.0.0.1'], 1);
    assert.ok(both !== 'full' && both.length === 1 && both[0].proxy === 'proxy-b', 'a removal in the same REGISTER makes room');
  });

  test('expired and malformed bindings are not returned (the malformed one counted)', async () => {
    await a.save('dave@example.org', [binding('dave@example.org', 'sip:dave@10.0.0.3', 'proxy-a', { expiresAt: now + 1000 })], [], 10);
    now += 2000;
    assert.deepEqual(await b.lookup('dave@example.org'), []);
    const raw = await RedisStores.connect({ url: redis.url, wallClock: clock, prefix: 'masq:sip' });
    await a.save('erin@example.org', [binding('erin@example.org', 'sip:erin@10.0.0.4', 'proxy-a')], [], 10);
    // Someone else's junk in the shared hash.
    await (raw as unknown as { redis: { command(...x: string[]): Promise<unknown> } }).redis.command('HSET', 'masq:sip:aor:erin@example.org', 'sip:junk', '{"aor":1}');
    const before = b.rejected;
    assert.equal((await b.lookup('erin@example.org')).length, 1);
    assert.equal(b.rejected - before, 1);
    await raw.close();
  });

  test('calls are listed by every proxy and gone once ended', async () => {
    const record = { callId: 'call-1', proxy: 'proxy-a', state: 'offered' as const, createdAt: now, caller: { uri: 'sip:a@x', tag: 't1', source: 'udp:203.0.113.1:5060' }, callee: { uri: 'sip:bob@example.org', tag: null, target: 'udp:203.0.113.2:40000' } };
    await a.put(record, 60_000);
    assert.deepEqual(await b.list(), [record]);
    await b.end('call-1');
    assert.deepEqual(await a.list(), []);
  });
});
