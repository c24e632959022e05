/**
 * The eBPF steering programs (native/tun_steering.cc) in a real kernel,
 * against their TypeScript twin (src/dataplane/tun/steering.ts): every
 * crafted packet must reach the queue steering.ts predicts (UDP, TCP, echo
 * replies, ICMP errors quoting each protocol, a forward's port, non-first
 * fragments, an unknown protocol; inside packets by source host). The probe
 * runs in a namespace of its own (fixtures/tun-steering-probe.ts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { prerequisites } from './prereq.js';

const pre = prerequisites({ root: true, tools: ['ip'] });
const here = dirname(fileURLToPath(import.meta.url));
const namespace = `masq-gwmq-steer-${process.pid}`;

before(() => {
  if (pre.skip) return;
  pre.assert();
  assert.ok(existsSync('/dev/net/tun'), '/dev/net/tun is missing (modprobe tun)');
  spawnSync('ip', ['netns', 'del', namespace], { stdio: 'ignore' });
  const add = spawnSync('ip', ['netns', 'add', namespace], { encoding: 'utf8' });
  assert.equal(add.status, 0, add.stderr);
});

after(() => {
  spawnSync('ip', ['netns', 'del', namespace], { stdio: 'ignore' });
});

test('the kernel steers every packet to the queue steering.ts predicts', { skip: pre.skip }, () => {
  const r = spawnSync('ip', ['netns', 'exec', namespace, process.execPath, '--import', 'tsx', join(here, 'fixtures', 'tun-steering-probe.ts')], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, `probe exited ${r.status}: ${r.stderr}`);
  const result = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.deepEqual(result.wrong, [], JSON.stringify(result));
  assert.equal(result.received, result.sent);
  // Both queues of both devices got packets: the programs do spread.
  for (const side of ['outside', 'inside']) for (const n of result.perQueue[side]) assert.ok(n > 20, JSON.stringify(result.perQueue));
});
