/**
 * Requests the proxy makes itself: CANCEL and the ACK of a non-2xx final
 * response for an INVITE it forwarded (RFC 3261 9.1, 17.1.1.3: built from
 * the INVITE as it was sent), OPTIONS keep-alives to registered phones, and
 * the BYEs that hang up a call whose media timed out.
 */
import { HeaderId } from '../../alg/sip/header-names.js';
import { latin1 } from '../../alg/text/latin1.js';
import { formatSipHost } from '../../alg/sip/host.js';
import { headerLine, type SipInfo } from './message-info.js';
import type { ListenerInfo } from './transport.js';

const { route: ROUTE, from: FROM, to: TO, callId: CALL_ID } = HeaderId;
const encoder = new TextEncoder();

function lineOf(info: SipInfo, k: number): string {
  const l = headerLine(info.m, k);
  return latin1(info.m.bytes, l.start, l.end - 2);
}

/** The header lines of the given kinds, in order, as written. */
function copyHeaders(info: SipInfo, ids: readonly number[]): string[] {
  const out: string[] = [];
  for (let k = 0; k < info.m.headerCount; k++) if (ids.includes(info.m.headerId(k))) out.push(lineOf(info, k));
  return out;
}

function requestUriText(info: SipInfo): string {
  const sl = info.m.startLine;
  return sl.kind === 'request' ? latin1(info.m.bytes, sl.uri.start, sl.uri.end) : '';
}

/** The top Via line of a request as sent (the proxy's own). */
function topViaLine(info: SipInfo): string {
  const b = info.m.bytes;
  return `Via: ${latin1(b, info.topVia.span.start, info.topVia.span.end)}`;
}

function finish(lines: string[]): Uint8Array {
  lines.push('Content-Length: 0', '', '');
  return encoder.encode(lines.join('\r\n'));
}

/** CANCEL for an INVITE as the proxy sent it. */
export function buildCancel(invite: SipInfo): Uint8Array {
  return finish([
    `CANCEL ${requestUriText(invite)} SIP/2.0`,
    topViaLine(invite),
    ...copyHeaders(invite, [ROUTE, FROM, TO, CALL_ID]),
    `CSeq: ${invite.cseq.number} CANCEL`,
    'Max-Forwards: 70',
  ]);
}

/** ACK for a non-2xx final response to an INVITE the proxy sent (hop by hop: To from the response). */
export function buildAck(invite: SipInfo, response: SipInfo): Uint8Array {
  const toLine = copyHeaders(response, [TO])[0] ?? copyHeaders(invite, [TO])[0];
  return finish([
    `ACK ${requestUriText(invite)} SIP/2.0`,
    topViaLine(invite),
    ...copyHeaders(invite, [ROUTE, FROM]),
    toLine,
    ...copyHeaders(invite, [CALL_ID]),
    `CSeq: ${invite.cseq.number} ACK`,
    'Max-Forwards: 70',
  ]);
}

export interface NewRequest {
  method: string;
  requestUri: string;
  listener: ListenerInfo;
  branch: string;
  from: string;
  to: string;
  callId: string;
  cseq: number;
  routes?: readonly string[];
  extra?: readonly string[];
}

export function buildRequest(r: NewRequest): Uint8Array {
  const l = r.listener;
  return finish([
    `${r.method} ${r.requestUri} SIP/2.0`,
    `Via: SIP/2.0/${l.transport.toUpperCase()} ${formatSipHost(l.host)}:${l.port};branch=${r.branch};rport`,
    ...(r.routes ?? []).map((u) => `Route: ${u}`),
    'Max-Forwards: 70',
    `From: ${r.from}`,
    `To: ${r.to}`,
    `Call-ID: ${r.callId}`,
    `CSeq: ${r.cseq} ${r.method}`,
    ...(r.extra ?? []),
  ]);
}
