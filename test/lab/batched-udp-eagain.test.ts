/**
 * A batched UDP socket whose send buffer fills on a real device: two
 * namespaces joined by a veth pair, the sender's side shaped by a token
 * bucket (tc tbf) so datagrams wait in the qdisc and hold the socket's send
 * buffer. The sender queues a burst in one turn; the kernel says EAGAIN; the
 * socket keeps the rest queued, waits until it is writable, and sends it all,
 * in order, with nothing dropped. (Loopback never fills a UDP send buffer:
 * the lo device frees it at once.)
 *
 * The sender runs on one CPU. The qdisc sends from the sender's context and
 * from its timer; were those on two CPUs, the datagrams would reach the
 * receiver through two CPUs' backlogs and could arrive reordered by the
 * kernel (5 of 400 did once in CI), which says nothing of the socket's own
 * order.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { prerequisites, repoRoot } from './prereq.js';
import { batchedSkip } from '../net/udp-implementations.js';

const pre = prerequisites({ root: true, tools: ['ip', 'tc', 'taskset'] });
const tag = `masq-udpq-${process.pid}`;
const nsA = `${tag}-a`;
const nsB = `${tag}-b`;
const fixture = 'test/lab/fixtures/udp-burst.ts';

function sh(args: string[]): void {
  const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8' });
  assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
}

/** The fixture in namespace `ns`, on CPU 0 only. */
function inNs(ns: string, args: string[]) {
  return spawn('ip', ['netns', 'exec', ns, 'taskset', '-c', '0', process.execPath, '--import', 'tsx', fixture, ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs to exit (bounded); returns the last stdout line as JSON. */
function finish(p: ReturnType<typeof inNs>, onLine?: (line: string) => void): Promise<Record<string, any>> {
  let out = '';
  let err = '';
  p.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    onLine?.(out);
  });
  p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => p.kill('SIGKILL'), 40_000);
    p.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`fixture exited ${code}: ${err}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!));
    });
  });
}

describe('batched UDP: a full send buffer on a shaped veth', { skip: pre.skip || batchedSkip }, () => {
  before(() => {
    pre.assert();
    for (const ns of [nsA, nsB]) {
      spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      sh(['ip', 'netns', 'add', ns]);
      sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
    sh(['ip', '-n', nsA, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', nsB]);
    sh(['ip', '-n', nsA, 'addr', 'add', '10.98.0.1/24', 'dev', 'va']);
    sh(['ip', '-n', nsB, 'addr', 'add', '10.98.0.2/24', 'dev', 'vb']);
    sh(['ip', '-n', nsA, 'link', 'set', 'va', 'up']);
    sh(['ip', '-n', nsB, 'link', 'set', 'vb', 'up']);
    // 20 Mbit/s with room for everything: datagrams wait, none is dropped.
    sh(['ip', 'netns', 'exec', nsA, 'tc', 'qdisc', 'add', 'dev', 'va', 'root', 'tbf', 'rate', '20mbit', 'burst', '16kb', 'limit', '4mb']);
  });
  after(() => {
    for (const ns of [nsA, nsB]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  });

  test('EAGAIN: the queue waits for the socket to be writable, then everything goes out, in order, nothing dropped', async () => {
    const count = 400;
    const size = 1000;
    let listening!: () => void;
    const ready = new Promise<void>((r) => (listening = r));
    const receiver = finish(inNs(nsB, ['receive', '9000', String(count), '30000']), (out) => out.includes('listening') && listening());
    await ready;
    const sent = await finish(inNs(nsA, ['send', '10.98.0.2', '9000', String(count), String(size), '4096']));
    const got = await receiver;
    const c = sent.counters;
    assert.ok(c.sendQueueFull > 0, `the send buffer never filled: ${JSON.stringify(c)}`);
    assert.equal(c.datagramsOut, count, JSON.stringify(c));
    assert.equal(c.sendDropped, 0);
    assert.equal(c.sendErrors, 0);
    assert.equal(got.received, count, JSON.stringify(got));
    assert.equal(got.bytes, count * size);
    assert.equal(got.outOfOrder, 0, JSON.stringify(got));
  });
});
