/**
 * Lines that end in CR LF, read strictly, as SIP, RTSP and FTP frame their
 * start lines and headers: a bare CR or LF is not a line end but an error, so
 * the lines seen here cannot differ from those of a peer that honours CR LF
 * only (a peer that split lines at a bare LF would see lines we did not).
 */
import * as byteSearchModule from './byte-search.js';

// Local copies of the imports (see "Module bindings" in README.md).
const { findLineBreak } = byteSearchModule;

const CR_BYTE = 0x0d;
const LF_BYTE = 0x0a;

/** Number of bytes of leading CR LF pairs from `start` (keep-alives and empty lines before a message). */
export function leadingCrlfLength(b: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i + 1 < end && b[i] === CR_BYTE && b[i + 1] === LF_BYTE) i += 2;
  return i - start;
}

/** crlfLineEnd: the line has a bare CR or LF. */
export const BARE_LINE_BREAK = -1;
/** crlfLineEnd: no line break before end (the line is not complete yet). */
export const NO_LINE_END = -2;

/**
 * The end of the line starting at i: the index of its CR (followed by LF).
 * BARE_LINE_BREAK (-1) when the first CR or LF is not a CR LF, NO_LINE_END
 * (-2) when no CR LF is found before end.
 */
export function crlfLineEnd(b: Uint8Array, i: number, end: number): number {
  i = findLineBreak(b, i, end);
  if (i >= end) return -2;
  if (b[i] === LF_BYTE) return -1;
  return i + 1 < end ? (b[i + 1] === LF_BYTE ? i : -1) : -2;
}
