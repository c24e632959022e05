/**
 * `npm run fuzz -- --target sip --count 1000000`, `npm run fuzz -- --all --count N`,
 * `npm run fuzz -- --list`, `npm run fuzz -- --replay bench/fuzz/crashes/sip/x.json`.
 * Prints inputs/s and exceptions per target; writes reproducers under
 * bench/fuzz/crashes/<target>/; exits 1 when any input failed.
 */
import { loadavg } from 'node:os';
import { loadTarget, loadTargets, committedInputs, saveCorpus, targetFileNames, CRASH_DIR } from './registry.js';
import { failsAt, runTarget, type RunResult } from './runner.js';
import { readReproducer } from './findings.js';
import { V8Coverage } from './coverage-v8.js';

const USAGE = `usage: npm run fuzz -- (--target NAME[,NAME] | --all | --list | --replay FILE...) [options]
  --count N          inputs per target (default 10000)
  --seed S           run seed (default 1): the same seed gives the same inputs
  --time-limit SEC   stop a target after this long
  --coverage         coverage feedback from V8's block counters: inputs reaching new code join the corpus
  --save-corpus      with --coverage: add the inputs that reached new code to bench/fuzz/corpus/<target>/
  --no-minimize      write reproducers as found
  --no-crash-files   write no reproducers
  --json             one JSON line per target on stdout`;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

function numberArg(name: string, fallback: number): number {
  const v = arg(name);
  if (v === undefined) return fallback;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isFinite(n) || n < 0) {
    console.error(`--${name} wants a number, got ${JSON.stringify(v)}`);
    process.exit(2);
  }
  return n;
}

const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

function summary(r: RunResult): string {
  return [
    r.target.padEnd(22),
    String(r.inputs).padStart(9),
    `${r.seconds.toFixed(1)} s`.padStart(9),
    `${r.perSecond.toFixed(0)}/s`.padStart(9),
    String(r.exceptions).padStart(6),
    String(r.findings.filter((f) => f.kind === 'exception').length).padStart(5),
    String(r.slow).padStart(5),
    String(r.corpusSize).padStart(7),
  ].join(' ');
}

async function replay(files: string[]): Promise<number> {
  let failed = 0;
  for (const file of files) {
    const r = readReproducer(file);
    const t = await loadTarget(r.target);
    const { at, error } = await failsAt(t, r.decoded, null);
    if (at >= 0) failed++;
    console.log(`${file}: ${at >= 0 ? `FAILS at input ${at + 1} of ${r.decoded.length}: ${error!.name}: ${error!.message.split('\n')[0]}` : `passes (${r.decoded.length} inputs)`}`);
    if (at >= 0 && error?.stack) console.log(error.stack.split('\n').slice(0, 12).join('\n'));
  }
  return failed ? 1 : 0;
}

async function main(): Promise<number> {
  if (flag('help') || process.argv.length <= 2) {
    console.log(USAGE);
    return 0;
  }
  if (flag('list')) {
    for (const t of await loadTargets()) console.log(`${t.name.padEnd(22)} ${t.description}`);
    return 0;
  }
  if (flag('replay')) return replay(process.argv.slice(process.argv.indexOf('--replay') + 1).filter((a) => !a.startsWith('--')));
  const names = flag('all') ? targetFileNames() : (arg('target') ?? '').split(',').filter(Boolean);
  if (names.length === 0) {
    console.error(USAGE);
    return 2;
  }
  const count = numberArg('count', 10_000);
  const seed = numberArg('seed', 1);
  const timeLimit = numberArg('time-limit', 0);
  const json = flag('json');
  const log = (s: string) => console.error(s);
  log(`fuzzing ${names.join(', ')}: ${count} inputs each, seed ${seed}; load average ${load()}`);
  if (!json) console.log(`${'target'.padEnd(22)} ${'inputs'.padStart(9)} ${'time'.padStart(9)} ${'rate'.padStart(9)} ${'exc'.padStart(6)} ${'kinds'.padStart(5)} ${'slow'.padStart(5)} ${'corpus'.padStart(7)}`);
  let failed = false;
  for (const name of names) {
    const target = await loadTarget(name);
    const coverage = flag('coverage') ? new V8Coverage(target) : null;
    const r = await runTarget(target, {
      count,
      seed,
      timeLimitMs: timeLimit > 0 ? timeLimit * 1000 : undefined,
      crashDir: flag('no-crash-files') ? null : CRASH_DIR,
      extraCorpus: committedInputs(name),
      minimize: !flag('no-minimize'),
      progress: log,
      coverage,
    });
    if (coverage && flag('save-corpus')) log(`[${name}] ${saveCorpus(name, r.discovered)} inputs added to the corpus`);
    if (r.exceptions > 0 || r.slow > 0) failed = true;
    if (json) console.log(JSON.stringify({ ...r, findings: r.findings.map(({ inputs: _i, ...f }) => f), discovered: r.discovered.length, coverageBlocks: coverage?.blocks, loadavg: load() }));
    else console.log(summary(r));
    for (const f of r.findings) log(`  ${f.kind} x${f.count}: ${f.signature}${f.file ? `\n    reproducer: ${f.file}` : ''}\n    ${f.stack.split('\n').join('\n    ')}`);
  }
  log(`load average ${load()}`);
  return failed ? 1 : 0;
}

process.exitCode = await main();
