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
 * The DataView covers the whole ArrayBuffer under the input array and is made
 * once per buffer: the messages of a gateway are views into a few packet
 * buffers (each packet's payload a new subarray of one), and a DataView per
 * message cost more than the scans it served. It is a view, not a copy, and
 * nothing read through it is kept.
 */
let viewedBuffer: ArrayBufferLike | null = null;
let view: DataView = new DataView(new ArrayBuffer(0));

/**
 * A DataView over b's whole ArrayBuffer (b[i] is at byte b.byteOffset + i),
 * shared with other word-at-a-time readers. Readers must keep their words
 * inside b's own bytes (i + 4 <= b.length): the bytes around b are not theirs.
 */
export function wordView(b: Uint8Array): DataView {
  return viewOf(b);
}

/** wordView for this module's own loops (see "Module bindings" in README.md). */
function viewOf(b: Uint8Array): DataView {
  const buffer = b.buffer;
  // A buffer that grew (resizable) since its view was made gets a new one
  // (b.length first: a detached buffer's view throws on byteLength).
  if (buffer !== viewedBuffer || (b.length > 0 && view.byteLength < b.byteOffset + b.length)) {
    view = new DataView(buffer);
    viewedBuffer = buffer;
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
    const base = b.byteOffset;
    const last = (end < b.length ? end : b.length) - 4;
    for (;;) {
      while (i <= last) {
        const w = v.getInt32(base + i, true);
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
    const base = b.byteOffset;
    const last = (end < b.length ? end : b.length) - 4;
    const pattern = Math.imul(c, 0x01010101);
    while (i <= last) {
      const w = v.getInt32(base + i, true) ^ pattern;
      if ((((w - 0x01010101) | 0) & ~w & 0x80808080) !== 0) break;
      i += 4;
    }
  }
  for (; i < end; i++) if (b[i] === c) return i;
  return -1;
}
