#!/usr/bin/env node
// Runs every test/**/*.test.ts with node:test under tsx. Node 20's --test does not
// expand globs nor pick up .ts files, so the list is collected here.
// --no-lab leaves out test/lab (namespaces, root, Debian tools); a path filter
// (substring) narrows the list: `node scripts/run-tests.mjs nat/`.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const noLab = args.includes('--no-lab');
const filters = args.filter((a) => !a.startsWith('--'));

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...collect(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

let files = collect('test').map((f) => relative('.', f));
if (noLab) files = files.filter((f) => !f.startsWith('test/lab/'));
if (filters.length) files = files.filter((f) => filters.some((p) => f.includes(p)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// Lab tests build network namespaces and run real daemons: run them one file at a
// time, after the unit tests, so two topologies never compete for the same CPU.
const unit = files.filter((f) => !f.startsWith('test/lab/'));
const lab = files.filter((f) => f.startsWith('test/lab/'));
let failed = false;
for (const group of [unit, lab]) {
  if (group.length === 0) continue;
  const concurrency = group === lab ? '1' : String(Math.max(1, (await import('node:os')).availableParallelism()));
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...group], {
    stdio: 'inherit',
  });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
