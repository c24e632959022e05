/**
 * Message boundaries on a stream transport (RFC 3261 18.3): the caller hands
 * bytes that begin at a verified boundary (the start of the stream or the end
 * of the previous message) and learns how long the next message is, that more
 * bytes are needed, or that the stream cannot be framed (and must no longer be
 * parsed: after a framing error no later boundary can be trusted).
 *
 * The scan applies the same line rules as the tokenizer (CR LF only, no bare
 * CR or LF), so a message framed here is exactly the message parsed there.
 */
import * as asciiModule from '../text/ascii.js';
import * as charClassModule from '../text/char-class.js';
import * as whitespaceModule from '../text/whitespace.js';
import * as crlfLinesModule from '../text/crlf-lines.js';
import * as headerNamesModule from './header-names.js';
import * as messageModule from './message.js';

// Local copies of the imports: an imported binding is read from its module
// cell at every use, even in optimized loops; a module-local const is not
// (see "Module bindings" in src/alg/text/README.md).
const { CR, LF, COLON } = asciiModule;
const { isTokenChar, isDigit } = charClassModule;
const { isWsp } = whitespaceModule;
const { canonicalHeaderName } = headerNamesModule;
const { leadingCrlfLength } = crlfLinesModule;
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

function error(reason: string): FrameResult {
  return { kind: 'error', reason };
}

/** Reads a Content-Length value in b[i, end) up to its unfolded CR LF; returns [value, next line] or an error. */
function readContentLength(b: Uint8Array, i: number, end: number): [number, number] | string {
  let value = -1;
  let sawDigits = false;
  let afterDigits = false;
  for (;;) {
    if (i >= end) return 'header section not terminated';
    const c = b[i];
    if (c === CR) {
      if (i + 1 >= end) return 'header section not terminated';
      if (b[i + 1] !== LF) return 'bare CR in header';
      i += 2;
      // Whether the next line folds into this value is unknown until it arrives.
      if (i >= end) return 'header section not terminated';
      if (isWsp(b[i])) continue;
      break;
    }
    if (c === LF) return 'bare LF in header';
    if (isWsp(c)) {
      if (sawDigits) afterDigits = true;
    } else if (isDigit(c) && !afterDigits) {
      value = (sawDigits ? value : 0) * 10 + (c - 0x30);
      sawDigits = true;
      if (value > MAX_CONTENT_LENGTH) return 'invalid Content-Length';
    } else {
      return 'invalid Content-Length';
    }
    i++;
  }
  if (!sawDigits) return 'invalid Content-Length';
  return [value, i];
}

/** Frames the next message in b[start, end). Never throws on any input. */
export function frameSipStream(b: Uint8Array, start = 0, end = b.length): FrameResult {
  if (start < 0 || end > b.length || start > end) return error('bad range');
  if (start === end) return { kind: 'need-more' };
  const crlf = leadingCrlfLength(b, start, end);
  if (crlf > 0) return { kind: 'keepalive', length: crlf };
  if (b[start] === CR && start + 1 === end) return { kind: 'need-more' };

  const limit = Math.min(end, start + MAX_HEADER_SECTION);
  let i = start;
  let firstLine = true;
  let contentLength = -1;
  for (;;) {
    if (i >= limit) return limit < end || end - start >= MAX_HEADER_SECTION ? error('header section too large') : { kind: 'need-more' };
    if (!firstLine && b[i] === CR) {
      if (i + 1 >= end) return { kind: 'need-more' };
      if (b[i + 1] !== LF) return error('bare CR in header section');
      i += 2;
      break;
    }
    if (!firstLine && isTokenChar(b[i])) {
      const ns = i;
      while (i < end && isTokenChar(b[i])) i++;
      const ne = i;
      while (i < end && isWsp(b[i])) i++;
      if (i >= end) return { kind: 'need-more' };
      if (b[i] === COLON && canonicalHeaderName(b, ns, ne) === 'content-length') {
        if (contentLength >= 0) return error('multiple Content-Length headers');
        const r = readContentLength(b, i + 1, end);
        if (typeof r === 'string') return r === 'header section not terminated' ? { kind: 'need-more' } : error(r);
        contentLength = r[0];
        i = r[1];
        continue;
      }
    }
    // Skip to the end of this (possibly folded) line.
    for (;;) {
      if (i >= end) return { kind: 'need-more' };
      const c = b[i];
      if (c === CR) {
        if (i + 1 >= end) return { kind: 'need-more' };
        if (b[i + 1] !== LF) return error('bare CR in header section');
        i += 2;
        if (!firstLine) {
          if (i >= end) return { kind: 'need-more' };
          if (isWsp(b[i])) continue;
        }
        break;
      }
      if (c === LF) return error('bare LF in header section');
      i++;
    }
    firstLine = false;
  }
  if (contentLength < 0) return error('Content-Length required on a stream');
  const headerLength = i - start;
  const length = headerLength + contentLength;
  if (end - start < length) return { kind: 'need-more' };
  return { kind: 'message', length, headerLength, contentLength };
}
