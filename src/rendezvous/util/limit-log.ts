/**
 * Logs that a limit was hit without letting whoever hits it flood the log:
 * the first hit of each limit is logged at once, later ones are counted and
 * the count is logged at most once per interval.
 */
export type LogFn = (event: string, fields?: Record<string, unknown>) => void;

export class LimitLog {
  private readonly last = new Map<string, { at: number; unlogged: number }>();

  constructor(
    private readonly log: LogFn | undefined,
    private readonly now: () => number,
    private readonly intervalMs = 10_000,
  ) {}

  hit(limit: string, fields: Record<string, unknown> = {}): void {
    if (!this.log) return;
    const now = this.now();
    const seen = this.last.get(limit);
    if (seen && now - seen.at < this.intervalMs) {
      seen.unlogged++;
      return;
    }
    const since = seen ? { hitsSinceLastLine: seen.unlogged + 1 } : {};
    this.last.set(limit, { at: now, unlogged: 0 });
    this.log('limit', { limit, ...since, ...fields });
  }
}
