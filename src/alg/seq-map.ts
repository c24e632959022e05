/**
 * TCP sequence adjustment for one direction of a stream whose messages an ALG
 * rewrote to a different length. Each rewritten message is a region: its
 * original range and its new range. Positions map exactly outside regions and
 * are clamped inside them, so an ACK that falls inside a message that grew is
 * never turned into an ACK for data the sender has not sent.
 *
 * Sequence numbers are uint32 and wrap: every comparison is a signed 32-bit
 * difference. Only recent regions are kept (older ones are folded into a base
 * offset): nothing that old is still in flight.
 */

interface Region {
  origStart: number;
  origEnd: number;
  newStart: number;
  newEnd: number;
}

const MAX_REGIONS = 32;

const diff = (a: number, b: number) => (a - b) | 0;
const add = (a: number, b: number) => (a + b) >>> 0;

export class SeqMap {
  private readonly regions: Region[] = [];
  /** Offset (new - orig) before the first kept region. */
  private base = 0;

  /** True when no rewrite has changed a length (the map is the identity). */
  get identity(): boolean {
    return this.base === 0 && this.regions.length === 0;
  }

  /** The offset after everything recorded: new = orig + offset for data past the last region. */
  get offset(): number {
    const last = this.regions.at(-1);
    return last ? diff(last.newEnd, last.origEnd) : this.base;
  }

  /** Records that original bytes [origStart, origStart+origLen) became newLen bytes. */
  record(origStart: number, origLen: number, newLen: number): void {
    if (origLen === newLen) return;
    const newStart = add(origStart, this.offset);
    this.regions.push({ origStart, origEnd: add(origStart, origLen), newStart, newEnd: add(newStart, newLen) });
    if (this.regions.length > MAX_REGIONS) {
      const old = this.regions.shift()!;
      this.base = diff(old.newEnd, old.origEnd);
    }
  }

  toNew(seq: number): number {
    for (let i = this.regions.length - 1; i >= 0; i--) {
      const r = this.regions[i];
      if (diff(seq, r.origEnd) >= 0) return add(seq, diff(r.newEnd, r.origEnd));
      if (diff(seq, r.origStart) >= 0) return add(r.newStart, Math.min(diff(seq, r.origStart), diff(r.newEnd, r.newStart)));
    }
    return add(seq, this.base);
  }

  toOrig(seq: number): number {
    for (let i = this.regions.length - 1; i >= 0; i--) {
      const r = this.regions[i];
      if (diff(seq, r.newEnd) >= 0) return add(seq, -diff(r.newEnd, r.origEnd));
      if (diff(seq, r.newStart) >= 0) return add(r.origStart, Math.min(diff(seq, r.newStart), diff(r.origEnd, r.origStart)));
    }
    return add(seq, -this.base);
  }
}
