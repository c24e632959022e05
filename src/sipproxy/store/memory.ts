/** The stores in memory: one proxy, nothing shared, gone on restart. */
import type { Binding, CallRecord, CallStore, LocationStore } from './stores.js';

export class MemoryLocationStore implements LocationStore {
  private readonly aors = new Map<string, Map<string, Binding>>();

  constructor(
    private readonly wallClock: () => number,
    private readonly maxAors = 1_000_000,
  ) {}

  get aorCount(): number {
    return this.aors.size;
  }

  async save(aor: string, upserts: readonly Binding[], removals: readonly string[], maxPerAor: number): Promise<Binding[] | 'full'> {
    const now = this.wallClock();
    let bindings = this.aors.get(aor);
    const live = bindings ? [...bindings.values()].filter((b) => b.expiresAt > now && !removals.includes(b.contact)) : [];
    const contacts = new Set(live.map((b) => b.contact));
    for (const u of upserts) contacts.add(u.contact);
    if (contacts.size > maxPerAor) return 'full';
    if (!bindings) {
      if (upserts.length === 0) return [];
      if (this.aors.size >= this.maxAors) return 'full';
      bindings = new Map();
      this.aors.set(aor, bindings);
    }
    for (const [c, b] of bindings) if (b.expiresAt <= now || removals.includes(c)) bindings.delete(c);
    for (const u of upserts) bindings.set(u.contact, u);
    if (bindings.size === 0) this.aors.delete(aor);
    return [...bindings.values()];
  }

  async lookup(aor: string): Promise<Binding[]> {
    const bindings = this.aors.get(aor);
    if (!bindings) return [];
    const now = this.wallClock();
    for (const [c, b] of bindings) if (b.expiresAt <= now) bindings.delete(c);
    if (bindings.size === 0) this.aors.delete(aor);
    return [...bindings.values()];
  }

  /** Every address of record with its live bindings. */
  *entries(): Generator<[string, Binding[]]> {
    const now = this.wallClock();
    for (const [aor, bindings] of this.aors) {
      const live = [...bindings.values()].filter((b) => b.expiresAt > now);
      if (live.length > 0) yield [aor, live];
    }
  }

  async remove(aor: string, contact: string): Promise<void> {
    const bindings = this.aors.get(aor);
    bindings?.delete(contact);
    if (bindings && bindings.size === 0) this.aors.delete(aor);
  }

  async close(): Promise<void> {
    this.aors.clear();
  }
}

export class MemoryCallStore implements CallStore {
  private readonly calls = new Map<string, { record: CallRecord; expiresAt: number }>();

  constructor(private readonly wallClock: () => number) {}

  async put(record: CallRecord, ttlMs: number): Promise<void> {
    this.calls.set(record.callId, { record, expiresAt: this.wallClock() + ttlMs });
  }

  async end(callId: string): Promise<void> {
    this.calls.delete(callId);
  }

  async list(): Promise<CallRecord[]> {
    const now = this.wallClock();
    const out: CallRecord[] = [];
    for (const [id, e] of this.calls) {
      if (e.expiresAt <= now) this.calls.delete(id);
      else out.push(e.record);
    }
    return out;
  }

  async close(): Promise<void> {
    this.calls.clear();
  }
}
