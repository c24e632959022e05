/**
 * Bytes to strings and back, one char per byte (latin1), for the few fields a
 * codec must hand out as text (addresses, identifiers, names). Built for
 * speed: short strings in one fixed-arity fromCharCode call, the others in
 * pieces of eight or through reused scratch arrays.
 */

/**
 * Scratch arrays for flatLatin1() and lowerLatin1(), one per length so none
 * is ever resized (setting an array's length is a slow builtin):
 * fromCharCode.apply on a plain array is the fastest way to a flat string.
 */
const SCRATCH_MAX = 256;
const scratchByLength: number[][] = [];
function scratchOf(n: number): number[] {
  let a = scratchByLength[n];
  if (a === undefined) scratchByLength[n] = a = new Array<number>(n).fill(0);
  return a;
}

const fromCharCode = String.fromCharCode;

/** The n (0..8) bytes at b[i] as a string, in one fromCharCode call with that many arguments. */
function chars(b: Uint8Array, i: number, n: number): string {
  switch (n) {
    case 0:
      return '';
    case 1:
      return fromCharCode(b[i]);
    case 2:
      return fromCharCode(b[i], b[i + 1]);
    case 3:
      return fromCharCode(b[i], b[i + 1], b[i + 2]);
    case 4:
      return fromCharCode(b[i], b[i + 1], b[i + 2], b[i + 3]);
    case 5:
      return fromCharCode(b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4]);
    case 6:
      return fromCharCode(b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5]);
    case 7:
      return fromCharCode(b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6]);
    default:
      return fromCharCode(b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7]);
  }
}

/**
 * Bytes as a string, one char per byte (latin1), in pieces of eight made by
 * fixed-arity fromCharCode calls: cheaper than spreading an array into
 * fromCharCode.apply. Up to 12 characters the result is flat; a longer one
 * is a concatenation that V8 flattens, once, on its first hash or compare.
 */
export function latin1(b: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 8) return n <= 0 ? '' : chars(b, start, n);
  let s = chars(b, start, 8);
  let i = start + 8;
  for (; i + 8 <= end; i += 8) s += chars(b, i, 8);
  return i < end ? s + chars(b, i, end - i) : s;
}

/**
 * latin1() built flat in one call (fromCharCode.apply on a scratch array):
 * for strings that are kept and compared over and over (the interned ones),
 * where a concatenation would be walked, or flattened, on every compare.
 */
export function flatLatin1(b: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 0) return '';
  if (n > SCRATCH_MAX) return latin1(b, start, end);
  const a = scratchOf(n);
  for (let i = 0; i < n; i++) a[i] = b[start + i];
  return String.fromCharCode.apply(null, a);
}

/** latin1() with ASCII "A"-"Z" lowered (no other byte changed): for names compared case-insensitively. */
export function lowerLatin1(b: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 0) return '';
  if (n > SCRATCH_MAX) return latin1(b, start, end).replace(/[A-Z]+/g, (x) => x.toLowerCase());
  const a = scratchOf(n);
  for (let i = 0; i < n; i++) {
    const c = b[start + i];
    a[i] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
  }
  return String.fromCharCode.apply(null, a);
}

/** ASCII text to bytes; callers only pass ASCII (addresses, numbers, names). */
export function asciiBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}
