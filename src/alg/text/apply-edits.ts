/**
 * Applying edits (edit.ts): the edited message in one pass, with everything
 * no edit names copied byte for byte by native block moves, into output
 * memory carved from shared slabs. The one place where a byte-preserving
 * rewriter's output is made.
 */
import type { Edit } from './edit.js';

export type ApplyResult =
  | { ok: true; bytes: Uint8Array; /** New length minus old length. */ delta: number }
  | { ok: false; reason: string };

function byPosition(a: Edit, b: Edit): number {
  return a.start - b.start || a.end - b.end;
}

/**
 * The edits in position order, in entries [0, edits.length) of the result. A
 * rewrite makes a handful of edits, nearly in order (Content-Length and the
 * SDP's c= come after the edits behind them), so a stable insertion sort into
 * a reused array beats copying and sorting. (Entries past the count are stale.)
 */
const sortScratch: Edit[] = [];
function inOrder(edits: readonly Edit[]): readonly Edit[] {
  let sorted = true;
  for (let k = 1; k < edits.length; k++) {
    if (byPosition(edits[k - 1], edits[k]) > 0) {
      sorted = false;
      break;
    }
  }
  if (sorted) return edits;
  const out = sortScratch;
  for (let k = 0; k < edits.length; k++) {
    const e = edits[k];
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
 * Output memory. A fresh typed array of a few hundred bytes costs more than
 * the whole copy (its backing store is allocated outside the JS heap), so
 * outputs up to POOLED_MAX bytes are carved from shared SLAB_SIZE buffers, as
 * Node's Buffer pool does: each output is a distinct range that is never
 * handed out again, so callers may keep and modify it; its `buffer` is the
 * slab (use byteOffset with it). Larger outputs get their own buffer.
 */
const SLAB_SIZE = 32 * 1024;
const POOLED_MAX = 4 * 1024;
let slab = new ArrayBuffer(SLAB_SIZE);
let slabBytes = new Uint8Array(slab);
let slabUsed = 0;

/**
 * A work area of `room` bytes at the returned offset of the returned array,
 * whose first `length` bytes become the output (room >= length: the input is
 * laid down there first and moved into place).
 */
function workArea(room: number): Uint8Array {
  if (room > POOLED_MAX) return new Uint8Array(room);
  if (slabUsed + room > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabBytes = new Uint8Array(slab);
    slabUsed = 0;
  }
  return slabBytes;
}

/** Moves bytes within a: a[to, to + (end - start)) = a[start, end); short runs by a loop, the rest by copyWithin. */
function move(a: Uint8Array, to: number, start: number, end: number): void {
  const n = end - start;
  if (n <= 0 || to === start) return;
  if (n > 16) {
    a.copyWithin(to, start, end);
  } else if (to < start) {
    for (let k = 0; k < n; k++) a[to + k] = a[start + k];
  } else {
    for (let k = n - 1; k >= 0; k--) a[to + k] = a[start + k];
  }
}

/** Length change of edit e. */
function deltaOf(e: Edit): number {
  return e.text.length - (e.end - e.start);
}

/**
 * Checks the edits (in range, non-overlapping; sorted here when they are not)
 * and returns the edited copy with the length delta. An empty edit list
 * returns a copy equal to the input.
 *
 * The copy is made with native block moves: the input is laid down in the
 * work area in one set(), then each stretch of it between edits is moved by
 * the length change of the edits before it, and the edit texts are written
 * last into the gaps. Stretches moving left go in order, those moving right
 * in reverse order, so none overwrites one not yet moved; neighbouring
 * stretches with the same shift (an edit that keeps the length between them)
 * move as one block, the old text between them to be overwritten.
 */
export function applyEdits(bytes: Uint8Array, edits: readonly Edit[]): ApplyResult {
  let delta = 0;
  let prevEnd = 0;
  const list = inOrder(edits);
  const n = edits.length;
  for (let k = 0; k < n; k++) {
    const e = list[k];
    if (!Number.isInteger(e.start) || !Number.isInteger(e.end) || e.start < 0 || e.end > bytes.length || e.start > e.end) {
      return { ok: false, reason: `edit out of range [${e.start}, ${e.end})` };
    }
    if (e.start < prevEnd) return { ok: false, reason: `overlapping edits at ${e.start}` };
    prevEnd = e.end;
    delta += deltaOf(e);
  }
  const length = bytes.length + delta;
  const room = Math.max(bytes.length, length);
  const area = workArea(room);
  const base = area === slabBytes ? slabUsed : 0;
  area.set(bytes, base);
  // Stretch k runs from the end of edit k-1 (0 for the first) to the start of
  // edit k (the input's end for the last) and moves by the delta of edits < k.
  // Left movers, in order:
  let shift = 0;
  for (let k = 1; k <= n; k++) {
    shift += deltaOf(list[k - 1]);
    if (shift >= 0) continue;
    const from = list[k - 1].end;
    let j = k;
    while (j < n && deltaOf(list[j]) === 0) j++;
    const to = j < n ? list[j].start : bytes.length;
    move(area, base + from + shift, base + from, base + to);
    k = j;
  }
  // Right movers, in reverse order (shift starts as the total delta).
  shift = delta;
  for (let k = n; k >= 1; ) {
    if (shift <= 0) {
      shift -= deltaOf(list[k - 1]);
      k--;
      continue;
    }
    const to = k < n ? list[k].start : bytes.length;
    let j = k;
    while (j > 1 && deltaOf(list[j - 1]) === 0) j--;
    const from = list[j - 1].end;
    move(area, base + from + shift, base + from, base + to);
    for (; k >= j; k--) shift -= deltaOf(list[k - 1]);
  }
  // Each text where its edit now starts.
  shift = 0;
  for (let k = 0; k < n; k++) {
    const e = list[k];
    const text = e.text;
    const at = base + e.start + shift;
    if (text.length > 16) area.set(text, at);
    else for (let j = 0; j < text.length; j++) area[at + j] = text[j];
    shift += text.length - (e.end - e.start);
  }
  let out: Uint8Array;
  if (area === slabBytes) {
    out = new Uint8Array(slab, base, length);
    slabUsed += (length + 7) & ~7;
  } else {
    out = length === room ? area : area.subarray(0, length);
  }
  return { ok: true, bytes: out, delta };
}
