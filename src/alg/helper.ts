/**
 * The interface every ALG implements. The framework (attach.ts) does the
 * transport work: it hands the handler one complete message at a time, taken
 * at a verified boundary (a whole datagram; for TCP, the start of the stream
 * or the end of the previous message, reassembled per direction), and puts the
 * handler's answer back on the wire, fixing lengths, checksums and TCP
 * sequence numbers. The handler never touches the flow table: it reads the
 * flow, returns the message to send, and asks for expectations through
 * AlgServices (DESIGN: netfilter helpers return edits and expectations).
 */
import type { Expectation, ExpectationRefusal, ExpectationRequest } from '../nat/expectations.js';
import type { MediaPorts } from '../nat/pinholes.js';
import type { FrameResume } from './tcp-stream.js';

/** The flow a message travels on, as seen after translation. Addresses are uint32. */
export interface AlgFlow {
  readonly id: number;
  readonly proto: 6 | 17;
  /** The message comes from the inside host (toward the outside). */
  readonly outbound: boolean;
  readonly insideAddr: number;
  readonly insidePort: number;
  readonly publicAddr: number;
  readonly publicPort: number;
  readonly remoteAddr: number;
  readonly remotePort: number;
  /**
   * The group (call, session) of the expectation that admitted this flow, in
   * this ALG's names; null for a flow the ALG's ports attached it to.
   */
  readonly group: string | null;
}

/**
 * A pinhole as a handler asks for it. `group` is in the ALG's own names (the
 * engine keys groups by ALG, so each ALG's are apart); `attach` names the handler the
 * admitted flow gets (a key of AlgHandler.related, or the ALG's own name);
 * `ttlMs` defaults to the ALG's policy for the class.
 */
export type ExpectRequest = Omit<ExpectationRequest, 'publicAddr' | 'publicPort' | 'helper' | 'attach' | 'ttlMs'> & {
  publicAddr?: number;
  publicPort?: number;
  ttlMs?: number;
  attach?: string;
};

/** Why the framework or the engine refused a pinhole. */
/** `bad-address`: toward an inside host other than the message's flow's, or admitting an inside address. */
/** `unknown-handler`: the request named a related handler the ALG does not have. */
export type PinholeRefusal = ExpectationRefusal | 'no-port' | 'class-limit' | 'bad-address' | 'unknown-handler';

/** What a handler may ask of the NAT while handling a message. */
export interface AlgServices {
  readonly now: number;
  /** Opens a pinhole; with no public port given, the engine picks one (parity kept). */
  expect(req: ExpectRequest): Expectation | PinholeRefusal;
  /** Removes every expectation of a group (a call, a registration). */
  removeExpectations(group: string): number;
  /** Removes a group's expectations and the flows they admitted (the call is over). */
  endGroup(group: string): { expectations: number; flows: number };
  /** Narrows a live expectation to the remote address it must come from (0: any). */
  restrictExpectation(id: number, remoteAddr: number, remotePort: number): boolean;
  removeExpectation(id: number): boolean;
  /** Sets a live expectation's time to live, counted from now. */
  extendExpectation(id: number, ttlMs: number): boolean;
  /**
   * A media stream's RTP pinhole (`req`) and its RTCP pinhole on the next
   * inside port (`rtcpReason` for the log), public ports an even/odd pair
   * where one is free: both or neither. The same as planMediaPorts and two
   * expect() calls, in one step.
   */
  expectMediaPair(req: ExpectRequest, rtcpReason: string): [Expectation, Expectation] | PinholeRefusal;
  /** Public ports for a media stream's RTP and RTCP (an even/odd pair when free); nothing is held. */
  planMediaPorts(proto: number, insideAddr: number, rtpPort: number, publicAddr?: number): MediaPorts | null;
}

export type FrameOutcome =
  | { kind: 'message'; length: number }
  /** Bytes between messages that carry nothing (keep-alive CR LF): passed on as they are. */
  | { kind: 'skip'; length: number }
  /**
   * The message at the boundary is incomplete. `settled`: its first bytes
   * that the handler never changes (a TPKT header, whose length a rewrite in
   * place keeps): the framework sends them on at once instead of holding
   * them, so the receiver acknowledges them and the sender's TCP goes on
   * sending (docs/alg-authoring.md, "Holding part of a message").
   */
  | { kind: 'need-more'; settled?: number }
  /** Not this protocol, or broken beyond recovery: the stream is passed through from here on. */
  | { kind: 'error'; reason: string };

export type HandleResult =
  | { kind: 'pass' }
  /**
   * `changed`, for a rewrite of the same length: where `bytes` may differ
   * from the message, as (start, end) offset pairs, `changedCount` of them
   * (an ALG that overwrites a few fields in place, as H.323 does). The
   * framework then writes and checksums only those spans of the packet, not
   * the whole message compared octet by octet. Every byte outside them must
   * be the message's own.
   */
  | { kind: 'rewrite'; bytes: Uint8Array; changed?: Int32Array; changedCount?: number }
  /** Policy says drop (e.g. a malformed message with the drop policy). */
  | { kind: 'drop'; reason: string }
  /** Could not parse: the message passes unmodified and is counted. */
  | { kind: 'error'; reason: string };

export interface AlgHandler {
  readonly name: string;
  /** For stream transports: where the message at `start` ends. `resume`: where an earlier call for the same message stopped (tcp-stream.ts). */
  frame(bytes: Uint8Array, start: number, end: number, resume?: FrameResume): FrameOutcome;
  handle(flow: AlgFlow, message: Uint8Array, services: AlgServices): HandleResult;
  /**
   * The flow is gone: forget anything kept for it. `services` may remove
   * this ALG's expectations and end groups the flow does not belong to (the
   * engine is removing this flow: ending a group that holds it is not allowed).
   */
  flowGone?(flow: number, services: AlgServices): void;
  /**
   * A TCP flow closed: a RST, or a FIN in each direction, passed (once per
   * flow). The flow is still in the table; the same rule as in flowGone
   * holds for its own group.
   */
  closed?(flow: AlgFlow, services: AlgServices): void;
  /** Handler-specific counters (calls, registrations, ...). */
  counters?(): Record<string, number>;
  /**
   * Optional, for gateways that keep state across a restart or a failover
   * (docs/alg-authoring.md, "State that survives"): the state the handler's
   * pinholes depend on (calls, registrations), as a JSON value. Expectations
   * keep their ids across a restore, so the state may name them. Times in it
   * are the engine clock's (`services.now`).
   */
  exportState?(now: number): unknown;
  /**
   * Puts back what exportState returned, replacing the handler's state; every
   * time in it moves by `shiftMs` (the new engine clock's offset). Validates
   * what it reads (the file may be damaged): returns null, or why it refused
   * the state (it then keeps the state it had).
   */
  importState?(state: unknown, shiftMs: number): string | null;
  /**
   * New options from a reload (validated by the ALG's schema), taken without
   * losing calls in progress. A handler without it cannot change options
   * while running: the reload is refused and says so.
   */
  reconfigure?(options: unknown): void;
  /**
   * Handlers for flows this ALG admits through expectations rather than by
   * port (H.245 connections from H.225 call signalling), by the name an
   * expectation's `attach` gives. Each shares this ALG's groups and policy.
   */
  readonly related?: Readonly<Record<string, AlgHandler>>;
}
