/**
 * Relay ports: pairs of an even RTP port and the odd RTCP port after it,
 * from a configured range. A pair is chosen at random among the free ones
 * (a predictable next port helps whoever sprays a relay with RTP, the RTP
 * Bleed attack), and a freed pair rests for a while before it is handed out
 * again, so late packets of an ended call cannot reach the next one; only
 * when no other pair is free does the one that has rested longest go back
 * into use early (a busy range is not exhausted by its own quarantine).
 *
 * Pure: time and randomness are passed in.
 */
import type { UniformSource } from '../../util/random.js';

export interface PortAllocatorOptions {
  /** Lowest port of the range (rounded up to even). */
  min: number;
  /** Highest port of the range (a pair needs both of its ports inside). */
  max: number;
  random: UniformSource;
  /** A freed pair is not handed out again for this long (ms). */
  quarantineMs?: number;
}

export class PortAllocator {
  readonly first: number;
  /** Number of pairs in the range. */
  readonly capacity: number;
  /** One bit per pair: in use, resting or unusable. */
  private readonly taken: Uint32Array;
  private free: number;
  /** Freed pairs waiting to be reusable, in freeing order: [pair index, time] flat. */
  private resting: number[] = [];
  private restingHead = 0;
  /** One bit per pair: resting (a second free of a resting pair must not queue it twice). */
  private readonly restingBits: Uint32Array;
  private readonly quarantineMs: number;
  /** Pairs that could not be bound (another program holds a port); never handed out again. */
  unusable = 0;

  constructor(private readonly o: PortAllocatorOptions) {
    const first = o.min % 2 === 0 ? o.min : o.min + 1;
    if (!(first >= 2 && o.max <= 65535 && first + 1 <= o.max)) throw new RangeError(`port range ${o.min}-${o.max} holds no even/odd pair`);
    this.first = first;
    this.capacity = Math.floor((o.max - first + 1) / 2);
    this.taken = new Uint32Array(Math.ceil(this.capacity / 32));
    this.restingBits = new Uint32Array(this.taken.length);
    this.free = this.capacity;
    this.quarantineMs = o.quarantineMs ?? 5000;
  }

  /** Pairs that can be handed out now. */
  get available(): number {
    return this.free;
  }

  /** Pairs in use (not counting resting or unusable ones). */
  get inUse(): number {
    return this.capacity - this.free - (this.resting.length - this.restingHead) / 2 - this.unusable;
  }

  /** The RTP (even) port of a free pair, or null when the range is exhausted. */
  allocate(now: number): number | null {
    this.release(now);
    if (this.free === 0) this.releaseOldest();
    if (this.free === 0) return null;
    // Start at a random pair and take the next free one, wrapping around.
    const start = Math.min(this.capacity - 1, Math.floor(this.o.random() * this.capacity));
    const pair = this.nextFree(start);
    if (pair < 0) return null;
    this.taken[pair >>> 5] |= 1 << (pair & 31);
    this.free--;
    return this.first + pair * 2;
  }

  /** Gives a pair back (its RTP port); it becomes available after the quarantine. */
  freePair(rtpPort: number, now: number): void {
    const pair = this.pairOf(rtpPort);
    if (pair < 0 || (this.taken[pair >>> 5] & (1 << (pair & 31))) === 0) return;
    if ((this.restingBits[pair >>> 5] & (1 << (pair & 31))) !== 0) return;
    if (this.quarantineMs <= 0) {
      this.taken[pair >>> 5] &= ~(1 << (pair & 31));
      this.free++;
      return;
    }
    this.restingBits[pair >>> 5] |= 1 << (pair & 31);
    this.resting.push(pair, now);
  }

  /** Marks a handed-out pair as unusable (a port could not be bound): it is never handed out again. */
  markUnusable(rtpPort: number): void {
    const pair = this.pairOf(rtpPort);
    if (pair < 0 || (this.taken[pair >>> 5] & (1 << (pair & 31))) === 0) return;
    this.unusable++;
  }

  /** True when the pair holding this port is handed out (or resting). */
  isTaken(port: number): boolean {
    const pair = this.pairOf(port - (port % 2));
    return pair >= 0 && (this.taken[pair >>> 5] & (1 << (pair & 31))) !== 0;
  }

  private pairOf(rtpPort: number): number {
    const d = rtpPort - this.first;
    if (d < 0 || d % 2 !== 0) return -1;
    const pair = d / 2;
    return pair < this.capacity ? pair : -1;
  }

  /** Resting pairs whose quarantine is over become free. */
  private release(now: number): void {
    const r = this.resting;
    while (this.restingHead < r.length && now - r[this.restingHead + 1] >= this.quarantineMs) {
      this.unrest(r[this.restingHead]);
      this.restingHead += 2;
    }
    if (this.restingHead > 1024 && this.restingHead * 2 > r.length) {
      this.resting = r.slice(this.restingHead);
      this.restingHead = 0;
    }
  }

  /** The pair that has rested longest becomes free now. */
  private releaseOldest(): void {
    if (this.restingHead >= this.resting.length) return;
    this.unrest(this.resting[this.restingHead]);
    this.restingHead += 2;
  }

  private unrest(pair: number): void {
    const bit = 1 << (pair & 31);
    this.taken[pair >>> 5] &= ~bit;
    this.restingBits[pair >>> 5] &= ~bit;
    this.free++;
  }

  /** The first free pair at or after `start`, wrapping; -1 if none. Skips whole words of taken pairs. */
  private nextFree(start: number): number {
    const words = this.taken.length;
    let w = start >>> 5;
    // The first word: only bits at or after start.
    let bits = ~this.taken[w] & (~0 << (start & 31));
    for (let n = 0; n <= words; n++) {
      while (bits !== 0) {
        const bit = 31 - Math.clz32(bits & -bits);
        const pair = w * 32 + bit;
        if (pair < this.capacity) return pair;
        bits &= bits - 1;
      }
      w = w + 1 === words ? 0 : w + 1;
      bits = ~this.taken[w];
    }
    return -1;
  }
}
