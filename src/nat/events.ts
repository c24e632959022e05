/**
 * Events worth a log line: the engine reports them through a callback so the
 * shell (gateway, pcap, sim) decides where they go. Never per packet.
 *
 * Flow lifecycle events (a flow created, its state changed, the flow gone:
 * what `conntrack -E` shows) are built only while someone subscribed to them;
 * without a subscriber the packet path pays one boolean test per state change.
 */
import type { Expectation } from './expectations.js';
import type { FlowInfo } from './flow-info.js';

export type LimitName =
  | 'flows'
  | 'flowsPerHost'
  | 'expectations'
  | 'expectationsPerGroup'
  | 'expectationsPerHost'
  | 'pendingSyns'
  | 'fragments'
  | 'ports';

export type ExpectationAction = 'opened' | 'used' | 'expired' | 'removed';

/** new: the flow was created; update: its TCP state changed or the first reply came; destroy: it left the table. */
export type FlowEventAction = 'new' | 'update' | 'destroy';

/** Why a flow left the table. */
export type FlowEndReason = 'expired' | 'deleted' | 'ended';

export type NatEvent =
  | { type: 'limit'; limit: LimitName; detail: string }
  | { type: 'flow'; action: FlowEventAction; flow: FlowInfo; reason?: FlowEndReason }
  | { type: 'forward'; proto: number; publicAddr: number; publicPort: number; insideAddr: number; insidePort: number; remoteAddr: number; remotePort: number }
  | { type: 'trigger-activated'; trigger: number; insideAddr: number; remoteAddr: number; publicAddr: number }
  | { type: 'trigger-expired'; trigger: number; insideAddr: number }
  | {
      type: 'expectation';
      action: ExpectationAction;
      id: number;
      proto: number;
      publicAddr: number;
      publicPort: number;
      insideAddr: number;
      insidePort: number;
      remoteAddr: number;
      remotePort: number;
      helper: string;
      reason: string;
      /** The rest of the expectation, for event streams (`conntrack -E expect`). */
      group?: string;
      cls?: Expectation['cls'];
      direction?: Expectation['direction'];
      expiresAt?: number;
      singleUse?: boolean;
      uses?: number;
    };

export type NatEventSink = (event: NatEvent) => void;

/** A limit is reported at most this often: a flood must not become a flood of log lines. */
const LIMIT_EVENT_INTERVAL_MS = 10_000;

export interface EventSubscription {
  /** Flow lifecycle events too (they cost a value per flow created, changed or gone). */
  flows?: boolean;
}

/**
 * Sends events to the shell's sink, if there is one, and to subscribers (an
 * event stream, a dashboard); rate-limits the limit events.
 */
export class EventReporter {
  private readonly lastLimitEvent = new Map<LimitName, number>();
  private readonly subscribers = new Map<NatEventSink, EventSubscription>();
  /** Where events go now: the shell's sink alone, or the fan-out to it and the subscribers. */
  private sink: NatEventSink | undefined;
  /** The sink the engine was built with (a log), kept apart from the fan-out. */
  private readonly shellSink: NatEventSink | undefined;
  /** Someone wants flow events: the engine tests this before building one. */
  flowListening = false;

  constructor(sink: NatEventSink | undefined) {
    this.sink = sink;
    this.shellSink = sink;
  }

  /** Whether anyone listens: callers skip building an event's fields when not. */
  get listening(): boolean {
    return this.sink !== undefined;
  }

  /** Adds a listener; returns what removes it. */
  subscribe(listener: NatEventSink, options: EventSubscription = {}): () => void {
    this.subscribers.set(listener, options);
    this.refresh();
    return () => {
      this.subscribers.delete(listener);
      this.refresh();
    };
  }

  private refresh(): void {
    let flows = false;
    for (const o of this.subscribers.values()) flows ||= o.flows === true;
    this.flowListening = flows;
    this.sink = this.subscribers.size === 0 ? this.shellSink : (e) => this.fanOut(e);
  }

  private fanOut(e: NatEvent): void {
    if (e.type !== 'flow') this.shellSink?.(e);
    for (const [listener, o] of this.subscribers) {
      if (e.type === 'flow' && o.flows !== true) continue;
      try {
        listener(e);
      } catch {
        // A subscriber's failure is not the packet's: the engine carries on.
      }
    }
  }

  emit(e: NatEvent): void {
    this.sink?.(e);
  }

  /** A flow event, for subscribers only (never a log line: one per flow would flood it). */
  flow(action: FlowEventAction, flow: FlowInfo, reason?: FlowEndReason): void {
    if (!this.flowListening) return;
    this.sink?.(reason === undefined ? { type: 'flow', action, flow } : { type: 'flow', action, flow, reason });
  }

  /** A limit was hit: reported at most every 10 s per limit. */
  limit(limit: LimitName, detail: string, now: number): void {
    const last = this.lastLimitEvent.get(limit);
    if (last !== undefined && now - last < LIMIT_EVENT_INTERVAL_MS) return;
    this.lastLimitEvent.set(limit, now);
    this.emit({ type: 'limit', limit, detail });
  }

  expectation(action: ExpectationAction, e: Expectation): void {
    if (!this.sink) return; // no one listens: build nothing
    this.sink({
      type: 'expectation',
      action,
      id: e.id,
      proto: e.proto,
      publicAddr: e.publicAddr,
      publicPort: e.publicPort,
      insideAddr: e.insideAddr,
      insidePort: e.insidePort,
      remoteAddr: e.remoteAddr,
      remotePort: e.remotePort,
      helper: e.helper,
      reason: e.reason,
      group: e.group,
      cls: e.cls,
      direction: e.direction,
      expiresAt: e.expiresAt,
      singleUse: e.singleUse,
      uses: e.uses,
    });
  }
}
