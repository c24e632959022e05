/**
 * Coverage feedback from V8's own block counters (the inspector's precise
 * coverage, as c8 and Istanbul's V8 mode read it). Every `batch` inputs the
 * counters are read; when the batch reached a block of masq's code that no
 * earlier input reached, the batch is split in halves and replayed on fresh
 * state until the inputs that reach it alone are found, and those join the
 * corpus. Reading the counters costs milliseconds, so it is done per batch,
 * never per input.
 */
import { Session } from 'node:inspector';
import type { CoverageTracker } from './coverage.js';
import type { FuzzTarget } from './target.js';

interface Range {
  startOffset: number;
  endOffset: number;
  count: number;
}
interface FunctionCoverage {
  ranges: Range[];
}
interface ScriptCoverage {
  url: string;
  functions: FunctionCoverage[];
}

/** Something that ran (a function or a block): marked once it has. */
interface Mark {
  ran: boolean;
}

/** A function's blocks ever reported, and whether each has run. */
interface FunctionState {
  ran: boolean;
  blocks: Map<string, { start: number; end: number; ran: boolean }>;
}

const OWN_CODE = /\/src\/.*\.ts$/;

export class V8Coverage implements CoverageTracker {
  private readonly session = new Session();
  private readonly functions = new Map<string, FunctionState>();
  private pending: Uint8Array[] = [];
  private reached = 0;

  constructor(
    private readonly target: FuzzTarget,
    private readonly batch = 1000,
  ) {}

  get blocks(): number {
    return this.reached;
  }

  start(): void {
    this.session.connect();
    this.post('Profiler.enable');
    this.post('Profiler.startPreciseCoverage', { callCount: false, detailed: true });
    this.commit(this.take());
  }

  stop(): void {
    this.post('Profiler.stopPreciseCoverage');
    this.session.disconnect();
  }

  observe(input: Uint8Array): Promise<Uint8Array[]> | null {
    this.pending.push(input);
    if (this.pending.length < this.batch) return null;
    const inputs = this.pending;
    this.pending = [];
    const marks = this.take();
    if (marks.length === 0) return null;
    return this.bisect(inputs).finally(() => this.commit(marks));
  }

  /** The inputs among `inputs` that reach new blocks on their own (halves first). */
  private async bisect(inputs: Uint8Array[]): Promise<Uint8Array[]> {
    const found: Uint8Array[] = [];
    const visit = async (part: Uint8Array[]): Promise<void> => {
      await this.replay(part);
      const marks = this.take();
      if (marks.length === 0) return;
      if (part.length === 1) {
        this.commit(marks);
        found.push(part[0]);
        return;
      }
      const mid = part.length >> 1;
      await visit(part.slice(0, mid));
      await visit(part.slice(mid));
    };
    // What no single input reaches (state built by several) is committed after, so it is not searched again.
    await visit(inputs);
    return found;
  }

  private async replay(inputs: Uint8Array[]): Promise<void> {
    for (const i of inputs) {
      const state = this.target.createState?.();
      try {
        await this.target.run(i, state);
      } catch {
        // a failing input is the runner's business
      }
    }
  }

  private post(method: string, params?: object): unknown {
    let result: unknown;
    let error: Error | null = null;
    this.session.post(method, params ?? {}, (err, r) => {
      error = err;
      result = r;
    });
    if (error) throw error;
    return result;
  }

  private commit(marks: Mark[]): void {
    for (const m of marks) {
      if (m.ran) continue;
      m.ran = true;
      this.reached++;
    }
  }

  /** Reads (and resets) the counters: the functions and blocks that ran for the first time. */
  private take(): Mark[] {
    const { result } = this.post('Profiler.takePreciseCoverage') as { result: ScriptCoverage[] };
    const fresh: Mark[] = [];
    for (const script of result) {
      if (!OWN_CODE.test(script.url)) continue;
      for (const fn of script.functions) {
        const [whole, ...nested] = fn.ranges;
        const key = `${script.url}:${whole.startOffset}:${whole.endOffset}`;
        let st = this.functions.get(key);
        if (!st) this.functions.set(key, (st = { ran: false, blocks: new Map() }));
        for (const r of nested) {
          const k = `${r.startOffset}:${r.endOffset}`;
          if (!st.blocks.has(k)) st.blocks.set(k, { start: r.startOffset, end: r.endOffset, ran: false });
        }
        if (whole.count === 0) continue;
        if (!st.ran) fresh.push(st);
        for (const b of st.blocks.values()) {
          if (b.ran) continue;
          // V8 leaves out a nested range that ran as often as its parent: the innermost reported range decides.
          let count = whole.count;
          let width = Number.POSITIVE_INFINITY;
          for (const r of nested) {
            if (r.startOffset <= b.start && r.endOffset >= b.end && r.endOffset - r.startOffset < width) {
              width = r.endOffset - r.startOffset;
              count = r.count;
            }
          }
          if (count > 0) fresh.push(b);
        }
      }
    }
    return fresh;
  }
}
