/**
 * SIP message tokenizer. Records offsets into the caller's buffer and copies
 * nothing: a header is a name span, its canonical name and a value span that
 * keeps any line folding exactly as it is in the bytes (value parsers treat a
 * fold as whitespace; `unfoldedValue` gives the logical value when wanted).
 *
 * Framing follows RFC 3261 18.3: over a stream the message is the header
 * section plus Content-Length bytes (Content-Length required); in a datagram
 * the message is the datagram, Content-Length may be absent (the body runs to
 * the end), a shorter Content-Length leaves trailing bytes that are ignored,
 * and a longer one is malformed.
 *
 * Strictness: lines end in CR LF. A bare CR or LF in the start line or header
 * section is an error rather than a line end, so the framing seen here cannot
 * differ from that of a peer that honours CR LF only.
 */
import { type Span, CR, LF, SP, HT, COLON, isTokenChar, isWsp, parseUint, latin1, isLws } from './bytes.js';
import { canonicalHeaderName } from './header-names.js';
import { parseStartLine, type StartLine } from './start-line.js';

export interface SipHeader {
  name: Span;
  /** Lowercase full name: compact forms expanded ("v" -> "via"), case folded. */
  canonical: string;
  /** The value without leading and trailing LWS; folds inside are kept. */
  value: Span;
}

export interface SipMessage {
  bytes: Uint8Array;
  /** Offset of the start line (after any leading CR LF keep-alives). */
  start: number;
  /** Offset just past the message (end of body); bytes after it are `trailing`. */
  end: number;
  startLine: StartLine;
  headers: SipHeader[];
  body: Span;
  /** The Content-Length value, or null when the header is absent. */
  contentLength: number | null;
  /** Index in `headers` of the Content-Length header, or -1. */
  contentLengthIndex: number;
  /** Datagram bytes after Content-Length (RFC 3261 18.3: ignored). Empty when none. */
  trailing: Span;
}

export type SipTransportKind = 'datagram' | 'stream';

export interface ParseOptions {
  /** 'datagram' (UDP; default) or 'stream' (TCP/TLS/SCTP: Content-Length required). */
  transport?: SipTransportKind;
}

export type ParseResult = { ok: true; message: SipMessage } | { ok: false; reason: string };

/** Headers in one message; more is treated as hostile. */
export const MAX_HEADERS = 256;
/** Largest Content-Length accepted (a body larger than this is not SIP we handle). */
export const MAX_CONTENT_LENGTH = 16 * 1024 * 1024;

function fail(reason: string): ParseResult {
  return { ok: false, reason };
}

/** Number of bytes of leading CR LF pairs from `start` (RFC 3261 7.5, RFC 5626 keep-alives). */
export function leadingCrlfLength(b: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i + 1 < end && b[i] === CR && b[i + 1] === LF) i += 2;
  return i - start;
}

/**
 * Finds the end of the line starting at i: the index of its CR (followed by LF).
 * Returns -1 for a bare CR or LF, -2 when no CR LF is found before end.
 */
function lineEnd(b: Uint8Array, i: number, end: number): number {
  for (; i < end; i++) {
    const c = b[i];
    if (c === CR) return i + 1 < end ? (b[i + 1] === LF ? i : -1) : -2;
    if (c === LF) return -1;
  }
  return -2;
}

/** Parses one SIP message from b[start, end). Never throws on any input. */
export function parseSipMessage(b: Uint8Array, options?: ParseOptions, start = 0, end = b.length): ParseResult {
  if (start < 0 || end > b.length || start > end) return fail('bad range');
  const stream = options?.transport === 'stream';
  let i = start + leadingCrlfLength(b, start, end);
  if (i >= end) return fail('empty message (keep-alive)');
  const msgStart = i;

  const sle = lineEnd(b, i, end);
  if (sle === -1) return fail('bare CR or LF in start line');
  if (sle === -2) return fail('start line not terminated');
  const sl = parseStartLine(b, i, sle);
  if (!sl.ok) return sl;
  i = sle + 2;

  const headers: SipHeader[] = [];
  let contentLengthIndex = -1;
  for (;;) {
    if (i + 1 >= end) return fail('header section not terminated');
    if (b[i] === CR) {
      if (b[i + 1] !== LF) return fail('bare CR in header section');
      i += 2;
      break;
    }
    if (isWsp(b[i])) return fail('folded line without a header');
    const nameStart = i;
    while (i < end && isTokenChar(b[i])) i++;
    const nameEnd = i;
    if (nameEnd === nameStart) return fail('malformed header name');
    while (i < end && isWsp(b[i])) i++;
    if (i >= end || b[i] !== COLON) return fail('header without colon');
    i++;
    // The value: everything up to the CR LF that is not followed by SP/HT. One
    // pass over the bytes: this loop is most of the tokenizer's time.
    let valueStart = -1;
    let lastNonWs = i;
    for (;;) {
      if (i >= end) return fail('header section not terminated');
      const c = b[i];
      if (c === CR) {
        if (i + 1 >= end) return fail('header section not terminated');
        if (b[i + 1] !== LF) return fail('bare CR in header');
        i += 2;
        if (i < end && isWsp(b[i])) continue; // a fold: the value goes on
        break;
      }
      if (c === LF) return fail('bare LF in header');
      if (c !== SP && c !== HT) {
        if (valueStart < 0) valueStart = i;
        lastNonWs = i + 1;
      }
      i++;
    }
    if (valueStart < 0) valueStart = lastNonWs = Math.min(lastNonWs, i - 2);
    if (headers.length >= MAX_HEADERS) return fail('too many headers');
    const canonical = canonicalHeaderName(b, nameStart, nameEnd);
    if (canonical === 'content-length') {
      if (contentLengthIndex >= 0) return fail('multiple Content-Length headers');
      contentLengthIndex = headers.length;
    }
    headers.push({ name: { start: nameStart, end: nameEnd }, canonical, value: { start: valueStart, end: lastNonWs } });
  }

  const bodyStart = i;
  let contentLength: number | null = null;
  if (contentLengthIndex >= 0) {
    const v = headers[contentLengthIndex].value;
    contentLength = parseUint(b, v.start, v.end, MAX_CONTENT_LENGTH);
    if (contentLength < 0) return fail('invalid Content-Length');
  } else if (stream) {
    return fail('Content-Length required on a stream');
  }
  const available = end - bodyStart;
  let bodyEnd = end;
  if (contentLength !== null) {
    if (contentLength > available) return fail(stream ? 'message truncated' : 'Content-Length larger than datagram');
    bodyEnd = bodyStart + contentLength;
  }
  return {
    ok: true,
    message: {
      bytes: b,
      start: msgStart,
      end: bodyEnd,
      startLine: sl.line,
      headers,
      body: { start: bodyStart, end: bodyEnd },
      contentLength,
      contentLengthIndex,
      trailing: { start: bodyEnd, end },
    },
  };
}

/** Indices of the headers with this canonical (lowercase full) name, in order. */
export function findHeaders(m: SipMessage, canonical: string): number[] {
  const out: number[] = [];
  for (let k = 0; k < m.headers.length; k++) if (m.headers[k].canonical === canonical) out.push(k);
  return out;
}

/** Index of the first header with this canonical name, or -1. */
export function findHeader(m: SipMessage, canonical: string): number {
  for (let k = 0; k < m.headers.length; k++) if (m.headers[k].canonical === canonical) return k;
  return -1;
}

/** The logical value of a header: each fold (CR LF plus whitespace) read as one SP. */
export function unfoldedValue(m: SipMessage, header: SipHeader): string {
  const b = m.bytes;
  let s = '';
  let i = header.value.start;
  const end = header.value.end;
  while (i < end) {
    if (b[i] === CR || b[i] === LF) {
      // Replace the fold and the whitespace around it with a single SP.
      while (s.length > 0 && (s.endsWith(' ') || s.endsWith('\t'))) s = s.slice(0, -1);
      while (i < end && isLws(b[i])) i++;
      s += ' ';
      continue;
    }
    s += String.fromCharCode(b[i]);
    i++;
  }
  return s;
}

/** The header value as a latin1 string, folds kept. */
export function rawValue(m: SipMessage, header: SipHeader): string {
  return latin1(m.bytes, header.value.start, header.value.end);
}
