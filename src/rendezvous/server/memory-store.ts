/**
 * The in-memory registry: the default for a single rendezvous server. Several
 * servers in one process may share one instance (its bus is a plain callback
 * table), which is how the cross-server logic is tested without Redis.
 */
import type { Clock } from '../../util/clock.js';
import type { PeerRecord, RegistryEvent, RegistryStore } from './registry.js';

interface Entry {
  record: PeerRecord;
  expiresAt: number;
}

export interface MemoryRegistryOptions {
  /** Expiry is measured on this clock (the server's scheduler). */
  clock: Clock;
  /** Sessions kept at most; joins into new sessions beyond it fail. */
  maxSessions?: number;
}

export class MemoryRegistry implements RegistryStore {
  private readonly sessions = new Map<string, Map<string, Entry>>();
  private readonly handlers = new Map<string, Set<(e: RegistryEvent) => void>>();
  private readonly maxSessions: number;

  constructor(private readonly o: MemoryRegistryOptions) {
    this.maxSessions = o.maxSessions ?? 100_000;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  async upsert(session: string, record: PeerRecord, ttlMs: number): Promise<PeerRecord[]> {
    let peers = this.sessions.get(session);
    if (!peers) {
      if (this.sessions.size >= this.maxSessions) throw new Error(`registry full (${this.maxSessions} sessions)`);
      peers = new Map();
      this.sessions.set(session, peers);
    }
    peers.set(record.id, { record, expiresAt: this.o.clock.now() + ttlMs });
    return this.live(session).filter((r) => r.id !== record.id);
  }

  async touch(session: string, peerId: string, ttlMs: number): Promise<boolean> {
    const e = this.sessions.get(session)?.get(peerId);
    const now = this.o.clock.now();
    if (!e || e.expiresAt <= now) return false;
    e.expiresAt = now + ttlMs;
    return true;
  }

  async remove(session: string, peerId: string): Promise<PeerRecord[]> {
    const peers = this.sessions.get(session);
    peers?.delete(peerId);
    return this.live(session);
  }

  async list(session: string): Promise<PeerRecord[]> {
    return this.live(session);
  }

  async publish(serverId: string, event: RegistryEvent): Promise<void> {
    // Asynchronous like a real bus: the publisher never runs the handler inline.
    const hs = this.handlers.get(serverId);
    if (!hs) return;
    await Promise.resolve();
    for (const h of hs) h(event);
  }

  async subscribe(serverId: string, handler: (e: RegistryEvent) => void): Promise<() => Promise<void>> {
    let hs = this.handlers.get(serverId);
    if (!hs) this.handlers.set(serverId, (hs = new Set()));
    hs.add(handler);
    return async () => {
      hs.delete(handler);
    };
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }

  /** Live records of a session; expired ones are dropped on the way. */
  private live(session: string): PeerRecord[] {
    const peers = this.sessions.get(session);
    if (!peers) return [];
    const now = this.o.clock.now();
    const out: PeerRecord[] = [];
    for (const [id, e] of peers) {
      if (e.expiresAt <= now) peers.delete(id);
      else out.push(e.record);
    }
    if (peers.size === 0) this.sessions.delete(session);
    return out;
  }
}
