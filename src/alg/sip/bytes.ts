/**
 * Byte-level helpers shared by the SIP and SDP codecs. Everything works on a
 * Uint8Array and half-open offsets [start, end); nothing here copies the input
 * except the functions that explicitly return a string.
 */

/** A half-open byte range [start, end) into the message buffer. */
export interface Span {
  start: number;
  end: number;
}

/**
 * Module bindings. An imported binding, and an exported one even inside its
 * own module, is read from its module cell at every use, even in optimized
 * code; a module-local const is folded into the code. On a byte loop testing
 * three constants the difference measured 1.5 times, and a call to an
 * imported function about 1.2 times a call to a local copy. So each codec
 * module copies what it imports into local consts (`const { CR, isLws } =
 * bytesModule;`), and this module's own loops use the private names below.
 */
const CR_BYTE = 0x0d;
const LF_BYTE = 0x0a;
const SP_BYTE = 0x20;
const HT_BYTE = 0x09;

export const CR = CR_BYTE;
export const LF = LF_BYTE;
export const SP = SP_BYTE;
export const HT = HT_BYTE;
export const COLON = 0x3a;
export const SEMI = 0x3b;
export const COMMA = 0x2c;
export const SLASH = 0x2f;
export const EQUAL = 0x3d;
export const DQUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const LAQUOT = 0x3c;
export const RAQUOT = 0x3e;
export const AT = 0x40;
export const QUESTION = 0x3f;
export const LBRACKET = 0x5b;
export const RBRACKET = 0x5d;
export const DOT = 0x2e;
export const STAR = 0x2a;

/** RFC 3261 token characters: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~". */
const TOKEN = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;
for (const ch of "-.!%*_+`'~") TOKEN[ch.charCodeAt(0)] = 1;

export function isTokenChar(c: number): boolean {
  return TOKEN[c] === 1;
}

export function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

export function isHexDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

export function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

export function isWsp(c: number): boolean {
  return c === SP_BYTE || c === HT_BYTE;
}

/**
 * Whitespace inside a header value. The tokenizer guarantees that every CR LF
 * inside a value span is a fold (followed by SP or HT), so treating CR and LF as
 * plain whitespace here is exactly RFC 3261 LWS without re-checking the fold.
 */
export function isLws(c: number): boolean {
  return LWS[c] === 1;
}

const LWS = new Uint8Array(256);
LWS[SP] = LWS[HT] = LWS[CR] = LWS[LF] = 1;

/** alphanum / "-" / "." : the characters of a hostname or an IPv4 address. */
export const HOST_CHAR = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) HOST_CHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) HOST_CHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) HOST_CHAR[c] = 1;
HOST_CHAR[0x2d] = HOST_CHAR[0x2e] = 1;

export function lowerAscii(c: number): number {
  return asciiLower(c);
}

/** lowerAscii for this module's own loops (see Module bindings). */
function asciiLower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

/** Skips LWS forward from i, never past end. */
export function skipLws(b: Uint8Array, i: number, end: number): number {
  while (i < end && LWS[b[i]] === 1) i++;
  return i;
}

/** Moves end backwards over LWS, never before start. */
export function trimLwsEnd(b: Uint8Array, start: number, end: number): number {
  while (end > start && LWS[b[end - 1]] === 1) end--;
  return end;
}

/** Index of the first byte c in [i, end), or -1. */
export function indexOf(b: Uint8Array, c: number, i: number, end: number): number {
  for (; i < end; i++) if (b[i] === c) return i;
  return -1;
}

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
function flatLatin1(b: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 0) return '';
  if (n > SCRATCH_MAX) return latin1(b, start, end);
  const a = scratchOf(n);
  for (let i = 0; i < n; i++) a[i] = b[start + i];
  return String.fromCharCode.apply(null, a);
}

export function lowerLatin1(b: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 0) return '';
  if (n > SCRATCH_MAX) return latin1(b, start, end).replace(/[A-Z]+/g, (x) => x.toLowerCase());
  const a = scratchOf(n);
  for (let i = 0; i < n; i++) a[i] = asciiLower(b[start + i]);
  return String.fromCharCode.apply(null, a);
}

/** ASCII text to bytes; callers only pass ASCII (addresses, numbers, names). */
export function asciiBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** Case-insensitive comparison of a span with a lowercase ASCII literal. */
export function spanEqualsLower(b: Uint8Array, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    if (asciiLower(b[start + i]) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Unsigned decimal in [start, end), digits only, value at most max; -1 when the
 * span is empty, has a non-digit, or overflows max. Leading zeros are allowed
 * (RFC 4475 wsinv: "0009").
 */
export function parseUint(b: Uint8Array, start: number, end: number, max: number): number {
  if (start >= end) return -1;
  let v = 0;
  for (let i = start; i < end; i++) {
    const c = b[i];
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + (c - 0x30);
    if (v > max) return -1;
  }
  return v;
}

/** Every byte of the span is a token character (and the span is not empty). */
export function isToken(b: Uint8Array, start: number, end: number): boolean {
  if (start >= end) return false;
  for (let i = start; i < end; i++) if (TOKEN[b[i]] !== 1) return false;
  return true;
}

/**
 * latin1() for strings that recur (addresses, transport names, methods): the
 * same bytes give the same string from a small direct-mapped table, so the hot
 * path neither builds a new string nor flattens one when the context compares
 * it. A slot holds the last string hashed to it; a different string simply
 * replaces it. This shares strings, never results: the bytes are compared in
 * full before a stored string is returned.
 */
const INTERN_SLOTS = 4096;
const INTERN_MAX_LENGTH = 64;
const interned: (string | undefined)[] = new Array<string | undefined>(INTERN_SLOTS).fill(undefined);
const internedLower: (string | undefined)[] = new Array<string | undefined>(INTERN_SLOTS).fill(undefined);

export function internLatin1(b: Uint8Array, start: number, end: number, lower = false): string {
  const n = end - start;
  if (n > 0 && n <= SHORT_MAX) return internShort(b, start, n, lower);
  return lower ? internLower(b, start, end) : internExact(b, start, end);
}

/**
 * Short strings (methods, transports, media names, protos, most addresses)
 * have their own table keyed by the bytes themselves: up to 16 bytes packed
 * into four int32 words, which are the hash input and, stored per slot, the
 * check that the slot holds these bytes (four integer compares instead of a
 * character-by-character compare against the stored string).
 */
const SHORT_MAX = 16;
/** Per slot: length + 1 (0: empty), then the four packed words. */
const KEY_INTS = 5;
const shortKeys = [new Int32Array(INTERN_SLOTS * KEY_INTS), new Int32Array(INTERN_SLOTS * KEY_INTS)];
const shortStrings: string[][] = [new Array<string>(INTERN_SLOTS).fill(''), new Array<string>(INTERN_SLOTS).fill('')];
/** Up to four bytes from b[i] (m of them available) as one little-endian word; missing bytes are 0. */
function packWord(b: Uint8Array, i: number, m: number): number {
  if (m >= 4) return b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
  if (m === 3) return b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);
  if (m === 2) return b[i] | (b[i + 1] << 8);
  return b[i];
}

/**
 * The four bytes of w with ASCII "A"-"Z" lowered (as asciiLower does, no
 * other byte changed), all at once: bit 7 of each byte of the two sums says
 * whether its low seven bits are >= "A" and > "Z"; a byte that is ASCII (bit 7
 * clear in w) and between them gets 0x20 added.
 */
function lowerWord(w: number): number {
  const low7 = w & 0x7f7f7f7f;
  const atLeastA = low7 + 0x3f3f3f3f;
  const aboveZ = low7 + 0x25252525;
  const upper = ~w & (atLeastA ^ aboveZ) & 0x80808080;
  return w | (upper >>> 2);
}

function internShort(b: Uint8Array, start: number, n: number, lower: boolean): string {
  let w0 = packWord(b, start, n);
  let w1 = n > 4 ? packWord(b, start + 4, n - 4) : 0;
  let w2 = n > 8 ? packWord(b, start + 8, n - 8) : 0;
  let w3 = n > 12 ? packWord(b, start + 12, n - 12) : 0;
  if (lower) {
    w0 = lowerWord(w0);
    w1 = lowerWord(w1);
    w2 = lowerWord(w2);
    w3 = lowerWord(w3);
  }
  let h = Math.imul(w0 ^ n, 0x9e3779b1);
  h = Math.imul(h ^ w1, 0x85ebca6b);
  h = Math.imul(h ^ w2, 0xc2b2ae35);
  h = Math.imul(h ^ w3, 0x27d4eb2f);
  const slot = (h ^ (h >>> 15)) & (INTERN_SLOTS - 1);
  const keys = shortKeys[lower ? 1 : 0];
  const strings = shortStrings[lower ? 1 : 0];
  const o = slot * KEY_INTS;
  if (keys[o] === n + 1 && keys[o + 1] === w0 && keys[o + 2] === w1 && keys[o + 3] === w2 && keys[o + 4] === w3) return strings[slot];
  const r = lower ? lowerLatin1(b, start, start + n) : flatLatin1(b, start, start + n);
  keys[o] = n + 1;
  keys[o + 1] = w0;
  keys[o + 2] = w1;
  keys[o + 3] = w2;
  keys[o + 4] = w3;
  strings[slot] = r;
  return r;
}

/** A hash of b[start, end) taken four bytes at a time (the tail byte by byte). */
function hashBytes(b: Uint8Array, start: number, end: number): number {
  let h = end - start;
  let i = start;
  if (i >= 0) {
    const v = viewOf(b);
    const last = (end < viewedLength ? end : viewedLength) - 4;
    for (; i <= last; i += 4) h = Math.imul(h ^ v.getInt32(i, true), 0x9e3779b1);
  }
  for (; i < end; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return h ^ (h >>> 15);
}

function internExact(b: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 0) return '';
  if (n > INTERN_MAX_LENGTH) return latin1(b, start, end);
  const slot = hashBytes(b, start, end) & (INTERN_SLOTS - 1);
  const s = interned[slot];
  if (s !== undefined && s.length === n) {
    let k = 0;
    while (k < n && s.charCodeAt(k) === b[start + k]) k++;
    if (k === n) return s;
  }
  const r = flatLatin1(b, start, end);
  interned[slot] = r;
  return r;
}

function internLower(b: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 0) return '';
  if (n > INTERN_MAX_LENGTH) return lowerLatin1(b, start, end);
  let h = n;
  for (let i = start; i < end; i++) h = (Math.imul(h, 0x01000193) ^ asciiLower(b[i])) | 0;
  const slot = (h ^ (h >>> 15)) & (INTERN_SLOTS - 1);
  const s = internedLower[slot];
  if (s !== undefined && s.length === n) {
    let k = 0;
    while (k < n && s.charCodeAt(k) === asciiLower(b[start + k])) k++;
    if (k === n) return s;
  }
  const r = lowerLatin1(b, start, end);
  internedLower[slot] = r;
  return r;
}

/**
 * Word-at-a-time scanning. A byte loop costs a load, a compare and a branch
 * per byte; reading four bytes as one int32 and testing them together with
 * bit arithmetic (the "has a byte less than n" trick) lets the long runs of
 * ordinary text in header values and SDP lines go by four at a time, and
 * only the word that holds a candidate is looked at byte by byte.
 *
 * The DataView is made once per input array (the one most recently scanned
 * is remembered: a tokenizer scans the same array many times). It is a view,
 * not a copy, and never outlives its use: nothing read through it is kept.
 */
let viewedArray: Uint8Array | null = null;
let viewedLength = 0;
let view: DataView = new DataView(new ArrayBuffer(0));

/** A DataView over exactly b's bytes (a length-tracking array that changed length gets a new one). */
function viewOf(b: Uint8Array): DataView {
  if (b !== viewedArray || b.length !== viewedLength) {
    view = new DataView(b.buffer, b.byteOffset, b.length);
    viewedArray = b;
    viewedLength = b.length;
  }
  return view;
}

/** Runs shorter than this are scanned byte by byte: setting up the words costs more than it saves. */
const WORD_SCAN_MIN = 12;

/**
 * Index of the first CR or LF in [i, end), or end. Words with no byte below
 * 0x0e are skipped whole (CR is 0x0d, LF 0x0a); a word with one (CR, LF, or
 * another control such as HT) is examined byte by byte.
 */
export function findLineBreak(b: Uint8Array, i: number, end: number): number {
  if (end - i >= WORD_SCAN_MIN && i >= 0) {
    const v = viewOf(b);
    const last = (end < viewedLength ? end : viewedLength) - 4;
    for (;;) {
      while (i <= last) {
        const w = v.getInt32(i, true);
        if ((((w - 0x0e0e0e0e) | 0) & ~w & 0x80808080) !== 0) break;
        i += 4;
      }
      const stop = i + 4 < end ? i + 4 : end;
      for (; i < stop; i++) {
        const c = b[i];
        if (c === CR_BYTE || c === LF_BYTE) return i;
      }
      if (i >= end) return end;
      if (i > last) break;
    }
  }
  for (; i < end; i++) {
    const c = b[i];
    if (c === CR_BYTE || c === LF_BYTE) return i;
  }
  return end;
}

/**
 * Index of the first byte equal to c in [i, end), or -1: words are tested for
 * a zero byte after XOR with c repeated (the "has a zero byte" trick).
 */
export function findByte(b: Uint8Array, c: number, i: number, end: number): number {
  if (end - i >= WORD_SCAN_MIN && i >= 0) {
    const v = viewOf(b);
    const last = (end < viewedLength ? end : viewedLength) - 4;
    const pattern = Math.imul(c, 0x01010101);
    while (i <= last) {
      const w = v.getInt32(i, true) ^ pattern;
      if ((((w - 0x01010101) | 0) & ~w & 0x80808080) !== 0) break;
      i += 4;
    }
  }
  for (; i < end; i++) if (b[i] === c) return i;
  return -1;
}
