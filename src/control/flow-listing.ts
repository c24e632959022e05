/**
 * Listing the flows of a running engine without stalling it: the table is
 * scanned a slice of rows at a time, and between slices the event loop runs
 * (the TUN devices' reads, timers), so a listing of a million flows costs
 * forwarding a few milliseconds at a time, never the whole scan at once.
 * Matching flows are handed to `emit` as they are found (a stream).
 */
import type { FlowFilter } from '../nat/flow-filter.js';
import type { FlowInfo } from '../nat/engine.js';

/** Table rows scanned before letting the event loop run (with every row matching, a few milliseconds of work; see docs/benchmarks.md). */
export const SLICE_ROWS = 4096;

/** What the listing needs of an engine. */
export interface FlowTableReader {
  scanFlows(cursor: number, budget: number, filter: FlowFilter, visit: (id: number) => void, now?: number): number;
  flowInfo(id: number): FlowInfo;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface ListingResult {
  /** Flows that matched. */
  matched: number;
  /** Of those, handed to emit (at most the limit). */
  shown: number;
}

/**
 * Lists matching flows, slice by slice. `emit` gets up to `limit` of them;
 * after that the rest are only counted (the count needs the whole scan).
 * `emit` may be async (a stream waiting for its reader): the next slice waits
 * for it. `stopped` ends the listing early (the client went away).
 */
export async function listFlows(
  engine: FlowTableReader,
  filter: FlowFilter,
  emit: (flows: FlowInfo[]) => void | Promise<void>,
  o: { limit?: number; sliceRows?: number; now?: () => number; stopped?: () => boolean } = {},
): Promise<ListingResult> {
  const limit = o.limit ?? Number.POSITIVE_INFINITY;
  const slice = o.sliceRows ?? SLICE_ROWS;
  let matched = 0;
  let shown = 0;
  for (let cursor = 0; cursor >= 0; ) {
    const batch: FlowInfo[] = [];
    cursor = engine.scanFlows(
      cursor,
      slice,
      filter,
      (id) => {
        matched++;
        if (shown + batch.length < limit) batch.push(engine.flowInfo(id));
      },
      o.now?.(),
    );
    shown += batch.length;
    if (batch.length > 0) await emit(batch);
    if (o.stopped?.()) break;
    if (cursor >= 0) await nextTurn();
  }
  return { matched, shown };
}
