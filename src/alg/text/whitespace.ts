/**
 * Whitespace in header-style text (SIP, RTSP, HTTP): WSP (SP, HT) on a line,
 * and LWS inside a header value, where a fold (CR LF then SP or HT) counts as
 * whitespace too.
 */

const SP_BYTE = 0x20;
const HT_BYTE = 0x09;

export function isWsp(c: number): boolean {
  return c === SP_BYTE || c === HT_BYTE;
}

const LWS = new Uint8Array(256);
LWS[SP_BYTE] = LWS[HT_BYTE] = LWS[0x0d] = LWS[0x0a] = 1;

/**
 * Whitespace inside a header value. A tokenizer that guarantees every CR LF
 * inside a value span is a fold (followed by SP or HT), as the SIP one does,
 * can treat CR and LF as plain whitespace here: exactly RFC 3261 LWS, without
 * checking the fold again.
 */
export function isLws(c: number): boolean {
  return LWS[c] === 1;
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
