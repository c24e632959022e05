/**
 * The SIP/SDP rewriter: a parsed message and a context in, byte edits and a
 * summary out. Pure and stateless.
 *
 * What is rewritten, each place only where its address names the translated
 * endpoint (outbound: the inside host, per isPrivate; inbound: our public
 * address, per mapSignalling):
 *
 *   outbound requests   Request-URI, top Via (sent-by, maddr, received),
 *                       every Contact, Route and Record-Route entry,
 *                       From/To if rewriteFromTo, the SDP
 *   outbound responses  every Contact, Route and Record-Route entry,
 *                       From/To if rewriteFromTo, the SDP (an answer)
 *   inbound requests    Request-URI and To (a request to the contact or
 *                       address the phone registered), every Contact, Route
 *                       and Record-Route entry, From if rewriteFromTo
 *   inbound responses   top Via (sent-by, received, rport: the phone checks
 *                       its own Via, RFC 3261 18.1.2), every Contact (a
 *                       REGISTER 2xx lists the bindings; phones look for
 *                       their own to learn the expiry), Route/Record-Route,
 *                       From/To if rewriteFromTo
 *
 * Inbound SDP is not rewritten: it describes the remote side, which is
 * reachable as written; its streams are reported in the summary.
 *
 * A message the rewriter cannot fully read is refused ({ ok: false }) rather
 * than half-rewritten: a missing or repeated CSeq/Call-ID/From/To, an
 * unreadable top Via, Contact, Route or Record-Route, a Request-URI that is
 * not a URI, an unreadable From/To URI where it may be rewritten, a CSeq
 * method differing from the request method, or (outbound) an SDP body that
 * does not parse. The ALG then passes the packet unchanged.
 */
import * as latin1Module from '../text/latin1.js';
import type { RewriteContext } from './context.js';
import type { Edit } from '../text/edit.js';
import type { SipMessage } from './message.js';
import * as messageModule from './message.js';
import * as headerNamesModule from './header-names.js';
import type { AddressEntry } from './address.js';
import * as addressModule from './address.js';
import * as paramsModule from './params.js';
import type { CSeq } from './scalars.js';
import * as scalarsModule from './scalars.js';
import type { Uri } from './uri.js';
import * as uriModule from './uri.js';
import type { ViaEntry } from './via.js';
import * as viaModule from './via.js';
import type { SdpLayout } from '../sdp/layout.js';
import * as layoutModule from '../sdp/layout.js';
import { Translator } from './translator.js';
import * as rewriteSdpModule from './rewrite-sdp.js';
import type { ContactSummary, MediaStreamSummary, SipSummary } from './summary.js';
import * as hostModule from './host.js';
import * as offerAnswerModule from './offer-answer.js';

// Local copies of the imports: an imported binding is read from its module
// cell at every use, even in optimized loops; a module-local const is not
// (see "Module bindings" in src/alg/text/README.md).
const { latin1 } = latin1Module;
const { headerValue } = messageModule;
const { HeaderId } = headerNamesModule;
const { via: VIA, cseq: CSEQ, callId: CALL_ID, from: FROM, to: TO, contact: CONTACT, route: ROUTE, recordRoute: RECORD_ROUTE, expires: EXPIRES, contentType: CONTENT_TYPE } = HeaderId;
const { parseAddressList, parseSingleAddress } = addressModule;
const { findParam } = paramsModule;
const { parseCSeq, parseCallId, parseDeltaSeconds, isSdpContentType, paramDeltaSeconds } = scalarsModule;
const { parseUri, defaultSipPort } = uriModule;
const { parseTopVia } = viaModule;
const { acquireSdpLayout, releaseSdpLayout } = layoutModule;
const { rewriteSdpOutbound, summarizeSdp } = rewriteSdpModule;
const { hostAddress } = hostModule;
const { carriesOfferAnswer } = offerAnswerModule;

export type RewriteResult =
  | { ok: true; edits: Edit[]; summary: SipSummary }
  | { ok: false; reason: string };

function refuse(reason: string): RewriteResult {
  return { ok: false, reason };
}

/**
 * The header indices the rewriter reads, found in one pass. Single-valued
 * headers keep their first index and a count; the list headers keep every
 * index (their arrays are only made when such a header exists).
 */
interface Wanted {
  via: number;
  cseq: number;
  cseqCount: number;
  callId: number;
  callIdCount: number;
  from: number;
  fromCount: number;
  to: number;
  toCount: number;
  contact: number[] | null;
  route: number[] | null;
  recordRoute: number[] | null;
  expires: number;
  contentType: number;
}

function collect(m: SipMessage): Wanted {
  const w: Wanted = {
    via: -1, cseq: -1, cseqCount: 0, callId: -1, callIdCount: 0, from: -1, fromCount: 0, to: -1, toCount: 0,
    contact: null, route: null, recordRoute: null, expires: -1, contentType: -1,
  };
  const n = m.headerCount;
  for (let k = 0; k < n; k++) {
    switch (m.headerId(k)) {
      case VIA:
        if (w.via < 0) w.via = k;
        break;
      case CSEQ:
        if (w.cseqCount++ === 0) w.cseq = k;
        break;
      case CALL_ID:
        if (w.callIdCount++ === 0) w.callId = k;
        break;
      case FROM:
        if (w.fromCount++ === 0) w.from = k;
        break;
      case TO:
        if (w.toCount++ === 0) w.to = k;
        break;
      case CONTACT:
        if (w.contact === null) w.contact = [k];
        else w.contact.push(k);
        break;
      case ROUTE:
        if (w.route === null) w.route = [k];
        else w.route.push(k);
        break;
      case RECORD_ROUTE:
        if (w.recordRoute === null) w.recordRoute = [k];
        else w.recordRoute.push(k);
        break;
      case EXPIRES:
        if (w.expires < 0) w.expires = k;
        break;
      case CONTENT_TYPE:
        if (w.contentType < 0) w.contentType = k;
        break;
      default:
        break;
    }
  }
  return w;
}

function countReason(count: number, name: string): string | null {
  if (count === 1) return null;
  return count === 0 ? `missing ${name}` : `more than one ${name}`;
}

/**
 * The single name-addr of From or To, or a reason. Its URI is read (and must
 * be readable) only when it may be rewritten: otherwise only the tag matters.
 */
function singleAddress(m: SipMessage, index: number, count: number, name: string, needUri: boolean): AddressEntry | string {
  const c = countReason(count, name);
  if (c) return c;
  const r = parseSingleAddress(m.bytes, m.valueStart(index), m.valueEnd(index), needUri);
  let entry: AddressEntry;
  if ('span' in r) {
    entry = r;
  } else {
    if (!r.ok) return `malformed ${name}: ${r.reason}`;
    if (r.entries.length !== 1) return `more than one ${name} value`;
    entry = r.entries[0];
  }
  if (needUri && !entry.uri) return `malformed ${name} URI`;
  return entry;
}

/** Every entry of a list header (Contact, Route, Record-Route), each URI readable. */
function addressLists(m: SipMessage, idx: number[] | null, name: string, allowStar: boolean, out: AddressEntry[]): string | null | 'star' {
  if (idx === null) return null;
  let star = false;
  for (const k of idx) {
    const r = parseAddressList(m.bytes, m.valueStart(k), m.valueEnd(k), allowStar);
    if (!r.ok) return `malformed ${name}: ${r.reason}`;
    if (r.star) star = true;
    for (const e of r.entries) {
      if (!e.uri) return `malformed ${name} URI`;
      out.push(e);
    }
  }
  if (star && (out.length > 0 || idx.length > 1)) return `${name} "*" mixed with addresses`;
  return star ? 'star' : null;
}

function paramText(b: Uint8Array, e: AddressEntry, name: string): string | null {
  const p = findParam(b, e.params, name);
  return p && p.value ? latin1(b, p.value.start, p.value.end) : null;
}

/**
 * Produces the edits and the summary for one message. Never throws on any
 * parsed input. `firstCallId`: what parseCallId read from the message's first
 * Call-ID header, when the caller has already read it (the ALG keys its calls
 * by it); the header count is checked all the same.
 */
export function rewriteSipMessage(m: SipMessage, ctx: RewriteContext, firstCallId?: string): RewriteResult {
  const b = m.bytes;
  const sl = m.startLine;
  const isRequest = sl.kind === 'request';
  const w = collect(m);

  if (w.via < 0) return refuse('missing Via');
  const via: ViaEntry | null = parseTopVia(b, m.valueStart(w.via), m.valueEnd(w.via));
  if (!via) return refuse('malformed top Via');
  const cseqCount = countReason(w.cseqCount, 'CSeq');
  if (cseqCount) return refuse(cseqCount);
  const cseq = parseCSeq(b, headerValue(m, w.cseq));
  if (!cseq) return refuse('malformed CSeq');
  if (isRequest && cseq.methodName !== sl.methodName) return refuse('CSeq method differs from the request method');
  const callIdCount = countReason(w.callIdCount, 'Call-ID');
  if (callIdCount) return refuse(callIdCount);
  const callId = firstCallId ?? parseCallId(b, headerValue(m, w.callId));
  if (callId === null) return refuse('malformed Call-ID');
  const outbound = ctx.direction === 'outbound';
  const from = singleAddress(m, w.from, w.fromCount, 'From', ctx.rewriteFromTo);
  if (typeof from === 'string') return refuse(from);
  const to = singleAddress(m, w.to, w.toCount, 'To', ctx.rewriteFromTo || (!outbound && isRequest));
  if (typeof to === 'string') return refuse(to);
  let ruri: Uri | null = null;
  if (isRequest) {
    ruri = parseUri(b, sl.uri.start, sl.uri.end);
    if (!ruri) return refuse('malformed Request-URI');
  }
  const contacts: AddressEntry[] = [];
  const cs = addressLists(m, w.contact, 'Contact', true, contacts);
  if (cs !== null && cs !== 'star') return refuse(cs);
  const routes: AddressEntry[] = [];
  const rs = addressLists(m, w.route, 'Route', false, routes);
  if (rs !== null) return refuse(rs as string);
  const recordRoutes: AddressEntry[] = [];
  const rrs = addressLists(m, w.recordRoute, 'Record-Route', false, recordRoutes);
  if (rrs !== null) return refuse(rrs as string);

  let hasSdp = false;
  let sdpError: string | null = null;
  let sdp: SdpLayout | null = null;
  // Only an offer or an answer is scanned: other SDP bodies set up no media (offer-answer.ts).
  if (m.body.end > m.body.start && w.contentType >= 0 && carriesOfferAnswer(isRequest, isRequest ? sl.methodName : '', isRequest ? 0 : sl.code, cseq.methodName)) {
    if (isSdpContentType(b, headerValue(m, w.contentType))) {
      hasSdp = true;
      sdp = acquireSdpLayout();
      sdpError = sdp.scan(b, m.body.start, m.body.end);
      if (sdpError !== null) {
        releaseSdpLayout(sdp);
        sdp = null;
      }
    }
  }
  if (outbound && sdpError !== null) return refuse(`malformed SDP: ${sdpError}`);
  try {
    return rewriteScanned(m, ctx, w, via, cseq, callId, from, to, ruri, contacts, cs === 'star', routes, recordRoutes, hasSdp, sdp, sdpError);
  } finally {
    if (sdp) releaseSdpLayout(sdp);
  }
}

/** The edits and summary of a message whose parts have all been read (the SDP, if any, scanned into `sdp`). */
function rewriteScanned(
  m: SipMessage,
  ctx: RewriteContext,
  w: Wanted,
  via: ViaEntry,
  cseq: CSeq,
  callId: string,
  from: AddressEntry,
  to: AddressEntry,
  ruri: Uri | null,
  contacts: AddressEntry[],
  contactStar: boolean,
  routes: AddressEntry[],
  recordRoutes: AddressEntry[],
  hasSdp: boolean,
  sdp: SdpLayout | null,
  sdpError: string | null,
): RewriteResult {
  const b = m.bytes;
  const sl = m.startLine;
  const isRequest = sl.kind === 'request';
  const outbound = ctx.direction === 'outbound';

  const t = new Translator(b, ctx);
  if (outbound) {
    if (isRequest) {
      t.uri(ruri!, 'request-uri');
      rewriteViaOutbound(t, via);
    }
  } else if (isRequest) {
    t.uri(ruri!, 'request-uri');
    t.uri(to.uri!, 'to');
  } else {
    restoreViaInbound(t, via);
  }
  for (const c of contacts) t.uri(c.uri!, 'contact');
  for (const r of routes) t.uri(r.uri!, 'route');
  for (const r of recordRoutes) t.uri(r.uri!, 'record-route');
  if (ctx.rewriteFromTo) {
    t.uri(from.uri!, 'from');
    if (outbound || !isRequest) t.uri(to.uri!, 'to');
  }

  const media: MediaStreamSummary[] = [];
  if (sdp) {
    if (outbound) rewriteSdpOutbound(t, sdp, media);
    else summarizeSdp(b, sdp, media);
  }

  // Content-Length follows the body (RFC 3261 20.14). When the header is absent
  // (allowed in a datagram) it stays absent: the datagram length frames the body.
  let bodyDelta = 0;
  for (const e of t.edits) {
    if (e.start >= m.body.start) bodyDelta += e.text.length - (e.end - e.start);
  }
  if (bodyDelta !== 0 && m.contentLengthIndex >= 0 && m.contentLength !== null) {
    t.replaceNumber(headerValue(m, m.contentLengthIndex), m.contentLength + bodyDelta);
  }

  const contactSummaries: ContactSummary[] = [];
  for (let k = 0; k < contacts.length; k++) {
    const c = contacts[k];
    const hp = c.uri!.hostPort;
    contactSummaries.push({
      uri: latin1(b, c.uriSpan.start, c.uriSpan.end),
      host: hp ? hostAddress(b, hp) : null,
      port: hp ? hp.portNumber : null,
      expires: paramDeltaSeconds(b, findParam(b, c.params, 'expires')),
    });
  }
  const summary: SipSummary = {
    kind: sl.kind,
    method: isRequest ? sl.methodName : null,
    status: sl.kind === 'response' ? sl.code : null,
    cseq: { number: cseq.number, method: cseq.methodName },
    callId,
    fromTag: paramText(b, from, 'tag'),
    toTag: paramText(b, to, 'tag'),
    branch: via.branch && via.branch.value ? latin1(b, via.branch.value.start, via.branch.value.end) : null,
    viaTransport: via.transportName,
    expires: w.expires >= 0 ? parseDeltaSeconds(b, headerValue(m, w.expires)) : null,
    contactStar,
    contacts: contactSummaries,
    hasSdp,
    sdpError,
    media,
  };
  return { ok: true, edits: t.edits, summary };
}

function viaDefaultPort(via: ViaEntry): number {
  return defaultSipPort('sip', via.transportName);
}

/** Outbound request: the top Via is the inside host's own. */
function rewriteViaOutbound(t: Translator, via: ViaEntry): void {
  const port = via.portNumber ?? viaDefaultPort(via);
  t.hostPort(via.host, via.hostKind, via.port, via.portNumber, viaDefaultPort(via), via.transportName, 'via');
  if (via.maddr) t.addressParam(via.maddr, port, via.transportName, 'via-maddr', true);
  if (via.received) t.addressParam(via.received, port, via.transportName, 'via-received', false);
}

/**
 * Inbound response: the top Via is the one the inside host wrote (rewritten
 * on the way out). received= and rport= (RFC 3581), added by the server to
 * say where the request came from, name our public endpoint: restored too, so
 * the phone sees a consistent Via and leaves NAT handling to the ALG.
 */
function restoreViaInbound(t: Translator, via: ViaEntry): void {
  const b = t.b;
  const defaultPort = viaDefaultPort(via);
  const sentByPort = via.portNumber ?? defaultPort;
  t.hostPort(via.host, via.hostKind, via.port, via.portNumber, defaultPort, via.transportName, 'via');
  const rport = via.rport && via.rport.value ? via.rport : null;
  const rportValue = rport ? parseDeltaSeconds(b, rport.value!) : null;
  const observedPort = rportValue !== null && rportValue <= 65535 ? rportValue : sentByPort;
  let inside = null;
  if (via.received) {
    inside = t.addressParam(via.received, observedPort, via.transportName, 'via-received', false);
  } else if (rport) {
    inside = t.translate(hostAddress(b, { host: via.host, kind: via.hostKind }), observedPort, via.transportName, 'via-rport');
  }
  if (inside && rport && rportValue !== null && inside.port !== rportValue) t.replaceNumber(rport.value!, inside.port);
}
