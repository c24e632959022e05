/**
 * Interned strings: latin1() for texts that recur from message to message
 * (addresses, transport names, methods, media names). The same bytes give the
 * same string from a small direct-mapped table, so the hot path neither
 * builds a new string nor flattens one when the caller compares it. A slot
 * holds the last string hashed to it; a different string simply replaces it.
 * This shares strings, never results: the bytes are compared in full before a
 * stored string is returned.
 */
import * as byteSearchModule from './byte-search.js';
import * as caseModule from './case.js';
import * as latin1Module from './latin1.js';

// Local copies of the imports (see "Module bindings" in README.md).
const { wordView } = byteSearchModule;
const { lowerAscii } = caseModule;
const { latin1, flatLatin1, lowerLatin1 } = latin1Module;

const INTERN_SLOTS = 4096;
const INTERN_MAX_LENGTH = 64;
const interned: (string | undefined)[] = new Array<string | undefined>(INTERN_SLOTS).fill(undefined);
const internedLower: (string | undefined)[] = new Array<string | undefined>(INTERN_SLOTS).fill(undefined);

/** The bytes as a string (lowered as lowerLatin1 does when `lower`), from the table when they were seen before. */
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
 * The four bytes of w with ASCII "A"-"Z" lowered (as lowerLatin1 does, no
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
    const v = wordView(b);
    const base = b.byteOffset;
    const last = (end < b.length ? end : b.length) - 4;
    for (; i <= last; i += 4) h = Math.imul(h ^ v.getInt32(base + i, true), 0x9e3779b1);
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
  for (let i = start; i < end; i++) h = (Math.imul(h, 0x01000193) ^ lowerAscii(b[i])) | 0;
  const slot = (h ^ (h >>> 15)) & (INTERN_SLOTS - 1);
  const s = internedLower[slot];
  if (s !== undefined && s.length === n) {
    let k = 0;
    while (k < n && s.charCodeAt(k) === lowerAscii(b[start + k])) k++;
    if (k === n) return s;
  }
  const r = lowerLatin1(b, start, end);
  internedLower[slot] = r;
  return r;
}
