/**
 * The fuzz run: a million mutated H.323 messages (call signalling,
 * RAS, H.245; seeded with the oracle's vectors, the shared captures and the
 * CVE-2024-26851 / CVE-2026-23455 shapes) through NatEngine.process() with
 * the H.323 ALG (test/alg/h323/fuzzer.ts). Any exception out of the engine
 * stops the run with the message that caused it; the ALG's counters say what
 * became of the rest.
 *
 *   node --import tsx bench/h323-fuzz.ts [--count 1000000] [--seed 1] [--json]
 */
import { fuzzH323, type FuzzReport } from '../test/alg/h323/fuzzer.js';
import { argValue, cpuSeconds, jsonOutput } from './harness.js';

const count = argValue('count', 1_000_000);
const seed = argValue('seed', 1);
const c0 = cpuSeconds();
const t0 = performance.now();
// In chunks of 50,000 (seed, seed + 1, ...), with a progress line after each on stderr.
const CHUNK = 50_000;
const r: FuzzReport = { messages: 0, byKind: { q931: 0, ras: 0, h245: 0 }, verdicts: {}, engines: 0, counters: {} };
for (let k = 0; r.messages < count; k++) {
  const part = fuzzH323(Math.min(CHUNK, count - r.messages), seed + k);
  r.messages += part.messages;
  r.engines += part.engines;
  for (const kind of ['q931', 'ras', 'h245'] as const) r.byKind[kind] += part.byKind[kind];
  for (const [v, n] of Object.entries(part.verdicts)) r.verdicts[v] = (r.verdicts[v] ?? 0) + n;
  for (const [c, n] of Object.entries(part.counters)) r.counters[c] = (r.counters[c] ?? 0) + n;
  console.error(`${new Date().toISOString()} ${r.messages} messages, no exception`);
}
const result = { ...r, seed, wallSeconds: (performance.now() - t0) / 1000, cpuSeconds: cpuSeconds() - c0 };
if (jsonOutput) console.log(JSON.stringify(result));
else {
  const c = r.counters;
  console.log(`h323-fuzz: ${r.messages} mutated messages (q931 ${r.byKind.q931}, ras ${r.byKind.ras}, h245 ${r.byKind.h245}), seed ${seed}, ${r.engines} engines: no exception`);
  console.log(`  ALG: ${c.messages} messages, ${c.rewritten} rewritten, ${c.passedParseError} passed unparsed, ${c.dropped} dropped; malformed PER ${c.malformed}, Q.931 ${c.q931Malformed}, nested ${c.nestedMalformed}; streams given up ${c.streamsNotThisProtocol}`);
  console.log(`  verdicts ${JSON.stringify(r.verdicts)}; ${result.wallSeconds.toFixed(0)} s wall, ${result.cpuSeconds.toFixed(0)} CPU-s`);
}
