/**
 * What the proxy reads from a message, once, from the SIP codec's parse
 * (src/alg/sip): the top Via, the transaction and dialog identifiers, the
 * Route set, Contacts, Max-Forwards, Expires and the SDP body. Everything
 * keeps its spans, so the proxy's changes are byte edits on the original.
 */
import { HeaderId, headerIdOf } from '../../alg/sip/header-names.js';
import { parseAddressList, parseSingleAddress, type AddressEntry } from '../../alg/sip/address.js';
import { findParam } from '../../alg/sip/params.js';
import { parseCallId, parseCSeq, parseDeltaSeconds, isSdpContentType, type CSeq } from '../../alg/sip/scalars.js';
import { parseUri, type Uri } from '../../alg/sip/uri.js';
import { parseViaList, type ViaEntry } from '../../alg/sip/via.js';
import type { SipMessage } from '../../alg/sip/message.js';
import type { Span } from '../../alg/text/span.js';
import { latin1 } from '../../alg/text/latin1.js';
import { parseUint } from '../../alg/text/decimal.js';

export interface RouteEntry {
  /** Header index the entry is in, and whether it is the only entry of that header. */
  header: number;
  alone: boolean;
  entry: AddressEntry;
  /** From the entry's start to the start of the next entry of the same header (comma included), for removal. */
  removal: Span;
}

export interface SipInfo {
  m: SipMessage;
  isRequest: boolean;
  /** Request method (as written) or null. */
  method: string | null;
  status: number;
  requestUri: Uri | null;
  topVia: ViaEntry;
  /** Header index of the top Via, and whether the top via-parm is its only value. */
  topViaHeader: number;
  topViaAlone: boolean;
  /** The via-parm after the top one (a response's next hop), or null. */
  secondVia: ViaEntry | null;
  /** The top Via's removal span when it shares its header with others (comma included). */
  topViaRemoval: Span;
  callId: string;
  cseq: CSeq;
  from: AddressEntry;
  to: AddressEntry;
  fromTag: string | null;
  toTag: string | null;
  routes: RouteEntry[];
  /** Record-Route entries, in order (a response's route set for dialog state). */
  recordRoutes: AddressEntry[];
  firstRecordRouteHeader: number;
  contacts: AddressEntry[];
  contactStar: boolean;
  maxForwards: { header: number; value: number } | null;
  expires: number | null;
  /** The SDP body, when the body is application/sdp and not empty. */
  sdp: Span | null;
  /** The first header of a kind the proxy inserts before (Via, Record-Route, Path), or -1. */
  firstViaHeader: number;
  firstPathHeader: number;
}

export type InfoResult = { ok: true; info: SipInfo } | { ok: false; reason: string };

const { via: VIA, cseq: CSEQ, callId: CALL_ID, from: FROM, to: TO, contact: CONTACT, route: ROUTE, recordRoute: RECORD_ROUTE, expires: EXPIRES, contentType: CONTENT_TYPE } = HeaderId;
const MAX_FORWARDS = headerIdOf('max-forwards');
const PATH = headerIdOf('path');

function tagOf(b: Uint8Array, e: AddressEntry): string | null {
  const p = findParam(b, e.params, 'tag');
  return p && p.value ? latin1(b, p.value.start, p.value.end) : null;
}

/** Reads a parsed message; refuses what a proxy cannot route (RFC 3261 16.3 and the headers every message needs). */
export function readSipInfo(m: SipMessage): InfoResult {
  const b = m.bytes;
  const sl = m.startLine;
  const isRequest = sl.kind === 'request';
  let via = -1;
  let cseqK = -1;
  let callIdK = -1;
  let fromK = -1;
  let toK = -1;
  let mf = -1;
  let expiresK = -1;
  let ctype = -1;
  let firstRR = -1;
  let firstPath = -1;
  const routeHeaders: number[] = [];
  const rrHeaders: number[] = [];
  const contactHeaders: number[] = [];
  for (let k = 0; k < m.headerCount; k++) {
    const id = m.headerId(k);
    if (id === VIA) {
      if (via < 0) via = k;
    } else if (id === CSEQ) {
      if (cseqK >= 0) return { ok: false, reason: 'more than one CSeq' };
      cseqK = k;
    } else if (id === CALL_ID) {
      if (callIdK >= 0) return { ok: false, reason: 'more than one Call-ID' };
      callIdK = k;
    } else if (id === FROM) {
      if (fromK >= 0) return { ok: false, reason: 'more than one From' };
      fromK = k;
    } else if (id === TO) {
      if (toK >= 0) return { ok: false, reason: 'more than one To' };
      toK = k;
    } else if (id === ROUTE) routeHeaders.push(k);
    else if (id === RECORD_ROUTE) {
      if (firstRR < 0) firstRR = k;
      rrHeaders.push(k);
    } else if (id === CONTACT) contactHeaders.push(k);
    else if (id === MAX_FORWARDS) {
      if (mf < 0) mf = k;
    } else if (id === EXPIRES) {
      if (expiresK < 0) expiresK = k;
    } else if (id === CONTENT_TYPE) {
      if (ctype < 0) ctype = k;
    } else if (id === PATH) {
      if (firstPath < 0) firstPath = k;
    }
  }
  if (via < 0) return { ok: false, reason: 'missing Via' };
  if (cseqK < 0) return { ok: false, reason: 'missing CSeq' };
  if (callIdK < 0) return { ok: false, reason: 'missing Call-ID' };
  if (fromK < 0) return { ok: false, reason: 'missing From' };
  if (toK < 0) return { ok: false, reason: 'missing To' };
  const vias = parseViaList(b, m.valueStart(via), m.valueEnd(via), 2);
  if (!vias.ok) return { ok: false, reason: `malformed Via: ${vias.reason}` };
  const topVia = vias.entries[0];
  let secondVia: ViaEntry | null = vias.entries[1] ?? null;
  if (secondVia === null && !isRequest) {
    // The next via-parm is in the next Via header.
    for (let k = via + 1; k < m.headerCount; k++) {
      if (m.headerId(k) !== VIA) continue;
      const next = parseViaList(b, m.valueStart(k), m.valueEnd(k), 1);
      if (next.ok) secondVia = next.entries[0];
      break;
    }
  }
  const cseq = parseCSeq(b, { start: m.valueStart(cseqK), end: m.valueEnd(cseqK) });
  if (!cseq) return { ok: false, reason: 'malformed CSeq' };
  if (isRequest && cseq.methodName !== sl.methodName) return { ok: false, reason: 'CSeq method differs from the request method' };
  const callId = parseCallId(b, { start: m.valueStart(callIdK), end: m.valueEnd(callIdK) });
  if (callId === null) return { ok: false, reason: 'malformed Call-ID' };
  const from = single(m, fromK, 'From');
  if (typeof from === 'string') return { ok: false, reason: from };
  const to = single(m, toK, 'To');
  if (typeof to === 'string') return { ok: false, reason: to };
  let requestUri: Uri | null = null;
  if (isRequest) {
    requestUri = parseUri(b, sl.uri.start, sl.uri.end);
    if (!requestUri) return { ok: false, reason: 'malformed Request-URI' };
  }
  const routes: RouteEntry[] = [];
  for (const k of routeHeaders) {
    const r = parseAddressList(b, m.valueStart(k), m.valueEnd(k));
    if (!r.ok) return { ok: false, reason: `malformed Route: ${r.reason}` };
    r.entries.forEach((entry, i) => {
      const next = r.entries[i + 1];
      routes.push({ header: k, alone: r.entries.length === 1, entry, removal: { start: entry.span.start, end: next ? next.span.start : entry.span.end } });
    });
  }
  const recordRoutes: AddressEntry[] = [];
  for (const k of rrHeaders) {
    const r = parseAddressList(b, m.valueStart(k), m.valueEnd(k));
    if (!r.ok) return { ok: false, reason: `malformed Record-Route: ${r.reason}` };
    recordRoutes.push(...r.entries);
  }
  const contacts: AddressEntry[] = [];
  let contactStar = false;
  for (const k of contactHeaders) {
    const r = parseAddressList(b, m.valueStart(k), m.valueEnd(k), true);
    if (!r.ok) return { ok: false, reason: `malformed Contact: ${r.reason}` };
    if (r.star) contactStar = true;
    contacts.push(...r.entries);
  }
  let maxForwards: SipInfo['maxForwards'] = null;
  if (mf >= 0) {
    const v = parseUint(b, m.valueStart(mf), m.valueEnd(mf), 255);
    if (v < 0) return { ok: false, reason: 'malformed Max-Forwards' };
    maxForwards = { header: mf, value: v };
  }
  const expires = expiresK >= 0 ? parseDeltaSeconds(b, { start: m.valueStart(expiresK), end: m.valueEnd(expiresK) }) : null;
  const sdp = ctype >= 0 && m.body.end > m.body.start && isSdpContentType(b, { start: m.valueStart(ctype), end: m.valueEnd(ctype) }) ? m.body : null;
  // The top via-parm's removal span: up to the next via-parm of the same header.
  const topViaAlone = vias.entries.length === 1;
  const topViaRemoval = { start: topVia.span.start, end: vias.entries[1] ? vias.entries[1].span.start : topVia.span.end };
  return {
    ok: true,
    info: {
      m,
      isRequest,
      method: isRequest ? sl.methodName : null,
      status: sl.kind === 'response' ? sl.code : 0,
      requestUri,
      topVia,
      topViaHeader: via,
      topViaAlone,
      secondVia,
      topViaRemoval,
      callId,
      cseq,
      from,
      to,
      fromTag: tagOf(b, from),
      toTag: tagOf(b, to),
      routes,
      recordRoutes,
      firstRecordRouteHeader: firstRR,
      contacts,
      contactStar,
      maxForwards,
      expires,
      sdp,
      firstViaHeader: via,
      firstPathHeader: firstPath,
    },
  };
}

function single(m: SipMessage, k: number, name: string): AddressEntry | string {
  const r = parseSingleAddress(m.bytes, m.valueStart(k), m.valueEnd(k));
  if ('span' in r) return r;
  if (!r.ok) return `malformed ${name}: ${r.reason}`;
  if (r.entries.length !== 1) return `more than one ${name} value`;
  return r.entries[0];
}

/** The header line of header k: from its name to the start of the next line (CR LF included). */
export function headerLine(m: SipMessage, k: number): Span {
  const hs = m.headers;
  const start = hs[k].name.start;
  const end = k + 1 < hs.length ? hs[k + 1].name.start : m.body.start - 2;
  return { start, end };
}

/** The start of header k's line (where a header inserted before it goes). */
export function headerStart(m: SipMessage, k: number): number {
  return m.headers[k].name.start;
}

/** Text of a span. */
export function spanText(b: Uint8Array, s: Span): string {
  return latin1(b, s.start, s.end);
}
