/**
 * Replay protection.
 *
 * Requests to a server or relay carry the sender's wall-clock time and a random
 * nonce: the server accepts a request only inside a time window around its own
 * clock, and each nonce only once within that window (NonceCache). A client
 * whose clock is off hears the server's time in an authenticated error and
 * corrects its offset, so no clock synchronisation is assumed.
 *
 * Messages sent unasked (introductions, hellos, data) carry a sequence number
 * that the receiver checks against a sliding window (SeqWindow): each number is
 * accepted once, numbers far behind the newest are refused.
 */

export type NonceVerdict = 'ok' | 'stale' | 'replay' | 'full';

export class NonceCache {
  /** nonce -> time after which it may be forgotten. Insertion order is expiry order. */
  private readonly seen = new Map<string, number>();

  constructor(
    readonly windowMs = 30_000,
    private readonly capacity = 100_000,
  ) {}

  get size(): number {
    return this.seen.size;
  }

  /** The verdict, and on 'ok' the nonce is recorded. */
  check(nonce: string, timestamp: number, now: number): NonceVerdict {
    const verdict = this.peek(nonce, timestamp, now);
    // Keep it until no timestamp that could carry it is acceptable any more.
    if (verdict === 'ok') this.seen.set(nonce, Math.max(now, timestamp) + this.windowMs);
    return verdict;
  }

  /**
   * The verdict check() would give, recording nothing: a server asks this
   * before a request has proved its source, so that forged requests cannot
   * fill the cache.
   */
  peek(nonce: string, timestamp: number, now: number): NonceVerdict {
    if (Math.abs(timestamp - now) > this.windowMs) return 'stale';
    this.expire(now);
    if (this.seen.has(nonce)) return 'replay';
    if (this.seen.size >= this.capacity) return 'full';
    return 'ok';
  }

  private expire(now: number): void {
    // Entries are added with non-decreasing expiry up to clock skew; stop at the first live one.
    for (const [n, until] of this.seen) {
      if (until > now) break;
      this.seen.delete(n);
    }
  }
}

/** Accepts each sequence number once; numbers more than `size` behind the newest are refused. */
export class SeqWindow {
  private highest = 0;
  /** Numbers at or below this are refused (set by reset). */
  private floor = 0;
  private readonly bits: Uint32Array;

  constructor(readonly size = 4096) {
    if (size % 32 !== 0) throw new RangeError('window size must be a multiple of 32');
    this.bits = new Uint32Array(size / 32);
  }

  /** Forgets everything below `base`: the next accepted number must exceed it. */
  reset(base: number): void {
    this.highest = base;
    this.floor = base;
    this.bits.fill(0);
  }

  get newest(): number {
    return this.highest;
  }

  /** True (and records it) if `seq` is new. */
  accept(seq: number): boolean {
    if (!Number.isSafeInteger(seq) || seq <= this.floor) return false;
    if (seq > this.highest) {
      const shift = seq - this.highest;
      if (shift >= this.size) this.bits.fill(0);
      else for (let s = this.highest + 1; s < seq; s++) this.clear(s);
      this.highest = seq;
      this.set(seq);
      return true;
    }
    if (this.highest - seq >= this.size) return false;
    if (this.get(seq)) return false;
    this.set(seq);
    return true;
  }

  private slot(seq: number): [number, number] {
    const i = seq % this.size;
    return [i >>> 5, 1 << (i & 31)];
  }
  private get(seq: number): boolean {
    const [w, m] = this.slot(seq);
    return (this.bits[w] & m) !== 0;
  }
  private set(seq: number): void {
    const [w, m] = this.slot(seq);
    this.bits[w] |= m;
  }
  private clear(seq: number): void {
    const [w, m] = this.slot(seq);
    this.bits[w] &= ~m;
  }
}
