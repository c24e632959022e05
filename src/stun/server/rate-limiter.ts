/**
 * Token bucket per key (the source IP address), pure: time is passed in. The
 * table is bounded: past `maxTracked` keys the least recently seen is dropped,
 * so a flood from many (spoofed) addresses costs memory only up to the bound.
 */

export interface RateLimitConfig {
  /** Sustained requests per second per key. 0 or Infinity: no limit. */
  ratePerSecond: number;
  /** Bucket size: requests allowed back to back. */
  burst: number;
  /** Keys remembered at most. Default 100000. */
  maxTracked?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class TokenBucketLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxTracked: number;
  private readonly unlimited: boolean;

  constructor(private readonly config: RateLimitConfig) {
    if (!(config.burst >= 1)) throw new RangeError('burst must be at least 1');
    this.maxTracked = config.maxTracked ?? 100_000;
    this.unlimited = !(config.ratePerSecond > 0) || !Number.isFinite(config.ratePerSecond);
  }

  /** Takes one token for `key` if there is one. */
  allow(key: string, nowMs: number): boolean {
    if (this.unlimited) return true;
    let b = this.buckets.get(key);
    if (b) {
      // Re-insert so Map order is least-recently-seen first.
      this.buckets.delete(key);
      const elapsed = Math.max(0, nowMs - b.at);
      b.tokens = Math.min(this.config.burst, b.tokens + (elapsed * this.config.ratePerSecond) / 1000);
      b.at = nowMs;
    } else {
      if (this.buckets.size >= this.maxTracked) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
      b = { tokens: this.config.burst, at: nowMs };
    }
    this.buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get tracked(): number {
    return this.buckets.size;
  }
}
