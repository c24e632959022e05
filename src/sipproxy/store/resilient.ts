/**
 * The location store of a proxy whose registrations live in Redis, kept
 * serving when Redis goes away under it (a restart, a failover, a network
 * cut). Every binding this proxy registers is also kept in a local copy:
 *
 * - while the shared store answers, it is the truth (another proxy's
 *   bindings come from it) and the local copy only follows;
 * - while it does not (the connection is down, or a command fails), the
 *   proxy is degraded: REGISTERs are answered from the local copy, and calls
 *   reach the phones registered here; phones registered only through another
 *   proxy are not found. It says so: a warning in the log, and `degraded` in
 *   the store's health on the status endpoint;
 * - when the connection is back, every live local binding that the shared
 *   store lacks (a Redis restarted without persistence lost them all), or
 *   holds in an older version, is written back, so the registrations are
 *   there again without waiting for the phones to re-register.
 */
import { MemoryLocationStore } from './memory.js';
import type { Binding, LocationStore } from './stores.js';

export interface StoreHealth {
  kind: 'redis';
  state: 'ok' | 'degraded';
  /** Wall-clock ms of the start of the current degradation, or null. */
  degradedSince: number | null;
  /** Operations the shared store failed (answered locally instead). */
  failures: number;
  /** Operations answered locally without asking it (it was known to be away). */
  servedLocally: number;
  /** Resynchronisations after a return, and the bindings they wrote back. */
  resyncs: number;
  resyncedBindings: number;
}

export interface ResilientStoreOptions {
  wallClock: () => number;
  /** Whether the shared store's connection is up now (commands would be queued, then time out, otherwise). */
  isUp: () => boolean;
  log: (level: 'warn' | 'info', event: string, fields: Record<string, unknown>) => void;
}

export class ResilientLocationStore implements LocationStore {
  private readonly local: MemoryLocationStore;
  private readonly health: StoreHealth = { kind: 'redis', state: 'ok', degradedSince: null, failures: 0, servedLocally: 0, resyncs: 0, resyncedBindings: 0 };
  private resyncing: Promise<void> | null = null;

  constructor(
    private readonly shared: LocationStore,
    private readonly o: ResilientStoreOptions,
  ) {
    this.local = new MemoryLocationStore(o.wallClock);
  }

  get status(): StoreHealth {
    return { ...this.health };
  }

  /** The shared store's connection dropped (before any command failed). */
  connectionLost(reason: string): void {
    this.degrade(reason);
  }

  /** The shared store's connection is up again: write back what it may have lost. */
  connectionBack(): Promise<void> {
    this.resyncing ??= this.resync().finally(() => (this.resyncing = null));
    return this.resyncing;
  }

  async save(aor: string, upserts: readonly Binding[], removals: readonly string[], maxPerAor: number): Promise<Binding[] | 'full'> {
    const shared = await this.attempt(() => this.shared.save(aor, upserts, removals, maxPerAor));
    if (shared.ok) {
      // The shared store has checked the limit; the local copy holds only this proxy's share of it.
      if (shared.value !== 'full') await this.local.save(aor, upserts, removals, Number.MAX_SAFE_INTEGER);
      return shared.value;
    }
    return this.local.save(aor, upserts, removals, maxPerAor);
  }

  async lookup(aor: string): Promise<Binding[]> {
    const shared = await this.attempt(() => this.shared.lookup(aor));
    return shared.ok ? shared.value : this.local.lookup(aor);
  }

  async remove(aor: string, contact: string): Promise<void> {
    await this.local.remove(aor, contact);
    await this.attempt(() => this.shared.remove(aor, contact));
  }

  async close(): Promise<void> {
    await this.local.close();
    await this.shared.close();
  }

  private async attempt<T>(op: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> {
    if (!this.o.isUp()) {
      this.health.servedLocally++;
      this.degrade('not connected');
      return { ok: false };
    }
    try {
      const value = await op();
      // Degraded by a failed command while the connection stayed up: it answers again.
      if (this.health.state === 'degraded') void this.connectionBack();
      return { ok: true, value };
    } catch (err) {
      this.health.failures++;
      this.degrade((err as Error).message);
      return { ok: false };
    }
  }

  private degrade(reason: string): void {
    if (this.health.state === 'degraded') return;
    this.health.state = 'degraded';
    this.health.degradedSince = this.o.wallClock();
    this.o.log('warn', 'store-degraded', { reason, serving: 'registrations made through this proxy, from its local copy' });
  }

  private async resync(): Promise<void> {
    const since = this.health.degradedSince;
    let written = 0;
    try {
      for (const [aor, bindings] of [...this.local.entries()]) {
        const there = new Map((await this.shared.lookup(aor)).map((b) => [b.contact, b]));
        const missing = bindings.filter((b) => (there.get(b.contact)?.registeredAt ?? -Infinity) < b.registeredAt);
        if (missing.length === 0) continue;
        // No limit here: these bindings were admitted when they registered.
        await this.shared.save(aor, missing, [], Number.MAX_SAFE_INTEGER);
        written += missing.length;
      }
    } catch (err) {
      this.health.failures++;
      this.degrade((err as Error).message);
      this.o.log('warn', 'store-resync-failed', { reason: (err as Error).message, written });
      return;
    }
    this.health.resyncs++;
    this.health.resyncedBindings += written;
    this.health.state = 'ok';
    this.health.degradedSince = null;
    this.o.log('info', 'store-restored', { resyncedBindings: written, degradedMs: since === null ? 0 : this.o.wallClock() - since });
  }
}
