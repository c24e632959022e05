/**
 * The multi-process STUN server on loopback (127.0.0.1 and 127.0.0.2, both on
 * lo). The supervisor reads no UDP itself, so every answer here comes from a
 * worker process: these tests hold the workers to the single-process
 * behaviour, RFC 5780 included. On node:dgram the workers share the
 * supervisor's sockets; on batched sockets each binds its own (SO_REUSEPORT).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import { bindBatchedUdp } from '../../../src/net/batched-udp.js';
import { nodeNetEnv } from '../../../src/net/node-udp.js';
import type { Endpoint } from '../../../src/net/udp.js';
import { probeNatBehaviour } from '../../../src/stun/client/probe.js';
import { startStunUdpService } from '../../../src/stun/server/udp-service.js';
import { StunUdpWorkerPool, workerExecArgv, type WorkerExit } from '../../../src/stun/server/udp-worker-pool.js';
import { decodeStunMessage, encodeStunMessage, getAttribute } from '../../../src/stun/message.js';
import { StunMethod } from '../../../src/stun/constants.js';
import type { StunAttribute } from '../../../src/stun/attributes.js';
import { batchedSkip, udpImplementations } from '../../net/udp-implementations.js';

const fast = { rtoMs: 50, maxRequests: 3, lastWaitFactor: 4 };
const rfc5780 = { primary: { address: '127.0.0.1', port: 0 }, alternate: { address: '127.0.0.2', port: 0 } };

interface Answer {
  from: Endpoint;
  tid: number;
  mapped?: Endpoint;
}

/** Sends `count` Binding requests (transaction ids 0..count-1) to `to`; collects answers until `waitMs` after the last send. */
async function blast(to: Endpoint, count: number, attributes: StunAttribute[] = [], waitMs = 1500): Promise<{ answers: Answer[]; local: Endpoint }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const answers: Answer[] = [];
  sock.on('message', (msg, rinfo) => {
    const m = decodeStunMessage(new Uint8Array(msg));
    const tid = (m.transactionId[10] << 8) | m.transactionId[11];
    const mapped = getAttribute(m, 'XOR-MAPPED-ADDRESS')?.address;
    answers.push({ from: { address: rinfo.address, port: rinfo.port }, tid, ...(mapped ? { mapped } : {}) });
  });
  for (let i = 0; i < count; i++) {
    const tid = new Uint8Array(12);
    tid[10] = i >> 8;
    tid[11] = i & 0xff;
    sock.send(encodeStunMessage({ cls: 'request', method: StunMethod.Binding, transactionId: tid, attributes }), to.port, to.address);
  }
  const deadline = Date.now() + 10_000;
  let seen = -1;
  // Until nothing new arrives for waitMs (bounded by the deadline).
  while (Date.now() < deadline && answers.length !== seen) {
    seen = answers.length;
    await new Promise((r) => setTimeout(r, waitMs));
  }
  const local = { address: '127.0.0.1', port: sock.address().port };
  sock.close();
  return { answers, local };
}

/** Pids of this process's children running the worker module. */
function workerChildren(): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('udp-worker')) out.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

for (const { io, skip } of udpImplementations) {
  describe(`STUN worker pool over ${io}`, { skip }, () => {
    test('two workers: a probe finds no NAT, endpoint-independent everything, answered from the right sockets', async () => {
      const service = await startStunUdpService({ addresses: rfc5780 }, { workers: 2, udpIo: io });
      try {
        assert.equal(service.workers, 2);
        const { primary, alternate } = service.addresses;
        assert.notEqual(primary.port, 0);
        assert.notEqual(alternate!.port, 0);
        const r = await probeNatBehaviour(nodeNetEnv, primary, { localAddress: '127.0.0.1', retransmit: fast });
        assert.equal(r.udpBlocked, false);
        assert.deepEqual(r.otherAddress, alternate);
        assert.deepEqual(r.mapped, r.local);
        assert.deepEqual(r.mapping, { value: 'endpoint-independent' });
        assert.deepEqual(r.filtering, { value: 'endpoint-independent' });
        assert.deepEqual(r.hairpinning, { value: true });
        const changed = r.tests.find((t) => t.name === 'filtering: change IP and port');
        assert.deepEqual(changed?.answeredFrom, alternate);
        const counters = await service.counters();
        assert.ok(counters.success >= 6, JSON.stringify(counters));
        assert.equal(counters.received, counters.success);
      } finally {
        const final = await service.close();
        assert.ok(final.success >= 6);
      }
    });

    test('two workers: every CHANGE-REQUEST leaves from the socket it names, and every request is counted once', async () => {
      const pool = await StunUdpWorkerPool.start({ addresses: rfc5780, rateLimit: null }, { workers: 2, udpIo: io });
      try {
        const { primary, alternate } = pool.addresses;
        const n = 150;
        const both = await blast(primary, n, [{ type: 'CHANGE-REQUEST', changeIp: true, changePort: true }]);
        assert.equal(both.answers.length, n);
        for (const a of both.answers) {
          assert.deepEqual(a.from, alternate);
          assert.deepEqual(a.mapped, both.local);
        }
        assert.deepEqual(new Set(both.answers.map((a) => a.tid)).size, n);
        const portOnly = await blast(primary, n, [{ type: 'CHANGE-REQUEST', changeIp: false, changePort: true }]);
        assert.equal(portOnly.answers.length, n);
        for (const a of portOnly.answers) assert.deepEqual(a.from, { address: primary.address, port: alternate!.port });
        const counters = await pool.counters();
        assert.equal(counters.received, 2 * n);
        assert.equal(counters.success, 2 * n);
      } finally {
        await pool.close();
      }
    });

    test('the rate limit is per worker: one source gets at least its burst and at most workers x burst', async () => {
      const pool = await StunUdpWorkerPool.start(
        { addresses: { primary: { address: '127.0.0.1', port: 0 } }, rateLimit: { ratePerSecond: 1, burst: 3 } },
        { workers: 2, udpIo: io },
      );
      try {
        const { answers } = await blast(pool.addresses.primary, 20, [], 500);
        assert.ok(answers.length >= 3 && answers.length <= 6, `${answers.length} answered`);
        const c = await pool.counters();
        assert.equal(c.received, 20);
        assert.equal(c.success + c['rate-limited'], 20);
        assert.equal(c.success, answers.length);
      } finally {
        await pool.close();
      }
    });

    test('a worker that dies is replaced, and the server keeps answering', async () => {
      const exits: WorkerExit[] = [];
      const pool = await StunUdpWorkerPool.start({ addresses: { primary: { address: '127.0.0.1', port: 0 } } }, { workers: 2, udpIo: io, onWorkerExit: (e) => exits.push(e) });
      try {
        const [victim] = pool.pids;
        process.kill(victim, 'SIGKILL');
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline && !(exits.length === 1 && pool.workers === 2 && !pool.pids.includes(victim))) {
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(exits.length, 1);
        assert.equal(exits[0].pid, victim);
        assert.equal(exits[0].signal, 'SIGKILL');
        assert.equal(exits[0].replaced, true);
        assert.equal(pool.workers, 2);
        const { answers } = await blast(pool.addresses.primary, 20);
        assert.equal(answers.length, 20);
      } finally {
        const pids = pool.pids;
        await pool.close();
        assert.equal(pool.workers, 0);
        for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/, `worker ${pid} outlived close()`);
      }
    });

    test('a fixed port that is taken: start fails with EADDRINUSE and leaves no worker behind', async () => {
      const taken = dgram.createSocket('udp4');
      await new Promise<void>((r) => taken.bind({ port: 0, address: '127.0.0.1', exclusive: true }, () => r()));
      try {
        await assert.rejects(
          StunUdpWorkerPool.start({ addresses: { primary: { address: '127.0.0.1', port: taken.address().port } } }, { workers: 2, udpIo: io }),
          (e: NodeJS.ErrnoException) => e.code === 'EADDRINUSE',
        );
        // Exited workers may linger a moment as zombies until reaped; give it a bounded while.
        const deadline = Date.now() + 5000;
        while (Date.now() < deadline && workerChildren().length > 0) await new Promise((r) => setTimeout(r, 50));
        assert.deepEqual(workerChildren(), []);
      } finally {
        taken.close();
      }
    });
  });
}

test('batched workers never join a port another server holds with SO_REUSEPORT: start fails with EADDRINUSE', { skip: batchedSkip }, async () => {
  const holder = await bindBatchedUdp({ address: '127.0.0.1', reusePort: true });
  try {
    await assert.rejects(
      StunUdpWorkerPool.start({ addresses: { primary: { address: '127.0.0.1', port: holder.local.port } } }, { workers: 2, udpIo: 'batched' }),
      (e: NodeJS.ErrnoException) => e.code === 'EADDRINUSE',
    );
  } finally {
    holder.close();
  }
});

test('worker flags: loaders carry over, the test runner and debugger flags do not', () => {
  assert.deepEqual(workerExecArgv(['--import', 'tsx', '--test', '--test-reporter', 'spec', '--inspect=9229', '--max-old-space-size=512']), [
    '--import',
    'tsx',
    '--max-old-space-size=512',
  ]);
  assert.deepEqual(workerExecArgv(['--test-name-pattern=x', '--watch', '--import=tsx']), ['--import=tsx']);
});
