/**
 * Events worth a log line: the engine reports them through a callback so the
 * shell (gateway, pcap, sim) decides where they go. Never per packet.
 */
import type { Expectation } from './expectations.js';

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

export type NatEvent =
  | { type: 'limit'; limit: LimitName; detail: string }
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
    };

export type NatEventSink = (event: NatEvent) => void;

/** A limit is reported at most this often: a flood must not become a flood of log lines. */
const LIMIT_EVENT_INTERVAL_MS = 10_000;

/** Sends events to the shell's sink, if there is one; rate-limits the limit events. */
export class EventReporter {
  private readonly lastLimitEvent = new Map<LimitName, number>();

  constructor(private readonly sink: NatEventSink | undefined) {}

  /** Whether anyone listens: callers skip building an event's fields when not. */
  get listening(): boolean {
    return this.sink !== undefined;
  }

  emit(e: NatEvent): void {
    this.sink?.(e);
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
    });
  }
}
