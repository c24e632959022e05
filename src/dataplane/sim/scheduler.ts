/**
 * Virtual time: a priority queue of callbacks ordered by (time, insertion order).
 * Nothing waits for real time, so a 10-minute NAT timeout takes microseconds and
 * every run with the same seed is the same run.
 */
import type { Scheduler, TimerHandle } from '../../util/clock.js';

interface Entry {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class VirtualScheduler implements Scheduler {
  private heap: Entry[] = [];
  private seq = 0;
  private t = 0;
  /** Events run so far (for bounding runs and for statistics). */
  executed = 0;

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const e: Entry = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.push(e);
    return e;
  }

  clearTimeout(handle: TimerHandle): void {
    (handle as Entry).cancelled = true;
  }

  /** Time of the next pending event, or Infinity. */
  nextAt(): number {
    while (this.heap.length && this.heap[0].cancelled) this.pop();
    return this.heap.length ? this.heap[0].at : Infinity;
  }

  /** Runs the next event if it is due at or before `limit`; false when none is. */
  step(limit: number): boolean {
    while (this.heap.length) {
      const top = this.heap[0];
      if (top.cancelled) {
        this.pop();
        continue;
      }
      if (top.at > limit) return false;
      this.pop();
      this.t = top.at;
      this.executed++;
      top.fn();
      return true;
    }
    return false;
  }

  /** Moves time forward to `t` with no event (after the queue ran dry). */
  advanceTo(t: number): void {
    if (t > this.t) this.t = t;
  }

  get pending(): number {
    return this.heap.length;
  }

  private less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private pop(): Entry {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}
