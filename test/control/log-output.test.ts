import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { BoundedLogOutput } from '../../src/control/log-output.js';

const CHILD = join(import.meta.dirname, 'fixtures/log-stall-child.ts');

interface Report {
  done: boolean;
  logged: number;
  ticks: number;
  ms: number;
  written: number;
  dropped: number;
  pendingBytes: number;
}

/**
 * Runs the stand-in daemon with a reader that takes nothing from its stdout
 * until the daemon says it is done, then reads everything. Returns its
 * reports, its stdout and how long it took to exit (null when it was killed
 * at `killMs`).
 */
async function runStalled(env: Record<string, string>, killMs: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit', 'pipe'] });
  const started = Date.now();
  const stdout = child.stdout!;
  stdout.pause();
  const reports: Report[] = [];
  let tail = '';
  child.stdio[3]!.on('data', (d: Buffer) => {
    tail += String(d);
    const lines = tail.split('\n');
    tail = lines.pop()!;
    for (const l of lines) reports.push(JSON.parse(l) as Report);
    if (reports.at(-1)?.done) resume();
  });
  const out: Buffer[] = [];
  const resume = () => {
    stdout.on('data', (d: Buffer) => out.push(d));
    stdout.resume();
  };
  const kill = setTimeout(() => child.kill('SIGKILL'), killMs);
  const exitedAfterMs = await new Promise<number | null>((resolve) => child.on('close', (_code, signal) => resolve(signal === 'SIGKILL' ? null : Date.now() - started)));
  clearTimeout(kill);
  return { reports, stdout: Buffer.concat(out).toString(), exitedAfterMs };
}

describe('log output to a reader that stalls', () => {
  test('a stalled reader neither stops the loop nor the exit; lines beyond the buffer are dropped and counted', async () => {
    const { reports, stdout, exitedAfterMs } = await runStalled({ MASQ_TEST_LINES: '20000' }, 60_000);
    const last = reports.at(-1)!;
    // 20,000 lines of ~250 bytes is 5 MB: the pipe (64 KiB) and the buffer (1 MiB) hold a fifth of it.
    assert.equal(last.done, true, 'the loop ran to its end while nobody read its output');
    assert.equal(last.logged, 20000);
    assert.ok(last.dropped > 0, 'with ~5 MB logged into a 1 MiB buffer and a stalled pipe, lines were dropped');
    assert.ok(last.written + last.dropped <= last.logged);
    assert.ok(last.pendingBytes <= 1 << 20, `pending ${last.pendingBytes}`);
    // What was neither written nor dropped is what the buffer holds (~250 bytes a line).
    const held = last.logged - last.written - last.dropped;
    assert.ok(held * 200 <= last.pendingBytes && last.pendingBytes <= held * 300, `held ${held} lines in ${last.pendingBytes} bytes`);
    assert.ok(exitedAfterMs !== null, 'the child exited by itself');
    // Every line that came out is whole (writes of whole lines up to PIPE_BUF are atomic).
    const lines = stdout.split('\n').filter(Boolean);
    for (const l of lines) assert.equal(JSON.parse(l).msg, 'expectation opened');
    assert.ok(lines.length >= last.written, `read ${lines.length}, written ${last.written}`);
  });

  test('the synchronous destination it replaces stops at the first full pipe (the case above is not vacuous)', async () => {
    const { reports, exitedAfterMs } = await runStalled({ MASQ_TEST_SYNC_LOG: '1', MASQ_TEST_LINES: '20000' }, 8000);
    assert.equal(exitedAfterMs, null, 'killed while blocked in write()');
    assert.ok(!reports.some((r) => r.done), 'its loop never reached the end');
    // It stopped after about a pipe's worth of lines (64 KiB / ~250 bytes, within one burst of 200).
    assert.ok((reports.at(-1)?.logged ?? 0) < 1000, `logged ${reports.at(-1)?.logged}`);
  });
});

describe('BoundedLogOutput', () => {
  test('drops and counts lines beyond its buffer, writes the rest in order', async () => {
    const { mkdtempSync, openSync, readFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'masq-logout-'));
    try {
      const fd = openSync(join(dir, 'out'), 'w');
      const out = new BoundedLogOutput({ fd, maxBufferBytes: 100 });
      const accepted = Array.from({ length: 10 }, (_, i) => out.write(`line ${i} ${'x'.repeat(20)}\n`));
      // 28-30 characters a line: three fit in 100.
      assert.deepEqual(accepted, [true, true, true, false, false, false, false, false, false, false]);
      const c = await out.close(5000);
      assert.deepEqual(c, { written: 3, dropped: 7, pendingBytes: 0 });
      assert.equal(readFileSync(join(dir, 'out'), 'utf8'), [0, 1, 2].map((i) => `line ${i} ${'x'.repeat(20)}\n`).join(''));
      assert.equal(out.write('late\n'), false);
      assert.equal(out.counters().dropped, 8);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
