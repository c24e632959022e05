/**
 * The location store that keeps a proxy serving while its shared store
 * (Redis) is away: answered from the local copy while degraded, said so,
 * and written back when the shared store returns (even empty).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryLocationStore } from '../../src/sipproxy/store/memory.js';
import { ResilientLocationStore } from '../../src/sipproxy/store/resilient.js';
import type { Binding, LocationStore } from '../../src/sipproxy/store/stores.js';

let now = 1_000_000;
const clock = () => now;

function binding(aor: string, contact: string, registeredAt: number, proxy = 'proxy-a'): Binding {
  return {
    aor,
    contact,
    expiresAt: registeredAt + 600_000,
    registeredAt,
    callId: `c-${contact}`,
    cseq: 1,
    q: 1000,
    flow: { transport: 'udp', address: '203.0.113.2', port: 5060, connId: 0, listener: 0 },
    proxy,
    proxyAddress: { transport: 'udp', address: '198.51.100.10', port: 5060 },
  };
}

/** A shared store that can be switched off (its connection down) or made to fail its commands. */
class FlakyStore implements LocationStore {
  inner = new MemoryLocationStore(clock);
  up = true;
  failing = false;
  private check(): void {
    if (this.failing) throw new Error('Command timed out');
  }
  async save(aor: string, u: readonly Binding[], r: readonly string[], max: number) {
    this.check();
    return this.inner.save(aor, u, r, max);
  }
  async lookup(aor: string) {
    this.check();
    return this.inner.lookup(aor);
  }
  async remove(aor: string, c: string) {
    this.check();
    return this.inner.remove(aor, c);
  }
  async close() {}
}

function setup() {
  const shared = new FlakyStore();
  const logs: string[] = [];
  const store = new ResilientLocationStore(shared, { wallClock: clock, isUp: () => shared.up, log: (_l, e) => logs.push(e) });
  return { shared, store, logs };
}

test('while the shared store answers it is the truth; the local copy follows', async () => {
  const { shared, store, logs } = setup();
  await store.save('bob@example.org', [binding('bob@example.org', 'sip:bob@10.0.2.2', now)], [], 10);
  // Another proxy's binding, only in the shared store.
  await shared.inner.save('carol@example.org', [binding('carol@example.org', 'sip:carol@10.0.3.2', now, 'proxy-b')], [], 10);
  assert.equal((await store.lookup('carol@example.org')).length, 1);
  assert.equal((await store.lookup('bob@example.org')).length, 1);
  assert.equal(store.status.state, 'ok');
  assert.deepEqual(logs, []);
});

test('the connection down: answered from the local copy, degraded and said once; back: written back to an emptied store', async () => {
  const { shared, store, logs } = setup();
  await store.save('bob@example.org', [binding('bob@example.org', 'sip:bob@10.0.2.2', now)], [], 10);
  shared.up = false;
  store.connectionLost('Socket closed unexpectedly');
  // A Redis restarted without persistence comes back empty.
  shared.inner = new MemoryLocationStore(clock);
  now += 1000;
  assert.equal((await store.lookup('bob@example.org')).length, 1, 'bob is still reachable');
  const saved = await store.save('alice@example.org', [binding('alice@example.org', 'sip:alice@10.0.1.2', now)], [], 10);
  assert.ok(saved !== 'full' && saved.length === 1, 'a REGISTER while degraded is accepted');
  assert.equal((await store.lookup('carol@example.org')).length, 0);
  const s = store.status;
  assert.equal(s.state, 'degraded');
  assert.equal(s.degradedSince, now - 1000);
  assert.equal(s.servedLocally, 3);
  assert.deepEqual(logs, ['store-degraded']);
  shared.up = true;
  await store.connectionBack();
  assert.equal(store.status.state, 'ok');
  assert.equal(store.status.resyncedBindings, 2);
  assert.deepEqual(logs, ['store-degraded', 'store-restored']);
  assert.equal((await shared.inner.lookup('bob@example.org')).length, 1, 'bob written back');
  assert.equal((await shared.inner.lookup('alice@example.org')).length, 1, 'alice (registered while degraded) written');
});

test('write-back never replaces a newer binding another proxy stored meanwhile', async () => {
  const { shared, store } = setup();
  await store.save('bob@example.org', [binding('bob@example.org', 'sip:bob@10.0.2.2', now)], [], 10);
  shared.up = false;
  store.connectionLost('down');
  const newer = binding('bob@example.org', 'sip:bob@10.0.2.2', now + 5000, 'proxy-b');
  await shared.inner.save('bob@example.org', [newer], [], 10);
  shared.up = true;
  await store.connectionBack();
  assert.deepEqual(await shared.inner.lookup('bob@example.org'), [newer]);
  assert.equal(store.status.resyncedBindings, 0);
});

test('a failing command degrades; the next success restores; expired local bindings are not written back', async () => {
  const { shared, store, logs } = setup();
  await store.save('bob@example.org', [binding('bob@example.org', 'sip:bob@10.0.2.2', now)], [], 10);
  await store.save('old@example.org', [{ ...binding('old@example.org', 'sip:old@10.0.2.9', now), expiresAt: now + 10 }], [], 10);
  shared.failing = true;
  assert.equal((await store.lookup('bob@example.org')).length, 1);
  assert.equal(store.status.state, 'degraded');
  assert.equal(store.status.failures, 1);
  shared.failing = false;
  shared.inner = new MemoryLocationStore(clock);
  now += 100;
  assert.equal((await store.lookup('bob@example.org')).length, 0, 'the shared store is the truth again');
  // The write-back started by that success.
  await store.connectionBack();
  assert.equal(store.status.state, 'ok');
  assert.equal((await shared.inner.lookup('bob@example.org')).length, 1);
  assert.equal((await shared.inner.lookup('old@example.org')).length, 0);
  assert.deepEqual(logs, ['store-degraded', 'store-restored']);
});

test('a removal reaches both copies; the limit is the shared store\'s', async () => {
  const { shared, store } = setup();
  await shared.inner.save('bob@example.org', [binding('bob@example.org', 'sip:bob@10.0.9.9', now, 'proxy-b')], [], 10);
  assert.equal(await store.save('bob@example.org', [binding('bob@example.org', 'sip:bob@10.0.2.2', now)], [], 1), 'full');
  await store.save('bob@example.org', [binding('bob@example.org', 'sip:bob@10.0.2.2', now)], [], 2);
  await store.remove('bob@example.org', 'sip:bob@10.0.2.2');
  shared.up = false;
  assert.deepEqual(await store.lookup('bob@example.org'), []);
  shared.up = true;
  assert.equal((await store.lookup('bob@example.org')).length, 1);
});
