/**
 * The rendezvous server's view of its registry (Redis, shared with other
 * servers): in use, or away. When a registry operation fails the server goes
 * degraded instead of refusing its peers: it answers joins, refreshes and
 * leaves from what it holds itself (the peers attached to it), and says so in
 * its log and status. Meanwhile one probe a sweep checks whether the registry
 * is back; when it is, every peer attached here is written back (a Redis that
 * restarted empty has lost them all, one that kept its data loses nothing by
 * the rewrite) and the leaves heard meanwhile are applied. Only then does the
 * server use the registry again, so no registration made before or during the
 * outage is lost.
 *
 * What degraded mode costs: peers attached to other servers are out of reach
 * (a join sees only this server's peers of its session, and introductions to
 * the others are not delivered) until the registry is back.
 */
import type { LogFn } from '../util/limit-log.js';
import type { PeerRecord, RegistryStore } from './registry.js';

export interface RegistryStatus {
  state: 'ok' | 'degraded';
  /** Degraded: since when (the server's clock, ms) and why. */
  since?: number;
  reason?: string;
  /** Times the registry was lost since start. */
  outages: number;
  /** Leaves heard while degraded, to apply when it is back. */
  pendingRemovals: number;
}

export interface RegistryHealthOptions {
  now: () => number;
  ttlMs: number;
  /** The peers attached to this server now, as the registry should hold them. */
  attached: () => Array<{ session: string; record: PeerRecord }>;
  /** Where the changes of state are told (an operator should hear them). */
  warn?: LogFn;
}

/** At most this many leaves remembered while degraded (the oldest go first; their records expire by TTL anyway). */
const MAX_PENDING_REMOVALS = 100_000;

export class RegistryHealth {
  #down: { since: number; reason: string } | null = null;
  #probing = false;
  readonly #removals = new Map<string, { session: string; id: string }>();
  #outages = 0;

  constructor(
    private readonly store: RegistryStore,
    private readonly o: RegistryHealthOptions,
  ) {}

  get degraded(): boolean {
    return this.#down !== null;
  }

  status(): RegistryStatus {
    return {
      state: this.#down ? 'degraded' : 'ok',
      ...(this.#down ? { since: this.#down.since, reason: this.#down.reason } : {}),
      outages: this.#outages,
      pendingRemovals: this.#removals.size,
    };
  }

  /**
   * Runs a registry operation; when the registry is away (now, or this
   * operation fails) the answer comes from `degraded` instead. Degraded, the
   * registry is not asked at all: each request would wait out a timeout.
   */
  async run<T>(op: () => Promise<T>, degraded: () => T): Promise<T> {
    if (this.#down) return degraded();
    try {
      return await op();
    } catch (err) {
      this.#lost(err);
      return degraded();
    }
  }

  /** A peer left while degraded: removed from the registry when it is back. */
  removeLater(session: string, id: string): void {
    const k = `${session}\n${id}`;
    this.#removals.delete(k);
    this.#removals.set(k, { session, id });
    if (this.#removals.size > MAX_PENDING_REMOVALS) this.#removals.delete(this.#removals.keys().next().value!);
  }

  /** Called every sweep: while degraded, checks (one probe at a time) whether the registry is back. */
  sweep(): void {
    if (!this.#down || this.#probing) return;
    this.#probing = true;
    void this.#probe().finally(() => (this.#probing = false));
  }

  async #probe(): Promise<void> {
    const since = this.#down!.since;
    let rewritten = 0;
    let removed = 0;
    try {
      if (this.store.ping) await this.store.ping();
      for (const { session, record } of this.o.attached()) {
        await this.store.upsert(session, record, this.o.ttlMs);
        rewritten++;
      }
      for (const [k, { session, id }] of this.#removals) {
        await this.store.remove(session, id);
        this.#removals.delete(k);
        removed++;
      }
    } catch (err) {
      // Still away (or away again): the next sweep tries again from the start.
      this.#down = { since, reason: errorText(err) };
      return;
    }
    this.#down = null;
    this.o.warn?.('registry-restored', { downMs: this.o.now() - since, rewritten, removed });
  }

  #lost(err: unknown): void {
    if (this.#down) return;
    this.#outages++;
    this.#down = { since: this.o.now(), reason: errorText(err) };
    this.o.warn?.('registry-degraded', {
      reason: this.#down.reason,
      detail: 'the registry is unavailable: answering from the peers attached to this server, peers on other servers out of reach until it is back',
    });
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
