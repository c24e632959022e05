/**
 * Keeps a running gateway's state where it survives: every flush interval
 * the engine's change feed and the ALGs whose state changed go out as one
 * record of changes, and every snapshot interval (or when the journal has
 * grown) the whole state goes out, to each sink: the disk store, and the
 * replication to a standby when there is one. At start, saved records are
 * applied to the engine and the ALGs before the first packet.
 *
 * The work is on a timer, never on the packet path: a new flow costs the
 * engine one entry in its change feed; reading, encoding and writing happen
 * here, in batches, the flows read from the engine's table straight into the
 * record's bytes (record.ts, RecordEncoder; bench/nat-engine.ts measures what
 * that costs per flow).
 */
import type { AlgInstance } from '../../alg/definition.js';
import type { NatEngine } from '../../nat/engine.js';
import type { ApplyReport } from '../../nat/snapshot.js';
import type { Clock } from '../../util/clock.js';
import { RecordEncoder, type StateRecord } from './record.js';

/**
 * Where records go: the disk store, a replication stream. Each gets the
 * record and its encoding; the encoding's memory is reused for the next
 * record, so a sink that keeps it past the call keeps a copy.
 */
export interface StateSink {
  readonly name: string;
  changes(record: StateRecord, payload: Uint8Array): void;
  snapshot(record: StateRecord, payload: Uint8Array): void;
  /** Bytes of changes since the last snapshot, if the sink wants a snapshot when they pile up. */
  readonly backlogBytes?: number;
}

export interface KeeperOptions {
  flushMs: number;
  snapshotMs: number;
  /** A snapshot is taken early when a sink's backlog passes this. */
  maxBacklogBytes: number;
}

export interface RestoreSummary {
  records: number;
  flows: number;
  expectations: number;
  portMappings: number;
  triggers: number;
  skipped: ApplyReport['skipped'];
  /** ALGs whose saved state was put back. */
  algs: string[];
  /** What could not be put back, one sentence each. */
  problems: string[];
}

export interface KeeperStats {
  seq: number;
  records: number;
  snapshots: number;
  bytes: number;
  lastSnapshotAt: string | null;
  errors: number;
  lastError: string | null;
}

export class StateKeeper {
  #seq = 0;
  readonly #encoder = new RecordEncoder();
  #timer: NodeJS.Timeout | null = null;
  #lastSnapshot = -Infinity;
  /** Wall time of the newest record restore() applied (0: none). */
  restoredWall = 0;
  #stats: KeeperStats = { seq: 0, records: 0, snapshots: 0, bytes: 0, lastSnapshotAt: null, errors: 0, lastError: null };

  constructor(
    private readonly engine: NatEngine,
    /** The ALGs whose state is kept; GatewayState adds those a reload attaches. */
    private readonly algs: readonly AlgInstance[],
    private readonly sinks: StateSink[],
    private readonly options: KeeperOptions,
    private readonly clock: Clock,
    private readonly onError: (sink: string, err: Error) => void,
    private readonly wall: () => number = Date.now,
  ) {}

  /** Applies saved records (a snapshot, then changes) to the engine and the ALGs, in order. */
  restore(records: readonly StateRecord[]): RestoreSummary {
    const sum: RestoreSummary = { records: 0, flows: 0, expectations: 0, portMappings: 0, triggers: 0, skipped: { expired: 0, conflict: 0, limit: 0, unknown: 0 }, algs: [], problems: [] };
    for (const r of records) {
      this.#seq = Math.max(this.#seq, r.seq);
      this.restoredWall = Math.max(this.restoredWall, r.wall);
      applyRecord(this.engine, this.algs, r, this.clock.now(), this.wall(), sum);
    }
    // What the restore itself changed is in the state now, not news for the journal.
    this.engine.changes.reset();
    return sum;
  }

  /** Starts recording: a snapshot now (the restored state), then changes every flush interval. */
  start(): void {
    this.engine.changes.enabled = true;
    this.snapshot();
    this.#timer = setInterval(() => this.tick(), this.options.flushMs);
  }

  /** The timer's work: a snapshot when one is due, else the changes. */
  tick(): void {
    const now = this.clock.now();
    const backlog = Math.max(0, ...this.sinks.map((s) => s.backlogBytes ?? 0));
    if (now - this.#lastSnapshot >= this.options.snapshotMs || backlog >= this.options.maxBacklogBytes) this.snapshot();
    else this.flush();
  }

  /** Writes what changed since the last record; nothing when nothing did. */
  flush(): void {
    const changed = this.algs.filter((a) => a.stateChanged);
    if (this.engine.changes.pending === 0 && changed.length === 0) return;
    const now = this.clock.now();
    const algs: Record<string, unknown> = {};
    for (const a of changed) algs[a.name] = a.exportState(now);
    const engine = this.engine.exportChanges(now, this.#encoder.flowColumns);
    this.write({ seq: ++this.#seq, wall: this.wall(), engine, algs }, false);
  }

  /** Writes the whole state. */
  snapshot(): void {
    const now = this.clock.now();
    const algs: Record<string, unknown> = {};
    for (const a of this.algs) if (a.keepsState) algs[a.name] = a.exportState(now);
    this.#lastSnapshot = now;
    this.write({ seq: ++this.#seq, wall: this.wall(), engine: this.engine.exportState(now, this.#encoder.flowColumns), algs }, true);
    this.#stats.snapshots++;
    this.#stats.lastSnapshotAt = new Date(this.wall()).toISOString();
  }

  /** A last snapshot (a clean stop), and no more records. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.snapshot();
    this.engine.changes.enabled = false;
  }

  stats(): KeeperStats {
    return { ...this.#stats, seq: this.#seq };
  }

  private write(record: StateRecord, whole: boolean): void {
    const payload = this.#encoder.encode(record);
    this.#stats.records++;
    this.#stats.bytes += payload.length;
    for (const s of this.sinks) {
      try {
        if (whole) s.snapshot(record, payload);
        else s.changes(record, payload);
      } catch (err) {
        // A full disk or a lost Redis must not stop the gateway: said, counted, tried again next time.
        this.#stats.errors++;
        this.#stats.lastError = `${s.name}: ${(err as Error).message}`;
        this.onError(s.name, err as Error);
      }
    }
  }
}

/** Applies one record to an engine and its ALGs (restart and standby alike); adds to `sum`. */
export function applyRecord(engine: NatEngine, algs: readonly AlgInstance[], r: StateRecord, now: number, wallNow: number, sum: RestoreSummary): void {
  // A clock stepped back must not make saved times later than they were.
  const elapsed = Math.max(0, wallNow - r.wall);
  let report: ApplyReport;
  try {
    report = engine.applyState(r.engine, elapsed, now);
  } catch (err) {
    sum.problems.push(`record ${r.seq} not applied: ${(err as Error).message}`);
    return;
  }
  sum.records++;
  sum.flows += report.flows;
  sum.expectations += report.expectations;
  sum.portMappings += report.portMappings;
  sum.triggers += report.triggers;
  for (const k of Object.keys(sum.skipped) as Array<keyof ApplyReport['skipped']>) sum.skipped[k] += report.skipped[k];
  const shift = now - elapsed - r.engine.at;
  for (const [name, state] of Object.entries(r.algs)) {
    const alg = algs.find((a) => a.name === name);
    if (!alg) {
      sum.problems.push(`saved state of ALG ${name}, which is not configured: left out`);
      continue;
    }
    const problem = alg.importState(state, shift);
    if (problem) sum.problems.push(problem);
    else if (!sum.algs.includes(name)) sum.algs.push(name);
  }
}
