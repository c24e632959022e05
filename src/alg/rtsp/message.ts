/**
 * One framed RTSP message read in place: the start line (a request's method
 * and URI, or a response's status), and the headers the ALG uses, as spans.
 * Lines end in CR LF (the framer refused anything else); a header line that
 * starts with SP or HT continues the value above (RFC 2326 uses HTTP/1.1's
 * LWS). Header names compare case-insensitively ("Cseq" from VLC is CSeq).
 */
import * as caseModule from '../text/case.js';
import * as crlfLinesModule from '../text/crlf-lines.js';
import * as decimalModule from '../text/decimal.js';
import * as latin1Module from '../text/latin1.js';
import * as whitespaceModule from '../text/whitespace.js';
import type { Span } from '../text/span.js';
import { isRtspVersion } from './framing.js';

// Local copies of the imports (see "Module bindings" in src/alg/text/README.md).
const { spanEqualsLower } = caseModule;
const { crlfLineEnd } = crlfLinesModule;
const { parseUint } = decimalModule;
const { latin1 } = latin1Module;
const { isWsp } = whitespaceModule;

const SP = 0x20;
const COLON = 0x3a;
const SEMI = 0x3b;

/** More header lines than a real message has; beyond them the message is not read. */
export const MAX_RTSP_HEADERS = 128;

export interface RtspHeader {
  name: Span;
  /** The value, leading and trailing whitespace left out (folds inside it kept). */
  value: Span;
}

export interface RtspMessage {
  bytes: Uint8Array;
  /** Request: its method and URI; response: status > 0. */
  method: Span | null;
  uri: Span | null;
  status: number;
  headers: RtspHeader[];
}

export type RtspParse = { ok: true; message: RtspMessage } | { ok: false; reason: string };

/** Reads a framed message's start line and headers. Never throws. */
export function parseRtspMessage(b: Uint8Array): RtspParse {
  const end = b.length;
  const startEnd = crlfLineEnd(b, 0, end);
  if (startEnd < 0) return { ok: false, reason: 'start line without CR LF' };
  let method: Span | null = null;
  let uri: Span | null = null;
  let status = 0;
  if (isRtspVersion(b, 0, startEnd)) {
    status = startEnd >= 12 ? parseUint(b, 9, 12, 999) : -1;
    if (status < 100) return { ok: false, reason: 'status code' };
  } else {
    let i = 0;
    while (i < startEnd && b[i] !== SP) i++;
    const uriStart = i + 1;
    let j = uriStart;
    while (j < startEnd && b[j] !== SP) j++;
    if (i === 0 || j >= startEnd || j === uriStart) return { ok: false, reason: 'request line' };
    method = { start: 0, end: i };
    uri = { start: uriStart, end: j };
  }
  const headers: RtspHeader[] = [];
  let line = startEnd + 2;
  for (;;) {
    const lineEnd = crlfLineEnd(b, line, end);
    if (lineEnd < 0) return { ok: false, reason: 'header line without CR LF' };
    if (lineEnd === line) break;
    if (isWsp(b[line])) {
      // A fold: the value above runs on through this line.
      const last = headers[headers.length - 1];
      if (last === undefined) return { ok: false, reason: 'fold before the first header' };
      let ve = lineEnd;
      while (ve > line && isWsp(b[ve - 1])) ve--;
      if (ve > line) last.value.end = ve;
    } else {
      let colon = line;
      while (colon < lineEnd && b[colon] !== COLON) colon++;
      if (colon >= lineEnd) return { ok: false, reason: 'header line without a colon' };
      if (headers.length >= MAX_RTSP_HEADERS) return { ok: false, reason: `more than ${MAX_RTSP_HEADERS} headers` };
      let nameEnd = colon;
      while (nameEnd > line && isWsp(b[nameEnd - 1])) nameEnd--;
      let vs = colon + 1;
      let ve = lineEnd;
      while (vs < ve && isWsp(b[vs])) vs++;
      while (ve > vs && isWsp(b[ve - 1])) ve--;
      headers.push({ name: { start: line, end: nameEnd }, value: { start: vs, end: ve } });
    }
    line = lineEnd + 2;
  }
  return { ok: true, message: { bytes: b, method, uri, status, headers } };
}

/** The headers named `lower` (a lowercase name), in order. */
export function headersNamed(m: RtspMessage, lower: string): RtspHeader[] {
  return m.headers.filter((h) => spanEqualsLower(m.bytes, h.name.start, h.name.end, lower));
}

/** The one header named `lower`: its value, or null (absent, or more than one). */
export function singleHeader(m: RtspMessage, lower: string): Span | null {
  const hs = headersNamed(m, lower);
  return hs.length === 1 ? hs[0].value : null;
}

/** Whether a request's method is `upper` (methods are case-sensitive). */
export function methodIs(m: RtspMessage, upper: string): boolean {
  const s = m.method;
  if (s === null || s.end - s.start !== upper.length) return false;
  for (let k = 0; k < upper.length; k++) if (m.bytes[s.start + k] !== upper.charCodeAt(k)) return false;
  return true;
}

/** CSeq, or -1 when absent or not a number. */
export function cseqOf(m: RtspMessage): number {
  const v = singleHeader(m, 'cseq');
  return v === null ? -1 : parseUint(m.bytes, v.start, v.end, 0xffffffff);
}

export interface SessionHeader {
  /** The session identifier's text. */
  id: string;
  /** The timeout parameter in seconds, or -1 when not given. */
  timeout: number;
}

/** `Session: id[;timeout=n]`, or null. */
export function sessionOf(m: RtspMessage): SessionHeader | null {
  const v = singleHeader(m, 'session');
  if (v === null) return null;
  const b = m.bytes;
  let idEnd = v.start;
  while (idEnd < v.end && b[idEnd] !== SEMI && !isWsp(b[idEnd])) idEnd++;
  if (idEnd === v.start || idEnd - v.start > 256) return null;
  const id = latin1(b, v.start, idEnd);
  let timeout = -1;
  let i = idEnd;
  while (i < v.end) {
    while (i < v.end && (b[i] === SEMI || isWsp(b[i]))) i++;
    const ps = i;
    while (i < v.end && b[i] !== SEMI) i++;
    let pe = i;
    while (pe > ps && isWsp(b[pe - 1])) pe--;
    if (pe - ps > 8 && spanEqualsLower(b, ps, ps + 8, 'timeout=')) timeout = parseUint(b, ps + 8, pe, 0xffffffff);
  }
  return { id, timeout };
}
