/**
 * The H.323 ALG: what an endpoint behind masq needs for calls through the
 * NAT, in the spirit of the 1999 masquerading module that first let
 * NetMeeting through a Linux firewall: the inside address in call
 * signalling becomes the public one, and the media, H.245 and T.120 ports
 * the call negotiates on the fly get pinholes, from the peer only, for as
 * long as the call lasts.
 *
 * One handler for both of its ports: RAS datagrams (UDP 1719, ras.ts) and
 * call signalling (TCP 1720, q931-handler.ts); a related handler for the
 * H.245 connections calls open (h245-handler.ts). Messages are read by
 * generated PER walkers that record where each transport address lies;
 * addresses are overwritten in place (never re-encoded), so lengths, TCP
 * sequence numbers and whatever the sender's ASN.1 version wrote stay as
 * they were.
 */
import type { AlgFlow, AlgHandler, AlgServices, FrameOutcome, HandleResult } from '../helper.js';
import { signallingGone } from './call-end.js';
import { H323_ALG } from './call-pinholes.js';
import { type H323AlgOptions, type H323Context, makeH323Context } from './context.js';
import { H245Channels } from './h245-channels.js';
import { H245Handler } from './h245-handler.js';
import { handleQ931 } from './q931-handler.js';
import { handleRas } from './ras.js';
import { frameTpkt } from './tpkt.js';

const UDP = 17;

export class H323Alg implements AlgHandler {
  readonly name = H323_ALG;
  readonly related: { readonly h245: H245Handler };
  private readonly cx: H323Context;
  private readonly channels = new H245Channels();

  constructor(options: H323AlgOptions = {}) {
    this.cx = makeH323Context(options);
    this.related = { h245: new H245Handler(this.cx) };
  }

  frame(b: Uint8Array, start: number, end: number): FrameOutcome {
    const f = frameTpkt(b, start, end);
    if (f.kind === 'skip') this.cx.stats.tpktKeepAlives++;
    return f;
  }

  handle(flow: AlgFlow, message: Uint8Array, services: AlgServices): HandleResult {
    return flow.proto === UDP ? handleRas(this.cx, flow, message, services) : handleQ931(this.cx, this.channels, flow, message, services);
  }

  closed(flow: AlgFlow, services: AlgServices): void {
    signallingGone(this.cx, flow.id, services);
  }

  flowGone(flow: number, services: AlgServices): void {
    signallingGone(this.cx, flow, services);
    this.cx.traversal.forgetFlow(flow);
  }

  counters(): Record<string, number> {
    const cx = this.cx;
    return {
      ...cx.stats,
      callsActive: cx.calls.size,
      registrationsActive: cx.registrations.size,
      traversalEndpointsActive: cx.traversal.size,
    };
  }
}
