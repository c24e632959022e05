/**
 * A set of integers kept as sorted, disjoint, non-adjacent ranges: for asking
 * "which ports of this range are already claimed?" in time that depends on the
 * number of ranges, never on how many ports they span (a rule for 1-65535 is
 * one range, not 65535 entries).
 */
export class RangeSet {
  private readonly firsts: number[] = [];
  private readonly lasts: number[] = [];

  /** Index of the first range whose last member is >= value (ranges.length if none). */
  private search(value: number): number {
    let lo = 0;
    let hi = this.lasts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.lasts[mid] < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The smallest member in first..last, or undefined when they share none. */
  firstIn(first: number, last: number): number | undefined {
    const i = this.search(first);
    if (i === this.firsts.length || this.firsts[i] > last) return undefined;
    return Math.max(first, this.firsts[i]);
  }

  /** Adds first..last (inclusive), merging with the ranges it overlaps or touches. */
  add(first: number, last: number): void {
    if (first > last) return;
    const from = this.search(first - 1);
    let to = from;
    let lo = first;
    let hi = last;
    while (to < this.firsts.length && this.firsts[to] <= last + 1) {
      lo = Math.min(lo, this.firsts[to]);
      hi = Math.max(hi, this.lasts[to]);
      to++;
    }
    this.firsts.splice(from, to - from, lo);
    this.lasts.splice(from, to - from, hi);
  }

  /** The number of disjoint ranges held. */
  get ranges(): number {
    return this.firsts.length;
  }
}
