/**
 * Keep-alives toward registered phones, often enough for a NAT that forgets
 * a UDP binding after 30 seconds: an OPTIONS over UDP (any answer counts:
 * the NAT refreshes its binding on the phone's reply), a double CRLF over
 * TCP and TLS (RFC 5626 3.5.1). A UDP phone that stops answering loses its
 * binding after `dropAfter` unanswered pings; a TCP or TLS phone loses its
 * bindings when its connection closes.
 */
import type { Scheduler, TimerHandle } from '../../util/clock.js';
import type { Flow } from './flow.js';

export interface KeepaliveEntry {
  key: string;
  flow: Flow;
  aor: string;
  contact: string;
  /** Wall-clock ms: the binding's expiry; the entry goes then. */
  expiresAt: number;
  /** Pings sent and not answered, in a row. */
  misses: number;
  /** The branch of the outstanding OPTIONS. */
  branch: string | null;
}

export interface KeepaliveOptions {
  intervalMs: number;
  /** 'options' (UDP: OPTIONS; TCP/TLS: CRLF) or 'crlf' (CRLF on every transport; nothing answers over UDP). */
  method: 'options' | 'crlf';
  /** Unanswered OPTIONS in a row after which the binding is dropped; 0: never. */
  dropAfter: number;
  scheduler: Scheduler;
  wallClock: () => number;
  /** Sends one ping; `branch` is set for an OPTIONS. Returns false when the flow is gone. */
  ping(e: KeepaliveEntry, branch: string | null): boolean;
  /** The phone is gone (no answers, or its connection closed). */
  dead(e: KeepaliveEntry, why: string): void;
  newBranch(): string;
}

export class Keepalives {
  private readonly entries = new Map<string, KeepaliveEntry>();
  private readonly byBranch = new Map<string, KeepaliveEntry>();
  private timer: TimerHandle | null = null;
  pings = 0;
  answers = 0;
  dropped = 0;

  constructor(private readonly o: KeepaliveOptions) {}

  get size(): number {
    return this.entries.size;
  }

  start(): void {
    // A tenth of the interval per tick: each entry is pinged once per interval, the work spread out.
    const tick = Math.max(100, Math.floor(this.o.intervalMs / 10));
    const run = () => {
      this.tick();
      this.timer = this.o.scheduler.setTimeout(run, tick);
    };
    this.timer = this.o.scheduler.setTimeout(run, tick);
  }

  stop(): void {
    if (this.timer) this.o.scheduler.clearTimeout(this.timer);
    this.timer = null;
  }

  track(key: string, flow: Flow, aor: string, contact: string, expiresAt: number): void {
    const old = this.entries.get(key);
    if (old?.branch) this.byBranch.delete(old.branch);
    this.entries.set(key, { key, flow, aor, contact, expiresAt, misses: 0, branch: null });
    this.next.set(key, this.o.scheduler.now() + this.o.intervalMs);
  }

  untrack(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    if (e.branch) this.byBranch.delete(e.branch);
    this.entries.delete(key);
    this.next.delete(key);
  }

  /** A response to a keep-alive OPTIONS (any status). */
  answered(branch: string): boolean {
    const e = this.byBranch.get(branch);
    if (!e) return false;
    this.byBranch.delete(branch);
    e.branch = null;
    e.misses = 0;
    this.answers++;
    return true;
  }

  /** Every entry on a closed connection is dead. */
  connectionClosed(connId: number): void {
    for (const e of [...this.entries.values()]) {
      if (e.flow.connId === connId) {
        this.untrack(e.key);
        this.dropped++;
        this.o.dead(e, 'connection closed');
      }
    }
  }

  private readonly next = new Map<string, number>();

  tick(): void {
    const now = this.o.scheduler.now();
    const wall = this.o.wallClock();
    for (const e of [...this.entries.values()]) {
      if (e.expiresAt <= wall) {
        this.untrack(e.key);
        continue;
      }
      const due = this.next.get(e.key) ?? 0;
      if (due > now) continue;
      this.next.set(e.key, now + this.o.intervalMs);
      const options = this.o.method === 'options' && e.flow.transport === 'udp';
      if (options && e.branch !== null) {
        this.byBranch.delete(e.branch);
        e.branch = null;
        e.misses++;
        if (this.o.dropAfter > 0 && e.misses >= this.o.dropAfter) {
          this.untrack(e.key);
          this.dropped++;
          this.o.dead(e, `${e.misses} keep-alives unanswered`);
          continue;
        }
      }
      const branch = options ? this.o.newBranch() : null;
      if (branch) {
        e.branch = branch;
        this.byBranch.set(branch, e);
      }
      this.pings++;
      if (!this.o.ping(e, branch)) {
        this.untrack(e.key);
        this.dropped++;
        this.o.dead(e, 'flow gone');
      }
    }
  }
}
