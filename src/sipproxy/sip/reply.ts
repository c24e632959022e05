/**
 * Responses the proxy makes itself (RFC 3261 8.2.6): 100 Trying, the
 * registrar's answers, and the errors (400, 404, 482, 483, 488, 503, ...).
 * Via headers, From, Call-ID and CSeq are copied from the request as
 * written, the top Via with received and rport; To gets a tag when the
 * request had none (except on 100).
 */
import { HeaderId } from '../../alg/sip/header-names.js';
import { latin1 } from '../../alg/text/latin1.js';
import type { Edit } from '../../alg/text/edit.js';
import { headerLine, type SipInfo } from './message-info.js';
import { rangeWithEdits } from './edits.js';

const { via: VIA, from: FROM, to: TO, callId: CALL_ID, cseq: CSEQ } = HeaderId;
const encoder = new TextEncoder();

export const REASONS: Record<number, string> = {
  100: 'Trying',
  200: 'OK',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  416: 'Unsupported URI Scheme',
  420: 'Bad Extension',
  423: 'Interval Too Brief',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  483: 'Too Many Hops',
  488: 'Not Acceptable Here',
  500: 'Server Internal Error',
  503: 'Service Unavailable',
  504: 'Server Time-out',
};

export interface ReplyOptions {
  reason?: string;
  /** The tag for To when the request had none (status > 100). */
  toTag?: string;
  /** More header lines (without CR LF). */
  headers?: readonly string[];
  /** Edits of the request that apply to the copied Via (received/rport). */
  viaEdits?: readonly Edit[];
}

/** A response to the request `info`. */
export function buildReply(info: SipInfo, status: number, o: ReplyOptions = {}): Uint8Array {
  const m = info.m;
  const b = m.bytes;
  const lines: string[] = [`SIP/2.0 ${status} ${o.reason ?? REASONS[status] ?? 'Unknown'}`];
  for (let k = 0; k < m.headerCount; k++) {
    const id = m.headerId(k);
    if (id !== VIA && id !== FROM && id !== TO && id !== CALL_ID && id !== CSEQ) continue;
    const line = headerLine(m, k);
    // The line without its CR LF.
    let text = k === info.topViaHeader && o.viaEdits ? rangeWithEdits(b, line.start, line.end - 2, o.viaEdits) : latin1(b, line.start, line.end - 2);
    if (id === TO && info.toTag === null && status > 100 && o.toTag) text += `;tag=${o.toTag}`;
    lines.push(text);
  }
  for (const h of o.headers ?? []) lines.push(h);
  lines.push('Content-Length: 0', '', '');
  return encoder.encode(lines.join('\r\n'));
}
