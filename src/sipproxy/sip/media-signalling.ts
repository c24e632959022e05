/**
 * Which SDP is an offer and which an answer, and from which leg, as a proxy
 * sees them go by (RFC 3264 over RFC 3261 and 3262): an INVITE or UPDATE
 * with a body offers; its 18x/2xx answers, or offers when the INVITE had
 * none, and then the ACK (or PRACK) answers. Legs are named by tags: a
 * request's sender by its From tag, a response's by its To tag.
 */
import type { Edit } from '../../alg/text/edit.js';
import type { MediaRelay } from '../media/relay.js';
import type { Flow } from './flow.js';
import type { SipInfo } from './message-info.js';

export type SignalledMedia = { ok: true; edits: Edit[]; offer: boolean } | { ok: false; reason: string };

/** `target`: the next hop the request goes to (the answering phone's flow, for an initial INVITE to a registered phone). */
export async function anchorRequestSdp(relay: MediaRelay, info: SipInfo, source: Flow, target?: Flow): Promise<SignalledMedia> {
  const sdp = info.sdp!;
  const input = { bytes: info.m.bytes, start: sdp.start, end: sdp.end };
  const method = info.method;
  if (method === 'INVITE' || method === 'UPDATE') {
    const r = await relay.offer(info.callId, info.fromTag, source.address, input, info.toTag === null ? target?.address : undefined);
    return r.ok ? { ok: true, edits: r.edits, offer: true } : { ok: false, reason: r.reason };
  }
  if (method === 'ACK' || method === 'PRACK') {
    const r = await relay.answer(info.callId, info.fromTag, source.address, input, method === 'ACK');
    return r.ok ? { ok: true, edits: r.edits, offer: false } : { ok: false, reason: r.reason };
  }
  return { ok: true, edits: [], offer: false };
}

/** A 1xx/2xx with SDP to a request that carried an offer (`offered`) or none. */
export async function anchorResponseSdp(relay: MediaRelay, info: SipInfo, source: Flow, offered: boolean): Promise<SignalledMedia> {
  const sdp = info.sdp!;
  const input = { bytes: info.m.bytes, start: sdp.start, end: sdp.end };
  const final = info.cseq.methodName === 'INVITE' && info.status >= 200;
  const r = offered
    ? await relay.answer(info.callId, info.toTag, source.address, input, final)
    : await relay.offer(info.callId, info.toTag, source.address, input);
  if (r.ok && final && !offered) relay.confirm(info.callId);
  return r.ok ? { ok: true, edits: r.edits, offer: !offered } : { ok: false, reason: r.reason };
}
