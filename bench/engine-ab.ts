/**
 * Two builds of the NAT engine side by side in one process, runs alternating
 * (A B A B ...), so that the machine's noise lands on both alike: this tree's
 * engine against another checkout's (`--base DIR`, for example a git worktree
 * of the commit before a change). Reports each build's medians and the ratio.
 * Run: node --import tsx bench/engine-ab.ts --base ../base [--runs 9]
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as thisEngine from '../src/nat/engine.js';
import { argValue, fmtRate, jsonOutput, median } from './harness.js';
import { engineCases } from './nat-engine-cases.js';

const runs = argValue('runs', 9);
const baseIndex = process.argv.indexOf('--base');
if (baseIndex < 0) throw new Error('usage: bench/engine-ab.ts --base DIR [--runs N]');
const baseDir = resolve(process.argv[baseIndex + 1]);
const baseEngine = (await import(pathToFileURL(resolve(baseDir, 'src/nat/engine.ts')).href)) as typeof thisEngine;

const builds = [
  { name: 'base', cases: engineCases(baseEngine) },
  { name: 'this', cases: engineCases(thisEngine) },
];
const measures = builds.map(({ name, cases }) => {
  const established = cases.establishedFlows(10_000);
  return {
    name,
    out: () => established(cases.INSIDE, 2_000_000),
    in: () => established(cases.OUTSIDE, 2_000_000),
    newFlows: () => cases.newFlows(300_000),
    results: { out: [] as number[], in: [] as number[], newFlows: [] as number[] },
  };
});
// Warm both up, then alternate.
for (const m of measures) {
  m.out();
  m.in();
  m.newFlows();
}
for (let r = 0; r < runs; r++) {
  for (const m of r % 2 ? [...measures].reverse() : measures) {
    m.results.out.push(m.out());
    m.results.in.push(m.in());
    m.results.newFlows.push(m.newFlows());
  }
}
const summary = Object.fromEntries(
  measures.map((m) => [m.name, { out: median(m.results.out), in: median(m.results.in), newFlows: median(m.results.newFlows) }]),
) as Record<'base' | 'this', { out: number; in: number; newFlows: number }>;
const ratio = {
  out: summary.this.out / summary.base.out,
  in: summary.this.in / summary.base.in,
  newFlows: summary.this.newFlows / summary.base.newFlows,
};
if (jsonOutput) console.log(JSON.stringify({ runs, base: baseDir, summary, ratio }));
else {
  for (const k of ['out', 'in', 'newFlows'] as const) {
    console.log(`${k.padEnd(9)} base ${fmtRate(summary.base[k]).padStart(11)}  this ${fmtRate(summary.this[k]).padStart(11)}  ratio ${ratio[k].toFixed(3)}`);
  }
  console.log(`(medians of ${runs} alternating runs; established UDP outbound, inbound, new flows per CPU-second)`);
}
