/**
 * Says in the log itself that log lines were lost: when this thread's stdout
 * dropped lines because its reader fell behind (log-output.ts), one warning
 * with the count, at most every 10 s. The warning goes through the same
 * output, so it appears once the reader has caught up.
 */
import type { Logger } from 'pino';
import { logOutputCounters } from './log-output.js';

const INTERVAL_MS = 10_000;

export class DroppedLogLines {
  #reported = 0;
  #lastAt = -Infinity;

  /** Call from a daemon's timer; `now` in ms. */
  check(log: Logger, now: number): void {
    const { dropped } = logOutputCounters();
    if (dropped <= this.#reported || now - this.#lastAt < INTERVAL_MS) return;
    log.warn({ event: 'limit', limit: 'log-output', dropped, since: dropped - this.#reported }, `the log's reader fell behind: ${dropped - this.#reported} log lines were dropped`);
    this.#reported = dropped;
    this.#lastAt = now;
  }
}
