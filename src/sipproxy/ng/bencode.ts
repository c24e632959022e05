/**
 * Bencode (the BitTorrent encoding), as rtpengine's ng control protocol uses
 * it: integers `i42e`, byte strings `4:spam`, lists `l...e`, dictionaries
 * `d...e` with byte-string keys. Byte strings stay bytes (an SDP is not
 * necessarily UTF-8); `text()` reads one as a string when wanted.
 *
 * Decoding is bounded (depth, element count, integer size) and never throws:
 * a message from the network either decodes or gets a reason.
 */

export type BValue = number | Uint8Array | BValue[] | BDict;
/** A dictionary: keys as latin1 strings, in the order they came. */
export type BDict = Map<string, BValue>;

export interface DecodeLimits {
  /** Nesting of lists and dictionaries. */
  maxDepth: number;
  /** Values in the whole message. */
  maxElements: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = { maxDepth: 16, maxElements: 4096 };

/**
 * The decoder recurses once per level: whatever `maxDepth` a caller asks
 * for, nesting stops here, far below what the stack holds (a datagram of
 * 20,000 `l` once overflowed it under loose limits).
 */
export const MAX_DEPTH = 256;

export type DecodeResult = { ok: true; value: BValue; end: number } | { ok: false; reason: string };

class Decoder {
  i: number;
  elements = 0;
  constructor(
    readonly b: Uint8Array,
    start: number,
    readonly end: number,
    readonly limits: DecodeLimits,
  ) {
    this.i = start;
  }

  value(depth: number): BValue | string {
    if (++this.elements > this.limits.maxElements) return 'too many elements';
    if (this.i >= this.end) return 'truncated';
    const c = this.b[this.i];
    if (c === 0x69 /* i */) return this.integer();
    if (c >= 0x30 && c <= 0x39) return this.bytes();
    if (c === 0x6c /* l */ || c === 0x64 /* d */) {
      if (depth >= this.limits.maxDepth || depth >= MAX_DEPTH) return 'nested too deeply';
      this.i++;
      return c === 0x6c ? this.list(depth + 1) : this.dict(depth + 1);
    }
    return `unexpected byte 0x${c.toString(16).padStart(2, '0')} at ${this.i}`;
  }

  integer(): number | string {
    const b = this.b;
    let i = this.i + 1;
    const negative = i < this.end && b[i] === 0x2d;
    if (negative) i++;
    const digits = i;
    let v = 0;
    while (i < this.end && b[i] >= 0x30 && b[i] <= 0x39) {
      v = v * 10 + (b[i] - 0x30);
      i++;
    }
    const n = i - digits;
    if (n === 0 || i >= this.end || b[i] !== 0x65 /* e */) return 'malformed integer';
    // i-0e and leading zeros are not canonical bencode: refused, as other decoders do.
    if ((n > 1 && b[digits] === 0x30) || (negative && v === 0)) return 'malformed integer';
    if (!Number.isSafeInteger(v)) return 'integer too large';
    this.i = i + 1;
    return negative ? -v : v;
  }

  bytes(): Uint8Array | string {
    const b = this.b;
    let i = this.i;
    let len = 0;
    const digits = i;
    while (i < this.end && b[i] >= 0x30 && b[i] <= 0x39) {
      len = len * 10 + (b[i] - 0x30);
      if (len > this.end) return 'string longer than the message';
      i++;
    }
    // A length has at least one digit: `:x` is not the empty string `0:` (a key of no digits once slipped through).
    if (i === digits || i >= this.end || b[i] !== 0x3a /* : */) return 'malformed string length';
    if (i - digits > 1 && b[digits] === 0x30) return 'malformed string length';
    i++;
    if (i + len > this.end) return 'string longer than the message';
    this.i = i + len;
    return b.subarray(i, i + len);
  }

  list(depth: number): BValue[] | string {
    const out: BValue[] = [];
    for (;;) {
      if (this.i >= this.end) return 'unterminated list';
      if (this.b[this.i] === 0x65) {
        this.i++;
        return out;
      }
      const v = this.value(depth);
      if (typeof v === 'string') return v;
      out.push(v);
    }
  }

  dict(depth: number): BDict | string {
    const out: BDict = new Map();
    for (;;) {
      if (this.i >= this.end) return 'unterminated dictionary';
      if (this.b[this.i] === 0x65) {
        this.i++;
        return out;
      }
      if (++this.elements > this.limits.maxElements) return 'too many elements';
      const k = this.bytes();
      if (typeof k === 'string') return `dictionary key: ${k}`;
      const v = this.value(depth);
      if (typeof v === 'string') return v;
      // A repeated key: the first one stands (a later one cannot override what was checked).
      const key = latin1Of(k);
      if (!out.has(key)) out.set(key, v);
    }
  }
}

function latin1Of(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

/** Decodes one value at b[start, end). `end` in the result is where it stopped (trailing bytes are the caller's call). */
export function bdecode(b: Uint8Array, start = 0, end = b.length, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): DecodeResult {
  if (start < 0 || end > b.length || start > end) return { ok: false, reason: 'bad range' };
  const d = new Decoder(b, start, end, limits);
  const v = d.value(0);
  if (typeof v === 'string') return { ok: false, reason: v };
  return { ok: true, value: v, end: d.i };
}

/** What bencode() accepts: strings are written as UTF-8, booleans as 0/1, undefined entries are left out. */
export type BInput = number | boolean | string | Uint8Array | readonly BInput[] | { readonly [key: string]: BInput | undefined } | BDict;

const encoder = new TextEncoder();

/** Encodes a value; dictionary keys are written sorted by their bytes, as bencode requires. */
export function bencode(v: BInput): Uint8Array {
  const parts: Uint8Array[] = [];
  encodeInto(v, parts, 0);
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function ascii(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function encodeInto(v: BInput, parts: Uint8Array[], depth: number): void {
  if (depth > 64) throw new RangeError('bencode: nested too deeply');
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new RangeError(`bencode: ${v} is not an integer`);
    parts.push(ascii(`i${v}e`));
  } else if (typeof v === 'boolean') {
    parts.push(ascii(v ? 'i1e' : 'i0e'));
  } else if (typeof v === 'string') {
    const bytes = encoder.encode(v);
    parts.push(ascii(`${bytes.length}:`), bytes);
  } else if (v instanceof Uint8Array) {
    parts.push(ascii(`${v.length}:`), v);
  } else if (Array.isArray(v)) {
    parts.push(ascii('l'));
    for (const x of v as readonly BInput[]) encodeInto(x, parts, depth + 1);
    parts.push(ascii('e'));
  } else {
    const entries: Array<[Uint8Array, BInput]> = [];
    // A decoded dictionary's keys are its bytes read as latin1 (BDict): written back as those bytes, not as
    // UTF-8, so that what decodes re-encodes to the same keys. A plain object's keys are text, written as UTF-8.
    if (v instanceof Map) for (const [k, x] of v) entries.push([latin1Bytes(k), x]);
    else for (const [k, x] of Object.entries(v as Record<string, BInput | undefined>)) if (x !== undefined) entries.push([encoder.encode(k), x]);
    entries.sort((a, b) => compareBytes(a[0], b[0]));
    parts.push(ascii('d'));
    for (const [k, x] of entries) {
      parts.push(ascii(`${k.length}:`), k);
      encodeInto(x, parts, depth + 1);
    }
    parts.push(ascii('e'));
  }
}

function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new RangeError('bencode: a dictionary (Map) key is not latin1');
    out[i] = c;
  }
  return out;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

const decoder = new TextDecoder('utf-8', { fatal: false });

/** A byte string as text (UTF-8), or undefined when the value is not a byte string. */
export function text(v: BValue | undefined): string | undefined {
  return v instanceof Uint8Array ? decoder.decode(v) : undefined;
}

/** A dictionary value, or undefined. */
export function dict(v: BValue | undefined): BDict | undefined {
  return v instanceof Map ? v : undefined;
}

/** A list of byte strings as texts (other members skipped), or [] when absent. */
export function textList(v: BValue | undefined): string[] {
  if (!Array.isArray(v)) return [];
  const out: string[] = [];
  for (const x of v) {
    const t = text(x);
    if (t !== undefined) out.push(t);
  }
  return out;
}
