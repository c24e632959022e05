/**
 * Refusals and limits: every packet the engine does not translate is counted
 * by reason; a limit that refuses new flows is reported (rate-limited) and
 * answered with an ICMP error to the sender (rate-limited); undecodable
 * packets pass or drop by policy.
 */
import { buildIcmpError, ICMP_DEST_UNREACHABLE, isIcmpError, UNREACH_ADMIN_PROHIBITED } from '../wire/icmp.js';
import { ipv4, PROTO_ICMP } from '../wire/ipv4.js';
import type { ResolvedNatConfig } from './config.js';
import { DropReason, type NatCounters, PassReason } from './counters.js';
import type { EventReporter, LimitName } from './events.js';
import { NO_FLOW } from './flow-table.js';
import { type EmittedPacket, Side, Verdict } from './verdict.js';

const REFUSAL_ICMP_PER_SECOND = 100;

export class Refusals {
  private refusalWindowStart = 0;
  private refusalsInWindow = 0;

  constructor(
    private config: ResolvedNatConfig,
    private readonly counters: NatCounters,
    private readonly events: EventReporter,
    private readonly emitted: EmittedPacket[],
  ) {}

  /** The configuration after a reload (the malformed and refusal policies). */
  setConfig(config: ResolvedNatConfig): void {
    this.config = config;
  }

  drop(reason: number): Verdict.Drop {
    this.counters.drops[reason]++;
    return Verdict.Drop;
  }

  /** The same, where a flow id is expected: no flow. */
  dropFlow(reason: number): number {
    this.counters.drops[reason]++;
    return NO_FLOW;
  }

  /** Counts a drop at a limit and reports it (at most every 10 s per limit). */
  refuse(reason: number, limit: LimitName, detail: string, now: number): number {
    this.counters.drops[reason]++;
    this.events.limit(limit, detail, now);
    return NO_FLOW;
  }

  /** An undecodable packet: passed on untranslated, or dropped, as configured. */
  malformed(side: Side): Verdict {
    if (this.config.malformed === 'pass') {
      this.counters.passes[PassReason.malformedPassed]++;
      return side === Side.Inside ? Verdict.ToOutside : Verdict.ToInside;
    }
    return this.drop(DropReason.malformed);
  }

  /**
   * A new outbound flow refused for want of resources (flow table, per-host
   * limit, ports): RFC 5508 REQ-8 asks for an ICMP "communication
   * administratively prohibited" to the sender, so it fails fast instead of
   * retrying into a black hole. Rate-limited; off with icmpOnRefusal: false.
   */
  icmpToSender(pkt: Uint8Array, now: number): void {
    if (!this.config.icmpOnRefusal) return;
    if (ipv4.protocol(pkt, 0) === PROTO_ICMP && isIcmpError(pkt[ipv4.headerLength(pkt, 0)])) return; // never an error about an error
    if (now - this.refusalWindowStart >= 1000) {
      this.refusalWindowStart = now;
      this.refusalsInWindow = 0;
    }
    if (++this.refusalsInWindow > REFUSAL_ICMP_PER_SECOND) return;
    this.emitted.push({
      side: Side.Inside,
      packet: buildIcmpError(this.config.publicAddrs[0], ICMP_DEST_UNREACHABLE, UNREACH_ADMIN_PROHIBITED, pkt, 8),
    });
    this.counters.icmpErrorsSent++;
  }
}
