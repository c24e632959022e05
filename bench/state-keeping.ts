/**
 * The gateway's state keeping (src/gateway/state) attached to a benchmark
 * engine, as `masq gateway` runs it by default: the change feed on, the
 * changes flushed to the disk journal every flush interval, a whole snapshot
 * written to disk. Used by bench/nat-engine.ts for new flows/s with the
 * state kept, against the same run without.
 *
 * Time in a benchmark is not wall time, so the flush interval is counted in
 * flows: at `ratePerSecond` new flows a second (the 500 k/s target),
 * a flush every `flushMs` holds rate × flushMs flows. One whole snapshot is
 * written at the end of every run: a run of 500 k flows is one second at that
 * rate, so that is a snapshot every second of flows, 30 times the default
 * (every 30 s), of the whole table, which is the pessimistic side.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatEngine } from '../src/nat/engine.js';
import type { Clock } from '../src/util/clock.js';
import { DiskStateStore } from '../src/gateway/state/disk-store.js';
import { StateKeeper } from '../src/gateway/state/keeper.js';

/** What a new-flow run calls while it makes flows: every `every` flows a tick, and an end, both timed; then dispose, untimed. */
export interface FlowKeeping {
  readonly every: number;
  attach(engine: NatEngine, clock: Clock): { tick(): void; end(): void; dispose(): void };
}

export function diskKeeping(options: { flushMs?: number; ratePerSecond?: number; fsync?: boolean } = {}): FlowKeeping {
  const flushMs = options.flushMs ?? 100;
  const every = Math.max(1, Math.round(((options.ratePerSecond ?? 500_000) * flushMs) / 1000));
  return {
    every,
    attach(engine, clock) {
      const dir = mkdtempSync(join(tmpdir(), 'masq-bench-state-'));
      const store = DiskStateStore.open(dir, { fsync: options.fsync ?? false });
      const fail = (sink: string, err: Error) => {
        throw new Error(`${sink}: ${err.message}`);
      };
      const keeper = new StateKeeper(engine, [], [store], { flushMs, snapshotMs: 30_000, maxBacklogBytes: 64 * 1024 * 1024 }, clock, fail);
      // As start() does, without its timer: the feed on, the (empty) first snapshot.
      engine.changes.enabled = true;
      keeper.snapshot();
      return {
        tick: () => keeper.flush(),
        end: () => {
          keeper.flush();
          keeper.snapshot();
          engine.changes.enabled = false;
          store.close();
        },
        dispose: () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  };
}
