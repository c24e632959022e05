/**
 * Byte-level mutations of corpus inputs, in the manner of AFL's "havoc" stage:
 * bit flips, byte and word sets to boundary values, inserts and deletes,
 * splices of two corpus items, edits of what looks like a length field, tokens
 * from the target's dictionary, and for text protocols line and number edits.
 * Every choice comes from the Rng, so a mutation repeats from its seed.
 */
import type { Rng } from './rng.js';

export interface MutationOptions {
  /** Tokens worth inserting (header names, magic numbers, attribute types). */
  readonly dictionary?: readonly Uint8Array[];
  /** Text protocol: also edit lines and decimal numbers. */
  readonly text?: boolean;
  /** Inputs never grow past this. */
  readonly maxLength: number;
}

const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff, 0x10, 0x20, 0x40, 0x0d, 0x0a, 0x3a, 0x20];
const INTERESTING_16 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x3ff, 0x400, 0x7fff, 0x8000, 0xfffe, 0xffff, 20, 40, 64, 1500];
const INTERESTING_32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 0x10000, 0xffff];
const NUMBERS = ['0', '1', '-1', '00000', '1023', '1024', '65535', '65536', '4294967295', '4294967296', '99999999999999999999', '1e3', '0x10', ' 1', '1 '];

type Op = (b: number[], corpus: readonly Uint8Array[], rng: Rng, o: MutationOptions) => void;

function put16(b: number[], at: number, v: number, little: boolean): void {
  b[at] = little ? v & 0xff : (v >> 8) & 0xff;
  b[at + 1] = little ? (v >> 8) & 0xff : v & 0xff;
}

function put32(b: number[], at: number, v: number, little: boolean): void {
  for (let i = 0; i < 4; i++) b[at + i] = (v >>> (little ? 8 * i : 24 - 8 * i)) & 0xff;
}

function read16(b: number[], at: number, little: boolean): number {
  return little ? b[at] | (b[at + 1] << 8) : (b[at] << 8) | b[at + 1];
}

/** The bytes as a plain array: a loop, several times faster than Array.from on a typed array (its iterator). */
function toArray(u: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < u.length; i++) out.push(u[i]);
  return out;
}

function chunkLength(rng: Rng, max: number): number {
  return 1 + rng.skewed(Math.max(0, max - 1));
}

const flipBit: Op = (b, _c, rng) => {
  if (b.length === 0) return;
  const i = rng.below(b.length);
  b[i] ^= 1 << rng.below(8);
};

const setByte: Op = (b, _c, rng) => {
  if (b.length === 0) return;
  b[rng.below(b.length)] = rng.chance(0.5) ? rng.pick(INTERESTING_8) : rng.below(256);
};

const addByte: Op = (b, _c, rng) => {
  if (b.length === 0) return;
  const i = rng.below(b.length);
  b[i] = (b[i] + (rng.chance(0.5) ? 1 : -1) * rng.between(1, 35)) & 0xff;
};

const setWord: Op = (b, _c, rng) => {
  if (rng.chance(0.5)) {
    if (b.length < 2) return;
    put16(b, rng.below(b.length - 1), rng.pick(INTERESTING_16), rng.chance(0.3));
  } else {
    if (b.length < 4) return;
    put32(b, rng.below(b.length - 3), rng.pick(INTERESTING_32), rng.chance(0.3));
  }
};

/**
 * A 16-bit field whose value could be a length (no more than twice the input)
 * set to its neighbours, to what is left of the input, or to a boundary.
 */
const lengthField: Op = (b, _c, rng) => {
  if (b.length < 2) return;
  const little = rng.chance(0.25);
  let at = rng.below(b.length - 1);
  for (let tries = 0; tries < 16; tries++) {
    const p = rng.below(b.length - 1);
    const v = read16(b, p, little);
    if (v > 0 && v <= 2 * b.length) {
      at = p;
      break;
    }
  }
  const v = read16(b, at, little);
  const rest = b.length - at - 2;
  const choices = [v - 1, v + 1, v - 4, v + 4, 0, rest, rest + 1, rest - 1, v * 2, 0xffff, v ^ 0x8000];
  put16(b, at, rng.pick(choices) & 0xffff, little);
};

const insertBytes: Op = (b, _c, rng, o) => {
  const at = rng.below(b.length + 1);
  const n = chunkLength(rng, rng.chance(0.05) ? 2048 : 64);
  const kind = rng.below(3);
  const fill = rng.below(256);
  const src = b.length > 0 ? rng.below(b.length) : 0;
  const bytes: number[] = [];
  for (let i = 0; i < n; i++) bytes.push(kind === 0 ? rng.below(256) : kind === 1 || b.length === 0 ? fill : b[(src + i) % b.length]);
  b.splice(at, 0, ...bytes.slice(0, Math.max(0, o.maxLength - b.length)));
};

const deleteRange: Op = (b, _c, rng) => {
  if (b.length === 0) return;
  const at = rng.below(b.length);
  b.splice(at, chunkLength(rng, b.length - at));
};

const duplicateRange: Op = (b, _c, rng, o) => {
  if (b.length === 0) return;
  const at = rng.below(b.length);
  const n = chunkLength(rng, Math.min(b.length - at, 512));
  const copies = rng.chance(0.1) ? rng.between(2, 32) : 1;
  const chunk = b.slice(at, at + n);
  const bytes: number[] = [];
  for (let i = 0; i < copies; i++) bytes.push(...chunk);
  b.splice(at + n, 0, ...bytes.slice(0, Math.max(0, o.maxLength - b.length)));
};

const truncate: Op = (b, _c, rng) => {
  if (b.length > 0) b.length = rng.below(b.length);
};

/** The start of this input and the end of another (or another's middle inserted here). */
const splice: Op = (b, corpus, rng, o) => {
  if (corpus.length === 0) return;
  const other = rng.pick(corpus);
  if (other.length === 0) return;
  if (rng.chance(0.5)) {
    const cut = rng.below(b.length + 1);
    const from = rng.below(other.length);
    b.length = cut;
    for (let i = from; i < other.length && b.length < o.maxLength; i++) b.push(other[i]);
  } else {
    const from = rng.below(other.length);
    const n = chunkLength(rng, other.length - from);
    const at = rng.below(b.length + 1);
    b.splice(at, 0, ...toArray(other.subarray(from, from + Math.min(n, Math.max(0, o.maxLength - b.length)))));
  }
};

const dictionaryToken: Op = (b, _c, rng, o) => {
  if (!o.dictionary || o.dictionary.length === 0) return;
  const token = toArray(rng.pick(o.dictionary));
  const at = rng.below(b.length + 1);
  if (rng.chance(0.5) && at + token.length <= b.length) for (let i = 0; i < token.length; i++) b[at + i] = token[i];
  else b.splice(at, 0, ...token.slice(0, Math.max(0, o.maxLength - b.length)));
};

function lineStarts(b: number[]): number[] {
  const starts = [0];
  for (let i = 0; i < b.length; i++) if (b[i] === 0x0a && i + 1 < b.length) starts.push(i + 1);
  return starts;
}

function lineAt(b: number[], starts: number[], i: number): [number, number] {
  return [starts[i], i + 1 < starts.length ? starts[i + 1] : b.length];
}

/** Duplicate, delete or move a whole line; or end one with a bare LF or CR. */
const lineEdit: Op = (b, _c, rng, o) => {
  const starts = lineStarts(b);
  const [s, e] = lineAt(b, starts, rng.below(starts.length));
  const line = b.slice(s, e);
  switch (rng.below(4)) {
    case 0:
      if (b.length + line.length <= o.maxLength) b.splice(e, 0, ...line);
      break;
    case 1:
      b.splice(s, e - s);
      break;
    case 2: {
      b.splice(s, e - s);
      const to = lineStarts(b);
      b.splice(to[rng.below(to.length)], 0, ...line);
      break;
    }
    default: {
      const cr = line.indexOf(0x0d);
      if (cr >= 0) b.splice(s + cr, 1);
      else b.splice(e, 0, rng.chance(0.5) ? 0x0d : 0x0a);
    }
  }
};

/** A run of decimal digits replaced by a boundary number. */
const numberEdit: Op = (b, _c, rng) => {
  const start = rng.below(b.length + 1);
  let i = start;
  while (i < b.length && !(b[i] >= 0x30 && b[i] <= 0x39)) i++;
  if (i >= b.length) i = start;
  let j = i;
  while (j < b.length && b[j] >= 0x30 && b[j] <= 0x39) j++;
  const text = rng.pick(NUMBERS);
  b.splice(i, j - i, ...Array.from(text, (c) => c.charCodeAt(0)));
};

const BINARY_OPS: readonly Op[] = [flipBit, setByte, addByte, setWord, lengthField, insertBytes, deleteRange, duplicateRange, truncate, splice, dictionaryToken];
const TEXT_OPS: readonly Op[] = [...BINARY_OPS, lineEdit, lineEdit, numberEdit, numberEdit, dictionaryToken];

/** One to eight stacked mutations of `input` (the input itself is not changed). */
export function mutate(input: Uint8Array, corpus: readonly Uint8Array[], rng: Rng, o: MutationOptions): Uint8Array {
  const b = toArray(input.subarray(0, o.maxLength));
  const ops = o.text ? TEXT_OPS : BINARY_OPS;
  const n = 1 + rng.skewed(7);
  for (let i = 0; i < n; i++) rng.pick(ops)(b, corpus, rng, o);
  if (b.length > o.maxLength) b.length = o.maxLength;
  return Uint8Array.from(b);
}
