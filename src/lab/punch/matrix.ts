/**
 * The punching matrix: every ordered pair of profiles (and the special
 * scenarios) over several seeds, against the expected outcome of each. What
 * `masq lab punch-matrix` prints and the tests check.
 */
import { birthdayDurationMs, DEFAULT_BIRTHDAY } from '../../rendezvous/client/birthday.js';
import { expectedOutcome, PUNCH_PROFILES, SPECIAL_SCENARIOS, type Outcome, type PunchProfile } from './profiles.js';
import { buildSpecial, runPair, runPunch, type PairResult } from './scenario.js';

export interface CellResult {
  a: string;
  b: string;
  expected: Outcome;
  runs: number;
  /** Runs whose outcome was the expected one. */
  hits: number;
  outcomes: Partial<Record<Outcome | 'failed', number>>;
  /** Medians over the runs that reached the expected outcome. */
  medianTimeToPathMs: number | null;
  medianTimeToDirectMs: number | null;
  medianRttMs: number | null;
  /** Birthday cells: median probes (or sockets) over successful runs. */
  medianProbes: number | null;
  /** Relay cells: the longest time to the relayed path. */
  maxTimeToPathMs: number | null;
  dataDelivered: number;
}

export function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function summarize(a: string, b: string, expected: Outcome, results: PairResult[]): CellResult {
  const hitsList = results.filter((r) => r.outcome === expected);
  const outcomes: CellResult['outcomes'] = {};
  for (const r of results) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
  const nums = (f: (r: PairResult) => number | null) => hitsList.map(f).filter((x): x is number => x !== null);
  const paths = nums((r) => r.timeToPathMs);
  return {
    a,
    b,
    expected,
    runs: results.length,
    hits: hitsList.length,
    outcomes,
    medianTimeToPathMs: median(paths),
    medianTimeToDirectMs: median(nums((r) => r.timeToDirectMs)),
    medianRttMs: median(nums((r) => r.rttMs)),
    medianProbes: expected === 'birthday' ? median(nums((r) => r.birthdayProbes)) : null,
    maxTimeToPathMs: paths.length ? Math.max(...paths) : null,
    dataDelivered: results.filter((r) => r.dataDelivered).length,
  };
}

export interface MatrixOptions {
  /** Seeds per cell (1..seeds). */
  seeds: number;
  /** Seeds per birthday cell (they are probabilistic); default max(seeds, 20). */
  birthdaySeeds?: number;
  profiles?: PunchProfile[];
  specials?: boolean;
  /** Called after each cell (progress). */
  onCell?: (c: CellResult) => void;
}

export interface MatrixResult {
  cells: CellResult[];
  specials: CellResult[];
  /** Over the direct and predicted cells: median time from introduction to a direct path on both sides. */
  medianTimeToDirectMs: number | null;
  /** The same in round trips (each run's time over its measured hello round trip). */
  medianTimeToDirectRtts: number | null;
}

export async function runMatrix(o: MatrixOptions): Promise<MatrixResult> {
  const profiles = o.profiles ?? PUNCH_PROFILES;
  const cells: CellResult[] = [];
  const rtts: number[] = [];
  const times: number[] = [];
  for (const a of profiles) {
    for (const b of profiles) {
      const expected = expectedOutcome(a, b);
      const n = expected === 'birthday' ? (o.birthdaySeeds ?? Math.max(o.seeds, 20)) : o.seeds;
      const results: PairResult[] = [];
      for (let seed = 1; seed <= n; seed++) {
        const r = await runPair(a, b, { seed });
        results.push(r);
        if ((expected === 'direct' || expected === 'predicted') && r.outcome === expected && r.timeToDirectMs !== null) {
          times.push(r.timeToDirectMs);
          if (r.rttMs) rtts.push(r.timeToDirectMs / r.rttMs);
        }
      }
      const c = summarize(a.name, b.name, expected, results);
      cells.push(c);
      o.onCell?.(c);
    }
  }
  const specials: CellResult[] = [];
  if (o.specials !== false) {
    for (const s of SPECIAL_SCENARIOS) {
      const results: PairResult[] = [];
      for (let seed = 1; seed <= o.seeds; seed++) {
        const hold = s.name === 'timeout-20s' ? 180_000 : 0;
        results.push(await runPunch(buildSpecial(s.name, seed), { seed, holdMs: hold }));
      }
      const c = summarize(s.name, s.name, s.expected, results);
      specials.push(c);
      o.onCell?.(c);
    }
  }
  return { cells, specials, medianTimeToDirectMs: median(times), medianTimeToDirectRtts: median(rtts) };
}

/** The bound within which a relay cell must have its relayed path. */
export function relayBoundMs(relayAfterMs = 1500): number {
  return relayAfterMs + 1000;
}

/** How long a birthday cell may take at most (start, probes, grace). */
export function birthdayBoundMs(): number {
  return DEFAULT_BIRTHDAY.startAfterMs + birthdayDurationMs(DEFAULT_BIRTHDAY);
}

const SHORT: Record<Outcome | 'failed', string> = { direct: 'direct', predicted: 'predict', birthday: 'bday', relay: 'relay', failed: 'FAIL' };

/** A text table: rows are side A, columns side B; each cell is the outcome, hits/runs when not all hit. */
export function formatMatrix(m: MatrixResult): string {
  const names = [...new Set(m.cells.map((c) => c.a))];
  const w = Math.max(...names.map((n) => n.length), 6) + 1;
  const cw = Math.max(...names.map((n) => n.length), 12) + 2;
  const lines: string[] = [];
  lines.push(`${'A \\ B'.padEnd(w)}${names.map((n) => n.padEnd(cw)).join('')}`);
  for (const a of names) {
    let row = a.padEnd(w);
    for (const b of names) {
      const c = m.cells.find((x) => x.a === a && x.b === b);
      row += (c ? cellText(c) : '-').padEnd(cw);
    }
    lines.push(row);
  }
  lines.push('');
  lines.push('cell: measured outcome, and hits/runs of the expected one; "X!" marks a miss (expected first).');
  for (const s of m.specials) lines.push(`${s.a.padEnd(20)} ${cellText(s).padEnd(cw)} ${describeTimes(s)}`);
  const birthday = m.cells.filter((c) => c.expected === 'birthday');
  if (birthday.length) {
    const hits = birthday.reduce((n, c) => n + c.hits, 0);
    const runs = birthday.reduce((n, c) => n + c.runs, 0);
    lines.push(`birthday cells: ${hits}/${runs} direct within ${DEFAULT_BIRTHDAY.maxProbes} probes (${((100 * hits) / runs).toFixed(1)}%), median ${median(birthday.map((c) => c.medianProbes ?? 0))} probes`);
  }
  const relay = m.cells.filter((c) => c.expected === 'relay');
  if (relay.length) lines.push(`relay cells: relayed within ${Math.max(...relay.map((c) => c.maxTimeToPathMs ?? Infinity))} ms at most`);
  if (m.medianTimeToDirectMs !== null) {
    lines.push(`median time from introduction to a direct path (direct and predicted cells): ${m.medianTimeToDirectMs} ms = ${m.medianTimeToDirectRtts?.toFixed(2)} round trips`);
  }
  return lines.join('\n');
}

function cellText(c: CellResult): string {
  const got = Object.entries(c.outcomes).sort((x, y) => y[1] - x[1])[0]?.[0] as Outcome | 'failed' | undefined;
  if (c.hits === c.runs) return `${SHORT[c.expected]} ${c.hits}/${c.runs}`;
  if (got === c.expected) return `${SHORT[c.expected]} ${c.hits}/${c.runs}`;
  return `${SHORT[c.expected]}!${got ? SHORT[got] : '?'} ${c.hits}/${c.runs}`;
}

function describeTimes(c: CellResult): string {
  return `path in ${c.medianTimeToPathMs ?? '-'} ms, direct in ${c.medianTimeToDirectMs ?? '-'} ms, rtt ${c.medianRttMs ?? '-'} ms`;
}
