/**
 * The long-lived `nft -i` session against a stand-in nft (a script that
 * echoes the sync marks as `nft -e` does and logs what it was given): the
 * session must not hand nft a HOME with a history file (libedit's history
 * made each command cost milliseconds), and a process replaced after its
 * share of lines must not reorder commands (a pinhole's delete after its add).
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { NftSession } from '../../src/net/nft-session.js';

/** A stand-in for `nft -e -i`: one JSON line per input line in the log (its pid, HOME, the line). */
function fakeNft(dir: string): { nft: string; log: string } {
  const log = join(dir, 'log');
  const nft = join(dir, 'nft');
  writeFileSync(
    nft,
    `#!${process.execPath}
const fs = require('node:fs');
const rl = require('node:readline').createInterface({ input: process.stdin });
const note = (line) => fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify({ pid: process.pid, home: process.env.HOME, args: process.argv.slice(2), line }) + '\\n');
note(null);
const echo = process.argv.includes('-e');
const hex = (n) => '0x' + n.toString(16).padStart(8, '0');
const sync = [];
rl.on('line', (line) => {
  note(line);
  const m = /sync \\{ (\\d+) timeout/.exec(line);
  if (m && echo) process.stdout.write('add element ip t sync { ' + hex(Number(m[1])) + ' timeout 1s expires 1s }\\n');
  if (m) sync.push(Number(m[1]));
  // As nft lists a set: every element still there, several to a line.
  if (line.startsWith('list set')) process.stdout.write('table ip t {\\n\\tset sync {\\n\\t\\telements = { ' + sync.slice(-3).map((n) => hex(n) + ' timeout 1s expires 900ms').join(',\\n\\t\\t\\t') + ' }\\n\\t}\\n}\\n');
  if (line.includes('refuse')) process.stderr.write('Error: Could not process rule\\n');
});
`,
  );
  chmodSync(nft, 0o755);
  return { nft, log };
}

interface Entry {
  pid: number;
  home: string | undefined;
  args: string[];
  line: string | null;
}
const entries = (log: string): Entry[] =>
  readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Entry);

test('nft session: nft gets a HOME that holds no history file, and -e -i', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'masq-nft-'));
  try {
    const { nft, log } = fakeNft(dir);
    const s = new NftSession({ nft, table: 'ip t', log: () => {} });
    await s.run(['add element ip t live { 30000, 30001 }']);
    s.close();
    const [start] = entries(log);
    assert.deepEqual(start.args, ['-e', '-i']);
    assert.ok(start.home !== undefined && start.home !== process.env.HOME, `HOME ${start.home}`);
    // Not a directory: libedit can neither read nor write $HOME/.nft.history.
    assert.throws(() => readFileSync(join(start.home ?? '', '.nft.history')), /ENOTDIR|ENOENT/);
    assert.equal(s.errors, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nft session: processes are replaced after their lines, every batch confirmed, order kept', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'masq-nft-'));
  try {
    const { nft, log } = fakeNft(dir);
    const s = new NftSession({ nft, table: 'ip t', log: () => {}, rotateLines: 7 });
    const sent: string[] = [];
    const done: Array<Promise<void>> = [];
    for (let i = 0; i < 40; i++) {
      const cmd = i % 2 === 0 ? `add element ip t live { ${30000 + i} }` : `delete element ip t live { ${30000 + i - 1} }`;
      sent.push(cmd);
      done.push(s.run([cmd]));
      // Some batches in the same turn, some after others were confirmed.
      if (i % 5 === 4) await done[i];
    }
    await Promise.all(done);
    s.close();
    assert.equal(s.errors, 0, 'every batch confirmed by its echo (a 5 s timeout counts as an error)');
    assert.ok(s.processes >= 5, `${s.processes} processes for 80 lines at 7 a process`);
    const all = entries(log).filter((e) => e.line !== null);
    assert.deepEqual(
      all.filter((e) => !e.line!.includes(' sync ')).map((e) => e.line),
      sent,
      'the commands reached nft in the order they were run',
    );
    // One process at a time: once a later process has a line, an earlier one gets none.
    const order = [...new Set(all.map((e) => e.pid))];
    let at = 0;
    for (const e of all) {
      const k = order.indexOf(e.pid);
      assert.ok(k >= at, 'no line to a replaced process');
      at = k;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nft session: an error line from nft is counted, and close() releases queued batches', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'masq-nft-'));
  try {
    const { nft } = fakeNft(dir);
    const logged: string[] = [];
    const s = new NftSession({ nft, table: 'ip t', log: (_e, f) => logged.push(String(f.message)), rotateLines: 2 });
    await s.run(['add element ip t live { refuse }']);
    // The first process is retiring (2 lines): these wait for it, and close() must not strand them.
    const queued = [s.run(['add element ip t live { 1 }']), s.run(['add element ip t live { 2 }'])];
    s.close();
    await Promise.all(queued);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(s.errors, 1);
    assert.match(logged.join('\n'), /Could not process rule/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("nft session, confirm 'list': nft runs without -e, and a batch ends when a listing of the sync set shows it", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'masq-nft-'));
  try {
    const { nft, log } = fakeNft(dir);
    const s = new NftSession({ nft, table: 'ip t', log: () => {}, confirm: 'list' });
    const done: number[] = [];
    await Promise.all([1, 2, 3, 4, 5].map((i) => s.run([`add element ip t live { ${i} }`]).then(() => done.push(i))));
    s.close();
    assert.deepEqual(done, [1, 2, 3, 4, 5]);
    assert.equal(s.errors, 0, 'every batch confirmed, none by the timeout');
    const lines = entries(log);
    assert.deepEqual(lines[0].args, ['-i']);
    const given = lines.filter((e) => e.line !== null).map((e) => e.line!.split(' ')[0]);
    assert.deepEqual(given.slice(0, 3), ['add', 'add', 'list'], 'each batch: its lines, the sync element, the listing');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
