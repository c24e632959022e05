/**
 * The aligned-PER primitives (ITU-T X.691, ALIGNED variant) the generated
 * H.225.0/H.245 walkers are made of: a bit cursor over one message, every
 * read checked against the end of the enclosing encoding, lengths and counts
 * checked against what is left, a work budget for what the bytes cannot
 * bound (SEQUENCE OF elements that take no bits), and a depth limit for the
 * recursive types. Nothing here allocates.
 *
 * A read that cannot be satisfied throws PER_FAIL with `reason` set; the
 * walk's entry point (per-walk.ts) catches it, so it never leaves the codec.
 * Where X.691 leaves room for readings, the reader follows Erlang/OTP's ASN.1
 * runtime (the oracle of the tests) and the Linux kernel's decoder: a
 * variable-length string is octet-aligned even when empty.
 */
import { EV, MAX_EVENTS, PerEvents } from './per-events.js';

/** Thrown inside a walk on malformed input; caught at the walk's entry (never a stack trace: it is not an Error). */
export const PER_FAIL: { readonly perFail: true } = Object.freeze({ perFail: true });

/** Deepest nesting of recursive types (GenericData inside GenericData, DataType inside DataType). */
const MAX_DEPTH = 48;

const { ADDRESS, NEST, OID_H460 } = EV;

export type WalkFn = (r: PerReader, f: number) => void;

export class PerReader {
  buf: Uint8Array = new Uint8Array(0);
  /** Bit position. */
  pos = 0;
  /** Bit position where the enclosing encoding ends. */
  end = 0;
  readonly ev = new PerEvents();
  /** Context flags (CTX) of the components being walked. */
  ctx = 0;
  depth = 0;
  /** Elements and extension additions walked so far, and the most allowed. */
  work = 0;
  workLimit = 0;
  /** The NEST event enclosing what is being walked, or -1. */
  nest = -1;
  /** Nothing follows the message being walked in its encoding: a top-level alternative the ALG does not need may end the walk. */
  mayStop = false;
  reason = '';

  /** Starts a walk of buf[start, end) (byte offsets). */
  reset(buf: Uint8Array, start: number, end: number, mayStop: boolean): void {
    this.buf = buf;
    this.pos = start * 8;
    this.end = end * 8;
    this.ev.count = 0;
    this.ctx = 0;
    this.depth = 0;
    this.work = 0;
    // Generous for real messages (a few elements per byte at most), small enough to bound a hostile one.
    this.workLimit = (end - start) * 8 + 256;
    this.nest = -1;
    this.mayStop = mayStop;
    this.reason = '';
  }

  fail(reason: string): never {
    this.reason = reason;
    throw PER_FAIL;
  }

  private need(bits: number): void {
    if (this.pos + bits > this.end) this.fail(`truncated at bit ${this.pos} (need ${bits} bits, ${this.end - this.pos} left)`);
  }

  bit(): number {
    if (this.pos >= this.end) this.fail(`truncated at bit ${this.pos}`);
    const p = this.pos++;
    return (this.buf[p >>> 3] >>> (7 - (p & 7))) & 1;
  }

  /** The bit at an absolute position already read past (an extension bitmap). */
  bitAt(p: number): number {
    return (this.buf[p >>> 3] >>> (7 - (p & 7))) & 1;
  }

  /** n bits (0..30) as an unsigned number. */
  bits(n: number): number {
    if (n === 0) return 0;
    this.need(n);
    if (n <= 24) return this.window(n);
    let v = 0;
    let p = this.pos;
    const stop = p + n;
    const buf = this.buf;
    // Whole bytes when aligned, bit by bit at the edges.
    while (p < stop) {
      if ((p & 7) === 0 && stop - p >= 8) {
        v = v * 256 + buf[p >>> 3];
        p += 8;
      } else {
        v = v * 2 + ((buf[p >>> 3] >>> (7 - (p & 7))) & 1);
        p++;
      }
    }
    this.pos = stop;
    return v;
  }

  /**
   * n (1..24) bits read at once from the (at most 4) octets they lie in,
   * instead of a bit at a time: the walk reads most of a message this way.
   * Octets past the last one the bits touch are not read (they may lie
   * beyond the buffer).
   */
  private window(n: number): number {
    const p = this.pos;
    const buf = this.buf;
    const i = p >>> 3;
    const last = (p + n - 1) >>> 3;
    let w = buf[i] << 24;
    if (last > i) w |= buf[i + 1] << 16;
    if (last > i + 1) w |= buf[i + 2] << 8;
    if (last > i + 2) w |= buf[i + 3];
    this.pos = p + n;
    return (w >>> (32 - (p & 7) - n)) & ((1 << n) - 1);
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  align(): void {
    this.pos = (this.pos + 7) & ~7;
    if (this.pos > this.end) this.fail(`truncated at bit ${this.pos}`);
  }

  /** A constrained whole number with `range` values (X.691 10.5.7, aligned): the offset from the lower bound. */
  cint(range: number): number {
    if (range <= 1) return 0;
    if (range <= 255) return this.bits(bitsFor(range - 1));
    if (range === 256) {
      this.align();
      return this.bits(8);
    }
    if (range <= 65536) {
      this.align();
      return this.bits(16);
    }
    // The indefinite-length case: a length in octets, then the octets.
    const octets = this.bits(bitsFor(octetsFor(range - 1) - 1)) + 1;
    this.align();
    return this.octetsValue(octets);
  }

  /** A whole number in `octets` aligned octets. */
  private octetsValue(octets: number): number {
    this.need(octets * 8);
    let v = 0;
    const at = this.pos >>> 3;
    for (let i = 0; i < octets; i++) v = v * 256 + this.buf[at + i];
    this.pos += octets * 8;
    return v;
  }

  /** An unconstrained length determinant (X.691 10.9.3.5-7); fragmented lengths (16K and more) are refused. */
  len(): number {
    this.align();
    const first = this.bits(8);
    if (first < 0x80) return first;
    if (first < 0xc0) return ((first & 0x3f) << 8) | this.bits(8);
    return this.fail('fragmented length determinant');
  }

  /** A length with bounds: a constrained whole number below 64K, else a length determinant. */
  clen(lb: number, ub: number): number {
    return ub >= 0 && ub < 65536 ? lb + this.cint(ub - lb + 1) : this.len();
  }

  /** A normally small non-negative whole number (X.691 10.6). */
  nsnn(): number {
    if (this.bit() === 0) return this.bits(6);
    return this.uint();
  }

  /** A semi-constrained or unconstrained whole number: its value when it fits in 6 octets, else -1 (skipped). */
  uint(): number {
    const n = this.len();
    if (n === 0) this.fail('empty integer');
    if (n > 6) {
      this.skip(n * 8);
      return -1;
    }
    return this.octetsValue(n);
  }

  /** The number of extension additions a SEQUENCE announces (a normally small length, X.691 10.9.3.4). */
  extCount(): number {
    const n = this.bit() === 0 ? this.bits(6) + 1 : this.len();
    if (n === 0) this.fail('empty extension bitmap');
    this.spend(n);
    return n;
  }

  /** Reads an open type's length and returns where its octets end; the cursor is at their start. */
  openStart(): number {
    const n = this.len();
    const stop = this.pos + n * 8;
    if (stop > this.end) this.fail(`open type of ${n} octets runs past its encoding`);
    return stop;
  }

  /** Confines reads to [pos, stop); returns the previous end for unlimit(). */
  limit(stop: number): number {
    const old = this.end;
    this.end = stop;
    return old;
  }

  unlimit(old: number): void {
    this.end = old;
  }

  /** Counts elements and extension additions against the budget. */
  spend(n: number): void {
    this.work += n;
    if (this.work > this.workLimit) this.fail('too many elements for the message size');
  }

  /** A SEQUENCE OF / SET OF count (ub < 0: no upper bound). */
  count(lb: number, ub: number, ext: boolean): number {
    let n: number;
    if (ext && this.bit()) n = this.len();
    else if (lb === ub && ub < 65536) n = lb;
    else n = this.clen(lb, ub);
    this.spend(n);
    return n;
  }

  /** An OCTET STRING (X.691 16); ub < 0: no upper bound. */
  octetString(lb: number, ub: number, ext: boolean): void {
    let n: number;
    if (ext && this.bit()) n = this.len();
    else if (lb === ub && ub < 65536) {
      if (ub > 2) this.align();
      this.skip(ub * 8);
      return;
    } else n = this.clen(lb, ub);
    this.align();
    this.skip(n * 8);
  }

  /** A BIT STRING (X.691 15). */
  bitString(lb: number, ub: number, ext: boolean): void {
    let n: number;
    if (ext && this.bit()) n = this.len();
    else if (lb === ub && ub < 65536) {
      if (ub > 16) this.align();
      this.skip(ub);
      return;
    } else n = this.clen(lb, ub);
    this.align();
    this.skip(n);
  }

  /** A known-multiplier character string of `b` bits a character (X.691 30). */
  charString(lb: number, ub: number, ext: boolean, b: number): void {
    let n: number;
    if (ext && this.bit()) {
      n = this.len();
      this.align();
      this.skip(n * b);
      return;
    }
    if (lb === ub && ub < 65536) {
      if (ub * b > 16) this.align();
      this.skip(ub * b);
      return;
    }
    n = this.clen(lb, ub);
    if (ub < 0 || ub * b > 16) this.align();
    this.skip(n * b);
  }

  /** A length in octets and the octets: OBJECT IDENTIFIER, open types, GeneralString. */
  lenOctets(): void {
    const n = this.len();
    this.skip(n * 8);
  }

  /** An OBJECT IDENTIFIER: a length and its octets, at least one (two arcs). */
  oid(): void {
    const n = this.len();
    if (n === 0) this.fail('empty object identifier');
    this.skip(n * 8);
  }

  /** Records an event with a value. */
  ev1(kind: number, f: number, a: number): void {
    const e = this.ev;
    const i = e.count;
    if (i >= MAX_EVENTS) this.fail('too many events');
    e.kind[i] = kind;
    e.field[i] = f;
    e.ctx[i] = this.ctx;
    e.offset[i] = this.pos >>> 3;
    e.a[i] = a;
    e.b[i] = 0;
    e.nest[i] = this.nest;
    e.count = i + 1;
  }

  /**
   * The IPv4 alternative of a transport address: (an extension bit,) then 4
   * aligned octets of address and 2 of port. Recorded with the offset of the
   * address octets, which the ALG overwrites in place.
   */
  address(f: number, extensible: boolean): void {
    const ext = extensible ? this.bit() : 0;
    this.align();
    this.need(48);
    const at = this.pos >>> 3;
    const b = this.buf;
    const addr = ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
    const port = (b[at + 4] << 8) | b[at + 5];
    this.pos += 48;
    this.ev1(ADDRESS, f, addr);
    const e = this.ev;
    e.offset[e.count - 1] = at;
    e.b[e.count - 1] = port;
    if (ext) this.skipExtensions();
  }

  /** Extension additions nobody asked about: the bitmap, then each present one skipped by its length. */
  skipExtensions(): void {
    const n = this.extCount();
    const at = this.pos;
    this.skip(n);
    for (let i = 0; i < n; i++) if (this.bitAt(at + i)) this.pos = this.openStart();
  }

  /** The index of an extension alternative of a CHOICE, and its open type skipped. */
  skipChoiceExtension(): number {
    const i = this.nsnn();
    this.pos = this.openStart();
    return i;
  }

  /**
   * An OBJECT IDENTIFIER that may name an H.460 feature: {0 0 8 460 N ...}
   * (contents 00 08 83 4C N) is recorded as an event with N.
   */
  oid460(f: number): void {
    const n = this.len();
    if (n === 0) this.fail('empty object identifier');
    this.need(n * 8);
    const at = this.pos >>> 3;
    const b = this.buf;
    if (n >= 5 && b[at] === 0 && b[at + 1] === 8 && b[at + 2] === 0x83 && b[at + 3] === 0x4c && b[at + 4] < 0x80) this.ev1(OID_H460, f, b[at + 4]);
    this.pos += n * 8;
  }

  /** Enters a component that sets a context flag; returns the flags to restore. */
  enter(flag: number): number {
    const old = this.ctx;
    this.ctx = old | flag;
    return old;
  }

  /** One more level of a recursive type. */
  down(): void {
    if (++this.depth > MAX_DEPTH) this.fail('nested too deeply');
  }

  up(): void {
    this.depth--;
  }

  /**
   * An OCTET STRING that holds an encoding of its own (a fastStart
   * OpenLogicalChannel, a tunnelled H.245 message): walked with `fn` inside
   * its bounds. One that does not decode is recorded as such and its events
   * dropped; the outer message goes on after it.
   */
  nested(fn: WalkFn): void {
    const n = this.len();
    const start = this.pos;
    const stop = start + n * 8;
    if (stop > this.end) this.fail(`nested encoding of ${n} octets runs past its encoding`);
    this.spend(1);
    this.ev1(NEST, 0, 0);
    const mark = this.ev.count - 1;
    this.ev.b[mark] = n;
    const end = this.end;
    const ctx = this.ctx;
    const depth = this.depth;
    const nest = this.nest;
    const mayStop = this.mayStop;
    this.end = stop;
    this.nest = mark;
    this.mayStop = true;
    try {
      fn(this, 0);
    } catch (e) {
      if (e !== PER_FAIL) throw e;
      this.ev.count = mark + 1;
      this.ev.a[mark] = 1;
    }
    this.end = end;
    this.ctx = ctx;
    this.depth = depth;
    this.nest = nest;
    this.mayStop = mayStop;
    this.pos = stop;
  }
}

/** Bits to hold values 0..v. */
function bitsFor(v: number): number {
  if (v < 2 ** 32) return 32 - Math.clz32(v);
  let n = 0;
  while (v > 0) {
    n++;
    v = Math.floor(v / 2);
  }
  return n;
}

/** Octets to hold values 0..v (at least one). */
function octetsFor(v: number): number {
  let n = 1;
  while (v >= 256) {
    n++;
    v = Math.floor(v / 256);
  }
  return n;
}

