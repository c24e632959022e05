/**
 * bench/h323-rewrite.ts's Setups through this tree and through another
 * checkout (--base DIR, a copy of another commit's src/ beside this tree's
 * node_modules), both loaded in one process: runs of --calls Setups in the
 * order A B B A, --pairs times, so that both see the same machine. Prints
 * each tree's median Setups per CPU-second and the median of the paired
 * ratios (this / base); then the same with the base loaded first (--swap),
 * since the tree loaded first can run a few per cent ahead.
 *
 * Whichever order, it favours the tree it runs from: the same code copied
 * beside itself came out at 1.10 and 1.17 (2026-12-08). Run it from each
 * tree against the other (a worktree of the base with this file) and take
 * the square root of the quotient of the two ratios; or alternate separate
 * processes of bench/h323-rewrite.ts.
 *
 *   git archive <commit> src | tar -x -C /tmp/base && ln -s $PWD/node_modules /tmp/base/
 *   node --import tsx bench/h323-rewrite-ab.ts --base /tmp/base [--pairs 30] [--calls 5000] [--swap] [--json]
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { argValue, fmtRate, jsonOutput, median } from './harness.js';
import { setupsPerCpuSecond, type Tree } from './h323-setups.js';

const baseAt = process.argv.indexOf('--base');
if (baseAt < 0) throw new Error('--base DIR: the other checkout to compare with');
const baseDir = resolve(process.argv[baseAt + 1]);
const pairs = argValue('pairs', 30);
const calls = argValue('calls', 5000);
const swap = process.argv.includes('--swap');

async function load(dir: string): Promise<Tree> {
  const at = (p: string) => pathToFileURL(resolve(dir, p)).href;
  return {
    engine: await import(at('src/nat/engine.ts')),
    registry: await import(at('src/alg/registry.ts')),
    clock: await import(at('src/util/clock.ts')),
  };
}

const here = resolve(import.meta.dirname, '..');
let mine: Tree;
let base: Tree;
if (swap) {
  base = await load(baseDir);
  mine = await load(here);
} else {
  mine = await load(here);
  base = await load(baseDir);
}
for (let i = 0; i < 3; i++) {
  setupsPerCpuSecond(mine, calls);
  setupsPerCpuSecond(base, calls);
}
const a: number[] = [];
const b: number[] = [];
const ratios: number[] = [];
for (let i = 0; i < pairs; i++) {
  const a1 = setupsPerCpuSecond(mine, calls);
  const b1 = setupsPerCpuSecond(base, calls);
  const b2 = setupsPerCpuSecond(base, calls);
  const a2 = setupsPerCpuSecond(mine, calls);
  a.push(a1, a2);
  b.push(b1, b2);
  ratios.push((a1 + a2) / (b1 + b2));
}
const result = { mine: median(a), base: median(b), ratio: median(ratios), pairs, calls, loadedFirst: swap ? 'base' : 'mine' };
if (jsonOutput) console.log(JSON.stringify(result));
else console.log(`h323 Setups per CPU-second: this tree ${fmtRate(result.mine)}, base ${fmtRate(result.base)}, median paired ratio ${result.ratio.toFixed(3)} (${pairs} pairs of ${calls}; ${result.loadedFirst} loaded first)`);
