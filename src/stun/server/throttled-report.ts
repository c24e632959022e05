/**
 * Reports of a limit being hit, at most one per kind per interval: under a
 * flood the log gets one line every few seconds saying how many were hit
 * since the last line, not one line per connection. Pure: time is passed in.
 */
export class ThrottledReport<K extends string, D> {
  private readonly pending = new Map<K, { count: number; lastReport: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly report: (kind: K, count: number, detail: D) => void,
  ) {}

  /** Counts a hit; reports it (with the hits held back since the last report) unless `kind` was reported less than an interval ago. */
  hit(kind: K, nowMs: number, detail: D): void {
    let p = this.pending.get(kind);
    if (!p) this.pending.set(kind, (p = { count: 0, lastReport: -Infinity }));
    p.count++;
    if (nowMs - p.lastReport < this.intervalMs) return;
    const count = p.count;
    p.count = 0;
    p.lastReport = nowMs;
    this.report(kind, count, detail);
  }
}
