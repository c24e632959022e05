/**
 * The SIP ALG: what a phone behind masq needs for calls and registrations to
 * work, and nothing more opened than the call uses.
 *
 * - Signalling: the byte-preserving rewriter (rewrite.ts) puts the public
 *   address in Via, Contact, Request-URI, Route/Record-Route (and From/To if
 *   configured) on the way out, and restores the inside address on the way in.
 * - Media: every m= stream the phone announces gets public ports (RTP even,
 *   RTCP the next one) and expectations on them that admit the peer only: the
 *   signalling peer until the peer's SDP names its media address, then that
 *   address (netfilter's sip_direct_media; media: 'any' admits anyone). The
 *   phone's own RTP leaves from the announced port (the engine honours the
 *   expectation's port for its first outbound packet).
 * - Calls are keyed by (phone, Call-ID): two phones with the same ports and
 *   several calls from one phone each get their own public ports.
 * - Registration: after a 2xx to REGISTER with the matching CSeq, a pinhole
 *   admits the registrar to the registered contact for the granted expiry, so
 *   incoming calls reach the phone after its signalling flow idled out.
 *   Expires 0, or a final failure other than an authentication challenge,
 *   closes it.
 * - Teardown: BYE, CANCEL, or a final error to an initial INVITE removes the
 *   call's expectations. Until the call gets a response, its pinholes live as
 *   long as the INVITE transaction (RFC 3261 Timer B, 32 s): calls nobody
 *   answers do not pile up open ports. A re-offer that moves or drops a
 *   stream closes the old stream's pinholes once the peer accepts it.
 * - Calls that end without a BYE: an answered call's pinholes live
 *   mediaIdleSeconds from its last signalling message, each message of the
 *   call renewing them (the kernel's helper does the same with 180 s). The
 *   media flows they admitted do not need them any more and live by their
 *   own idle timeout, so a call whose media and signalling both went quiet
 *   leaves nothing open.
 */
import { ipv4ToString, isIpv4Text, parseIpv4 } from '../../wire/address.js';
import type { AlgFlow, AlgHandler, AlgServices, FrameOutcome, HandleResult } from '../helper.js';
import type { Expectation } from '../../nat/expectations.js';
import type { FrameResume } from '../tcp-stream.js';
import type { MediaStreamRequest, RewriteContext, Endpoint } from './context.js';
import { applyEdits } from '../text/apply-edits.js';
import { framingCounters, frameSipStream, SipFrameProgress } from './framing.js';
import { HeaderId } from './header-names.js';
import { findHeaderById, headerValue, parseSipMessage } from './message.js';
import { PhonePorts } from './phone-ports.js';
import { rewriteSipMessage } from './rewrite.js';
import { parseCallId } from './scalars.js';
import { CallTable } from './call-table.js';
import { SIP_STATE_VERSION, sipStateSchema, type SipState } from './state.js';
import type { SipSummary } from './summary.js';

export interface SipAlgOptions {
  /** Whom media expectations admit: the peer (default) or anyone. */
  media?: 'peer' | 'any';
  /** Also rewrite From and To where they name the phone. */
  rewriteFromTo?: boolean;
  /** A message that does not parse: pass it unmodified (default) or drop it. */
  malformed?: 'pass' | 'drop';
  /** Upper bound on how long a call's media expectations live without new signalling (default 3600 s). */
  callTimeoutSeconds?: number;
  /**
   * How long an answered call's media pinholes stay open after its last
   * signalling message (default 300 s); flows they admitted live on by their
   * own idle timeout. A call abandoned without a BYE frees its ports this long
   * after it went quiet.
   */
  mediaIdleSeconds?: number;
  /** Upper bound on a registration pinhole, whatever the registrar grants (default 1 day). */
  maxRegistrationSeconds?: number;
  /** Bound on calls and registrations tracked (oldest forgotten first). */
  maxCalls?: number;
  /**
   * Bound on one inside host's calls (default a quarter of maxCalls, at least
   * 64 or maxCalls): a host beyond it forgets its own oldest call, so one
   * phone flooding INVITEs never makes the ALG forget another phone's call.
   */
  maxCallsPerHost?: number;
}

interface CallState {
  group: string;
  insideAddr: number;
  established: boolean;
  /** A response was seen (the far end is alive): pinholes live callTimeoutSeconds, not Timer B. */
  responded: boolean;
  /** The peer's media address from its SDP; 0 until seen. */
  peerMedia: number;
  signallingPeer: number;
  expectations: Set<number>;
  /** The live media expectation of each inside port (by streamKey): a re-offer replaces it rather than adding one. */
  byInsidePort: Map<number, number>;
  /**
   * A re-offer from the phone (INVITE or UPDATE) that stopped announcing some
   * streams: they close when the peer accepts it (2xx with this CSeq); on a
   * failure the old streams stay and the ones the offer added close.
   */
  pendingOffer: { cseq: number; retire: number[]; added: number[] } | null;
}

/** A media stream's identity within a call: its transport and inside port, as one number (a cheap Map key). */
function streamKey(proto: number, insidePort: number): number {
  return proto * 0x10000 + insidePort;
}

/** Parse options, made once. */
const DATAGRAM = { transport: 'datagram' } as const;
const STREAM = { transport: 'stream' } as const;

/** "TCP" (any case) at the start of an SDP proto: media over TCP (TCP/RTP/AVP, TCP/MSRP, ...). */
function isTcpProto(proto: string): boolean {
  return proto.length >= 3 && (proto.charCodeAt(0) | 0x20) === 0x74 && (proto.charCodeAt(1) | 0x20) === 0x63 && (proto.charCodeAt(2) | 0x20) === 0x70;
}

interface PendingRegister {
  cseq: number;
  registrar: number;
  /** Contact ports on the phone that this REGISTER binds, with their public ports. */
  contacts: Array<{ insidePort: number; publicAddr: number; publicPort: number }>;
  proto: 6 | 17;
}

const UDP = 17;
const TCP = 6;
/** RFC 3261 Timer B (64 x T1): how long an INVITE with no response at all stays alive. */
const INVITE_TRANSACTION_MS = 32_000;

function withDefaults(options: SipAlgOptions): Required<SipAlgOptions> {
  const maxCalls = options.maxCalls ?? 10_000;
  return {
    media: options.media ?? 'peer',
    rewriteFromTo: options.rewriteFromTo ?? false,
    malformed: options.malformed ?? 'pass',
    callTimeoutSeconds: options.callTimeoutSeconds ?? 3600,
    mediaIdleSeconds: options.mediaIdleSeconds ?? 300,
    maxRegistrationSeconds: options.maxRegistrationSeconds ?? 86_400,
    maxCalls,
    maxCallsPerHost: options.maxCallsPerHost ?? Math.max(Math.min(maxCalls, 64), Math.floor(maxCalls / 4)),
  };
}

export class SipAlg implements AlgHandler {
  readonly name = 'sip';
  private readonly calls = new CallTable<CallState>();
  private readonly pendingRegisters = new Map<string, PendingRegister>();
  /** Registration pinholes by phone endpoint: expectation ids. */
  private readonly registrations = new Map<string, number[]>();
  /** Public ports given to other listening ports of phones, while their pinholes last. */
  private readonly phonePorts: PhonePorts;
  private o: Required<SipAlgOptions>;
  private readonly stats = {
    callsStarted: 0,
    callsEnded: 0,
    registrationsOpened: 0,
    registrationsClosed: 0,
    mediaPinholes: 0,
    /** Streams left as the phone wrote them because no pinhole could be opened (a cap, no free port). */
    mediaRefused: 0,
    /** Other listening ports left as the phone wrote them for the same reason. */
    portsRefused: 0,
    /** Calls forgotten (with their pinholes) to make room: a host's oldest at maxCallsPerHost, the oldest of all at maxCalls. */
    callsForgottenHostLimit: 0,
    callsForgottenTableFull: 0,
  };
  /**
   * The message being handled, for the rewrite context below. The context is
   * one object made once, its fields set per message: closures made per
   * message cost more than the rewrite's own questions to them.
   */
  private cur: { flow: AlgFlow; services: AlgServices; key: string; insideText: string; publicText: string } | null = null;
  private readonly ctx: RewriteContext;
  private readonly addrText = new AddressTexts();
  /**
   * What the message being handled planned and announced, for its call:
   * planned RTCP ports by m= index (from the RTP pair allocation), and the
   * inside ports (stream keys) its SDP announced. Emptied after each message,
   * so one pair serves every call.
   */
  private readonly rtcpPlan = new Map<number, number>();
  private readonly announced = new Set<number>();
  /**
   * The streams (keys) the message being handled announced that its call did
   * not have before it: found as mapMedia adds them, so that no message copies
   * its call's stream keys beforehand.
   */
  private readonly addedStreams = new Set<number>();
  /** m= indexes whose RTP pinhole was refused in the message being handled: their RTCP is not opened either. */
  private readonly refusedStreams = new Set<number>();

  constructor(options: SipAlgOptions = {}) {
    this.o = withDefaults(options);
    this.ctx = this.makeContext();
    this.phonePorts = new PhonePorts(this.o.maxCalls);
  }

  /** A reload: later messages follow the new options; calls in progress keep their state and pinholes. */
  reconfigure(options: unknown): void {
    this.o = withDefaults((options ?? {}) as SipAlgOptions);
    // The shared rewrite context keeps its own copy of this one (made once, at construction).
    this.ctx.rewriteFromTo = this.o.rewriteFromTo;
    this.phonePorts.setLimit(this.o.maxCalls);
  }

  frame(bytes: Uint8Array, start: number, end: number, resume?: FrameResume): FrameOutcome {
    const progress = resume === undefined ? undefined : progressOf(resume);
    // A stream is SIP only if its messages start like SIP: "METHOD uri SIP/2.0"
    // or "SIP/2.0 nnn". An HTTP request (NAT Slipstreaming) is not. Once the
    // framer has read the start line whole, it passed this check.
    if (progress === undefined || !progress.pastStartLine) {
      const bad = notSipStart(bytes, start, end, progress === undefined ? start : start + progress.at);
      if (bad) return { kind: 'error', reason: bad };
    }
    const f = frameSipStream(bytes, start, end, progress);
    if (resume !== undefined && progress !== undefined) resume.scanned = progress.at;
    if (f.kind === 'message') return { kind: 'message', length: f.length };
    if (f.kind === 'keepalive') return { kind: 'skip', length: f.length };
    return f;
  }

  /** Calls, registrations and phone ports, for a gateway that keeps them across a restart (state.ts). */
  exportState(): SipState {
    return {
      v: SIP_STATE_VERSION,
      calls: [...this.calls].map(([k, c]) => [
        k,
        {
          group: c.group,
          insideAddr: c.insideAddr,
          established: c.established,
          responded: c.responded,
          peerMedia: c.peerMedia,
          signallingPeer: c.signallingPeer,
          expectations: [...c.expectations],
          byInsidePort: [...c.byInsidePort],
          pendingOffer: c.pendingOffer && { cseq: c.pendingOffer.cseq, retire: [...c.pendingOffer.retire], added: [...c.pendingOffer.added] },
        },
      ]),
      pendingRegisters: [...this.pendingRegisters].map(([k, r]) => [k, { ...r, contacts: r.contacts.map((c) => ({ ...c })) }]),
      registrations: [...this.registrations].map(([k, ids]) => [k, [...ids]]),
      phonePorts: this.phonePorts.entries(),
    };
  }

  /** Replaces the state with a saved one (checked first; refused whole when it does not fit). */
  importState(state: unknown, shiftMs: number): string | null {
    const parsed = sipStateSchema(this.o.maxCalls).safeParse(state);
    if (!parsed.success) return `SIP ALG state refused: ${parsed.error.issues[0]?.message ?? 'invalid'} at ${parsed.error.issues[0]?.path.join('.') ?? ''}`;
    const s = parsed.data;
    this.calls.clear();
    for (const [k, c] of s.calls) {
      this.calls.set(k, { ...c, expectations: new Set(c.expectations), byInsidePort: new Map(c.byInsidePort) });
    }
    this.pendingRegisters.clear();
    for (const [k, r] of s.pendingRegisters) this.pendingRegisters.set(k, r);
    this.registrations.clear();
    for (const [k, ids] of s.registrations) this.registrations.set(k, ids);
    this.phonePorts.replace(s.phonePorts, shiftMs);
    return null;
  }

  counters(): Record<string, number> {
    return { ...this.stats, callsActive: this.calls.size, registrationsActive: this.registrations.size, phonePortsTracked: this.phonePorts.size };
  }

  handle(flow: AlgFlow, message: Uint8Array, services: AlgServices): HandleResult {
    const parsed = parseSipMessage(message, flow.proto === UDP ? DATAGRAM : STREAM);
    if (!parsed.ok) return this.malformed(`parse: ${parsed.reason}`);
    const m = parsed.message;
    const callIdAt = findHeaderById(m, HeaderId.callId);
    const callId = callIdAt >= 0 ? parseCallId(m.bytes, headerValue(m, callIdAt)) : null;
    if (callId === null) return this.malformed('no Call-ID');
    const key = `${flow.insideAddr}|${callId}`;
    const ctx = this.context(flow, services, key);
    let r: ReturnType<typeof rewriteSipMessage>;
    try {
      r = rewriteSipMessage(m, ctx, callId);
    } finally {
      this.cur = null;
    }
    if (!r.ok) {
      this.resetMessageState();
      return this.malformed(`rewrite: ${r.reason}`);
    }
    this.track(flow, r.summary, key, services);
    this.resetMessageState();
    if (r.edits.length === 0) return { kind: 'pass' };
    const a = applyEdits(message, r.edits);
    if (!a.ok) return this.malformed(`apply: ${a.reason}`);
    return { kind: 'rewrite', bytes: a.bytes };
  }

  private resetMessageState(): void {
    // clear() gives a collection a new backing table even when it is empty: most
    // messages plan no media, so only what was used is cleared.
    if (this.rtcpPlan.size > 0) this.rtcpPlan.clear();
    if (this.announced.size > 0) this.announced.clear();
    if (this.refusedStreams.size > 0) this.refusedStreams.clear();
    if (this.addedStreams.size > 0) this.addedStreams.clear();
  }

  private malformed(reason: string): HandleResult {
    return this.o.malformed === 'drop' ? { kind: 'drop', reason } : { kind: 'error', reason };
  }

  /** What the rewriter may ask while rewriting this message: the shared context, pointed at it. */
  private context(flow: AlgFlow, services: AlgServices, key: string): RewriteContext {
    this.cur = { flow, services, key, insideText: this.addrText.of(flow.insideAddr), publicText: this.addrText.of(flow.publicAddr) };
    const ctx = this.ctx;
    ctx.direction = flow.outbound ? 'outbound' : 'inbound';
    ctx.transport = flow.proto === UDP ? 'udp' : 'tcp';
    return ctx;
  }

  private makeContext(): RewriteContext {
    const current = () => {
      if (this.cur === null) throw new Error('SIP rewrite context used outside a message');
      return this.cur;
    };
    return {
      direction: 'outbound',
      transport: 'udp',
      rewriteFromTo: this.o.rewriteFromTo,
      // Only the host that sent the message: never a third inside host (safety rule 3).
      isPrivate: (addr) => addr === current().insideText,
      mapSignalling: (addr, port) => {
        const { flow, services, insideText, publicText } = current();
        if (flow.outbound) {
          if (addr !== insideText || port < 1024) return null;
          if (port === flow.insidePort) return { addr: publicText, port: flow.publicPort };
          return this.mapOtherPort(flow, services, port);
        }
        if (addr !== publicText) return null;
        if (port === flow.publicPort) return { addr: insideText, port: flow.insidePort };
        const inside = this.phonePorts.insidePortFor(flow.proto, flow.insideAddr, port, services.now);
        return inside === undefined ? null : { addr: insideText, port: inside };
      },
      mapMedia: (s) => {
        const { flow, services, key } = current();
        return flow.outbound ? this.mapMedia(flow, services, key, s) : null;
      },
    };
  }

  private call(key: string, flow: AlgFlow, services: AlgServices): CallState {
    let c = this.calls.get(key);
    if (!c) {
      // A call is forgotten with its pinholes: nothing stays open that no state describes.
      const forget = this.calls.toForget(flow.insideAddr, this.o.maxCalls, this.o.maxCallsPerHost);
      if (forget) {
        this.endCall(forget.key, forget.call, services);
        if (forget.why === 'host') this.stats.callsForgottenHostLimit++;
        else this.stats.callsForgottenTableFull++;
      }
      c = {
        group: `sip:${key}`,
        insideAddr: flow.insideAddr,
        established: false,
        responded: false,
        peerMedia: 0,
        signallingPeer: flow.remoteAddr,
        expectations: new Set(),
        byInsidePort: new Map(),
        pendingOffer: null,
      };
      this.calls.set(key, c);
      this.stats.callsStarted++;
    }
    return c;
  }

  /** Public ports and pinholes for one stream the phone announces. */
  private mapMedia(flow: AlgFlow, services: AlgServices, key: string, s: MediaStreamRequest): Endpoint | null {
    // The phone's own address only (the rewriter asks isPrivate first; this keeps the rule here too).
    if (s.count !== 1 || s.addr !== this.addrText.of(flow.insideAddr)) return null;
    const call = this.call(key, flow, services);
    const proto = isTcpProto(s.proto) ? TCP : UDP;
    let publicAddr = flow.publicAddr;
    let port = 0;
    if (s.kind === 'rtcp' && this.refusedStreams.has(s.index)) return this.refused(flow, s);
    if (s.kind === 'rtp') {
      const plan = services.planMediaPorts(proto, flow.insideAddr, s.port, flow.publicAddr);
      if (!plan) return this.refused(flow, s);
      publicAddr = plan.publicAddr;
      port = plan.rtp;
      this.rtcpPlan.set(s.index, plan.rtcp);
    } else if (s.kind === 'rtcp') {
      port = this.rtcpPlan.get(s.index) ?? 0;
    }
    // A re-INVITE or UPDATE re-announces the stream: its pinhole is replaced, not added to.
    const stream = streamKey(proto, s.port);
    this.announced.add(stream);
    const previous = call.byInsidePort.get(stream);
    if (previous !== undefined) {
      services.removeExpectation(previous);
      call.expectations.delete(previous);
    } else this.addedStreams.add(stream);
    const e = services.expect({
      proto,
      insideAddr: flow.insideAddr,
      insidePort: s.port,
      publicAddr,
      publicPort: port || undefined,
      remoteAddr: this.o.media === 'any' ? 0 : call.peerMedia || call.signallingPeer,
      remotePort: 0,
      ttlMs: this.callTtlMs(call),
      singleUse: false,
      group: call.group,
      cls: s.mediaType === 'video' ? 'video' : s.mediaType === 'audio' ? 'audio' : 'data',
      reason: `sip ${s.mediaType} ${s.kind} (${s.proto})`,
    });
    if (typeof e !== 'object') return this.refused(flow, s);
    call.expectations.add(e.id);
    call.byInsidePort.set(stream, e.id);
    this.stats.mediaPinholes++;
    return { addr: this.addrText.of(e.publicAddr), port: e.publicPort };
  }

  /**
   * A signalling port of the phone other than the one it sends from (a Contact
   * or Via naming another listening port): it gets a public port of its own,
   * open to the signalling peer while the transaction runs (64 x T1, RFC 3261
   * Timer B); a registration then keeps it open for the granted expiry.
   */
  private mapOtherPort(flow: AlgFlow, services: AlgServices, port: number): Endpoint | null {
    const now = services.now;
    // Named again (a retransmission, the next REGISTER): its pinhole is kept open, not opened twice.
    const known = this.phonePorts.get(flow.proto, flow.insideAddr, port, now);
    // (A registration's pinhole lives longer than a transaction: never shortened here.)
    if (known && services.extendExpectation(known.expectation, Math.max(INVITE_TRANSACTION_MS, known.expiresAt - now))) {
      this.phonePorts.keepUntil(flow.proto, flow.insideAddr, port, now + INVITE_TRANSACTION_MS);
      return { addr: this.addrText.of(known.publicAddr), port: known.publicPort };
    }
    // One group per phone: the engine's per-group cap bounds how many ports one phone can have opened.
    const e = services.expect({
      proto: flow.proto,
      insideAddr: flow.insideAddr,
      insidePort: port,
      remoteAddr: flow.remoteAddr,
      remotePort: 0,
      ttlMs: INVITE_TRANSACTION_MS,
      singleUse: false,
      group: `sip-port:${flow.proto}|${flow.insideAddr}`,
      cls: 'signalling',
      reason: `sip listening port ${port} named in signalling`,
    });
    if (typeof e !== 'object') {
      this.stats.portsRefused++;
      return null; // the Contact keeps the phone's own address: nothing announced that is not open
    }
    this.phonePorts.set(flow.proto, flow.insideAddr, port, e.publicAddr, e.publicPort, e.id, now + INVITE_TRANSACTION_MS, now);
    return { addr: this.addrText.of(e.publicAddr), port: e.publicPort };
  }

  /**
   * No pinhole for a stream (a cap, no free port): it stays as the phone wrote
   * it, so the SDP never announces a public port that admits nothing (a peer
   * that answers to the media's source still reaches the phone).
   */
  private refused(flow: AlgFlow, s: MediaStreamRequest): Endpoint {
    this.stats.mediaRefused++;
    if (s.kind === 'rtp') this.refusedStreams.add(s.index);
    return { addr: this.addrText.of(flow.insideAddr), port: s.port };
  }

  /** After a message passed: calls, registrations and teardown. */
  private track(flow: AlgFlow, sum: SipSummary, key: string, services: AlgServices): void {
    const isRequest = sum.kind === 'request';
    const method = isRequest ? sum.method! : sum.cseq.method;
    // The peer's SDP tells where its media comes from: narrow the pinholes to it.
    if (!flow.outbound && sum.hasSdp) {
      const peerAddr = sum.media.find((x) => !x.disabled && isIpv4Text(x.original.addr))?.original.addr;
      // 0.0.0.0 (RFC 2543 hold) names no address: narrowing to it would admit anyone.
      if (peerAddr && parseIpv4(peerAddr) !== 0) {
        const call = this.call(key, flow, services);
        call.peerMedia = parseIpv4(peerAddr);
        if (this.o.media === 'peer') for (const id of call.expectations) services.restrictExpectation(id, call.peerMedia, 0);
      }
    }
    if (method === 'REGISTER') {
      this.trackRegister(flow, sum, key, services);
      return;
    }
    const call = this.calls.get(key);
    if (!call) return;
    if (flow.outbound && sum.hasSdp) this.phoneSdp(call, sum, isRequest && (method === 'INVITE' || method === 'UPDATE'), services);
    if (isRequest && (method === 'BYE' || method === 'CANCEL')) {
      this.endCall(key, call, services);
      return;
    }
    if (!isRequest) call.responded = true;
    // Signalling renews an answered call's pinholes (mediaIdleSeconds from now); before any
    // response, retransmitted INVITEs must not stretch the transaction's 32 s.
    if (call.responded) for (const id of call.expectations) services.extendExpectation(id, this.callTtlMs(call));
    if (isRequest || sum.status === null || sum.status < 200) return;
    const offer = call.pendingOffer;
    if (!flow.outbound && offer && offer.cseq === sum.cseq.number && (method === 'INVITE' || method === 'UPDATE')) {
      // The peer's final answer to the phone's re-offer: retire what the accepted offer dropped,
      // or what a rejected one added.
      call.pendingOffer = null;
      this.closeStreams(call, sum.status < 300 ? offer.retire : offer.added, services);
    }
    if (method === 'INVITE') {
      if (sum.status < 300) call.established = true;
      // A failed initial INVITE ends the attempt; a failed re-INVITE leaves the call as it was.
      else if (!call.established) this.endCall(key, call, services);
    }
  }

  /**
   * The phone's SDP moved or dropped streams (re-INVITE or UPDATE to new
   * ports, a stream set to port 0): the pinholes of streams it no longer
   * announces close, so nothing stays open that the call does not use. An
   * offer takes effect when the peer accepts it; an answer (in a response,
   * ACK or PRACK) at once.
   */
  private phoneSdp(call: CallState, sum: SipSummary, isOffer: boolean, services: AlgServices): void {
    // (Loops rather than spread and filter: this runs for every SDP the phone sends.)
    const retire: number[] = [];
    for (const k of call.byInsidePort.keys()) if (!this.announced.has(k)) retire.push(k);
    if (!isOffer) {
      this.closeStreams(call, retire, services);
      return;
    }
    const added: number[] = [];
    for (const k of this.addedStreams) added.push(k);
    // A retransmission of the pending offer finds its new streams already known: they still count as added.
    const previous = call.pendingOffer;
    if (previous && previous.cseq === sum.cseq.number) for (const k of previous.added) if (!added.includes(k)) added.push(k);
    // An initial offer has nothing to retire, and if rejected the whole call ends.
    call.pendingOffer = call.established || retire.length > 0 ? { cseq: sum.cseq.number, retire, added } : null;
  }

  private closeStreams(call: CallState, keys: number[], services: AlgServices): void {
    for (const k of keys) {
      const id = call.byInsidePort.get(k);
      if (id === undefined) continue;
      services.removeExpectation(id);
      call.expectations.delete(id);
      call.byInsidePort.delete(k);
    }
  }

  private callTtlMs(call: CallState): number {
    const full = Math.min(this.o.callTimeoutSeconds, this.o.mediaIdleSeconds) * 1000;
    return call.responded ? full : Math.min(full, INVITE_TRANSACTION_MS);
  }

  private endCall(key: string, call: CallState, services: AlgServices): void {
    services.removeExpectations(call.group);
    this.calls.delete(key);
    this.stats.callsEnded++;
  }

  private trackRegister(flow: AlgFlow, sum: SipSummary, key: string, services: AlgServices): void {
    if (flow.outbound && sum.kind === 'request') {
      // The contacts this REGISTER binds on the phone, with the public ports they were given.
      const insideText = ipv4ToString(flow.insideAddr);
      const contacts: PendingRegister['contacts'] = [];
      for (const c of sum.contacts) {
        if (c.host !== insideText) continue;
        const port = c.port ?? (c.uri.toLowerCase().startsWith('sips:') ? 5061 : 5060);
        const publicPort = port === flow.insidePort ? flow.publicPort : this.phonePorts.get(flow.proto, flow.insideAddr, port, services.now)?.publicPort;
        if (publicPort !== undefined && !contacts.some((x) => x.insidePort === port)) {
          contacts.push({ insidePort: port, publicAddr: flow.publicAddr, publicPort });
        }
      }
      if (this.pendingRegisters.size >= this.o.maxCalls) this.pendingRegisters.delete(this.pendingRegisters.keys().next().value!);
      this.pendingRegisters.set(key, { cseq: sum.cseq.number, registrar: flow.remoteAddr, contacts, proto: flow.proto });
      return;
    }
    if (flow.outbound || sum.kind !== 'response' || sum.status === null || sum.status < 200) return;
    const pending = this.pendingRegisters.get(key);
    if (!pending || pending.cseq !== sum.cseq.number) return; // only the matching transaction counts (safety rule 6)
    this.pendingRegisters.delete(key);
    const phone = `${pending.proto}|${flow.insideAddr}:${flow.insidePort}`;
    if (sum.status === 401 || sum.status === 407) return; // a challenge: the phone will try again
    this.closeRegistration(phone, services);
    if (sum.status >= 300) return;
    const granted = this.grantedExpiry(sum);
    if (granted <= 0) return;
    const ids: number[] = [];
    for (const c of pending.contacts) {
      const e = services.expect({
        proto: pending.proto,
        insideAddr: flow.insideAddr,
        insidePort: c.insidePort,
        publicAddr: c.publicAddr,
        publicPort: c.publicPort,
        remoteAddr: pending.registrar,
        remotePort: 0,
        ttlMs: Math.min(granted, this.o.maxRegistrationSeconds) * 1000,
        singleUse: false,
        group: `sip-reg:${phone}`,
        cls: 'signalling',
        reason: `sip registration at ${ipv4ToString(pending.registrar)} for ${granted} s`,
      });
      if (typeof e !== 'object') continue;
      ids.push((e as Expectation).id);
      // The port's own pinhole (opened when a Contact or Via named it) admits the same registrar:
      // the registration's replaces it rather than standing beside it, and the port now names it.
      const own = this.phonePorts.get(pending.proto, flow.insideAddr, c.insidePort, services.now);
      if (own && own.expectation !== e.id) {
        services.removeExpectation(own.expectation);
        this.phonePorts.set(pending.proto, flow.insideAddr, c.insidePort, e.publicAddr, e.publicPort, e.id, e.expiresAt, services.now);
      } else this.phonePorts.keepUntil(pending.proto, flow.insideAddr, c.insidePort, e.expiresAt);
    }
    if (ids.length) {
      this.registrations.set(phone, ids);
      this.stats.registrationsOpened++;
    }
  }

  /** The expiry the registrar granted: the Contact's expires, else the Expires header, else 3600 (RFC 3261 10.2.1.1). */
  private grantedExpiry(sum: SipSummary): number {
    const fromContact = sum.contacts.find((c) => c.expires !== null)?.expires;
    return fromContact ?? sum.expires ?? 3600;
  }

  private closeRegistration(phone: string, services: AlgServices): void {
    if (!this.registrations.has(phone)) return;
    services.removeExpectations(`sip-reg:${phone}`);
    this.registrations.delete(phone);
    this.stats.registrationsClosed++;
  }
}

/**
 * Dotted-quad texts of the few addresses a gateway's messages name (its
 * phones and public addresses), kept so that each message does not build
 * them again; bounded, cleared when full.
 */
class AddressTexts {
  private readonly texts = new Map<number, string>();

  of(addr: number): string {
    let t = this.texts.get(addr);
    if (t === undefined) {
      if (this.texts.size >= 1024) this.texts.clear();
      t = ipv4ToString(addr);
      this.texts.set(addr, t);
    }
    return t;
  }
}

const SIP_VERSION = [0x53, 0x49, 0x50, 0x2f, 0x32, 0x2e, 0x30]; // "SIP/2.0"

/** The SIP framer's progress kept for a stream direction, made on its first use and reused after. */
function progressOf(resume: FrameResume): SipFrameProgress {
  const kept = resume.state;
  const p = kept instanceof SipFrameProgress ? kept : (resume.state = new SipFrameProgress());
  if (resume.scanned === 0) p.reset();
  return p;
}

/**
 * Why the bytes at `start` cannot begin a SIP message, or null when they can (or
 * more bytes are needed to tell). Leading CR LF keep-alives are allowed.
 * `from`: where a scan of the same start line stopped before (no CR before
 * it), so that a start line arriving in pieces is read once.
 */
export function notSipStart(b: Uint8Array, start: number, end: number, from = start): string | null {
  let i = start;
  while (i + 1 < end && b[i] === 0x0d && b[i + 1] === 0x0a) i += 2;
  // The line is looked at up to 8 KiB: further on, the answer is the one given there.
  const first = Math.max(i, Math.min(from, i + 8192));
  let lineEnd = first;
  while (lineEnd < end && b[lineEnd] !== 0x0d && lineEnd - i < 8192) lineEnd++;
  framingCounters.bytesScanned += lineEnd - first;
  if (lineEnd === end) return null; // the start line is not complete yet
  const startsWithVersion = SIP_VERSION.every((c, k) => b[i + k] === c) && b[i + 7] === 0x20;
  const endsWithVersion = lineEnd - i > 8 && b[lineEnd - 8] === 0x20 && SIP_VERSION.every((c, k) => b[lineEnd - 7 + k] === c);
  return startsWithVersion || endsWithVersion ? null : 'the stream does not start with a SIP start line';
}
