/**
 * Why packets were dropped (or passed untranslated), counted per reason. A
 * Float64Array indexed by a small number keeps counting off the allocation path;
 * `snapshot()` gives names for metrics, the status endpoint and tests.
 */

export const DropReason = {
  malformed: 0, // not a decodable IPv4 packet or transport header
  badChecksum: 1, // IPv4 header checksum wrong
  unsupportedProtocol: 2, // neither UDP, TCP nor ICMP
  notInsideSource: 3, // from the inside but the source is not an inside address
  notPublicDestination: 4, // from the outside but not to one of our public addresses
  noMapping: 5, // inbound, nothing maps this public port
  filtered: 6, // a mapping exists but its filtering refuses this remote
  portsExhausted: 7, // no free public port for a new mapping
  flowLimit: 8, // the flow table is full
  hostFlowLimit: 9, // this inside host has its maximum of flows
  hairpinDisabled: 10, // inside to our own public address, hairpinning off
  fragmentOrphan: 11, // a later fragment whose first fragment never came (held, then given up)
  icmpNoFlow: 12, // an ICMP error quoting a packet of no known flow
  icmpUnsupported: 13, // an ICMP type that is neither query nor error
  tcpNoFlow: 14, // a TCP segment other than SYN with no flow (inbound), or a lone RST/FIN
  synHeld: 15, // an unsolicited inbound SYN, held per RFC 5382 REQ-4
  synHoldOverflow: 16, // an unsolicited SYN when the hold table is full
  fragmentLimit: 17,
  helperDrop: 18, // an ALG asked for the packet to be dropped (policy)
} as const;

export type DropReasonName = keyof typeof DropReason;
const NAMES = Object.keys(DropReason) as DropReasonName[];

export const PassReason = {
  ipv6: 0, // IPv6 passes untranslated (for now)
  insideToInside: 1, // between two inside prefixes: routed, not translated
  malformedPassed: 2, // undecodable but policy says pass
} as const;
export type PassReasonName = keyof typeof PassReason;
const PASS_NAMES = Object.keys(PassReason) as PassReasonName[];

export class NatCounters {
  readonly drops = new Float64Array(NAMES.length);
  readonly passes = new Float64Array(PASS_NAMES.length);
  packetsOut = 0;
  packetsIn = 0;
  /** IPv4 bytes (headers included) translated each way, as they arrived. */
  bytesOut = 0;
  bytesIn = 0;
  hairpinned = 0;
  flowsCreated = 0;
  flowsExpired = 0;
  mappingsCreated = 0;
  expectationsOpened = 0;
  expectationsUsed = 0;
  expectationsRefused = 0;
  icmpErrorsTranslated = 0;
  icmpErrorsSent = 0;
  fragmentsTranslated = 0;
  fragmentsHeld = 0;
  /** Packets whose data an ALG holds until a message is complete (not drops). */
  helperHeld = 0;

  dropCount(reason: DropReasonName): number {
    return this.drops[DropReason[reason]];
  }

  get totalDrops(): number {
    let n = 0;
    for (const d of this.drops) n += d;
    return n;
  }

  snapshot() {
    const drops: Partial<Record<DropReasonName, number>> = {};
    NAMES.forEach((n, i) => {
      if (this.drops[i]) drops[n] = this.drops[i];
    });
    const passes: Partial<Record<PassReasonName, number>> = {};
    PASS_NAMES.forEach((n, i) => {
      if (this.passes[i]) passes[n] = this.passes[i];
    });
    return {
      packetsOut: this.packetsOut,
      packetsIn: this.packetsIn,
      bytesOut: this.bytesOut,
      bytesIn: this.bytesIn,
      hairpinned: this.hairpinned,
      flowsCreated: this.flowsCreated,
      flowsExpired: this.flowsExpired,
      mappingsCreated: this.mappingsCreated,
      expectationsOpened: this.expectationsOpened,
      expectationsUsed: this.expectationsUsed,
      expectationsRefused: this.expectationsRefused,
      icmpErrorsTranslated: this.icmpErrorsTranslated,
      icmpErrorsSent: this.icmpErrorsSent,
      fragmentsTranslated: this.fragmentsTranslated,
      fragmentsHeld: this.fragmentsHeld,
      helperHeld: this.helperHeld,
      drops,
      passes,
    };
  }
}

export type NatCountersSnapshot = ReturnType<NatCounters['snapshot']>;
