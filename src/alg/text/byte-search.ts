/**
 * Finding a byte, or the next line break, in a message: four bytes at a
 * time. A byte loop costs a load, a compare and a branch per byte; reading
 * four bytes as one int32 and testing them together with bit arithmetic (the
 * "has a byte less than n" trick) lets the long runs of ordinary text in
 * header values and SDP lines go by four at a time, and only the word that
 * holds a candidate is looked at byte by byte. The answers are exactly those
 * of a byte loop.
 */

const CR_BYTE = 0x0d;
const LF_BYTE = 0x0a;

/**
 * The DataView is made once per input array (the one most recently scanned
 * is remembered: a tokenizer scans the same array many times). It is a view,
 * not a copy, and never outlives its use: nothing read through it is kept.
 */
let viewedArray: Uint8Array | null = null;
let viewedLength = 0;
let view: DataView = new DataView(new ArrayBuffer(0));

/**
 * A DataView over exactly b's bytes (so its length is b.length), shared with
 * other word-at-a-time readers of the same array; a length-tracking array
 * that changed length gets a new one.
 */
export function wordView(b: Uint8Array): DataView {
  return viewOf(b);
}

/** wordView for this module's own loops (see "Module bindings" in README.md). */
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
