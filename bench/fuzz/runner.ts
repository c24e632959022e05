/**
 * Runs one target: every seed once, then mutated seeds and generated inputs
 * until `count` inputs (or the time limit). Each exception is grouped by its
 * signature; the first of each is minimized and written as a reproducer.
 * Inputs come from (seed, index) only, so a run repeats exactly.
 */
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { Rng } from './rng.js';
import { mutate, type MutationOptions } from './mutate.js';
import { errorOf, ownFrames, signatureOf, writeReproducer, type Finding } from './findings.js';
import type { FuzzTarget } from './target.js';
import type { CoverageTracker } from './coverage.js';

export interface RunOptions {
  count: number;
  seed?: number;
  timeLimitMs?: number;
  /** Where reproducers go (a folder per target); null: nowhere. */
  crashDir?: string | null;
  /** Extra corpus inputs (the committed corpus, reproducers of fixed crashes). */
  extraCorpus?: Uint8Array[];
  minimize?: boolean;
  progress?: (line: string) => void;
  progressEveryMs?: number;
  /** Coverage feedback: inputs that reach new code join the corpus. */
  coverage?: CoverageTracker | null;
}

export interface RunResult {
  target: string;
  inputs: number;
  seconds: number;
  perSecond: number;
  /** Inputs that threw (or broke an invariant), all signatures together. */
  exceptions: number;
  slow: number;
  findings: Finding[];
  corpusSize: number;
  /** Corpus inputs added because they reached new code (coverage runs). */
  discovered: Uint8Array[];
  seeds: number;
}

type Outcome = Error | null | Promise<Error | null>;

const GENERATOR_BATCH = 256;

export class Session {
  private state: unknown;
  private ran = 0;
  /** Inputs since the state was made: a failure's reproducer. */
  readonly history: Uint8Array[] = [];

  constructor(private readonly target: FuzzTarget) {
    this.state = target.createState?.();
  }

  reset(): void {
    this.state = this.target.createState?.();
    this.ran = 0;
    this.history.length = 0;
  }

  call(input: Uint8Array): Outcome {
    // A stateless target resets too: its history (a reproducer, replayed to time a slow input) is the one input.
    if (this.ran >= (this.target.resetEvery ?? 1)) this.reset();
    this.ran++;
    this.history.push(input);
    try {
      const r = this.target.run(input, this.state);
      if (r && typeof (r as Promise<void>).then === 'function') return (r as Promise<void>).then(() => null, errorOf);
      return null;
    } catch (e) {
      return errorOf(e);
    }
  }
}

/** Replays inputs on fresh state; the index of the first that fails with `signature`, or -1. */
export async function failsAt(target: FuzzTarget, inputs: Uint8Array[], signature: string | null): Promise<{ at: number; error: Error | null }> {
  const s = new Session({ ...target, resetEvery: Number.MAX_SAFE_INTEGER });
  for (let i = 0; i < inputs.length; i++) {
    const e = await s.call(inputs[i]);
    if (e && (signature === null || signatureOf(e) === signature)) return { at: i, error: e };
  }
  return { at: -1, error: null };
}

/** The shortest of `rounds` timings of the last input, each after the earlier ones on fresh state. */
async function lastInputTime(target: FuzzTarget, inputs: Uint8Array[], rounds: number): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    const s = new Session({ ...target, resetEvery: Number.MAX_SAFE_INTEGER });
    for (const i of inputs.slice(0, -1)) await s.call(i);
    const t0 = performance.now();
    await s.call(inputs[inputs.length - 1]);
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/**
 * Fewer inputs, then fewer bytes in the last one, while it still fails with
 * the same signature; bounded in tries and time.
 */
async function minimize(target: FuzzTarget, f: Finding): Promise<void> {
  const deadline = performance.now() + 20_000;
  let tries = 0;
  const budget = () => tries++ < 3000 && performance.now() < deadline;
  const check = async (inputs: Uint8Array[]) => (await failsAt(target, inputs, f.signature)).at === inputs.length - 1;
  let inputs = f.inputs;
  if (inputs.length > 1 && (await check(inputs.slice(-1)))) inputs = inputs.slice(-1);
  // Drop earlier inputs, halves first.
  for (let chunk = Math.max(1, inputs.length >> 1); chunk >= 1 && inputs.length > 1; chunk >>= 1) {
    for (let at = 0; at + chunk < inputs.length && budget(); ) {
      const fewer = [...inputs.slice(0, at), ...inputs.slice(at + chunk)];
      if (await check(fewer)) inputs = fewer;
      else at += chunk;
    }
  }
  // Then bytes of the failing input.
  let last = inputs[inputs.length - 1];
  for (let chunk = Math.max(1, last.length >> 1); chunk >= 1; chunk >>= 1) {
    for (let at = 0; at < last.length && budget(); ) {
      const shorter = new Uint8Array(last.length - Math.min(chunk, last.length - at));
      shorter.set(last.subarray(0, at));
      shorter.set(last.subarray(at + chunk), at);
      if (await check([...inputs.slice(0, -1), shorter])) last = shorter;
      else at += chunk;
    }
  }
  f.inputs = [...inputs.slice(0, -1), last];
}

function dedupe(inputs: Uint8Array[], maxLength: number): Uint8Array[] {
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  for (const i of inputs) {
    if (i.length > maxLength) continue;
    const k = Buffer.from(i).toString('base64');
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(i);
  }
  return out;
}

export async function runTarget(target: FuzzTarget, o: RunOptions): Promise<RunResult> {
  const seed = o.seed ?? 1;
  const maxLength = target.maxLength ?? 4096;
  const seeds = dedupe([...target.seeds(), ...(o.extraCorpus ?? [])], maxLength);
  const corpus = seeds.length > 0 ? [...seeds] : [new Uint8Array(0)];
  const mutation: MutationOptions = { maxLength, text: target.text, dictionary: target.dictionary?.map((t) => new TextEncoder().encode(t)) };
  const rng = new Rng(seed);
  const share = target.generator ? target.generatorShare ?? 0.25 : 0;
  const slowMs = target.slowMs ?? 200;
  const findings = new Map<string, Finding>();
  const discovered: Uint8Array[] = [];
  const session = new Session(target);
  let generated: Uint8Array[] = [];
  let batch = 0;
  let exceptions = 0;
  let slow = 0;
  let asyncError: Error | null = null;
  const onAsync = (e: unknown) => {
    asyncError ??= errorOf(e);
  };
  process.on('unhandledRejection', onAsync);
  process.on('uncaughtException', onAsync);

  const nextInput = (i: number): Uint8Array => {
    if (i < seeds.length) return seeds[i];
    if (share > 0 && rng.chance(share)) {
      if (generated.length === 0) generated = fc.sample(target.generator!, { seed: (seed * 7919 + batch++) | 0, numRuns: GENERATOR_BATCH });
      return generated.pop()!;
    }
    return mutate(rng.pick(corpus), corpus, rng, mutation);
  };

  const record = async (err: Error, index: number, kind: Finding['kind']) => {
    const signature = kind === 'slow' ? `slow input (over ${slowMs} ms) in ${target.name}` : signatureOf(err);
    const known = findings.get(signature);
    if (known) {
      known.count++;
      return;
    }
    const f: Finding = { signature, message: err.message, stack: ownFrames(err, 8).join('\n'), inputs: [...session.history], count: 1, index, kind };
    findings.set(signature, f);
    if (kind === 'exception' && o.minimize !== false) await minimize(target, f);
    if (o.crashDir) f.file = writeReproducer(o.crashDir, target.name, f, seed);
    o.progress?.(`[${target.name}] ${kind} at input ${index}: ${signature}${f.file ? ` -> ${f.file}` : ''}`);
  };

  const started = performance.now();
  let lastProgress = started;
  const deadline = o.timeLimitMs ? started + o.timeLimitMs : Number.POSITIVE_INFINITY;
  const every = o.progressEveryMs ?? 10_000;
  const total = Math.max(o.count, 0);
  let i = 0;
  o.coverage?.start();
  for (; i < total; i++) {
    const input = nextInput(i);
    const t0 = performance.now();
    let outcome = session.call(input);
    if (outcome instanceof Promise) outcome = await outcome;
    const t1 = performance.now();
    if (asyncError) {
      outcome = asyncError;
      asyncError = null;
    }
    if (outcome) {
      exceptions++;
      await record(outcome, i, 'exception');
      session.reset();
    } else if (t1 - t0 > slowMs) {
      // A pause of the machine (a busy neighbour, a collection) is not a slow input: it must be slow three times more.
      const best = await lastInputTime(target, [...session.history], 3);
      if (best > slowMs) {
        slow++;
        await record(new Error(`${best.toFixed(0)} ms at best of 3`), i, 'slow');
      }
    }
    const reached = o.coverage?.observe(input);
    if (reached) {
      for (const r of await reached) {
        corpus.push(r);
        discovered.push(r);
      }
    }
    if ((i & 1023) === 1023) {
      await new Promise((r) => setImmediate(r));
      const now = performance.now();
      if (now >= deadline) {
        i++;
        break;
      }
      if (now - lastProgress >= every) {
        lastProgress = now;
        const s = (now - started) / 1000;
        o.progress?.(`[${target.name}] ${i + 1} inputs, ${((i + 1) / s).toFixed(0)}/s, ${exceptions} exceptions (${findings.size} kinds), ${slow} slow, corpus ${corpus.length}`);
      }
    }
  }
  o.coverage?.stop();
  process.off('unhandledRejection', onAsync);
  process.off('uncaughtException', onAsync);
  const seconds = (performance.now() - started) / 1000;
  return {
    target: target.name,
    inputs: i,
    seconds,
    perSecond: i / Math.max(seconds, 1e-9),
    exceptions,
    slow,
    findings: [...findings.values()],
    corpusSize: corpus.length,
    discovered,
    seeds: seeds.length,
  };
}
