/**
 * Token bucket per key (the source IP address), pure: time is passed in. The
 * table is bounded: past `maxTracked` keys the least recently seen is dropped,
 * so a flood from many (spoofed) addresses costs memory only up to the bound.
 *
 * Recency is a list threaded through the buckets themselves, so seeing a key
 * again moves its bucket to the front without touching the hash table (a
 * delete and re-insert per request made V8 rehash and shrink the table over
 * and over at high request rates).
 */

export interface RateLimitConfig {
  /** Sustained requests per second per key. 0 or Infinity: no limit. */
  ratePerSecond: number;
  /** Bucket size: requests allowed back to back. */
  burst: number;
  /** Keys remembered at most. Default 100000. */
  maxTracked?: number;
}

/** An IPv4 address as a number (what batched sockets read) or any address as text. */
export type LimiterKey = string | number;

interface Bucket {
  key: LimiterKey;
  tokens: number;
  at: number;
  /** Toward the most recently seen. */
  newer: Bucket | null;
  /** Toward the least recently seen. */
  older: Bucket | null;
}

export class TokenBucketLimiter {
  private readonly buckets = new Map<LimiterKey, Bucket>();
  private readonly maxTracked: number;
  private readonly unlimited: boolean;
  private newest: Bucket | null = null;
  private oldest: Bucket | null = null;

  constructor(private readonly config: RateLimitConfig) {
    if (!(config.burst >= 1)) throw new RangeError('burst must be at least 1');
    this.maxTracked = config.maxTracked ?? 100_000;
    this.unlimited = !(config.ratePerSecond > 0) || !Number.isFinite(config.ratePerSecond);
  }

  /** Takes one token for `key` if there is one. */
  allow(key: LimiterKey, nowMs: number): boolean {
    if (this.unlimited) return true;
    let b = this.buckets.get(key);
    if (b) {
      const elapsed = Math.max(0, nowMs - b.at);
      b.tokens = Math.min(this.config.burst, b.tokens + (elapsed * this.config.ratePerSecond) / 1000);
      b.at = nowMs;
      if (b !== this.newest) {
        this.unlink(b);
        this.pushNewest(b);
      }
    } else {
      if (this.buckets.size >= this.maxTracked && this.oldest) {
        const gone = this.oldest;
        this.unlink(gone);
        this.buckets.delete(gone.key);
      }
      b = { key, tokens: this.config.burst, at: nowMs, newer: null, older: null };
      this.buckets.set(key, b);
      this.pushNewest(b);
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get tracked(): number {
    return this.buckets.size;
  }

  private unlink(b: Bucket): void {
    if (b.newer) b.newer.older = b.older;
    else this.newest = b.older;
    if (b.older) b.older.newer = b.newer;
    else this.oldest = b.newer;
    b.newer = b.older = null;
  }

  private pushNewest(b: Bucket): void {
    b.older = this.newest;
    b.newer = null;
    if (this.newest) this.newest.newer = b;
    else this.oldest = b;
    this.newest = b;
  }
}
