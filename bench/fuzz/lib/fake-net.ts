/**
 * A network of nothing but sockets, for driving the daemons' packet handlers
 * by hand: every socket the code binds is kept, everything it sends is logged
 * (with the bytes per destination), and time moves only when told, running
 * the timers that fall due (retransmissions, sweeps) in order.
 */
import type { Endpoint, NetEnv, UdpBindOptions, UdpSocket } from '../../../src/net/udp.js';
import type { Scheduler, TimerHandle } from '../../../src/util/clock.js';
import { Rng } from '../rng.js';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class ManualScheduler implements Scheduler {
  private t: number;
  private seq = 0;
  private timers: Timer[] = [];

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: Timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    (handle as Timer).cancelled = true;
  }

  /** Moves time forward by `ms`, running each timer due on the way at its time. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (let steps = 0; steps < 100_000; steps++) {
      this.timers = this.timers.filter((x) => !x.cancelled);
      let next: Timer | null = null;
      for (const x of this.timers) if (x.at <= end && (!next || x.at < next.at || (x.at === next.at && x.seq < next.seq))) next = x;
      if (!next) break;
      this.timers.splice(this.timers.indexOf(next), 1);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = end;
  }
}

export interface Sent {
  from: Endpoint;
  to: Endpoint;
  data: Uint8Array;
}

const key = (e: Endpoint) => `${e.address}|${e.port}`;

export class FakeNet implements NetEnv {
  readonly scheduler: ManualScheduler;
  readonly sent: Sent[] = [];
  /** Bytes sent to each address (all ports), since the net was made. */
  readonly bytesTo = new Map<string, number>();
  private readonly sockets = new Map<string, { local: Endpoint; handler: ((d: Uint8Array, from: Endpoint) => void) | null }>();
  private nextPort = 40000;
  private readonly rng: Rng;

  constructor(start = 1_700_000_000_000, seed = 1) {
    this.scheduler = new ManualScheduler(start);
    this.rng = new Rng(seed);
  }

  /** A property, not a method: callers take it off the object. */
  readonly random = (): number => this.rng.u32() / 0x1_0000_0000;

  async bindUdp(o: UdpBindOptions = {}): Promise<UdpSocket> {
    const local = { address: o.address ?? '198.51.100.10', port: o.port || this.nextPort++ };
    const entry: { local: Endpoint; handler: ((d: Uint8Array, from: Endpoint) => void) | null } = { local, handler: null };
    this.sockets.set(key(local), entry);
    return {
      local,
      send: (data, to) => {
        this.sent.push({ from: local, to, data: data.slice() });
        this.bytesTo.set(to.address, (this.bytesTo.get(to.address) ?? 0) + data.length);
      },
      onMessage: (h) => {
        entry.handler = h;
      },
      close: () => {
        this.sockets.delete(key(local));
      },
    };
  }

  /** Hands `data` to the socket bound at `to`, as if it came from `from`. */
  deliver(to: Endpoint, data: Uint8Array, from: Endpoint): void {
    this.sockets.get(key(to))?.handler?.(data, from);
  }
}

/** Lets promise callbacks (a registry store's) run. */
export function settle(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
