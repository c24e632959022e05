/**
 * Time as the engine sees it. The engine never reads the wall clock itself: a
 * dataplane passes one of these in, so the same code runs on real time (tun),
 * capture time (pcap) and virtual time (sim). Milliseconds, monotone.
 */
export interface Clock {
  now(): number;
}

/** A clock that can also call back later: what services (not the engine) need. */
export interface Scheduler extends Clock {
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Opaque: only the scheduler that made it can read it. */
export type TimerHandle = object;

/** A clock the caller moves by hand: tests and the pcap dataplane. */
export class ManualClock implements Clock {
  constructor(private t = 0) {}
  now(): number {
    return this.t;
  }
  set(ms: number): void {
    if (ms < this.t) throw new RangeError(`clock may not go backwards (${ms} < ${this.t})`);
    this.t = ms;
  }
  advance(ms: number): void {
    this.set(this.t + ms);
  }
}

/** Real time for the live daemons: monotone milliseconds since process start. */
export const systemClock: Clock = {
  now: () => performance.now(),
};

/** Real time with real timers. */
export const systemScheduler: Scheduler = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    return setTimeout(fn, ms);
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
