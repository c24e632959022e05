/**
 * One token bucket per key (a source address), in bounded memory. A bucket
 * refills at `perSecond` up to `burst`. When the table is full, the bucket
 * used least recently is forgotten: its owner starts again with a full bucket,
 * which costs at most one burst, while an attacker spraying addresses cannot
 * grow the table.
 */
export interface TokenBucketsOptions {
  perSecond: number;
  burst: number;
  /** Keys remembered at most (default 65,536). */
  maxKeys?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxKeys: number;

  constructor(private readonly o: TokenBucketsOptions) {
    if (!(o.perSecond > 0) || !(o.burst >= 1)) throw new RangeError('a token bucket needs a positive rate and a burst of at least 1');
    this.maxKeys = o.maxKeys ?? 65_536;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token from `key`'s bucket; false (and nothing taken) when it is empty. `now` in ms. */
  take(key: string, now: number): boolean {
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key);
      b.tokens = Math.min(this.o.burst, b.tokens + (Math.max(0, now - b.at) * this.o.perSecond) / 1000);
      b.at = now;
    } else {
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
      b = { tokens: this.o.burst, at: now };
    }
    // Re-inserted: the map's order is least recently used first.
    this.buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
