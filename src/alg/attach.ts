/**
 * Attaches an ALG handler to an engine: the transport half of every ALG.
 *
 * UDP: each datagram is one message; a rewritten one gets new IP and UDP
 * lengths and checksums. TCP: each direction is reassembled from the stream's
 * start (tcp-stream.ts); complete messages go to the handler; what is sent in
 * place of a segment carries sequence numbers, acknowledgements and SACK
 * edges moved by however much earlier rewrites changed the stream's length,
 * in both directions (seq-map.ts).
 *
 * Pinholes: what a handler asks for goes through its ALG's expectation policy
 * (caps per traffic class, per group and in total, default times to live)
 * before the engine's own caps; its groups are named within the ALG (the
 * engine keys them by helper), so no ALG can remove another's pinholes.
 */
import type { NatEngine } from '../nat/engine.js';
import { EXPECTATION_CLASSES, type ExpectationClass } from '../nat/expectations.js';
import { FLOW_CHILD } from '../nat/flow-table.js';
import type { PinholeRequest } from '../nat/pinholes.js';
import { ipv4ToString } from '../wire/address.js';
import { fillIpv4HeaderChecksum, IPV4, ipv4, PROTO_TCP, PROTO_UDP, write16 } from '../wire/ipv4.js';
import { tcp, TCP, TCP_ACK, TCP_FIN, TCP_MIN_HEADER, TCP_PSH, TCP_RST, TCP_SYN } from '../wire/tcp.js';
import { fillUdpChecksum, UDP, udp, UDP_HEADER } from '../wire/udp.js';
import type { AlgInstance, AlgPortRule, ExpectationPolicy } from './definition.js';
import type { AlgFlow, AlgHandler, AlgServices, ExpectRequest, FrameOutcome, HandleResult, PinholeRefusal } from './helper.js';
import { patchPayload } from './payload-patch.js';
import { slabMemory } from './slab-memory.js';
import type { SeqMap } from './seq-map.js';
import { adjustSegment, buildSegment } from './tcp-packet.js';
import { StreamDirection, type Chunk, type FrameResume, type Framer, type MessageHandler, type StreamEvents } from './tcp-stream.js';

export interface AlgCounters {
  /** Complete messages handed to the handler. */
  messages: number;
  rewritten: number;
  /** Messages the handler could not parse: passed on unmodified. */
  passedParseError: number;
  /** Messages dropped by the handler's policy. */
  dropped: number;
  expectationsOpened: number;
  expectationsRefused: number;
  /** TCP streams that did not start with the protocol (passed through). */
  streamsNotThisProtocol: number;
  /** TCP streams whose message outgrew the reassembly limit (passed through). */
  streamsOversize: number;
  retransmissionsRewritten: number;
  retransmissionsPassed: number;
  /** TCP segments beyond a gap, dropped for the sender to repeat. */
  segmentsOutOfOrder: number;
  /** The handler threw (a bug): the message passed as it came, or the stream passes through. */
  handlerFailures: number;
  /** Messages whose settled first bytes went on early and whose rewrite would have changed them: passed as they came. */
  settledChanged: number;
}

interface TcpFlowState {
  dirs: [StreamDirection, StreamDirection]; // [outbound, inbound]
  /** FIN seen outbound (1), inbound (2); 4: the handler was told the flow closed. */
  ends: number;
  /** The initiator's SYN sequence number: a SYN with another one is a new connection on the tuple. */
  isn: number | undefined;
  /**
   * The segment being fed, for the two callbacks below: made once per flow,
   * not per segment (a closure per segment cost more than the framing).
   */
  outbound: boolean;
  now: number;
  /** The flow as the handler sees it, made when the segment completes a message. */
  view: AlgFlow | null;
  framer: Framer;
  onMessage: MessageHandler;
}

/** What a message dropped by policy leaves in the stream. */
const NO_BYTES = new Uint8Array(0);

/** For handlers attached without a definition (tests, library users): every class, no cap below the engine's. */
const OPEN_POLICY: ExpectationPolicy = Object.fromEntries(
  EXPECTATION_CLASSES.map((c) => [c, { perGroup: Number.POSITIVE_INFINITY, total: Number.POSITIVE_INFINITY, ttlMs: 60_000 }]),
);

export class AttachedAlg implements AlgInstance {
  readonly counters_: AlgCounters = {
    messages: 0,
    rewritten: 0,
    passedParseError: 0,
    dropped: 0,
    expectationsOpened: 0,
    expectationsRefused: 0,
    streamsNotThisProtocol: 0,
    streamsOversize: 0,
    retransmissionsRewritten: 0,
    retransmissionsPassed: 0,
    segmentsOutOfOrder: 0,
    handlerFailures: 0,
    settledChanged: 0,
  };
  /** Pinholes refused by the ALG's policy, per traffic class. */
  private readonly classLimitHits: Record<ExpectationClass, number> = { signalling: 0, audio: 0, video: 0, data: 0 };
  private readonly tcpFlows = new Map<number, TcpFlowState>();
  /** Engine helper ids by handler name: the main handler under the ALG's name, related ones under theirs. */
  private readonly helperIds = new Map<string, number>();
  /** The main handler's engine helper id. */
  readonly helperId: number;
  /** The flow of the message being handled, set before each handle() (pinholes are checked against it). */
  private current: AlgFlow | null = null;
  /** The last parse error, for the log (never the message itself). */
  lastError: string | null = null;
  /**
   * The last rewrite's bytes and the spans its handler said it changed:
   * when those very bytes come to be written into the packet, only the
   * spans are (payload-patch.ts). Known by identity, so a message joined
   * with others, or copied, is compared whole.
   */
  private rewrote: Uint8Array | null = null;
  private rewroteSpans: Int32Array | undefined = undefined;
  private rewroteSpanCount = 0;
  /** Messages handled when the state was last exported: a changed count means the state may have changed. */
  private exportedAtMessage = -1;

  constructor(
    private readonly engine: NatEngine,
    readonly handler: AlgHandler,
    rules: readonly AlgPortRule[],
    private readonly policy: ExpectationPolicy = OPEN_POLICY,
  ) {
    this.helperId = this.register(handler, handler.name, rules);
    for (const [key, related] of Object.entries(handler.related ?? {})) {
      if (this.helperIds.has(key)) throw new Error(`ALG ${handler.name}: related handler ${key} named twice`);
      this.register(related, key, []);
    }
  }

  /** Registers one of this ALG's handlers with the engine. */
  private register(handler: AlgHandler, key: string, rules: readonly AlgPortRule[]): number {
    const id = this.engine.registerHelper(
      (_e, flow, pkt, outbound, now) => this.packet(handler, flow, pkt, outbound, now),
      rules.map((r) => ({ proto: r.proto, first: r.first, last: r.last })),
      (flow) => {
        this.tcpFlows.delete(flow);
        handler.flowGone?.(flow, this.svc);
      },
      key === this.handler.name ? key : `${this.handler.name}/${key}`,
    );
    this.helperIds.set(key, id);
    return id;
  }

  get name(): string {
    return this.handler.name;
  }

  /** Whether the handler keeps state across a restart or failover (it has exportState and importState). */
  get keepsState(): boolean {
    return this.handler.exportState !== undefined && this.handler.importState !== undefined;
  }

  /** Messages were handled since the state was last exported (a store saves it only then). */
  get stateChanged(): boolean {
    return this.keepsState && this.exportedAtMessage !== this.counters_.messages;
  }

  /** The handler's state, or undefined when it keeps none. */
  exportState(now: number): unknown {
    if (!this.keepsState) return undefined;
    this.exportedAtMessage = this.counters_.messages;
    return this.handler.exportState!(now);
  }

  /** Puts back exported state (times moved by shiftMs); null, or why it was refused. */
  importState(state: unknown, shiftMs: number): string | null {
    if (!this.keepsState) return `ALG ${this.name} keeps no state`;
    try {
      return this.handler.importState!(state, shiftMs);
    } catch (err) {
      // A handler that throws on bad state is a bug; the state is refused, the gateway goes on.
      return `ALG ${this.name} threw on its saved state: ${(err as Error).message}`;
    }
  }

  /** A reload: the ports that attach new flows (flows attached already keep the ALG). */
  setPorts(rules: readonly AlgPortRule[]): void {
    this.engine.setHelperPorts(
      this.helperId,
      rules.map((r) => ({ proto: r.proto, first: r.first, last: r.last })),
    );
  }

  /** A reload: new options, if the handler can take them while running; false when it cannot. */
  reconfigure(options: unknown): boolean {
    if (!this.handler.reconfigure) return false;
    this.handler.reconfigure(options);
    return true;
  }

  counters(): Record<string, number> {
    const out: Record<string, number> = { ...this.counters_ };
    for (const c of EXPECTATION_CLASSES) if (this.classLimitHits[c]) out[`classLimit_${c}`] = this.classLimitHits[c];
    for (const related of Object.values(this.handler.related ?? {})) Object.assign(out, related.counters?.() ?? {});
    return Object.assign(out, this.handler.counters?.() ?? {});
  }

  private packet(handler: AlgHandler, flow: number, pkt: Uint8Array, outbound: boolean, now: number): Uint8Array | Uint8Array[] | null {
    const proto = ipv4.protocol(pkt, 0);
    if (proto === PROTO_UDP) return this.udp(handler, flow, pkt, outbound, now);
    if (proto === PROTO_TCP) return this.tcp(handler, flow, pkt, outbound, now);
    return pkt;
  }

  private flowView(flow: number, outbound: boolean): AlgFlow {
    const f = this.engine.flows;
    return {
      id: flow,
      proto: f.proto[flow] as 6 | 17,
      outbound,
      insideAddr: f.inAddr[flow],
      insidePort: f.inPort[flow],
      publicAddr: f.pubAddr[flow],
      publicPort: f.pubPort[flow],
      remoteAddr: f.remAddr[flow],
      remotePort: f.remPort[flow],
      group: f.flags[flow] & FLOW_CHILD ? this.ownGroup(flow) : null,
    };
  }

  /** The group of a flow one of this ALG's expectations admitted, or null. */
  private ownGroup(flow: number): string | null {
    const g = this.engine.groupOfFlow(flow);
    return g !== undefined && g.helper === this.handler.name ? g.group : null;
  }

  /** Whether an expectation is this ALG's (a handler acts on its own pinholes only). */
  private owns(id: number): boolean {
    return this.engine.expectations.get(id)?.helper === this.handler.name;
  }

  /**
   * Why a pinhole may not be opened whatever the ALG believes (DESIGN safety
   * rule 3): only toward the inside host of the message's own flow (never a
   * third inside host a message names: NAT Slipstreaming v2), and admitting
   * only what comes from outside.
   */
  private misaddressed(req: ExpectRequest): string | null {
    const flow = this.current;
    if (flow && req.insideAddr !== flow.insideAddr) return `pinhole refused: toward ${ipv4ToString(req.insideAddr)}, not this flow's inside host ${ipv4ToString(flow.insideAddr)}`;
    return this.notOutside(req.remoteAddr);
  }

  /**
   * A remote a pinhole may not admit: an inside address, or our own public
   * address (only hairpinned packets from inside hosts come from it) unless
   * the message's own peer is hairpinned from there.
   */
  private notOutside(remote: number): string | null {
    if (remote === 0) return null;
    if (this.engine.isInside(remote)) return `pinhole refused: it would admit ${ipv4ToString(remote)}, an inside address`;
    if (this.engine.isPublic(remote) && this.current?.remoteAddr !== remote) return `pinhole refused: it would admit ${ipv4ToString(remote)}, our own public address`;
    return null;
  }

  /** A pinhole through the ALG's policy, then the engine. */
  private expect(req: ExpectRequest): ReturnType<AlgServices['expect']> {
    const cls = req.cls ?? 'data';
    const attach = req.attach === undefined ? 0 : (this.helperIds.get(req.attach) ?? -1);
    const r = this.policyRefusal(req, cls, attach, 1) ?? this.engine.expect(this.engineRequest(req, cls, attach), this.svc.now);
    if (typeof r === 'object') this.counters_.expectationsOpened++;
    else this.counters_.expectationsRefused++;
    return r;
  }

  /** A media stream's RTP and RTCP pinholes through the ALG's policy (room for both), then the engine in one step. */
  private expectMediaPair(req: ExpectRequest, rtcpReason: string): ReturnType<AlgServices['expectMediaPair']> {
    const cls = req.cls ?? 'data';
    const attach = req.attach === undefined ? 0 : (this.helperIds.get(req.attach) ?? -1);
    const r = this.policyRefusal(req, cls, attach, 2) ?? this.engine.expectMediaPair(this.engineRequest(req, cls, attach), rtcpReason, this.svc.now);
    if (typeof r === 'object') this.counters_.expectationsOpened += 2;
    else this.counters_.expectationsRefused++;
    return r;
  }

  /**
   * Why `n` pinholes like `req` may not be opened, or null: a related handler
   * the ALG does not have (`attach` -1), an address the safety rules forbid,
   * or the ALG's policy for the class full in the group or in all.
   */
  private policyRefusal(req: ExpectRequest, cls: ExpectationClass, attach: number, n: number): PinholeRefusal | null {
    if (attach < 0) return 'unknown-handler';
    const misaddressed = this.misaddressed(req);
    if (misaddressed) {
      this.lastError = misaddressed;
      return 'bad-address';
    }
    const pol = this.policy[cls];
    const table = this.engine.expectations;
    if (!pol || table.countInGroupOfClass(this.handler.name, req.group, cls) + n > pol.perGroup || table.countForHelper(this.handler.name, cls) + n > pol.total) {
      this.classLimitHits[cls]++;
      return 'class-limit';
    }
    return null;
  }

  /** The engine's request for an ALG's: in the ALG's name, its policy's time to live unless given (every field written out, one shape). */
  private engineRequest(req: ExpectRequest, cls: ExpectationClass, attach: number): PinholeRequest {
    return {
      proto: req.proto,
      insideAddr: req.insideAddr,
      insidePort: req.insidePort,
      publicAddr: req.publicAddr,
      publicPort: req.publicPort,
      remoteAddr: req.remoteAddr,
      remotePort: req.remotePort,
      ttlMs: req.ttlMs ?? this.policy[cls]!.ttlMs,
      singleUse: req.singleUse,
      group: req.group,
      reason: req.reason,
      helper: this.handler.name,
      direction: req.direction,
      cls,
      attach,
    };
  }

  /** The stream's events, counted (one object for every stream). */
  private readonly streamEvents: StreamEvents = {
    notThisProtocol: () => this.counters_.streamsNotThisProtocol++,
    oversize: () => this.counters_.streamsOversize++,
    retransmission: (fromLog) => (fromLog ? this.counters_.retransmissionsRewritten++ : this.counters_.retransmissionsPassed++),
    outOfOrder: () => this.counters_.segmentsOutOfOrder++,
    settledChanged: () => this.counters_.settledChanged++,
  };

  /** What handlers may ask of the NAT; one object, its clock moved per message. */
  private readonly svc: AlgServices & { now: number } = {
    now: 0,
    expect: (req: ExpectRequest) => this.expect(req),
    expectMediaPair: (req: ExpectRequest, rtcpReason: string) => this.expectMediaPair(req, rtcpReason),
    removeExpectations: (group: string) => this.engine.removeExpectationGroup(group, this.handler.name),
    endGroup: (group: string) => this.engine.endExpectationGroup(group, this.handler.name),
    restrictExpectation: (id, addr, port) => this.owns(id) && this.notOutside(addr) === null && this.engine.restrictExpectation(id, addr, port),
    removeExpectation: (id) => this.owns(id) && this.engine.removeExpectation(id),
    extendExpectation: (id, ttlMs) => this.owns(id) && this.engine.extendExpectation(id, ttlMs, this.svc.now),
    planMediaPorts: (proto, insideAddr, rtpPort, publicAddr) => this.engine.planMediaPorts(proto, insideAddr, rtpPort, publicAddr),
  };

  /** The handler's framing; a framer that throws gives up the stream (it passes through from here), counted. */
  private frame(handler: AlgHandler, b: Uint8Array, start: number, end: number, resume: FrameResume): FrameOutcome {
    try {
      return handler.frame(b, start, end, resume);
    } catch (err) {
      this.counters_.handlerFailures++;
      return { kind: 'error', reason: `${handler.name} framing failed: ${(err as Error)?.message ?? String(err)}` };
    }
  }

  /** Runs the handler on one message; returns the bytes to send in its place, or null to drop. */
  private message(handler: AlgHandler, flow: AlgFlow, message: Uint8Array, now: number): Uint8Array | null {
    this.counters_.messages++;
    this.svc.now = now;
    this.current = flow;
    // The spans a handler reports hold for its own bytes until the next message is handled.
    this.rewrote = null;
    let r: HandleResult;
    try {
      r = handler.handle(flow, message, this.svc);
    } catch (err) {
      // A bug in an ALG must not take the gateway with it: the message passes as it came, counted.
      r = { kind: 'error', reason: `${handler.name} failed: ${(err as Error)?.message ?? String(err)}` };
      this.counters_.handlerFailures++;
    }
    switch (r.kind) {
      case 'pass':
        return message;
      case 'rewrite':
        this.counters_.rewritten++;
        this.rewrote = r.bytes;
        this.rewroteSpans = r.changed;
        this.rewroteSpanCount = r.changedCount ?? 0;
        return r.bytes;
      case 'drop':
        this.counters_.dropped++;
        this.lastError = r.reason;
        return null;
      case 'error':
        this.counters_.passedParseError++;
        this.lastError = r.reason;
        return message;
    }
  }

  private udp(handler: AlgHandler, flow: number, pkt: Uint8Array, outbound: boolean, now: number): Uint8Array | null {
    const hl = ipv4.headerLength(pkt, 0);
    const total = ipv4.totalLength(pkt, 0);
    // A non-first fragment carries no message start; only whole datagrams are parsed.
    if (ipv4.moreFragments(pkt, 0) || ipv4.fragmentOffset(pkt, 0) !== 0 || total - hl < UDP_HEADER) return pkt;
    // The message is the datagram's own payload: bytes after the UDP length are not part of it.
    const datagram = udp.length(pkt, hl);
    if (datagram < UDP_HEADER || datagram > total - hl) return pkt;
    const payload = pkt.subarray(hl + UDP_HEADER, hl + datagram);
    if (payload.length === 0) return pkt;
    const out = this.message(handler, this.flowView(flow, outbound), payload, now);
    if (out === null) return null;
    if (out === payload) return pkt;
    // Same length, and nothing after the datagram in the IP packet (a rebuild would drop it): written in place.
    if (out.length === payload.length && hl + datagram === total) {
      this.patch(pkt, hl + UDP.CHECKSUM, hl + UDP_HEADER, out, true);
      return pkt;
    }
    const hadChecksum = udp.checksum(pkt, hl) !== 0;
    const np = slabMemory(hl + UDP_HEADER + out.length);
    np.set(pkt.subarray(0, hl + UDP_HEADER));
    np.set(out, hl + UDP_HEADER);
    write16(np, IPV4.TOTAL_LEN, np.length);
    fillIpv4HeaderChecksum(np, 0);
    write16(np, hl + UDP.LENGTH, UDP_HEADER + out.length);
    write16(np, hl + UDP.CHECKSUM, 0);
    if (hadChecksum) fillUdpChecksum(np, 0);
    return np;
  }

  private tcp(handler: AlgHandler, flow: number, pkt: Uint8Array, outbound: boolean, now: number): Uint8Array | Uint8Array[] | null {
    const hl = ipv4.headerLength(pkt, 0);
    const flags = tcp.flags(pkt, hl);
    const out = this.tcpSegment(handler, flow, pkt, outbound, now);
    if (flags & (TCP_FIN | TCP_RST) && handler.closed) {
      const state = this.tcpFlows.get(flow);
      if (state) this.noteEnd(handler, state, flow, flags, outbound, now);
    }
    return out;
  }

  private tcpSegment(handler: AlgHandler, flow: number, pkt: Uint8Array, outbound: boolean, now: number): Uint8Array | Uint8Array[] | null {
    const hl = ipv4.headerLength(pkt, 0);
    const total = ipv4.totalLength(pkt, 0);
    const thl = tcp.headerLength(pkt, hl);
    if (thl < TCP_MIN_HEADER || hl + thl > total) return pkt;
    const flags = tcp.flags(pkt, hl);
    const seq = tcp.seq(pkt, hl);
    const opening = (flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
    let state = this.tcpFlows.get(flow);
    if (state && opening && state.isn !== undefined && state.isn !== seq) {
      // A new connection on the tuple of an old one (a client reusing its port after
      // TIME_WAIT): the engine keeps the flow, so the stream starts afresh here, from
      // this SYN; the old stream's sequence numbers and shifts would hold back or drop
      // every byte of the new one. The handler hears the old connection end first.
      if (!(state.ends & 4) && handler.closed) {
        this.svc.now = now;
        handler.closed(this.flowView(flow, outbound), this.svc);
      }
      state = undefined;
    }
    if (!state) {
      state = this.newTcpState(handler, flow);
      this.tcpFlows.set(flow, state);
    }
    if (opening) state.isn = seq;
    const mine = state.dirs[outbound ? 0 : 1];
    const theirs = state.dirs[outbound ? 1 : 0];
    if (flags & TCP_SYN) mine.start(seq);
    const payload = pkt.subarray(hl + thl, total);
    if (payload.length === 0 || flags & TCP_RST) {
      if (flags & TCP_FIN) return this.finish(mine, pkt, theirs.map);
      if (!mine.map.identity || !theirs.map.identity) adjustSegment(pkt, mine.map, theirs.map);
      return pkt;
    }
    state.outbound = outbound;
    state.now = now;
    state.view = null;
    const result = mine.feed(seq, payload, state.framer, state.onMessage, this.streamEvents);
    state.view = null;
    if (result.kind === 'drop') return null;
    if (result.kind === 'pass') {
      if (!mine.map.identity || !theirs.map.identity) adjustSegment(pkt, mine.map, theirs.map);
      return pkt;
    }
    const chunks = result.chunks;
    if (flags & TCP_FIN) {
      const rest = mine.flush();
      if (rest) chunks.push(rest);
    }
    // The common cases: one chunk in the segment's own place, the same
    // bytes, or as many rewritten in place (an ALG that overwrites fields):
    // written into the packet with the checksum updated, not a new segment.
    if (chunks.length === 1 && mine.map.identity && theirs.map.identity && chunks[0].seq === seq && chunks[0].bytes.length === payload.length) {
      if (chunks[0].bytes !== payload) this.patch(pkt, hl + TCP.CHECKSUM, hl + thl, chunks[0].bytes, false);
      return pkt;
    }
    return this.segments(pkt, chunks, flags, theirs.map, payload.length, mine.sentUpTo);
  }

  /** Writes a same-length payload into the packet: only the spans its handler changed, when these are the bytes it returned. */
  private patch(pkt: Uint8Array, checksumAt: number, at: number, bytes: Uint8Array, udp: boolean): void {
    if (bytes === this.rewrote && this.rewroteSpans !== undefined) patchPayload(pkt, checksumAt, at, bytes, udp, this.rewroteSpans, this.rewroteSpanCount);
    else patchPayload(pkt, checksumAt, at, bytes, udp);
  }

  /** A flow's stream state, with its framer and message callbacks (made here once, not per segment). */
  private newTcpState(handler: AlgHandler, flow: number): TcpFlowState {
    const state: TcpFlowState = {
      dirs: [new StreamDirection(), new StreamDirection()],
      ends: 0,
      isn: undefined,
      outbound: false,
      now: 0,
      view: null,
      framer: (b, s, e, r) => this.frame(handler, b, s, e, r),
      onMessage: (m) => this.streamMessage(handler, flow, state, m),
    };
    return state;
  }

  /** A complete message of the segment being fed on `state`'s flow: what to send in its place. */
  private streamMessage(handler: AlgHandler, flow: number, state: TcpFlowState, m: Uint8Array): Uint8Array {
    const view = (state.view ??= this.flowView(flow, state.outbound));
    const before = this.counters_.passedParseError;
    // A message dropped by policy leaves the stream at a message boundary,
    // so the receiver still sees a well-formed stream.
    const out = this.message(handler, view, m, state.now) ?? NO_BYTES;
    if (this.counters_.passedParseError !== before) {
      state.dirs[state.outbound ? 0 : 1].passThrough = true;
      this.counters_.streamsNotThisProtocol++;
    }
    return out;
  }

  /** Tells the handler once that the flow closed: a RST, or a FIN each way (after the segment's own data was handled). */
  private noteEnd(handler: AlgHandler, state: TcpFlowState, flow: number, flags: number, outbound: boolean, now: number): void {
    if (state.ends & 4) return;
    state.ends |= flags & TCP_FIN ? (outbound ? 1 : 2) : 0;
    if (!(flags & TCP_RST) && (state.ends & 3) !== 3) return;
    state.ends |= 4;
    this.svc.now = now;
    handler.closed!(this.flowView(flow, outbound), this.svc);
  }

  /** A FIN with no data: whatever is held goes out first, then the FIN. */
  private finish(dir: StreamDirection, pkt: Uint8Array, ackMap: SeqMap): Uint8Array | Uint8Array[] {
    const rest = dir.flush();
    if (!rest) {
      if (!dir.map.identity || !ackMap.identity) adjustSegment(pkt, dir.map, ackMap);
      return pkt;
    }
    return this.segments(pkt, [rest], tcp.flags(pkt, ipv4.headerLength(pkt, 0)), ackMap, 0, dir.sentUpTo);
  }

  /**
   * The segments to send for `chunks`: each at most as long as the original
   * segment (or 536 bytes), so a message that grew does not exceed the path
   * MTU the sender chose. PSH and FIN ride on the last one. With no data to
   * send (all held), a bare acknowledgement at `sentUpTo` keeps the other
   * direction's ACKs flowing.
   */
  private segments(
    template: Uint8Array,
    chunks: Chunk[],
    flags: number,
    ackMap: SeqMap,
    originalLength: number,
    sentUpTo: number,
  ): Uint8Array[] {
    const max = Math.max(536, originalLength);
    const pieces: Chunk[] = [];
    for (const c of chunks) {
      for (let o = 0; o < c.bytes.length; o += max) {
        pieces.push({ seq: add(c.seq, o), bytes: c.bytes.subarray(o, Math.min(o + max, c.bytes.length)) });
      }
    }
    const inner = flags & ~(TCP_FIN | TCP_PSH);
    if (pieces.length === 0) return [buildSegment(template, sentUpTo, NO_BYTES, inner, ackMap)];
    return pieces.map((p, i) => buildSegment(template, p.seq, p.bytes, i === pieces.length - 1 ? flags : inner, ackMap));
  }
}

function add(a: number, b: number): number {
  return (a + b) >>> 0;
}

/**
 * Attaches `handler` to `engine` for flows matching `ports`, under an
 * expectation policy (by default, the engine's caps only). The registry's
 * attachAlg() does this for an ALG definition.
 */
export function attachHandler(engine: NatEngine, handler: AlgHandler, ports: readonly AlgPortRule[], policy?: ExpectationPolicy): AttachedAlg {
  return new AttachedAlg(engine, handler, ports, policy);
}
