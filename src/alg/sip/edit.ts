/**
 * Byte edits: the only way a rewriter changes a message. An edit replaces
 * bytes [start, end) of the original with `text`; start === end inserts. A
 * set of edits is applied in one copy, so everything no edit names stays
 * byte-for-byte (header order, case, compact forms, whitespace, unknown
 * headers, trailing datagram bytes). Edit texts are shared and read-only.
 */
import { asciiBytes } from './bytes.js';

export interface Edit {
  start: number;
  end: number;
  text: Uint8Array;
}

export type ApplyResult =
  | { ok: true; bytes: Uint8Array; /** New length minus old length. */ delta: number }
  | { ok: false; reason: string };

export function edit(start: number, end: number, text: string): Edit {
  return { start, end, text: editText(text) };
}

/**
 * The bytes of an ASCII edit text. Rewrites repeat the same few texts (public
 * addresses, ports), so short ones come from a bounded cache instead of a new
 * small typed array each time; edit texts are therefore read-only.
 */
const textCache = new Map<string, Uint8Array>();
export function editText(text: string): Uint8Array {
  if (text.length > 64) return asciiBytes(text);
  let t = textCache.get(text);
  if (t === undefined) {
    if (textCache.size >= 4096) textCache.clear();
    t = asciiBytes(text);
    textCache.set(text, t);
  }
  return t;
}

/** The decimal text of a port-sized number, from a table (ports recur); larger numbers are encoded each time. */
const numberTexts: (Uint8Array | undefined)[] = [];
export function numberText(n: number): Uint8Array {
  if (n >= 0 && n <= 0xffff && Number.isInteger(n)) return (numberTexts[n] ??= asciiBytes(String(n)));
  return asciiBytes(String(n));
}

/** Copies src[from, to) to out at dst: a loop for the short runs between edits, set() for long ones. */
function copy(out: Uint8Array, dst: number, src: Uint8Array, from: number, to: number): void {
  const n = to - from;
  if (n > 48) {
    out.set(src.subarray(from, to), dst);
    return;
  }
  for (let k = 0; k < n; k++) out[dst + k] = src[from + k];
}

function byPosition(a: Edit, b: Edit): number {
  return a.start - b.start || a.end - b.end;
}

/**
 * A stable insertion sort: a rewrite makes a handful of edits, nearly in
 * order, where this beats Array.prototype.sort by a wide margin.
 */
function sortedCopy(edits: readonly Edit[]): Edit[] {
  const out = edits.slice();
  for (let k = 1; k < out.length; k++) {
    const e = out[k];
    let j = k - 1;
    while (j >= 0 && byPosition(out[j], e) > 0) {
      out[j + 1] = out[j];
      j--;
    }
    out[j + 1] = e;
  }
  return out;
}

/**
 * Checks the edits (in range, non-overlapping; sorted here when they are not)
 * and returns the edited copy with the length delta. An empty edit list
 * returns a copy equal to the input.
 */
export function applyEdits(bytes: Uint8Array, edits: readonly Edit[]): ApplyResult {
  let list = edits;
  for (let k = 1; k < list.length; k++) {
    if (byPosition(list[k - 1], list[k]) > 0) {
      list = sortedCopy(edits);
      break;
    }
  }
  let delta = 0;
  let prevEnd = 0;
  for (const e of list) {
    if (!Number.isInteger(e.start) || !Number.isInteger(e.end) || e.start < 0 || e.end > bytes.length || e.start > e.end) {
      return { ok: false, reason: `edit out of range [${e.start}, ${e.end})` };
    }
    if (e.start < prevEnd) return { ok: false, reason: `overlapping edits at ${e.start}` };
    prevEnd = e.end;
    delta += e.text.length - (e.end - e.start);
  }
  const out = new Uint8Array(bytes.length + delta);
  let src = 0;
  let dst = 0;
  for (const e of list) {
    copy(out, dst, bytes, src, e.start);
    dst += e.start - src;
    copy(out, dst, e.text, 0, e.text.length);
    dst += e.text.length;
    src = e.end;
  }
  copy(out, dst, bytes, src, bytes.length);
  return { ok: true, bytes: out, delta };
}
