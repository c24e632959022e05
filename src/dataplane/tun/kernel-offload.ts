/**
 * Hands a gateway engine's established flows to the kernel and keeps the
 * engine's view of them true (offload-table.ts has the nftables side).
 *
 * - The packet loop calls consider() for each packet on a flow not yet
 *   offloaded; a flow the engine says may go (nat/offload.ts) is flagged at
 *   once and queued. It goes to nft at once, or, when a batch went less
 *   than batchMs ago, with everything queued until batchMs has passed
 *   (four lines for all those flows, with the removals waiting). Until the kernel has them,
 *   their packets still come through masq, translated the same way.
 * - Every reconcileMs the kernel's per-flow counters are read: what it
 *   carried is credited to the flow (counters, and the refresh that keeps
 *   it from expiring), and flows the engine no longer has (expired, ended
 *   with their call, replaced on the same slot) are taken back out of the
 *   kernel. A flow the kernel does not hold (nft refused it) goes back to
 *   masq.
 *
 * Between an engine removing a flow and the next reconcile, the kernel may
 * still carry that exact 5-tuple, with the mapping it had: at most
 * reconcileMs, and only for the two endpoints the flow was between.
 */
import type { NatEngine } from '../../nat/engine.js';
import { FLOW_OFFLOADED } from '../../nat/offload.js';
import { inKey, installCommands, MARKS_PER_QUEUE, outKey, parseMapCounters, removeCommands, type MarkCount, type OffloadFlow } from './offload-table.js';

/** The part of an NftSession used here (a fake in unit tests). */
export interface NftRunner {
  run(commands: readonly string[]): Promise<void>;
}

export interface KernelOffloadOptions {
  table: string;
  /** The first mark this engine hands out (offload-table.ts, queueMarkBase). */
  markBase: number;
  /** Packets a flow must have carried through masq before it is offloaded. */
  afterPackets: number;
  /** The most flows in the kernel at once (this engine's); past it, flows stay with masq. */
  maxFlows: number;
  nft: NftRunner;
  /** `nft -j list map ip <table> <map>`: its stdout, or null when it failed. */
  listMap(map: 'out' | 'in'): Promise<string | null>;
  log(event: string, fields: Record<string, unknown>): void;
  /** The least time between two batches to nft (ms; default DEFAULT_BATCH_MS): changes meanwhile gather into the next. */
  batchMs?: number;
  /** The shortest time between two readings of the kernel's counters (ms; default 0: at every reconcile). */
  reconcileMs?: number;
}

/**
 * Listing the maps costs nft about 0.04 ms of CPU per element and map (measured: 66 ms for 1,732),
 * and flows stay for their whole timeout after their last packet (300 s for UDP): a soak of 1,000
 * calls keeps some 35,000 flows in the kernel. So the counters are read at most every 2 ms per
 * flow (about 4 % of a CPU), and at least every minute (a credit late by that much is far inside
 * the shortest timeout a flow that can go has, 120 s). Flows the engine let go leave at every
 * reconcile all the same: that needs no reading.
 */
const LIST_MS_PER_FLOW = 2;
const MAX_LIST_INTERVAL_MS = 60_000;

export function listingIntervalMs(flows: number, reconcileMs: number): number {
  return Math.max(reconcileMs, Math.min(MAX_LIST_INTERVAL_MS, flows * LIST_MS_PER_FLOW));
}

export const DEFAULT_BATCH_MS = 50;

interface Entry extends OffloadFlow {
  id: number;
  outKey: string;
  inKey: string;
  created: number;
  /** The kernel's counters at the last reconcile (what has been credited). */
  packetsOut: number;
  bytesOut: number;
  packetsIn: number;
  bytesIn: number;
  /** Reconciles that found it missing from the kernel. */
  missing: number;
}

export class KernelOffloadCounters {
  /** Flows handed to the kernel, and taken back (the engine let them go, or the kernel did not hold them). */
  offloaded = 0;
  returned = 0;
  /** Flows kept with masq because maxFlows were in the kernel. */
  refusedFull = 0;
  /** Packets and bytes the kernel carried for masq's flows. */
  kernelPackets = 0;
  kernelBytes = 0;
  reconciles = 0;
  listFailures = 0;
  /** nft batches sent (each installs or removes any number of flows). */
  batches = 0;
}

export class KernelOffload {
  readonly counters = new KernelOffloadCounters();
  /** By mark of the outbound direction. */
  readonly #entries = new Map<number, Entry>();
  /** By their kernel keys: a flow made again on a 5-tuple (or a public port) whose old elements are still there replaces them. */
  readonly #byOutKey = new Map<string, Entry>();
  readonly #byInKey = new Map<string, Entry>();
  /** Entries to take out of the kernel before the next install. */
  #stale: Entry[] = [];
  /** Marks in use (both directions). */
  readonly #marks = new Set<number>();
  #nextMark = 1;
  #pending: Entry[] = [];
  #flushTimer: NodeJS.Timeout | null = null;
  /** Lines for nft not yet sent: one batch per flush. */
  #outgoing: string[] = [];
  #lastBatchAt = -Infinity;
  #reconciling = false;
  /**
   * While the maps are listed, changes wait: each commit bumps the ruleset's generation, which makes
   * nft start its dump again, and at a hundred flows a second the listing of a few thousand elements
   * never finished (seconds of CPU per listing, in the soak).
   */
  #listing = false;
  #nextListing = -Infinity;
  #closed = false;

  constructor(
    private readonly engine: NatEngine,
    private readonly o: KernelOffloadOptions,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  /** Called by the packet loop for a packet on `id`, a flow not flagged FLOW_OFFLOADED. */
  consider(id: number): void {
    const engine = this.engine;
    if (this.#closed || !engine.offloadable(id, this.o.afterPackets)) return;
    if (this.#entries.size >= this.o.maxFlows) {
      this.counters.refusedFull++;
      return;
    }
    const markOut = this.#allocateMark();
    const markIn = this.#allocateMark();
    if (markOut === 0 || markIn === 0) {
      this.#marks.delete(markOut);
      this.counters.refusedFull++;
      return;
    }
    const f = engine.flows;
    f.flags[id] |= FLOW_OFFLOADED;
    const e: Entry = {
      id,
      created: f.created[id],
      proto: f.proto[id],
      inAddr: f.inAddr[id],
      inPort: f.inPort[id],
      pubAddr: f.pubAddr[id],
      pubPort: f.pubPort[id],
      remAddr: f.remAddr[id],
      remPort: f.remPort[id],
      markOut,
      markIn,
      packetsOut: 0,
      bytesOut: 0,
      packetsIn: 0,
      bytesIn: 0,
      missing: 0,
      outKey: '',
      inKey: '',
    };
    e.outKey = outKey(e);
    e.inKey = inKey(e);
    for (const old of [this.#byOutKey.get(e.outKey), this.#byInKey.get(e.inKey)]) {
      if (old !== undefined && this.#entries.has(old.markOut)) {
        this.#forget(old);
        this.#stale.push(old);
      }
    }
    this.#entries.set(markOut, e);
    this.#byOutKey.set(e.outKey, e);
    this.#byInKey.set(e.inKey, e);
    this.#pending.push(e);
    this.counters.offloaded++;
    this.#scheduleFlush();
  }

  #allocateMark(): number {
    // Numbers wrap; one still in use is skipped. At most MARKS_PER_QUEUE tries.
    for (let tries = 1; tries < MARKS_PER_QUEUE; tries++) {
      const n = this.#nextMark;
      this.#nextMark = n + 1 >= MARKS_PER_QUEUE ? 1 : n + 1;
      const mark = this.o.markBase + n;
      if (!this.#marks.has(mark)) {
        this.#marks.add(mark);
        return mark;
      }
    }
    return 0;
  }

  /**
   * The next batch goes batchMs after the last one, or at once when the last was longer ago: a flow
   * handed over on a quiet gateway is in the kernel within milliseconds (a TCP transfer at 10 Gbit/s
   * moves 60 MB in 50 ms), while a hundred a second still make one batch per batchMs.
   */
  #scheduleFlush(): void {
    if (this.#flushTimer !== null || this.#closed) return;
    const wait = Math.max(0, this.#lastBatchAt + (this.o.batchMs ?? DEFAULT_BATCH_MS) - performance.now());
    this.#flushTimer = setTimeout(() => this.#flush(), wait);
  }

  /**
   * Sends what waits as one nft batch: old elements in the way first, then the installs, with the
   * removals the last reconcile found. nft's cost is mostly per batch (its commit, and the listing
   * that confirms it), so at a hundred new flows a second a batch per turn of the event loop left
   * nft seconds behind on a busy machine; at most one batch per batchMs does not.
   */
  #flush(): void {
    // The listing flushes when it ends; until then the fired timer stays set, so no other is made.
    if (this.#closed || this.#listing) return;
    const stale = this.#stale.splice(0);
    if (stale.length > 0) this.#remove(stale);
    const batch = this.#pending.splice(0);
    for (const l of installCommands(this.o.table, batch)) this.#outgoing.push(l);
    // Everything waiting goes now: a flush the removals above scheduled would find nothing to send.
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    if (this.#outgoing.length === 0) return;
    this.#lastBatchAt = performance.now();
    this.counters.batches++;
    void this.o.nft.run(this.#outgoing.splice(0));
  }

  /** Whether the engine still has the flow an entry was made for (a slot is reused by later flows). */
  #stillThere(e: Entry): boolean {
    const f = this.engine.flows;
    const id = e.id;
    return (
      f.isLive(id) &&
      f.created[id] === e.created &&
      f.proto[id] === e.proto &&
      f.inAddr[id] === e.inAddr &&
      f.inPort[id] === e.inPort &&
      f.remAddr[id] === e.remAddr &&
      f.remPort[id] === e.remPort &&
      f.pubAddr[id] === e.pubAddr &&
      f.pubPort[id] === e.pubPort
    );
  }

  /** Reads the kernel's counters, credits them, and takes back what the engine let go. Resolves when done. */
  async reconcile(now: number): Promise<void> {
    if (this.#reconciling || this.#closed || this.#entries.size === 0) return;
    if (now < this.#nextListing) {
      this.#sweep();
      return;
    }
    this.#nextListing = now + listingIntervalMs(this.#entries.size, this.o.reconcileMs ?? 0);
    this.#reconciling = true;
    try {
      this.#listing = true;
      let outText: string | null;
      let inText: string | null;
      try {
        [outText, inText] = await Promise.all([this.o.listMap('out'), this.o.listMap('in')]);
      } finally {
        this.#listing = false;
        this.#flush();
      }
      let counts: Map<number, MarkCount> | null = null;
      if (outText !== null && inText !== null) {
        try {
          counts = parseMapCounters(inText, parseMapCounters(outText));
        } catch (err) {
          this.o.log('offload-list-failed', { error: (err as Error).message });
        }
      }
      if (counts === null) this.counters.listFailures++;
      this.counters.reconciles++;
      // Without counters nothing is credited, but flows the engine let go still leave the kernel.
      this.#settle(counts ?? new Map(), counts !== null, now);
    } finally {
      this.#reconciling = false;
    }
  }

  /** Between listings: flows the engine let go leave the kernel (no nft read needed for that). */
  #sweep(): void {
    const gone: Entry[] = [];
    const pending = new Set(this.#pending);
    for (const e of this.#entries.values()) if (!pending.has(e) && !this.#stillThere(e)) gone.push(e);
    if (gone.length > 0) this.#remove(gone);
  }

  #settle(counts: Map<number, MarkCount>, listed: boolean, now: number): void {
    const gone: Entry[] = [];
    const pending = new Set(this.#pending);
    for (const e of this.#entries.values()) {
      if (pending.has(e)) continue;
      const out = counts.get(e.markOut);
      const inn = counts.get(e.markIn);
      const there = this.#stillThere(e);
      if (out !== undefined && inn !== undefined) {
        e.missing = 0;
        const dOut = Math.max(0, out.packets - e.packetsOut);
        const dIn = Math.max(0, inn.packets - e.packetsIn);
        const dOutBytes = Math.max(0, out.bytes - e.bytesOut);
        const dInBytes = Math.max(0, inn.bytes - e.bytesIn);
        e.packetsOut = out.packets;
        e.packetsIn = inn.packets;
        e.bytesOut = out.bytes;
        e.bytesIn = inn.bytes;
        this.counters.kernelPackets += dOut + dIn;
        this.counters.kernelBytes += dOutBytes + dInBytes;
        if (there && dOut + dIn > 0) this.engine.creditOffloaded(e.id, { packetsOut: dOut, bytesOut: dOutBytes, packetsIn: dIn, bytesIn: dInBytes }, now);
      } else if (there && listed && ++e.missing >= 2) {
        // Two listings without it: nft refused it (or it was deleted under masq). masq carries it again.
        this.engine.flows.flags[e.id] &= ~FLOW_OFFLOADED;
        gone.push(e);
        continue;
      }
      if (!there) gone.push(e);
    }
    if (gone.length > 0) this.#remove(gone);
  }

  #forget(e: Entry): void {
    this.#entries.delete(e.markOut);
    if (this.#byOutKey.get(e.outKey) === e) this.#byOutKey.delete(e.outKey);
    if (this.#byInKey.get(e.inKey) === e) this.#byInKey.delete(e.inKey);
    this.#marks.delete(e.markOut);
    this.#marks.delete(e.markIn);
  }

  #remove(entries: Entry[]): void {
    const lines: string[] = [];
    for (const e of entries) {
      this.#forget(e);
      // A flow's own lines: a line fails whole when one of its elements is already gone, so flows are not mixed.
      for (const l of removeCommands(this.o.table, [e])) lines.push(l);
    }
    this.counters.returned += entries.length;
    for (const l of lines) this.#outgoing.push(l);
    this.#scheduleFlush();
  }

  /** Takes every flow back into masq (the engine's flags cleared); the table itself is the gateway's to delete. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const all = [...this.#entries.values()];
    for (const e of all) if (this.#stillThere(e)) this.engine.flows.flags[e.id] &= ~FLOW_OFFLOADED;
    this.#entries.clear();
    this.#byOutKey.clear();
    this.#byInKey.clear();
    this.#marks.clear();
    this.#pending = [];
    this.#stale = [];
    this.#outgoing = [];
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
  }
}
