/**
 * The pinholes an H.323 call asks for, each in the call's group so that the
 * call's end removes them together:
 *
 * - H.245: a TCP pinhole to the inside endpoint's h245Address, from the call's
 *   peer only, single use, with the H.245 handler attached to the connection
 *   it admits; or, when the peer announces its own h245Address, an outbound
 *   expectation that gives the H.245 handler to the connection the inside
 *   endpoint dials.
 * - Media: an RTP/RTCP pair per even inside port (RTP on the even port,
 *   RTCP on the next: RFC 3550, as netfilter pairs them), public ports an
 *   even/odd pair where one is free, admitted from the peer only (or anyone,
 *   with media: any). The same inside port gets the same public
 *   ports for the whole call, however many logical channels and fastStart
 *   proposals name it.
 * - T.120 (separateStack): a TCP pinhole from the peer.
 *
 * A refused pinhole (a cap, no free port, a port below 1024) leaves the
 * address as the endpoint wrote it: nothing is announced that admits nothing.
 */
import type { ExpectationClass } from '../../nat/expectations.js';
import type { AlgFlow, AlgServices } from '../helper.js';
import type { CallState, MediaPair } from './call.js';
import type { H323Context } from './context.js';

/** The ALG's name, and the name its H.245 handler is attached under. */
export const H323_ALG = 'h323';
export const H245_HANDLER = 'h245';

const UDP = 17;
const TCP = 6;

export interface PublicEndpoint {
  publicAddr: number;
  publicPort: number;
}

/** The public RTP/RTCP pair for the inside port pair at `base` (even), opened on first use in the call. */
export function mediaPair(cx: H323Context, services: AlgServices, call: CallState, flow: AlgFlow, base: number, cls: ExpectationClass): MediaPair | null {
  const known = call.pairs.get(base);
  if (known) return known;
  if (base < 1024 || base + 1 > 65535) return refuse(cx);
  const remoteAddr = cx.o.media === 'any' ? 0 : call.peer;
  const ttlMs = cx.o.mediaSeconds * 1000;
  const why = MEDIA_REASONS[cls];
  const opened = services.expectMediaPair(mediaRequest(call.insideAddr, base, flow.publicAddr, remoteAddr, ttlMs, call.groupOf(cls), cls, why.rtp), why.rtcp);
  if (typeof opened !== 'object') return refuse(cx);
  const [rtp, rtcp] = opened;
  const pair: MediaPair = { publicAddr: rtp.publicAddr, rtp: rtp.publicPort, rtcp: rtcp.publicPort };
  call.pairs.set(base, pair);
  cx.stats.mediaPairs++;
  return pair;
}

/**
 * A media pair's request (its RTP half), every field written in one order:
 * requests of one shape keep the framework's reads of them monomorphic
 * (object spreads here cost a tenth of a Setup's time in bench/h323-rewrite.ts).
 */
function mediaRequest(insideAddr: number, insidePort: number, publicAddr: number, remoteAddr: number, ttlMs: number, group: string, cls: ExpectationClass, reason: string) {
  return {
    proto: UDP,
    insideAddr,
    insidePort,
    publicAddr,
    publicPort: undefined,
    remoteAddr,
    remotePort: 0,
    ttlMs,
    singleUse: false,
    group,
    cls,
    reason,
  };
}

const reasons = (cls: ExpectationClass) => ({ rtp: `h323 ${cls} RTP`, rtcp: `h323 ${cls} RTCP` });
const MEDIA_REASONS: Record<ExpectationClass, { rtp: string; rtcp: string }> = { signalling: reasons('signalling'), audio: reasons('audio'), video: reasons('video'), data: reasons('data') };

function refuse(cx: H323Context): null {
  cx.stats.mediaRefused++;
  return null;
}

/** The public endpoint for the inside endpoint's H.245 address: a pinhole from the peer, with the H.245 handler. */
export function h245Pinhole(cx: H323Context, services: AlgServices, call: CallState, insidePort: number): PublicEndpoint | null {
  if (call.h245 && call.h245.insidePort === insidePort) return call.h245;
  const e = services.expect({
    proto: TCP,
    insideAddr: call.insideAddr,
    insidePort,
    remoteAddr: call.peer,
    remotePort: 0,
    ttlMs: cx.o.mediaSeconds * 1000,
    singleUse: true,
    group: call.groupOf('signalling'),
    cls: 'signalling',
    attach: H245_HANDLER,
    reason: 'h323 H.245 address of the inside endpoint',
  });
  if (typeof e !== 'object') return null;
  call.h245 = { insidePort, publicAddr: e.publicAddr, publicPort: e.publicPort };
  cx.stats.h245Pinholes++;
  return call.h245;
}

/**
 * The inside endpoint will dial `addr:port`, which the peer announced (an
 * H.245 address; a call signalling address in an ACF, LCF or forwarded call):
 * the connection gets `attach` and joins `group`.
 */
export function expectDial(cx: H323Context, services: AlgServices, group: string, insideAddr: number, addr: number, port: number, attach: string, ttlMs: number, reason: string): boolean {
  const e = services.expect({
    proto: TCP,
    direction: 'outbound',
    insideAddr,
    insidePort: 0,
    remoteAddr: addr,
    remotePort: port,
    ttlMs,
    singleUse: true,
    group,
    cls: 'signalling',
    attach,
    reason,
  });
  if (typeof e !== 'object') return false;
  cx.stats.dialExpectations++;
  return true;
}

/** A T.120 connection to the inside endpoint's separateStack address: a pinhole from the peer. */
export function t120Pinhole(cx: H323Context, services: AlgServices, call: CallState, insidePort: number): number {
  const known = call.t120.get(insidePort);
  if (known !== undefined) return known;
  const e = services.expect({
    proto: TCP,
    insideAddr: call.insideAddr,
    insidePort,
    remoteAddr: call.peer,
    remotePort: 0,
    ttlMs: cx.o.mediaSeconds * 1000,
    singleUse: false,
    group: call.groupOf('data'),
    cls: 'data',
    reason: 'h323 T.120 separate stack',
  });
  if (typeof e !== 'object') return -1;
  call.t120.set(insidePort, e.publicPort);
  cx.stats.t120Pinholes++;
  return e.publicPort;
}

/** A call signalling address of the inside endpoint named in a Facility (call forwarding to itself): a Q.931 pinhole from the peer. */
export function signallingPinhole(cx: H323Context, services: AlgServices, call: CallState, insidePort: number): PublicEndpoint | null {
  const e = services.expect({
    proto: TCP,
    insideAddr: call.insideAddr,
    insidePort,
    remoteAddr: call.peer,
    remotePort: 0,
    ttlMs: cx.o.mediaSeconds * 1000,
    singleUse: true,
    group: `fwd-${call.group}`,
    cls: 'signalling',
    attach: H323_ALG,
    reason: 'h323 call forwarded to the inside endpoint',
  });
  return typeof e === 'object' ? e : null;
}
