/**
 * The end of a call: ReleaseComplete, the call signalling connection closing
 * or going away, the H.245 connection going away after the call signalling
 * did (H.323 lets an endpoint close call signalling once H.245 runs), or the
 * call being forgotten to make room. Its pinholes go; where allowed, the
 * flows they admitted (the H.245 connection, media) go with them.
 */
import type { AlgServices } from '../helper.js';
import type { CallState } from './call.js';
import type { H323Context } from './context.js';

/** Ends a call with its pinholes and the flows they admitted (not allowed from a flow of the call itself). */
export function endCall(cx: H323Context, call: CallState, services: AlgServices): void {
  for (const g of call.groups()) services.endGroup(g);
  cx.calls.remove(call);
  cx.stats.callsEnded++;
}

/** Ends a call from one of its own flows: its pinholes go; the flows they admitted time out on their own. */
export function endCallFromInside(cx: H323Context, call: CallState, services: AlgServices): void {
  for (const g of call.groups()) services.removeExpectations(g);
  cx.calls.remove(call);
  cx.stats.callsEnded++;
}

/**
 * The call signalling flow closed or went away: its calls end, except those
 * whose H.245 connection is still up (they end with it).
 */
export function signallingGone(cx: H323Context, flow: number, services: AlgServices): void {
  for (const call of cx.calls.onFlow(flow)) {
    if (call.h245Flow >= 0) call.signallingGone = true;
    else endCall(cx, call, services);
  }
}

/** The H.245 connection of a call closed or went away. */
export function h245Gone(cx: H323Context, group: string | null, flow: number, services: AlgServices): void {
  const call = group === null ? undefined : cx.calls.ofGroup(group);
  if (!call || call.h245Flow !== flow) return;
  call.h245Flow = -1;
  if (call.signallingGone) endCallFromInside(cx, call, services);
}
