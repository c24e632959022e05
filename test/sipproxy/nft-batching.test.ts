/**
 * The kernel hand-over of one turn of the event loop goes out together
 * (three commands for every pair that latched), with a pair nft refuses
 * failing alone. Against a recording NftSession: no nft needed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NftKernelForwarding } from '../../src/sipproxy/kernel/forwarding.js';
import type { NftSession } from '../../src/net/nft-session.js';
import type { KernelPair } from '../../src/sipproxy/media/relay.js';

const TABLE = 'ip masq_test';
const turn = () => new Promise((r) => setImmediate(r));

/** Records each run() call; a command containing `refuse` counts as an nft error. */
function recordingSession(refuse?: string) {
  const runs: string[][] = [];
  const session = {
    errors: 0,
    commands: 0,
    async run(commands: readonly string[]) {
      runs.push([...commands]);
      if (refuse && commands.some((c) => c.startsWith('add') && c.includes(refuse))) session.errors++;
    },
  };
  return { runs, session: session as unknown as NftSession & { errors: number } };
}

function pair(n: number, address = '203.0.113.1'): KernelPair {
  return { relayAddress: '198.51.100.10', a: { relayPort: 30000 + 4 * n, address, port: 6000 + n }, b: { relayPort: 30002 + 4 * n, address: '203.0.113.2', port: 7000 + n } };
}

test('kernel hand-over: the pairs of one turn are three commands; all resolve installed', async () => {
  const { runs, session } = recordingSession();
  const k = new NftKernelForwarding({ session, table: TABLE, conntrack: 'true', log: () => {} });
  const results = await Promise.all([0, 1, 2].map((n) => k.install(pair(n))));
  assert.deepEqual(results, [true, true, true]);
  assert.equal(runs.length, 1);
  assert.equal(runs[0].length, 3);
  assert.match(runs[0][0], /^add element ip masq_test via \{ 30000 : 198\.51\.100\.10 \. 30002, 30002 : 198\.51\.100\.10 \. 30000, 30004 : /);
  assert.equal(runs[0][2].split(' : ').length - 1, 6, 'two peer elements per pair');
  assert.ok(runs[0][2].startsWith(`add element ${TABLE} peer`), 'peer last: translation starts once the rest is there');
  assert.equal(k.installBatches, 1);
});

test('kernel hand-over: a batch nft refuses is retried a pair at a time, and only the bad pair fails', async () => {
  const { runs, session } = recordingSession('203.0.113.99');
  const k = new NftKernelForwarding({ session, table: TABLE, conntrack: 'true', log: () => {} });
  const results = await Promise.all([k.install(pair(0)), k.install(pair(1, '203.0.113.99')), k.install(pair(2))]);
  assert.deepEqual(results, [true, false, true]);
  const adds = runs.filter((r) => r[0].startsWith('add'));
  assert.equal(adds.length, 4, 'the batch, then each pair alone');
});

test('kernel hand-over: a pair taken back before its batch went out is never sent', async () => {
  const { runs, session } = recordingSession();
  const k = new NftKernelForwarding({ session, table: TABLE, conntrack: 'true', log: () => {} });
  const p0 = pair(0);
  const installed = k.install(p0);
  const kept = k.install(pair(1));
  await k.remove(p0);
  assert.equal(await installed, false);
  assert.equal(await kept, true);
  assert.equal(runs.length, 1);
  assert.doesNotMatch(runs[0].join('\n'), /30000 :/);
});
