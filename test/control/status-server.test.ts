import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseListen, startStatusServer, StatusListenError, type StatusServer, type StatusSource } from '../../src/control/status-server.js';

describe('the status endpoint', () => {
  let server: StatusServer;
  const limits: number[] = [];
  let failing = false;
  const source: StatusSource = {
    status: () => {
      if (failing) throw new Error('broken source');
      return { service: 'masq-gateway' };
    },
    flows: (limit) => {
      limits.push(limit);
      return { total: 2, truncated: limit < 2, flows: [] };
    },
    expectations: () => ({ total: 0, expectations: [] }),
    counters: () => ({ engine: { packetsOut: 7 } }),
  };

  before(async () => {
    server = await startStatusServer('127.0.0.1:0', source);
  });
  after(async () => {
    await server.close();
  });

  const get = async (path: string, init?: RequestInit) => {
    const res = await fetch(`${server.url}${path}`, init);
    return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as any };
  };

  test('listens on loopback and says where', () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  test('serves status, flows (with a limit), expectations and counters as JSON', async () => {
    const index = await get('/');
    assert.deepEqual(index.body.endpoints, ['/status', '/flows?limit=N', '/expectations', '/counters', '/portmappings']);
    assert.deepEqual((await get('/status')).body, { service: 'masq-gateway' });
    const flows = await get('/flows');
    assert.equal(flows.type, 'application/json; charset=utf-8');
    assert.deepEqual(flows.body, { total: 2, truncated: false, flows: [] });
    assert.equal((await get('/flows?limit=1')).body.truncated, true);
    assert.deepEqual(limits, [10_000, 1]);
    assert.deepEqual((await get('/expectations')).body, { total: 0, expectations: [] });
    assert.equal((await get('/counters')).body.engine.packetsOut, 7);
  });

  test('errors: unknown path 404, bad limit 400, writes 405, a failing source 500', async () => {
    assert.equal((await get('/nope')).status, 404);
    assert.equal((await get('/flows?limit=-1')).status, 400);
    assert.equal((await get('/flows?limit=abc')).status, 400);
    const post = await get('/status', { method: 'POST' });
    assert.equal(post.status, 405);
    failing = true;
    try {
      const broken = await get('/status');
      assert.deepEqual([broken.status, broken.body], [500, { error: 'broken source' }]);
    } finally {
      failing = false;
    }
  });

  test('a port in use is a clear error', async () => {
    const port = Number(new URL(server.url).port);
    await assert.rejects(startStatusServer(`127.0.0.1:${port}`, source), (err: unknown) => err instanceof StatusListenError && /EADDRINUSE/.test((err as Error).message));
  });

  test('listen addresses', () => {
    assert.deepEqual(parseListen('127.0.0.1:8787'), { host: '127.0.0.1', port: 8787 });
    assert.deepEqual(parseListen('[::1]:9'), { host: '::1', port: 9 });
    assert.deepEqual(parseListen('localhost:0'), { host: 'localhost', port: 0 });
    assert.throws(() => parseListen('8787'), StatusListenError);
    assert.throws(() => parseListen('127.0.0.1:70000'), StatusListenError);
  });
});
