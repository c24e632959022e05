/**
 * Median time from the introduction to a direct path, in the simulator: every
 * pair of NAT profiles whose expected outcome is direct or predicted, over
 * SEEDS seeds. Times are virtual (the simulator's links: 1 ms LAN, 10 ms
 * internet one way), so they do not depend on this machine; they are also
 * given in round trips (each run's time over the hello round trip it
 * measured). Also: birthday cells' success rate and probes, relay fallback
 * time, and how long the whole matrix took in real time (that part is noisy).
 *
 * Target: a direct path within 1.5 round trips of the introduction.
 *
 * Run: node --import tsx bench/punch-direct-sim.ts [--seeds 5] [--birthday-seeds 50] [--json]
 */
import { argValue, jsonOutput } from './harness.js';
import { median, runMatrix } from '../src/lab/punch/matrix.js';

const seeds = argValue('seeds', 5);
const birthdaySeeds = argValue('birthday-seeds', 50);

const t0 = performance.now();
const m = await runMatrix({ seeds, birthdaySeeds, specials: false });
const wallMs = performance.now() - t0;

const direct = m.cells.filter((c) => c.expected === 'direct' || c.expected === 'predicted');
const birthday = m.cells.filter((c) => c.expected === 'birthday');
const relay = m.cells.filter((c) => c.expected === 'relay');
const summary = {
  bench: 'punch-direct-sim',
  seeds,
  birthdaySeeds,
  directCells: direct.length,
  directHits: `${direct.reduce((n, c) => n + c.hits, 0)}/${direct.reduce((n, c) => n + c.runs, 0)}`,
  medianTimeToDirectMs: m.medianTimeToDirectMs,
  medianTimeToDirectRtts: m.medianTimeToDirectRtts,
  birthdaySuccess: `${birthday.reduce((n, c) => n + c.hits, 0)}/${birthday.reduce((n, c) => n + c.runs, 0)}`,
  birthdayMedianProbes: median(birthday.map((c) => c.medianProbes ?? 0)),
  birthdayMedianTimeToDirectMs: median(birthday.map((c) => c.medianTimeToDirectMs ?? 0)),
  relayMaxTimeToPathMs: Math.max(...relay.map((c) => c.maxTimeToPathMs ?? 0)),
  wallSeconds: Math.round(wallMs / 100) / 10,
};
if (jsonOutput) console.log(JSON.stringify(summary));
else {
  console.log(`direct and predicted cells: ${summary.directHits} runs hit; median introduction -> direct path ${summary.medianTimeToDirectMs} ms = ${summary.medianTimeToDirectRtts?.toFixed(2)} round trips (target <= 1.5)`);
  console.log(`birthday cells: ${summary.birthdaySuccess} direct within 1024 probes; median ${summary.birthdayMedianProbes} probes, ${summary.birthdayMedianTimeToDirectMs} ms to the direct path`);
  console.log(`relay cells: relayed within ${summary.relayMaxTimeToPathMs} ms at most`);
  console.log(`whole matrix: ${summary.wallSeconds} s of real time`);
}
