/**
 * Message boundaries on a stream transport (RFC 3261 18.3): the caller hands
 * bytes that begin at a verified boundary (the start of the stream or the end
 * of the previous message) and learns how long the next message is, that more
 * bytes are needed, or that the stream cannot be framed (and must no longer be
 * parsed: after a framing error no later boundary can be trusted).
 *
 * The scan applies the same line rules as the tokenizer (CR LF only, no bare
 * CR or LF), so a message framed here is exactly the message parsed there.
 *
 * A header section may arrive in many small pieces (a peer may send one byte
 * a segment). Scanning it from its start on every piece would cost O(N^2)
 * for N pieces (issue 17), so the scan can be resumed: given a
 * SipFrameProgress, a call that needs more bytes records where it stopped and
 * what it had read, and the next call for the same message goes on from there.
 * Every answer is the one a scan from the start would give.
 */
import * as asciiModule from '../text/ascii.js';
import * as charClassModule from '../text/char-class.js';
import * as whitespaceModule from '../text/whitespace.js';
import * as byteSearchModule from '../text/byte-search.js';
import * as crlfLinesModule from '../text/crlf-lines.js';
import * as headerNamesModule from './header-names.js';
import * as messageModule from './message.js';

// Local copies of the imports: an imported binding is read from its module
// cell at every use, even in optimized loops; a module-local const is not
// (see "Module bindings" in src/alg/text/README.md).
const { CR, LF, COLON } = asciiModule;
const { isTokenChar, isDigit } = charClassModule;
const { isWsp } = whitespaceModule;
const { findLineBreak } = byteSearchModule;
const { leadingCrlfLength } = crlfLinesModule;
const { tokenNameId, HeaderId } = headerNamesModule;
const { MAX_CONTENT_LENGTH } = messageModule;

/** Largest header section accepted before its blank line. */
export const MAX_HEADER_SECTION = 64 * 1024;

export type FrameResult =
  /** A complete message of `length` bytes starts at the given offset. */
  | { kind: 'message'; length: number; headerLength: number; contentLength: number }
  /** `length` bytes of CR LF (RFC 5626 keep-alive, or CR LF before a start line): skip them. */
  | { kind: 'keepalive'; length: number }
  | { kind: 'need-more' }
  | { kind: 'error'; reason: string };

/**
 * Framing work, all calls together: the bytes the scans moved over. A header
 * section that arrives in N pieces is read once, so this grows with its
 * length, not with N times it (issue 17; the framework test asserts it).
 */
export const framingCounters = { bytesScanned: 0 };
/** framingCounters for this module's own use (see "Module bindings" in src/alg/text/README.md). */
const counters = framingCounters;

/** What the byte at SipFrameProgress.at is read as. */
const START_LINE = 0;
/** The first byte of a header line, or of the blank line that ends the section. */
const LINE_START = 1;
/** Inside a header name (it started at nameAt). */
const NAME = 2;
/** Whitespace after a header name, before its colon. */
const AFTER_NAME = 3;
/** The same, after the name Content-Length (or l). */
const AFTER_CONTENT_LENGTH_NAME = 4;
/** The Content-Length value, before or in its digits. */
const CONTENT_LENGTH = 5;
/** The Content-Length value after its digits: only whitespace may follow. */
const CONTENT_LENGTH_END = 6;
/** A line (or folded value) read through to its CR LF. */
const SKIP_LINE = 7;
/** The header section is read; the body is awaited. */
const BODY = 8;

const CONTENT_LENGTH_ID = HeaderId.contentLength;

/**
 * How far the scan of one message got. Pass the same object with every call
 * for the message at the same start, while the bytes from there up to the
 * previous end stay as they were (more may follow, and the whole may have
 * moved in memory: offsets here are from the message start). It starts
 * afresh by itself after any answer other than need-more; reset() it to
 * start afresh for another message.
 */
export class SipFrameProgress {
  /** Bytes from the message start already read; 0: nothing yet. */
  at = 0;
  /** What the byte at `at` is read as. */
  step = START_LINE;
  /** Where the header name being read starts, from the message start. */
  nameAt = 0;
  /** The Content-Length value, -1 until its header has been read. */
  contentLength = -1;
  /** The Content-Length value read so far, -1 before its first digit. */
  digits = -1;

  reset(): void {
    this.at = 0;
    this.step = START_LINE;
    this.nameAt = 0;
    this.contentLength = -1;
    this.digits = -1;
  }

  /** The start line has been read whole (and every later call goes on after it). */
  get pastStartLine(): boolean {
    return this.at > 0 && this.step !== START_LINE;
  }
}

/** For calls without a progress of their own: every such call starts afresh. */
const oneShot = new SipFrameProgress();

function error(reason: string): FrameResult {
  return { kind: 'error', reason };
}

/** Frames the next message in b[start, end), going on from `progress` when given. Never throws on any input. */
export function frameSipStream(b: Uint8Array, start = 0, end = b.length, progress?: SipFrameProgress): FrameResult {
  if (start < 0 || end > b.length || start > end) return error('bad range');
  const p = progress ?? oneShot;
  if (progress === undefined || p.at === 0) {
    if (start === end) return { kind: 'need-more' };
    const crlf = leadingCrlfLength(b, start, end);
    counters.bytesScanned += crlf;
    if (crlf > 0) return { kind: 'keepalive', length: crlf };
    if (b[start] === CR && start + 1 === end) return { kind: 'need-more' };
    p.reset();
  }
  const from = p.at;
  const r = scan(b, start, end, p);
  counters.bytesScanned += p.at - from;
  if (r.kind !== 'need-more') p.at = 0;
  return r;
}

/** Stops for more bytes: the scan goes on at i, reading it as `step`. */
function pause(p: SipFrameProgress, start: number, i: number, step: number): FrameResult {
  p.at = i - start;
  p.step = step;
  return { kind: 'need-more' };
}

function fail(p: SipFrameProgress, start: number, i: number, reason: string): FrameResult {
  p.at = i - start;
  return { kind: 'error', reason };
}

/**
 * The header section from p.at on, line by line; the byte loops run to `end`
 * and the section's size is checked at each line start, as a scan from the
 * start would. A CR whose LF (or, in a header, whose next line's first byte)
 * has not arrived is read again on the next call.
 */
function scan(b: Uint8Array, start: number, end: number, p: SipFrameProgress): FrameResult {
  const limit = end - start < MAX_HEADER_SECTION ? end : start + MAX_HEADER_SECTION;
  let i = start + p.at;
  let step = p.step;
  for (;;) {
    switch (step) {
      case LINE_START: {
        if (i >= limit) return limit < end || end - start >= MAX_HEADER_SECTION ? fail(p, start, i, 'header section too large') : pause(p, start, i, step);
        const c = b[i];
        if (c === CR) {
          if (i + 1 >= end) return pause(p, start, i, step);
          if (b[i + 1] !== LF) return fail(p, start, i, 'bare CR in header section');
          i += 2;
          if (p.contentLength < 0) return fail(p, start, i, 'Content-Length required on a stream');
          step = BODY;
        } else if (isTokenChar(c)) {
          p.nameAt = i - start;
          step = NAME;
        } else {
          step = SKIP_LINE;
        }
        break;
      }
      case NAME: {
        while (i < end && isTokenChar(b[i])) i++;
        if (i >= end) return pause(p, start, i, step);
        step = tokenNameId(b, start + p.nameAt, i) === CONTENT_LENGTH_ID ? AFTER_CONTENT_LENGTH_NAME : AFTER_NAME;
        break;
      }
      case AFTER_NAME:
      case AFTER_CONTENT_LENGTH_NAME: {
        while (i < end && isWsp(b[i])) i++;
        if (i >= end) return pause(p, start, i, step);
        if (step === AFTER_CONTENT_LENGTH_NAME && b[i] === COLON) {
          if (p.contentLength >= 0) return fail(p, start, i, 'multiple Content-Length headers');
          i++;
          p.digits = -1;
          step = CONTENT_LENGTH;
        } else {
          // Not Content-Length: the rest of the line is read through, from here.
          step = SKIP_LINE;
        }
        break;
      }
      case CONTENT_LENGTH:
      case CONTENT_LENGTH_END: {
        let v = p.digits;
        for (;;) {
          if (i >= end) break;
          const c = b[i];
          if (c === CR) {
            if (i + 1 >= end) break;
            if (b[i + 1] !== LF) return fail(p, start, i, 'bare CR in header');
            // Whether the next line folds into this value is unknown until it arrives.
            if (i + 2 >= end) break;
            i += 2;
            if (isWsp(b[i])) continue;
            if (v < 0) return fail(p, start, i, 'invalid Content-Length');
            p.contentLength = v;
            step = LINE_START;
            break;
          }
          if (c === LF) return fail(p, start, i, 'bare LF in header');
          if (isWsp(c)) {
            if (v >= 0) step = CONTENT_LENGTH_END;
          } else if (step === CONTENT_LENGTH && isDigit(c)) {
            v = (v < 0 ? 0 : v) * 10 + (c - 0x30);
            if (v > MAX_CONTENT_LENGTH) return fail(p, start, i, 'invalid Content-Length');
          } else {
            return fail(p, start, i, 'invalid Content-Length');
          }
          i++;
        }
        if (step !== LINE_START) {
          p.digits = v;
          return pause(p, start, i, step);
        }
        break;
      }
      case START_LINE:
      case SKIP_LINE: {
        // To the line's CR LF; in a header (not the start line) a CR LF
        // followed by SP or HT is a fold and the line goes on.
        for (;;) {
          i = findLineBreak(b, i, end);
          if (i >= end) return pause(p, start, i, step);
          if (b[i] === LF) return fail(p, start, i, 'bare LF in header section');
          if (i + 1 >= end) return pause(p, start, i, step);
          if (b[i + 1] !== LF) return fail(p, start, i, 'bare CR in header section');
          if (step === SKIP_LINE) {
            if (i + 2 >= end) return pause(p, start, i, step);
            if (isWsp(b[i + 2])) {
              i += 2;
              continue;
            }
          }
          i += 2;
          break;
        }
        step = LINE_START;
        break;
      }
      default: {
        // BODY: i is the end of the header section.
        const headerLength = i - start;
        const length = headerLength + p.contentLength;
        if (end - start < length) return pause(p, start, i, step);
        p.at = headerLength;
        return { kind: 'message', length, headerLength, contentLength: p.contentLength };
      }
    }
  }
}
