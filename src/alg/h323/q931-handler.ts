/**
 * H.225.0 call signalling (Q.931 on TCP 1720): one TPKT message at a time.
 *
 * Outbound (from the inside endpoint), what names the endpoint itself is
 * rewritten to its public side: sourceCallSignalAddress; h245Address, with
 * a pinhole from the peer that carries the H.245 handler; every fastStart
 * OpenLogicalChannel and tunnelled H.245 OpenLogicalChannel(Ack), with
 * media pinholes (h245-channels.ts); a Facility that forwards the call to
 * the endpoint itself. Inbound, our public address in a Setup's
 * destCallSignalAddress is put back to the inside endpoint (a static forward
 * of 1720), an h245Address the peer announces becomes an outbound
 * expectation (the endpoint will dial it, with the H.245 handler), and so
 * does the target of a forwarded call.
 *
 * ReleaseComplete ends the call with its pinholes. A message of an H.460.18
 * or .19 endpoint passes untouched and switches the ALG off for its flow.
 */
import type { AlgFlow, AlgServices, HandleResult } from '../helper.js';
import type { AddressEdits } from './address-edits.js';
import type { CallState } from './call.js';
import { endCall } from './call-end.js';
import { expectDial, H245_HANDLER, h245Pinhole, H323_ALG, signallingPinhole } from './call-pinholes.js';
import type { H323Context } from './context.js';
import type { H245Channels } from './h245-channels.js';
import { FIELD } from './per-fields.gen.js';
import { EV } from './per-events.js';
import { walkUserInformation } from './per-walk.js';
import { parseQ931, Q931 } from './q931.js';
import { TPKT_HEADER } from './tpkt.js';
import { isTraversalFeature } from './traversal-features.js';

/** h323-message-body alternatives. */
const BODY_RELEASE_COMPLETE = 5;
/** FacilityReason alternatives. */
const REASON_CALL_FORWARDED = 1;
/** How long an announced call signalling or H.245 address waits for the inside endpoint to dial it. */
const DIAL_WAIT_MS = 60_000;

const { ADDRESS, BODY, FACILITY_REASON, NEST } = EV;
const { h245Address, sourceCallSignalAddress, destCallSignalAddress, alternativeAddress } = FIELD;

export function handleQ931(cx: H323Context, channels: H245Channels, flow: AlgFlow, message: Uint8Array, services: AlgServices): HandleResult {
  const q = parseQ931(message, TPKT_HEADER, message.length);
  if (typeof q === 'string') {
    cx.stats.q931Malformed++;
    return { kind: 'error', reason: q };
  }
  if (cx.traversal.isOff(flow.id) || cx.traversal.isEndpoint(flow.insideAddr, services.now)) {
    cx.stats.traversalMessages++;
    return endIfReleased(cx, flow, q.callReference, q.messageType === Q931.RELEASE_COMPLETE, services);
  }
  if (q.userInfoStart < 0) return endIfReleased(cx, flow, q.callReference, q.messageType === Q931.RELEASE_COMPLETE, services);
  const r = cx.reader;
  if (!walkUserInformation(r, message, q.userInfoStart, q.userInfoEnd)) return malformed(cx, `H.225.0: ${r.reason}`);
  const ev = r.ev;
  // What decides the rest comes first: the message type, a forward's reason (after its address in the encoding), H.460.
  let body = -1;
  let reason = -1;
  let traversal = false;
  for (let i = 0; i < ev.count; i++) {
    const k = ev.kind[i];
    if (k === BODY) body = ev.a[i];
    else if (k === FACILITY_REASON && ev.nest[i] < 0) reason = ev.a[i];
    else if (k === NEST && ev.a[i] === 1) cx.stats.nestedMalformed++;
    else if (isTraversalFeature(ev, i)) traversal = true;
  }
  if (traversal && cx.o.h460 === 'detect') {
    cx.traversal.switchOff(flow.id);
    if (flow.outbound && cx.traversal.markEndpoint(flow.insideAddr, services.now + cx.o.registrationSeconds * 1000)) cx.stats.traversalEndpoints++;
    cx.stats.traversalMessages++;
    return { kind: 'pass' };
  }
  const { call, evicted, evictedBy, created } = cx.calls.obtain(flow.id, q.callReference, flow.insideAddr, flow.remoteAddr);
  if (evicted) {
    endCall(cx, evicted, services);
    if (evictedBy === 'host') cx.stats.callsForgottenHostLimit++;
    else cx.stats.callsForgottenTableFull++;
  }
  if (created) cx.stats.calls++;
  const edits = cx.edits;
  edits.clear();
  channels.reset(false);
  for (let i = 0; i < ev.count; i++) {
    if (ev.nest[i] >= 0 || ev.kind[i] === NEST) channels.event(cx, ev, i, flow, call, services, edits);
    else if (ev.kind[i] === ADDRESS) signallingAddress(cx, i, flow, call, services, edits, reason);
  }
  if (body === BODY_RELEASE_COMPLETE || q.messageType === Q931.RELEASE_COMPLETE) endCall(cx, call, services);
  return edits.result(message);
}

/** A message the ALG does not rewrite: a ReleaseComplete still ends its call. */
function endIfReleased(cx: H323Context, flow: AlgFlow, crv: number, released: boolean, services: AlgServices): HandleResult {
  if (released) {
    const call = cx.calls.get(flow.id, crv);
    if (call) endCall(cx, call, services);
  }
  return { kind: 'pass' };
}

/**
 * A message whose PER does not decode. The TPKT framing around it is still
 * sound, so the stream goes on being read: the message passes (or is
 * dropped, by option) and is counted.
 */
export function malformed(cx: H323Context, reason: string): HandleResult {
  cx.stats.malformed++;
  return cx.o.malformed === 'drop' ? { kind: 'drop', reason } : { kind: 'pass' };
}

/** An H.225.0 transport address of the message (not inside a nested H.245 item). */
function signallingAddress(cx: H323Context, i: number, flow: AlgFlow, call: CallState, services: AlgServices, edits: AddressEdits, reason: number): void {
  const ev = cx.reader.ev;
  const field = ev.field[i];
  const addr = ev.a[i];
  const port = ev.b[i];
  const at = ev.offset[i];
  if (flow.outbound) {
    if (addr !== flow.insideAddr) return; // another host's, or a public address the endpoint learned (STUN): as written
    let done = false;
    if (port !== 0) {
      if (field === h245Address) {
        const pub = port < 1024 ? null : h245Pinhole(cx, services, call, port);
        done = pub !== null && edits.add(at, pub.publicAddr, pub.publicPort);
      } else if (field === sourceCallSignalAddress) {
        const pub = signallingEndpoint(cx, flow, port);
        done = edits.add(at, pub.publicAddr, pub.publicPort);
      } else if (field === alternativeAddress && reason === REASON_CALL_FORWARDED) {
        const pub = port < 1024 ? null : signallingPinhole(cx, services, call, port);
        done = pub !== null && edits.add(at, pub.publicAddr, pub.publicPort);
      }
    }
    if (done) cx.stats.addressesRewritten++;
    else cx.stats.addressesLeft++;
    return;
  }
  if (field === destCallSignalAddress) {
    // A Setup to our public address (a static forward): the callee sees its own address, as if called directly.
    if (addr === flow.publicAddr && port === flow.publicPort && edits.add(at, flow.insideAddr, flow.insidePort)) cx.stats.addressesRestored++;
    return;
  }
  if (addr === flow.publicAddr || addr === flow.insideAddr || port < 1024) return;
  if (field === h245Address) {
    const key = addr * 65536 + port;
    if (call.dialled.has(key)) return;
    if (expectDial(cx, services, call.groupOf('signalling'), flow.insideAddr, addr, port, H245_HANDLER, DIAL_WAIT_MS, 'h323 H.245 address of the peer')) call.dialled.add(key);
  } else if (field === alternativeAddress && reason === REASON_CALL_FORWARDED) {
    expectDial(cx, services, `fwd-${call.group}`, flow.insideAddr, addr, port, H323_ALG, DIAL_WAIT_MS, 'h323 call forwarded by the peer');
  }
}

/**
 * The public endpoint for one of the inside endpoint's call signalling
 * addresses: the flow's own public endpoint for the port it sends from, the
 * registered public port for a port it registered through masq, else its
 * public address with the port as written (what the kernel writes).
 */
export function signallingEndpoint(cx: H323Context, flow: AlgFlow, port: number): { publicAddr: number; publicPort: number } {
  if (port === flow.insidePort) return flow;
  return cx.registrations.publicPortOf(flow.insideAddr, port) ?? { publicAddr: flow.publicAddr, publicPort: port };
}
