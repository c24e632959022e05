/**
 * Message boundaries on an RTSP connection (RFC 2326 section 4 and 10.12):
 * each direction, from the start of the connection, is a sequence of
 *
 * - RTSP messages: a start line ("METHOD uri RTSP/1.0" or "RTSP/1.0 200
 *   OK"), header lines, an empty line, and a body of Content-Length bytes
 *   (none without the header). Lines end in CR LF only (text/crlf-lines.ts),
 *   so a message framed here is the message a strict peer reads;
 * - interleaved binary frames: "$", a channel byte, a 16-bit length, data
 *   (RTP and RTCP over the RTSP connection), skipped whole;
 * - CR LF between messages, skipped.
 *
 * Anything else is not RTSP and the direction passes through untouched from
 * there: in particular HTTP (a start line with HTTP/1.x: RTSP tunnelled in
 * HTTP, whose RTSP is base64 inside a POST body, or HTTP on an RTSP port).
 *
 * The scan resumes at the line where the last call for the same message
 * stopped (FrameResume), so a header section in N small segments is read once.
 */
import * as byteSearchModule from '../text/byte-search.js';
import * as caseModule from '../text/case.js';
import * as charClassModule from '../text/char-class.js';
import * as crlfLinesModule from '../text/crlf-lines.js';
import * as decimalModule from '../text/decimal.js';
import type { FrameOutcome } from '../helper.js';
import type { FrameResume } from '../tcp-stream.js';

// Local copies of the imports (see "Module bindings" in src/alg/text/README.md).
const { findByte } = byteSearchModule;
const { spanEqualsLower } = caseModule;
const { isTokenChar, isDigit } = charClassModule;
const { crlfLineEnd, leadingCrlfLength, NO_LINE_END } = crlfLinesModule;
const { parseUint } = decimalModule;

const DOLLAR = 0x24;
const SP = 0x20;
const CR = 0x0d;
const HT = 0x09;
const COLON = 0x3a;

/** Largest header section (start line included). */
export const MAX_RTSP_HEADER = 32 * 1024;
/** Largest body (an SDP description is a few KiB). */
export const MAX_RTSP_BODY = 64 * 1024;

/** The scan of the message at the boundary: where its current line starts, how far it has been read, and what it has read. */
class RtspFrameProgress {
  /** Offset from the message start of the line being read; -1: the start line is not read yet. */
  lineAt = -1;
  /** Offset from the message start where the search for the line's end goes on. */
  at = 0;
  contentLength = 0;
  sawContentLength = false;

  reset(): void {
    this.lineAt = -1;
    this.at = 0;
    this.contentLength = 0;
    this.sawContentLength = false;
  }
}

/** For calls without a FrameResume: every such call starts afresh. */
const oneShot = new RtspFrameProgress();

function progressOf(resume: FrameResume | undefined): RtspFrameProgress {
  if (resume === undefined) {
    oneShot.reset();
    return oneShot;
  }
  let p = resume.state;
  if (!(p instanceof RtspFrameProgress)) resume.state = p = new RtspFrameProgress();
  const progress = p as RtspFrameProgress;
  // The framework sets scanned to 0 on a new boundary; this framer keeps it above 0 while a message is under way.
  if (resume.scanned === 0) progress.reset();
  return progress;
}

/** Stops for more bytes; the next call goes on from the progress (scanned kept above 0). */
function pause(p: RtspFrameProgress, resume: FrameResume | undefined, at: number): FrameOutcome {
  p.at = at;
  if (resume !== undefined) resume.scanned = at + 1;
  return { kind: 'need-more' };
}

function error(reason: string): FrameOutcome {
  return { kind: 'error', reason };
}

/** "RTSP/d.d" at i (the version of a start line). */
export function isRtspVersion(b: Uint8Array, i: number, end: number): boolean {
  return i + 8 <= end && b[i] === 0x52 && b[i + 1] === 0x54 && b[i + 2] === 0x53 && b[i + 3] === 0x50 && b[i + 4] === 0x2f && isDigit(b[i + 5]) && b[i + 6] === 0x2e && isDigit(b[i + 7]);
}

/** Whether [start, lineEnd) is an RTSP start line: "RTSP/d.d SP ddd ..." or "METHOD SP uri SP RTSP/d.d". */
export function isRtspStartLine(b: Uint8Array, start: number, lineEnd: number): boolean {
  if (isRtspVersion(b, start, lineEnd)) {
    return start + 12 <= lineEnd && b[start + 8] === SP && isDigit(b[start + 9]) && isDigit(b[start + 10]) && isDigit(b[start + 11]);
  }
  let i = start;
  while (i < lineEnd && isTokenChar(b[i])) i++;
  if (i === start || i >= lineEnd || b[i] !== SP) return false;
  // The version closes the line: " RTSP/d.d" is its last 9 bytes.
  return lineEnd - 9 > i && b[lineEnd - 9] === SP && isRtspVersion(b, lineEnd - 8, lineEnd) && findByte(b, SP, i + 1, lineEnd - 9) < 0;
}

/** Frames the next item at `start`: a message, an interleaved frame or CR LF (skipped). Never throws. */
export function frameRtspStream(b: Uint8Array, start: number, end: number, resume?: FrameResume): FrameOutcome {
  if (start < 0 || end > b.length || start >= end) return { kind: 'need-more' };
  const p = progressOf(resume);
  if (p.lineAt < 0 && p.at === 0) {
    if (b[start] === DOLLAR) {
      if (end - start < 4) return { kind: 'need-more' };
      const length = 4 + ((b[start + 2] << 8) | b[start + 3]);
      return end - start < length ? { kind: 'need-more' } : { kind: 'skip', length };
    }
    const crlf = leadingCrlfLength(b, start, end);
    if (crlf > 0) return { kind: 'skip', length: crlf };
    if (b[start] === CR && end - start === 1) return { kind: 'need-more' };
    if (!isTokenChar(b[start])) return error('not an RTSP message');
  }
  for (;;) {
    const line = p.lineAt < 0 ? start : start + p.lineAt;
    const lineEnd = crlfLineEnd(b, start + p.at, end);
    if (lineEnd === NO_LINE_END) {
      if (end - start > MAX_RTSP_HEADER) return error(`header section longer than ${MAX_RTSP_HEADER} bytes`);
      // A CR at the very end may be the first half of the line's CR LF: read it again.
      return pause(p, resume, Math.max(line - start, end - start - (b[end - 1] === CR ? 1 : 0)));
    }
    if (lineEnd < 0) return error('bare CR or LF in the header section');
    if (lineEnd - start > MAX_RTSP_HEADER) return error(`header section longer than ${MAX_RTSP_HEADER} bytes`);
    const next = lineEnd + 2 - start;
    if (p.lineAt < 0) {
      if (!isRtspStartLine(b, start, lineEnd)) return error('not an RTSP start line (HTTP or another protocol)');
    } else if (lineEnd === line) {
      // The empty line: the body follows.
      const length = next + p.contentLength;
      if (end - start < length) return pause(p, resume, line - start);
      return { kind: 'message', length };
    } else if (b[line] !== SP && b[line] !== HT) {
      // A header line (a line starting with SP or HT folds into the value above).
      const colon = findByte(b, COLON, line, lineEnd);
      if (colon < 0) return error('header line without a colon');
      let nameEnd = colon;
      while (nameEnd > line && (b[nameEnd - 1] === SP || b[nameEnd - 1] === HT)) nameEnd--;
      if (spanEqualsLower(b, line, nameEnd, 'content-length')) {
        if (p.sawContentLength) return error('two Content-Length headers');
        let vs = colon + 1;
        let ve = lineEnd;
        while (vs < ve && (b[vs] === SP || b[vs] === HT)) vs++;
        while (ve > vs && (b[ve - 1] === SP || b[ve - 1] === HT)) ve--;
        const n = parseUint(b, vs, ve, MAX_RTSP_BODY);
        if (n < 0) return error(`Content-Length is not a number up to ${MAX_RTSP_BODY}`);
        p.contentLength = n;
        p.sawContentLength = true;
      }
    }
    p.lineAt = next;
    p.at = next;
  }
}
