/**
 * Messages on an FTP control connection (RFC 959): each direction is read
 * from the start of the connection, and a direction is the client's or the
 * server's by its first byte. Both must stay what they started as, or the
 * direction is not FTP and passes through untouched from there on.
 *
 * - The client's messages are command lines: an optional run of Telnet IAC
 *   sequences (the urgent "IAC IP IAC DM" before ABOR), then a command code
 *   of three or four letters, then SP or the line end. A line ends at LF, as
 *   servers (vsftpd, pure-ftpd) split them, so what is framed here is what the
 *   server reads. An HTTP request line ("GET / HTTP/1.1") or header
 *   ("Host: x") sent to port 21 is not a command: a POST whose body holds
 *   "PORT ..." (NAT slipstreaming) never reaches the ALG as a command.
 * - The server's messages are whole replies: a three-digit code, then SP
 *   (one line), or "-" (several lines, up to a line that starts with the same
 *   code and SP). A 227 inside another code's multi-line text is text.
 *
 * The scan resumes where the last call for the same message stopped
 * (FrameResume), so a message in N small segments is read once.
 */
import * as byteSearchModule from '../text/byte-search.js';
import * as charClassModule from '../text/char-class.js';
import type { FrameOutcome } from '../helper.js';
import type { FrameResume } from '../tcp-stream.js';

// Local copies of the imports (see "Module bindings" in src/alg/text/README.md).
const { findByte } = byteSearchModule;
const { isAlpha, isDigit } = charClassModule;

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const DASH = 0x2d;
/** Telnet "interpret as command" (RFC 854): IAC and the byte after it are no part of the command text. */
export const IAC = 0xff;

/** Longest command line (vsftpd reads at most 4 KiB; path names fit). */
export const MAX_COMMAND_LINE = 8 * 1024;
/** Longest reply, all lines together (FEAT, HELP and login banners are a few KiB). */
export const MAX_REPLY = 64 * 1024;

const UNKNOWN = 0;
const CLIENT = 1;
const SERVER = 2;

/** What one direction of a control connection has shown itself to be, and where the scan of its current message is. */
class FtpDirection {
  role = UNKNOWN;
  /** Offset, from the message start, of the reply line being read. */
  lineAt = 0;
  /** The code of the reply being read, for the end of a multi-line reply. */
  code = 0;
}

function directionOf(resume: FrameResume | undefined): FtpDirection {
  if (resume === undefined) return new FtpDirection();
  let d = resume.state;
  if (!(d instanceof FtpDirection)) resume.state = d = new FtpDirection();
  return d as FtpDirection;
}

/** Telnet sequences before a command that are still FTP (ABOR's urgent "IAC IP IAC DM" is two). */
export const MAX_TELNET_SEQUENCES = 8;

/**
 * Bytes of Telnet IAC sequences from i (IAC and the byte it introduces; never
 * past end, at most MAX_TELNET_SEQUENCES: a framer reads them on every call).
 */
export function telnetPrefixEnd(b: Uint8Array, i: number, end: number): number {
  const stop = i + 2 * MAX_TELNET_SEQUENCES;
  while (i + 1 < end && i < stop && b[i] === IAC) i += 2;
  return i;
}

/** The three-digit code at i, or -1. */
export function replyCode(b: Uint8Array, i: number, end: number): number {
  if (i + 3 > end || !isDigit(b[i]) || !isDigit(b[i + 1]) || !isDigit(b[i + 2])) return -1;
  return (b[i] - 0x30) * 100 + (b[i + 1] - 0x30) * 10 + (b[i + 2] - 0x30);
}

/** Frames the message at `start`; `resume` carries the direction's role and the scan's progress. Never throws. */
export function frameFtpStream(b: Uint8Array, start: number, end: number, resume?: FrameResume): FrameOutcome {
  if (start < 0 || end > b.length || start >= end) return { kind: 'need-more' };
  const d = directionOf(resume);
  const scanned = resume?.scanned ?? 0;
  if (scanned === 0) d.lineAt = 0;
  if (d.role === UNKNOWN) {
    const c = b[start];
    if (isAlpha(c) || c === IAC) d.role = CLIENT;
    else if (isDigit(c)) d.role = SERVER;
    else return { kind: 'error', reason: 'neither an FTP command nor an FTP reply' };
  }
  return d.role === CLIENT ? frameCommand(b, start, end, scanned, resume) : frameReply(b, start, end, scanned, d, resume);
}

function needMore(resume: FrameResume | undefined, start: number, at: number): FrameOutcome {
  if (resume !== undefined) resume.scanned = at - start;
  return { kind: 'need-more' };
}

function frameCommand(b: Uint8Array, start: number, end: number, scanned: number, resume: FrameResume | undefined): FrameOutcome {
  // The command code decides as soon as its bytes are here: a TLS record or a
  // binary stream is refused at its first byte, not after 8 KiB.
  const codeStart = telnetPrefixEnd(b, start, end);
  if (codeStart + 1 === end && b[codeStart] === IAC) return needMore(resume, start, start);
  let i = codeStart;
  while (i < end && i - codeStart < 5 && isAlpha(b[i])) i++;
  const letters = i - codeStart;
  if (i < end && (letters < 3 || letters > 4 || (b[i] !== SP && b[i] !== CR && b[i] !== LF))) {
    return { kind: 'error', reason: codeStart < end && b[codeStart] === IAC ? 'Telnet sequence cut short' : 'not an FTP command line' };
  }
  const lf = findByte(b, LF, Math.max(start + scanned, i), end);
  if (lf < 0) {
    if (end - start > MAX_COMMAND_LINE) return { kind: 'error', reason: `command line longer than ${MAX_COMMAND_LINE} bytes` };
    return needMore(resume, start, end);
  }
  if (lf + 1 - start > MAX_COMMAND_LINE) return { kind: 'error', reason: `command line longer than ${MAX_COMMAND_LINE} bytes` };
  if (isHttpRequestLine(b, codeStart, lf)) return { kind: 'error', reason: 'an HTTP request, not FTP' };
  return { kind: 'message', length: lf + 1 - start };
}

/** "METHOD target HTTP/d.d" (CR before the LF or not): a web request sent to an FTP port. */
function isHttpRequestLine(b: Uint8Array, start: number, lf: number): boolean {
  let e = lf;
  if (e > start && b[e - 1] === CR) e--;
  // " HTTP/1.1" is 9 bytes.
  if (e - start < 9 + 3) return false;
  const t = e - 9;
  return (
    b[t] === SP &&
    b[t + 1] === 0x48 &&
    b[t + 2] === 0x54 &&
    b[t + 3] === 0x54 &&
    b[t + 4] === 0x50 &&
    b[t + 5] === 0x2f &&
    isDigit(b[t + 6]) &&
    b[t + 7] === 0x2e &&
    isDigit(b[t + 8])
  );
}

function frameReply(b: Uint8Array, start: number, end: number, scanned: number, d: FtpDirection, resume: FrameResume | undefined): FrameOutcome {
  if (d.lineAt === 0) {
    // The first line's code and separator are checked as soon as they are here.
    const code = replyCode(b, start, end);
    if (code < 0) {
      for (let k = start; k < end && k < start + 3; k++) if (!isDigit(b[k])) return { kind: 'error', reason: 'not an FTP reply' };
      return needMore(resume, start, start);
    }
    if (start + 3 < end && !isReplySeparator(b[start + 3]) && b[start + 3] !== DASH) return { kind: 'error', reason: 'not an FTP reply' };
    d.code = code;
  }
  let i = start + Math.max(scanned, d.lineAt);
  for (;;) {
    const lf = findByte(b, LF, i, end);
    if ((lf < 0 ? end : lf + 1) - start > MAX_REPLY) return { kind: 'error', reason: `reply longer than ${MAX_REPLY} bytes` };
    if (lf < 0) return needMore(resume, start, end);
    const line = start + d.lineAt;
    // The first line decides: "ddd-" opens a multi-line reply, whose last
    // line starts with the same code and SP (or ends right after it).
    const sep = b[line + 3];
    const closes = d.lineAt === 0 ? sep !== DASH : line + 3 <= lf && replyCode(b, line, lf) === d.code && isReplySeparator(sep);
    if (closes) {
      d.lineAt = 0;
      return { kind: 'message', length: lf + 1 - start };
    }
    d.lineAt = lf + 1 - start;
    i = lf + 1;
    if (i >= end) return needMore(resume, start, end);
  }
}

function isReplySeparator(c: number): boolean {
  return c === SP || c === CR || c === LF;
}
