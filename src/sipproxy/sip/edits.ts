/**
 * The proxy's changes to a message, as byte edits (src/alg/text/edit.ts):
 * received and rport on the top Via (RFC 3581), its own Via, Max-Forwards,
 * the Route entries naming it removed, the Request-URI, Record-Route and
 * Path entries, its Via removed from responses, and Content-Length after
 * the body changed. Everything no edit names stays as the sender wrote it.
 */
import { edit, type Edit } from '../../alg/text/edit.js';
import { applyEdits } from '../../alg/text/apply-edits.js';
import { latin1 } from '../../alg/text/latin1.js';
import { formatSipHost } from '../../alg/sip/host.js';
import { headerLine, headerStart, type RouteEntry, type SipInfo } from './message-info.js';
import type { Flow } from './flow.js';

/** received= and rport= on the top Via: where the request really came from. rport is added even when not asked for (symmetric signalling). */
export function viaReceivedEdits(info: SipInfo, source: Flow): Edit[] {
  const b = info.m.bytes;
  const via = info.topVia;
  const out: Edit[] = [];
  let append = '';
  if (via.rport) {
    if (via.rport.value) out.push(edit(via.rport.value.start, via.rport.value.end, String(source.port)));
    else out.push(edit(via.rport.name.end, via.rport.name.end, `=${source.port}`));
  } else {
    append += `;rport=${source.port}`;
  }
  if (via.received) {
    if (via.received.value && latin1(b, via.received.value.start, via.received.value.end) !== source.address) {
      out.push(edit(via.received.value.start, via.received.value.end, source.address));
    } else if (!via.received.value) {
      out.push(edit(via.received.name.end, via.received.name.end, `=${source.address}`));
    }
  } else {
    append += `;received=${source.address}`;
  }
  if (append) out.push(edit(via.span.end, via.span.end, append));
  return out;
}

/** Inserts whole header lines before header k (or, with k < 0, right after the start line). */
export function insertHeaders(info: SipInfo, k: number, lines: readonly string[]): Edit {
  const m = info.m;
  const at = k >= 0 ? headerStart(m, k) : m.headers.length > 0 ? headerStart(m, 0) : m.body.start - 2;
  return edit(at, at, lines.map((l) => `${l}\r\n`).join(''));
}

export function viaLine(transport: string, host: string, port: number, branch: string): string {
  return `Via: SIP/2.0/${transport.toUpperCase()} ${formatSipHost(host)}:${port};branch=${branch};rport`;
}

/** Max-Forwards one less, or 70 when absent (RFC 3261 16.6 step 3). */
export function maxForwardsEdit(info: SipInfo): Edit {
  const mf = info.maxForwards;
  if (mf === null) return insertHeaders(info, info.firstViaHeader, ['Max-Forwards: 70']);
  return edit(info.m.valueStart(mf.header), info.m.valueEnd(mf.header), String(Math.max(0, mf.value - 1)));
}

/** Removes Route entries (the ones naming this proxy, in order from the top). */
export function removeRouteEdits(info: SipInfo, routes: readonly RouteEntry[]): Edit[] {
  const out: Edit[] = [];
  // Entries of one header are removed together: when all of a header's entries go, the whole line goes.
  const byHeader = new Map<number, RouteEntry[]>();
  for (const r of routes) {
    const list = byHeader.get(r.header) ?? [];
    list.push(r);
    byHeader.set(r.header, list);
  }
  for (const [k, list] of byHeader) {
    const total = info.routes.filter((r) => r.header === k).length;
    if (list.length === total) out.push(edit(headerLine(info.m, k).start, headerLine(info.m, k).end, ''));
    else for (const r of list) out.push(edit(r.removal.start, r.removal.end, ''));
  }
  return out;
}

export function requestUriEdit(info: SipInfo, uri: string): Edit {
  const sl = info.m.startLine;
  if (sl.kind !== 'request') throw new Error('not a request');
  return edit(sl.uri.start, sl.uri.end, uri);
}

/** A response: the proxy's own top Via removed (the whole header when it was alone in it). */
export function removeTopViaEdit(info: SipInfo): Edit {
  if (info.topViaAlone) {
    const l = headerLine(info.m, info.topViaHeader);
    return edit(l.start, l.end, '');
  }
  return edit(info.topViaRemoval.start, info.topViaRemoval.end, '');
}

/** Content-Length after body edits (RFC 3261 20.14); absent stays absent (a datagram frames its body). */
export function contentLengthEdit(info: SipInfo, edits: readonly Edit[]): Edit | null {
  const m = info.m;
  let delta = 0;
  for (const e of edits) if (e.start >= m.body.start) delta += e.text.length - (e.end - e.start);
  if (delta === 0 || m.contentLengthIndex < 0 || m.contentLength === null) return null;
  return edit(m.valueStart(m.contentLengthIndex), m.valueEnd(m.contentLengthIndex), String(m.contentLength + delta));
}

/** The message with the edits applied (the original bytes when there are none). */
export function applyAll(info: SipInfo, edits: readonly Edit[]): Uint8Array {
  const m = info.m;
  const bytes = m.start === 0 && m.end === m.bytes.length ? m.bytes : m.bytes.subarray(m.start, m.end);
  if (edits.length === 0) return bytes;
  const shifted = m.start === 0 ? edits : edits.map((e) => ({ start: e.start - m.start, end: e.end - m.start, text: e.text }));
  const r = applyEdits(bytes, shifted);
  if (!r.ok) throw new Error(`proxy edits do not apply: ${r.reason}`);
  return r.bytes;
}

/** The text of b[start, end) with the edits inside that range applied (for copying one header with changes). */
export function rangeWithEdits(b: Uint8Array, start: number, end: number, edits: readonly Edit[]): string {
  const inside = edits.filter((e) => e.start >= start && e.end <= end).sort((x, y) => x.start - y.start);
  let out = '';
  let at = start;
  for (const e of inside) {
    out += latin1(b, at, e.start) + latin1(e.text, 0, e.text.length);
    at = e.end;
  }
  return out + latin1(b, at, end);
}
