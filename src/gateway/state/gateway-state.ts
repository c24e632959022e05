/**
 * The state part of a gateway's start and stop: open the store, restore what
 * it holds into the engine and ALGs before the first packet, keep writing,
 * and a last snapshot at a clean stop. Nothing here can stop a gateway from
 * starting: a directory in use or unwritable, a damaged file, is logged and
 * the gateway runs on (without persistence, or from a clean state).
 */
import type { AlgInstance } from '../../alg/definition.js';
import type { StateConfig } from '../../control/config/state-schema.js';
import type { Logger } from '../../control/logging.js';
import type { NatEngine } from '../../nat/engine.js';
import type { Clock } from '../../util/clock.js';
import { DiskStateStore } from './disk-store.js';
import { StateKeeper, type KeeperStats, type RestoreSummary, type StateSink } from './keeper.js';
import { RedisReplication, type ReplicationStats } from './replication.js';

const ERROR_LOG_INTERVAL_MS = 10_000;

export class GatewayState {
  #lastErrorLog = -Infinity;

  private constructor(
    /** The ALGs whose state is kept and replicated: the keeper and the replication read this list. */
    private readonly algs: AlgInstance[],
    readonly keeper: StateKeeper,
    readonly store: DiskStateStore | null,
    readonly restored: RestoreSummary | null,
    readonly config: Exclude<StateConfig, false>,
    readonly replication: RedisReplication | null,
  ) {}

  /**
   * Opens the store and restores from it, and connects the replication when
   * configured (this gateway starts as a standby: docs/state.md). Returns
   * null only when state is off.
   */
  static async open(config: StateConfig, engine: NatEngine, algs: readonly AlgInstance[], log: Logger, clock: Clock): Promise<GatewayState | null> {
    if (config === false) return null;
    const kept = [...algs];
    const replication = config.replication ? await RedisReplication.connect(config.replication, engine, kept, log, clock) : null;
    const extraSinks: StateSink[] = replication ? [replication] : [];
    let store: DiskStateStore | null = null;
    try {
      store = DiskStateStore.open(config.dir, { fsync: config.fsync });
    } catch (err) {
      log.warn({ event: 'state', dir: config.dir, err: (err as Error).message }, 'state directory unusable: running without keeping state on disk');
    }
    let holder: GatewayState | undefined;
    const keeper = new StateKeeper(
      engine,
      kept,
      [...(store ? [store] : []), ...extraSinks],
      { flushMs: config.flushMs, snapshotMs: config.snapshotSeconds * 1000, maxBacklogBytes: 64 * 1024 * 1024 },
      clock,
      (sink, err) => holder?.writeFailed(log, clock, sink, err),
    );
    let restored: RestoreSummary | null = null;
    if (store) {
      const loaded = store.load();
      for (const p of loaded.problems) log.warn({ event: 'state-damaged', dir: config.dir, problem: p }, `saved state damaged: ${p}`);
      restored = keeper.restore(loaded.records);
      for (const p of restored.problems) log.warn({ event: 'state-restore', problem: p }, p);
      log.info(
        {
          event: 'state-restored',
          dir: config.dir,
          bytes: loaded.bytes,
          records: restored.records,
          flows: restored.flows,
          expectations: restored.expectations,
          portMappings: restored.portMappings,
          triggers: restored.triggers,
          algs: restored.algs,
          skipped: restored.skipped,
          lost: loaded.problems,
        },
        restored.records === 0 ? (loaded.problems.length ? 'saved state damaged: started clean' : 'no saved state: started clean') : 'state restored',
      );
    }
    const newest = loadedWall(restored, keeper);
    if (replication && newest !== null) replication.holds(newest);
    holder = new GatewayState(kept, keeper, store, restored, config, replication);
    return holder;
  }

  /** Starts writing (a snapshot of what was restored first), and following the active gateway when replicating. */
  start(): void {
    this.keeper.start();
    // Taking over: the whole state goes out at once, for the gateway that will be the standby next.
    this.replication?.start(() => this.keeper.snapshot());
  }

  /**
   * ALGs attached after start (a reload that adds one): from now on their
   * state is written with the rest, and applied when a standby receives it.
   */
  keepAlgs(algs: readonly AlgInstance[]): void {
    for (const a of algs) if (!this.algs.some((k) => k.name === a.name)) this.algs.push(a);
  }

  /** A last snapshot, then the store is closed. */
  async stop(): Promise<void> {
    this.keeper.stop();
    this.store?.close();
    await this.replication?.stop();
  }

  status(): { dir: string | null; restored: RestoreSummary | null; keeper: KeeperStats; replication: ReplicationStats | null } {
    return { dir: this.store?.dir ?? null, restored: this.restored, keeper: this.keeper.stats(), replication: this.replication?.stats() ?? null };
  }

  private writeFailed(log: Logger, clock: Clock, sink: string, err: Error): void {
    const now = clock.now();
    if (now - this.#lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
    this.#lastErrorLog = now;
    log.error({ event: 'state-write', sink, err: err.message }, `could not write state to ${sink}: ${err.message}`);
  }
}

/** Wall time of the newest record restored from disk, or null. */
function loadedWall(restored: RestoreSummary | null, keeper: StateKeeper): number | null {
  return restored && restored.records > 0 ? keeper.restoredWall : null;
}
