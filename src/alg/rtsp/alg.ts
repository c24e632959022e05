/**
 * The RTSP ALG: an inside client plays a stream from a server outside, with
 * RTP and RTCP over UDP (RFC 2326).
 *
 * - SETUP from inside: each unicast UDP transport spec's client_port names
 *   the client's RTP and RTCP ports. They get public ports, an even/odd pair
 *   (RFC 3550), with a pinhole on each that admits the server only (any of
 *   its ports: servers send from ports of their choice), and the text names
 *   the public ports (and the public address, where a destination parameter
 *   named the client). Specs that carry media over the RTSP connection
 *   (interleaved, RTP/AVP/TCP) and multicast specs pass as they are.
 * - The reply: the spec the server chose keeps its pinholes, the other specs
 *   offered lose theirs, and client_port is given back as the client wrote it.
 *   A failed SETUP closes what it opened.
 * - Sessions: the reply's Session joins the stream to its session; several
 *   SETUPs (audio, video) make one session. TEARDOWN ends its session's
 *   pinholes and the media flows they admitted, and nothing of any other
 *   session (a TEARDOWN of one stream's URI ends that stream only). A session
 *   nobody keeps alive (requests or replies naming it) ends after twice the
 *   server's timeout; its pinholes live no longer than that either way.
 *
 * Refused, counted, and left as the client wrote it: a destination that is
 * not the client (media for a third host), a port below 1024, a pinhole over
 * a cap, a ninth stream in one session.
 */
import { ipv4ToString } from '../../wire/address.js';
import type { Expectation } from '../../nat/expectations.js';
import type { AlgFlow, AlgHandler, AlgServices, FrameOutcome, HandleResult } from '../helper.js';
import type { FrameResume } from '../tcp-stream.js';
import { applyEdits } from '../text/apply-edits.js';
import { type Edit, editText } from '../text/edit.js';
import { latin1 } from '../text/latin1.js';
import { frameRtspStream } from './framing.js';
import { cseqOf, headersNamed, methodIs, parseRtspMessage, type RtspMessage, sessionOf } from './message.js';
import { type MediaStream, type RtspSession, RtspSessions, type SetupStreams, sessionKey } from './sessions.js';
import { parseTransport, type TransportSpec } from './transport.js';

export interface RtspAlgOptions {
  /** A session's timeout when the server names none (default 60 s, RFC 2326). */
  sessionTimeoutSeconds?: number;
  /** How long a SETUP's pinholes wait for its reply (default 60 s). */
  setupSeconds?: number;
  /** Sessions tracked at once (default 4096). */
  maxSessions?: number;
}

const UDP = 17;
/** Streams in one session (the out-of-tree kernel module's max_outstanding). */
export const MAX_STREAMS_PER_SESSION = 8;
/** SETUPs awaiting their reply on one connection. */
const MAX_PENDING_PER_CONNECTION = 16;
/** Groups of gone connections' unanswered SETUPs, closed at the next message (beyond it they time out). */
const MAX_ORPHANS = 4096;
/** The longest timeout a server may ask for that is honoured (a day). */
const MAX_TIMEOUT_SECONDS = 86_400;

interface PendingSetup {
  cseq: number;
  setup: SetupStreams;
  /** The Session the SETUP named (a later stream of a session), or null. */
  sessionId: string | null;
}

export class RtspAlg implements AlgHandler {
  readonly name = 'rtsp';
  private readonly sessions: RtspSessions;
  private readonly pending = new Map<number, PendingSetup[]>();
  private readonly orphans: string[] = [];
  private nextGroup = 1;
  private readonly o: Required<RtspAlgOptions>;
  private readonly stats = {
    setups: 0,
    /** RTP/RTCP pinhole pairs opened. */
    streams: 0,
    /** Transport specs carrying media over the RTSP connection: passed as they are. */
    interleaved: 0,
    multicast: 0,
    /** A destination naming another host than the client: nothing opened. */
    thirdParty: 0,
    lowPort: 0,
    /** Pinholes refused (a cap, no free port): the spec is left as written. */
    refused: 0,
    /** SETUPs for a session that already has the most streams. */
    streamLimit: 0,
    /** Transport specs whose parameters do not parse: left as written. */
    malformed: 0,
    /** SETUPs that failed (an error reply), or succeeded without a Session: their pinholes closed. */
    setupsFailed: 0,
    /** Offered specs the server did not choose: their pinholes closed. */
    specsNotChosen: 0,
    teardowns: 0,
    timedOut: 0,
    evicted: 0,
    keepAlives: 0,
  };

  constructor(options: RtspAlgOptions = {}) {
    this.o = {
      sessionTimeoutSeconds: options.sessionTimeoutSeconds ?? 60,
      setupSeconds: options.setupSeconds ?? 60,
      maxSessions: options.maxSessions ?? 4096,
    };
    this.sessions = new RtspSessions(this.o.maxSessions);
  }

  frame(bytes: Uint8Array, start: number, end: number, resume?: FrameResume): FrameOutcome {
    return frameRtspStream(bytes, start, end, resume);
  }

  counters(): Record<string, number> {
    let waiting = 0;
    for (const list of this.pending.values()) waiting += list.length;
    return { ...this.stats, sessionsActive: this.sessions.size, setupsAwaitingReply: waiting };
  }

  flowGone(flow: number): void {
    const list = this.pending.get(flow);
    if (list === undefined) return;
    this.pending.delete(flow);
    for (const p of list) if (this.orphans.length < MAX_ORPHANS) this.orphans.push(p.setup.group);
  }

  handle(flow: AlgFlow, message: Uint8Array, services: AlgServices): HandleResult {
    this.housekeeping(services);
    const parsed = parseRtspMessage(message);
    if (!parsed.ok) return { kind: 'error', reason: parsed.reason };
    const m = parsed.message;
    if (m.method !== null) {
      if (flow.outbound && methodIs(m, 'SETUP')) return this.setup(flow, m, services);
      if (methodIs(m, 'TEARDOWN')) {
        this.teardown(flow, m, services);
        return { kind: 'pass' };
      }
      this.keepAlive(flow, m, services);
      return { kind: 'pass' };
    }
    if (!flow.outbound) {
      const p = this.takePending(flow.id, cseqOf(m), m.status);
      if (p !== null) return this.setupReply(flow, m, p, services);
    }
    this.keepAlive(flow, m, services);
    return { kind: 'pass' };
  }

  /** Ends timed-out sessions and the unanswered SETUPs of gone connections. */
  private housekeeping(services: AlgServices): void {
    while (this.orphans.length > 0) services.endGroup(this.orphans.pop()!);
    for (const s of this.sessions.expired(services.now)) {
      this.stats.timedOut++;
      this.endSetups(s.setups, services);
    }
  }

  private setup(flow: AlgFlow, m: RtspMessage, services: AlgServices): HandleResult {
    this.stats.setups++;
    const cseq = cseqOf(m);
    const named = sessionOf(m);
    const session = this.sessionNamed(flow, m);
    if (session !== undefined && streamCount(session) >= MAX_STREAMS_PER_SESSION) {
      this.stats.streamLimit++;
      return { kind: 'pass' };
    }
    const setup: SetupStreams = { group: `setup ${this.nextGroup++}`, uri: m.uri === null ? '' : latin1(m.bytes, m.uri.start, m.uri.end), streams: [] };
    const edits: Edit[] = [];
    for (const h of headersNamed(m, 'transport')) {
      for (const spec of parseTransport(m.bytes, h.value.start, h.value.end)) {
        const stream = this.openSpec(flow, spec, setup, services);
        if (stream === null) continue;
        const cp = spec.clientPort!;
        edits.push({ start: cp.span.start, end: cp.span.end, text: editText(portsText(stream.publicRtp, cp.hi < 0 ? -1 : stream.publicRtcp)) });
        if (spec.destination !== null) edits.push({ start: spec.destination.span.start, end: spec.destination.span.end, text: editText(ipv4ToString(flow.publicAddr)) });
      }
    }
    if (setup.streams.length === 0) return { kind: 'pass' };
    if (cseq < 0) {
      // A reply could never be matched to it: the pinholes would only wait out their time.
      services.endGroup(setup.group);
      this.stats.setupsFailed++;
      return { kind: 'pass' };
    }
    this.addPending(flow.id, { cseq, setup, sessionId: named?.id ?? null }, services);
    if (session !== undefined) this.touch(session, services);
    const out = applyEdits(m.bytes, edits);
    return out.ok ? { kind: 'rewrite', bytes: out.bytes } : { kind: 'error', reason: out.reason };
  }

  /** The pinholes for one spec of a SETUP (shared with an earlier spec naming the same ports), or null. */
  private openSpec(flow: AlgFlow, spec: TransportSpec, setup: SetupStreams, services: AlgServices): MediaStream | null {
    if (spec.malformed) {
      this.stats.malformed++;
      return null;
    }
    if (spec.interleaved) {
      this.stats.interleaved++;
      return null;
    }
    if (spec.multicast) {
      this.stats.multicast++;
      return null;
    }
    const cp = spec.clientPort;
    if (cp === null) return null;
    // Media for another host than the one that asked: not ours to open (DESIGN safety rule 3).
    if (spec.destination !== null && spec.destination.addr !== flow.insideAddr) {
      this.stats.thirdParty++;
      return null;
    }
    const rtp = cp.lo;
    const rtcp = cp.hi < 0 ? rtp + 1 : cp.hi;
    if (rtp < 1024 || rtcp < 1024 || rtcp > 65535) {
      this.stats.lowPort++;
      return null;
    }
    const same = setup.streams.find((s) => s.insideRtp === rtp && (s.insideRtcp < 0 ? rtp + 1 : s.insideRtcp) === rtcp);
    if (same !== undefined) return same;
    if (setup.streams.length >= MAX_STREAMS_PER_SESSION) {
      this.stats.streamLimit++;
      return null;
    }
    const plan = services.planMediaPorts(UDP, flow.insideAddr, rtp, flow.publicAddr);
    if (plan === null) {
      this.stats.refused++;
      return null;
    }
    const pinhole = (insidePort: number, publicPort: number | undefined, what: string): Expectation | null => {
      const e = services.expect({
        proto: UDP,
        insideAddr: flow.insideAddr,
        insidePort,
        publicAddr: flow.publicAddr,
        publicPort,
        remoteAddr: flow.remoteAddr,
        remotePort: 0,
        singleUse: false,
        ttlMs: this.o.setupSeconds * 1000,
        group: setup.group,
        cls: 'video',
        reason: `RTSP SETUP ${setup.uri}: ${what} to ${ipv4ToString(flow.insideAddr)}:${insidePort} from ${ipv4ToString(flow.remoteAddr)}`,
      });
      return typeof e === 'object' ? e : null;
    };
    const a = pinhole(rtp, plan.rtp, 'RTP');
    // RTCP on the planned odd port when it is RTP + 1 inside too; else wherever the engine finds room.
    const b = a === null ? null : pinhole(rtcp, rtcp === rtp + 1 ? plan.rtcp : undefined, 'RTCP');
    if (a === null || b === null) {
      if (a !== null) services.removeExpectation(a.id);
      this.stats.refused++;
      return null;
    }
    const stream: MediaStream = { insideRtp: rtp, insideRtcp: cp.hi < 0 ? -1 : rtcp, publicRtp: a.publicPort, publicRtcp: b.publicPort, rtpPinhole: a.id, rtcpPinhole: b.id };
    setup.streams.push(stream);
    this.stats.streams++;
    return stream;
  }

  private addPending(flow: number, p: PendingSetup, services: AlgServices): void {
    let list = this.pending.get(flow);
    if (list === undefined) this.pending.set(flow, (list = []));
    if (list.length >= MAX_PENDING_PER_CONNECTION) services.endGroup(list.shift()!.setup.group);
    list.push(p);
  }

  /** The SETUP a reply answers (by CSeq), taken out when the reply is final. */
  private takePending(flow: number, cseq: number, status: number): PendingSetup | null {
    const list = this.pending.get(flow);
    if (list === undefined || cseq < 0 || status < 200) return null;
    const k = list.findIndex((p) => p.cseq === cseq);
    if (k < 0) return null;
    const [p] = list.splice(k, 1);
    if (list.length === 0) this.pending.delete(flow);
    return p;
  }

  private setupReply(flow: AlgFlow, m: RtspMessage, p: PendingSetup, services: AlgServices): HandleResult {
    const named = sessionOf(m);
    const id = named?.id ?? p.sessionId;
    if (m.status >= 300 || id === null) {
      this.stats.setupsFailed++;
      services.endGroup(p.setup.group);
      this.keepAlive(flow, m, services);
      return { kind: 'pass' };
    }
    // The spec the server chose is the one whose client_port it repeats; the others close.
    const edits: Edit[] = [];
    const chosen = new Set<MediaStream>();
    let sawTransport = false;
    for (const h of headersNamed(m, 'transport')) {
      for (const spec of parseTransport(m.bytes, h.value.start, h.value.end)) {
        sawTransport = true;
        const cp = spec.clientPort;
        const stream = cp === null || spec.interleaved ? undefined : p.setup.streams.find((s) => s.publicRtp === cp.lo);
        if (stream === undefined || cp === null) continue;
        chosen.add(stream);
        edits.push({ start: cp.span.start, end: cp.span.end, text: editText(portsText(stream.insideRtp, cp.hi < 0 ? -1 : stream.insideRtcp < 0 ? stream.insideRtp + 1 : stream.insideRtcp)) });
        if (spec.destination !== null && spec.destination.addr === flow.publicAddr) {
          edits.push({ start: spec.destination.span.start, end: spec.destination.span.end, text: editText(ipv4ToString(flow.insideAddr)) });
        }
      }
    }
    // No Transport in the reply: the server took what was offered.
    if (sawTransport) {
      const kept: MediaStream[] = [];
      for (const s of p.setup.streams) {
        if (chosen.has(s)) kept.push(s);
        else {
          services.removeExpectation(s.rtpPinhole);
          services.removeExpectation(s.rtcpPinhole);
          this.stats.specsNotChosen++;
        }
      }
      p.setup.streams = kept;
    }
    if (p.setup.streams.length > 0) this.join(flow, id, named?.timeout ?? -1, p.setup, services);
    if (edits.length === 0) return { kind: 'pass' };
    const out = applyEdits(m.bytes, edits);
    return out.ok ? { kind: 'rewrite', bytes: out.bytes } : { kind: 'error', reason: out.reason };
  }

  /** A SETUP's streams join their session (made here for the first SETUP). */
  private join(flow: AlgFlow, id: string, timeout: number, setup: SetupStreams, services: AlgServices): void {
    const key = sessionKey(flow.insideAddr, flow.remoteAddr, id);
    let session = this.sessions.get(key);
    if (session === undefined) {
      const added = this.sessions.add(key, id, this.windowMs(timeout), services.now);
      session = added.session;
      if (added.evicted !== null) {
        this.stats.evicted++;
        this.endSetups(added.evicted.setups, services);
      }
    } else if (timeout > 0) {
      session.windowMs = this.windowMs(timeout);
    }
    session.setups.push(setup);
    this.touch(session, services);
  }

  /** Twice the session timeout (the server's, else the configured default). */
  private windowMs(timeout: number): number {
    const seconds = timeout > 0 ? Math.min(timeout, MAX_TIMEOUT_SECONDS) : this.o.sessionTimeoutSeconds;
    return Math.max(2 * seconds, 10) * 1000;
  }

  /** The session was heard from: it and its pinholes live another window. */
  private touch(session: RtspSession, services: AlgServices): void {
    this.sessions.touch(session, services.now);
    for (const setup of session.setups) {
      for (const s of setup.streams) {
        services.extendExpectation(s.rtpPinhole, session.windowMs);
        services.extendExpectation(s.rtcpPinhole, session.windowMs);
      }
    }
  }

  /** The session a message names (its Session header), if this ALG knows it between these two hosts. */
  private sessionNamed(flow: AlgFlow, m: RtspMessage): RtspSession | undefined {
    const named = sessionOf(m);
    return named === null ? undefined : this.sessions.get(sessionKey(flow.insideAddr, flow.remoteAddr, named.id));
  }

  private keepAlive(flow: AlgFlow, m: RtspMessage, services: AlgServices): void {
    const session = this.sessionNamed(flow, m);
    if (session === undefined) return;
    this.stats.keepAlives++;
    this.touch(session, services);
  }

  /** TEARDOWN: the session's pinholes and media flows end (only the stream's, for a stream URI). */
  private teardown(flow: AlgFlow, m: RtspMessage, services: AlgServices): void {
    const session = this.sessionNamed(flow, m);
    if (session === undefined) return;
    this.stats.teardowns++;
    const uri = m.uri === null ? '' : latin1(m.bytes, m.uri.start, m.uri.end);
    const one = session.setups.length > 1 ? session.setups.filter((s) => s.uri === uri) : [];
    if (one.length > 0) {
      this.endSetups(one, services);
      session.setups = session.setups.filter((s) => !one.includes(s));
      return;
    }
    this.sessions.remove(session);
    this.endSetups(session.setups, services);
  }

  private endSetups(setups: readonly SetupStreams[], services: AlgServices): void {
    for (const s of setups) services.endGroup(s.group);
  }
}

function streamCount(s: RtspSession): number {
  let n = 0;
  for (const setup of s.setups) n += setup.streams.length;
  return n;
}

function portsText(rtp: number, rtcp: number): string {
  return rtcp < 0 ? String(rtp) : `${rtp}-${rtcp}`;
}
