/**
 * Unsolicited server-to-peer messages (introductions, departures) go out with
 * a sequence number and are sent again until the peer acknowledges that number,
 * with a doubling timeout and a bounded number of tries. Bounded in total, so a
 * peer that never answers cannot make the server hold unbounded state.
 *
 * A retransmission goes out only while `mayRetransmit` says the destination
 * has answered the server from where it is (echoed a cookie or acknowledged):
 * repeating packets toward an address that never answered would multiply
 * whatever a forged source could make the server send there once.
 */
import type { Scheduler, TimerHandle } from '../../util/clock.js';

interface Pending {
  timer: TimerHandle;
}

export interface ReliableSenderOptions {
  rtoMs: number;
  tries: number;
  maxPending: number;
}

export class ReliableSender {
  private readonly pending = new Map<string, Pending>();
  retransmissions = 0;
  /** Retransmissions not sent: the destination had not answered. */
  withheld = 0;
  givenUp = 0;
  refused = 0;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly o: ReliableSenderOptions,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** Sends now and again until ack(key) or the tries run out. Returns false if the table is full (sent once anyway). */
  send(key: string, transmit: () => void, mayRetransmit: () => boolean = () => true): boolean {
    transmit();
    if (this.pending.has(key)) return true;
    if (this.pending.size >= this.o.maxPending) {
      this.refused++;
      return false;
    }
    let tries = 1;
    let rto = this.o.rtoMs;
    const step = () => {
      if (tries >= this.o.tries) {
        this.pending.delete(key);
        this.givenUp++;
        return;
      }
      tries++;
      if (mayRetransmit()) {
        this.retransmissions++;
        transmit();
      } else this.withheld++;
      rto *= 2;
      entry.timer = this.scheduler.setTimeout(step, rto);
    };
    const entry: Pending = { timer: this.scheduler.setTimeout(step, rto) };
    this.pending.set(key, entry);
    return true;
  }

  ack(key: string): void {
    const p = this.pending.get(key);
    if (!p) return;
    this.scheduler.clearTimeout(p.timer);
    this.pending.delete(key);
  }

  /** Drops every pending message whose key starts with `prefix` (a peer that left). */
  cancelPrefix(prefix: string): void {
    for (const [k, p] of this.pending) {
      if (k.startsWith(prefix)) {
        this.scheduler.clearTimeout(p.timer);
        this.pending.delete(k);
      }
    }
  }

  close(): void {
    for (const p of this.pending.values()) this.scheduler.clearTimeout(p.timer);
    this.pending.clear();
  }
}
