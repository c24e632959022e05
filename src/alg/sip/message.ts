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
import type { Span } from '../text/span.js';
import * as asciiModule from '../text/ascii.js';
import * as charClassModule from '../text/char-class.js';
import * as whitespaceModule from '../text/whitespace.js';
import * as decimalModule from '../text/decimal.js';
import * as latin1Module from '../text/latin1.js';
import * as byteSearchModule from '../text/byte-search.js';
import * as crlfLinesModule from '../text/crlf-lines.js';
import * as headerNamesModule from './header-names.js';
import type { StartLine } from './start-line.js';
import * as startLineModule from './start-line.js';

// Local copies of the imports: an imported binding is read from its module
// cell at every use, even in optimized loops; a module-local const is not
// (see "Module bindings" in src/alg/text/README.md).
const { CR, LF, COLON } = asciiModule;
const { isTokenChar } = charClassModule;
const { isWsp, isLws } = whitespaceModule;
const { parseUint } = decimalModule;
const { latin1, lowerLatin1 } = latin1Module;
const { findLineBreak } = byteSearchModule;
const { crlfLineEnd, leadingCrlfLength, BARE_LINE_BREAK, NO_LINE_END } = crlfLinesModule;
const { HEADER_NAMES, headerIdOf, tokenNameId } = headerNamesModule;
const { parseStartLine } = startLineModule;

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
  /** The headers in order, as objects (made on first use; the accessors below make none). */
  readonly headers: SipHeader[];
  /** Number of headers. */
  readonly headerCount: number;
  /** Header k's name id: a HeaderId (index in HEADER_NAMES), or -1 for a name not in that table. */
  headerId(k: number): number;
  /** Header k's value bounds (the value span of headers[k], without making it). */
  valueStart(k: number): number;
  valueEnd(k: number): number;
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

/**
 * Numbers per header in a header table: name start, name end, value start,
 * value end, name id.
 */
const STRIDE = 5;

/**
 * A parsed message. Its headers are kept as flat numbers in a header table
 * (no object per header: the rewriter reads offsets and ids); the header
 * objects are made only when `headers` is read.
 */
class ParsedSipMessage implements SipMessage {
  // Private (#) so that neither JSON nor inspection walks the shared slab.
  readonly #table: Int32Array;
  readonly #base: number;
  #objects: SipHeader[] | null = null;

  constructor(
    readonly bytes: Uint8Array,
    readonly start: number,
    readonly end: number,
    readonly startLine: StartLine,
    table: Int32Array,
    base: number,
    readonly headerCount: number,
    readonly body: Span,
    readonly contentLength: number | null,
    readonly contentLengthIndex: number,
    readonly trailing: Span,
  ) {
    this.#table = table;
    this.#base = base;
  }

  headerId(k: number): number {
    return this.#table[this.#base + k * STRIDE + 4];
  }

  valueStart(k: number): number {
    return this.#table[this.#base + k * STRIDE + 2];
  }

  valueEnd(k: number): number {
    return this.#table[this.#base + k * STRIDE + 3];
  }

  get headers(): SipHeader[] {
    if (this.#objects === null) {
      const t = this.#table;
      const out: SipHeader[] = [];
      for (let k = 0, o = this.#base; k < this.headerCount; k++, o += STRIDE) {
        const id = t[o + 4];
        out.push({
          name: { start: t[o], end: t[o + 1] },
          canonical: id >= 0 ? HEADER_NAMES[id] : lowerLatin1(this.bytes, t[o], t[o + 1]),
          value: { start: t[o + 2], end: t[o + 3] },
        });
      }
      this.#objects = out;
    }
    return this.#objects;
  }
}

/**
 * Header tables are carved from shared slabs: a small typed array of its own
 * costs more to allocate than parsing the headers, and a plain array grown by
 * push reallocates several times. A table is written in place at the free end
 * of the slab (room for MAX_HEADERS is reserved first) and the free offset
 * moves past it only when the parse succeeds. No table is handed out twice; a
 * message keeps its slab alive while it lives.
 */
const TABLE_SLAB_INTS = 16 * 1024;
const TABLE_MAX_INTS = MAX_HEADERS * STRIDE;
let tableSlab = new Int32Array(TABLE_SLAB_INTS);
let tableUsed = 0;

function reserveTable(): void {
  if (tableUsed + TABLE_MAX_INTS > TABLE_SLAB_INTS) {
    tableSlab = new Int32Array(TABLE_SLAB_INTS);
    tableUsed = 0;
  }
}

/** Parses one SIP message from b[start, end). Never throws on any input. */
export function parseSipMessage(b: Uint8Array, options?: ParseOptions, start = 0, end = b.length): ParseResult {
  if (start < 0 || end > b.length || start > end) return fail('bad range');
  const stream = options?.transport === 'stream';
  let i = start + leadingCrlfLength(b, start, end);
  if (i >= end) return fail('empty message (keep-alive)');
  const msgStart = i;

  const sle = crlfLineEnd(b, i, end);
  if (sle === BARE_LINE_BREAK) return fail('bare CR or LF in start line');
  if (sle === NO_LINE_END) return fail('start line not terminated');
  const sl = parseStartLine(b, i, sle);
  if (!sl.ok) return sl;
  i = sle + 2;

  reserveTable();
  const table = tableSlab;
  const tableStart = tableUsed;
  let o = tableStart;
  let count = 0;
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
    // The value: everything up to the CR LF that is not followed by SP/HT.
    // The first CR or LF decides, as it would byte by byte: a CR LF and SP/HT
    // is a fold and the value goes on; a bare CR or LF is an error.
    const afterColon = i;
    let lastCr: number;
    for (;;) {
      i = findLineBreak(b, i, end);
      if (i >= end) return fail('header section not terminated');
      if (b[i] === LF) return fail('bare LF in header');
      if (i + 1 >= end) return fail('header section not terminated');
      if (b[i + 1] !== LF) return fail('bare CR in header');
      lastCr = i;
      i += 2;
      if (i < end && isWsp(b[i])) continue; // a fold: the value goes on
      break;
    }
    // Trim LWS (folds included) at both ends; an empty value sits just after the colon.
    let valueStart = afterColon;
    while (valueStart < lastCr && isLws(b[valueStart])) valueStart++;
    let valueEnd = lastCr;
    if (valueStart === lastCr) valueStart = valueEnd = afterColon;
    else while (isLws(b[valueEnd - 1])) valueEnd--;
    if (count >= MAX_HEADERS) return fail('too many headers');
    const id = tokenNameId(b, nameStart, nameEnd);
    if (id === CONTENT_LENGTH) {
      if (contentLengthIndex >= 0) return fail('multiple Content-Length headers');
      contentLengthIndex = count;
    }
    table[o] = nameStart;
    table[o + 1] = nameEnd;
    table[o + 2] = valueStart;
    table[o + 3] = valueEnd;
    table[o + 4] = id;
    o += STRIDE;
    count++;
  }

  const bodyStart = i;
  let contentLength: number | null = null;
  if (contentLengthIndex >= 0) {
    const c = tableStart + contentLengthIndex * STRIDE;
    contentLength = parseUint(b, table[c + 2], table[c + 3], MAX_CONTENT_LENGTH);
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
  tableUsed = o;
  return {
    ok: true,
    message: new ParsedSipMessage(b, msgStart, bodyEnd, sl.line, table, tableStart, count, { start: bodyStart, end: bodyEnd }, contentLength, contentLengthIndex, { start: bodyEnd, end }),
  };
}

const CONTENT_LENGTH = headerIdOf('content-length');

/** Header k's value as a span. */
export function headerValue(m: SipMessage, k: number): Span {
  return { start: m.valueStart(k), end: m.valueEnd(k) };
}

/** Indices of the headers with this canonical (lowercase full) name, in order. */
export function findHeaders(m: SipMessage, canonical: string): number[] {
  const out: number[] = [];
  const id = headerIdOf(canonical);
  if (id >= 0) {
    for (let k = 0; k < m.headerCount; k++) if (m.headerId(k) === id) out.push(k);
    return out;
  }
  const hs = m.headers;
  for (let k = 0; k < hs.length; k++) if (hs[k].canonical === canonical) out.push(k);
  return out;
}

/** Index of the first header with this known-name id (HeaderId), or -1. */
export function findHeaderById(m: SipMessage, id: number): number {
  for (let k = 0; k < m.headerCount; k++) if (m.headerId(k) === id) return k;
  return -1;
}

/** Index of the first header with this canonical name, or -1. */
export function findHeader(m: SipMessage, canonical: string): number {
  const id = headerIdOf(canonical);
  if (id >= 0) return findHeaderById(m, id);
  const hs = m.headers;
  for (let k = 0; k < hs.length; k++) if (hs[k].canonical === canonical) return k;
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
