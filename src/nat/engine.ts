/**
 * The NAT engine: bytes in, verdicts out. Pure and synchronous: no sockets,
 * files or timers; time comes from the injected clock (or the caller's `now`).
 * Every dataplane (tun, pcap, sim) drives this one class, so a behaviour proven
 * in sim is the behaviour of the gateway.
 *
 * process(packet, side) translates the packet in place and says where it goes.
 * Packets the engine itself originates (an ICMP error for a held SYN) queue up
 * and are taken with drainEmitted().
 *
 * This file is the facade and the hot path: sanity checks, classification,
 * the flow lookup and the rewrite of an established flow. Everything else is a
 * concern of its own, as netfilter splits conntrack, expectations, helpers and
 * NAT: admission.ts (new flows, filtering), icmp-errors.ts, fragment-path.ts,
 * expiry.ts, pinholes.ts (the services ALGs call), helpers.ts, refusals.ts
 * (drops and limits), inspection.ts (listings and queries for tools).
 */
import type { Clock } from '../util/clock.js';
import { cryptoUniform } from '../util/random.js';
import { internetChecksum } from '../wire/checksum.js';
import * as icmpModule from '../wire/icmp.js';
import * as ipv4Module from '../wire/ipv4.js';
import * as tcpModule from '../wire/tcp.js';
import * as udpModule from '../wire/udp.js';
import { AddressPlan } from './address-plan.js';
import { Admission } from './admission.js';
import { ChangeFeed } from './change-feed.js';
import { NatConfigError, resolveNatConfig, type ResolvedNatConfig } from './config.js';
import { DropReason, NatCounters, PassReason } from './counters.js';
import { EventReporter, type EventSubscription, type NatEventSink } from './events.js';
import { ExpectationTable, type Expectation, type ExpectationRefusal } from './expectations.js';
import { Expiry } from './expiry.js';
import * as flowTableModule from './flow-table.js';
import { FlowTable } from './flow-table.js';
import { ForwardTable } from './forwards.js';
import { FragmentPath } from './fragment-path.js';
import { FragmentTable } from './fragments.js';
import { Helpers, type HelperPortRule } from './helpers.js';
import { HostTable } from './hosts.js';
import { IcmpErrors } from './icmp-errors.js';
import { readFlowInfo } from './flow-info.js';
import type { FlowFilter } from './flow-filter.js';
import { Inspection, type CallInfo, type FlowInfo, type TableSizes } from './inspection.js';
import { MappingTable } from './mapping-table.js';
import { behaviourOf, type NatParts } from './parts.js';
import { type FlowGroup, type MediaPorts, type PinholeRequest, Pinholes } from './pinholes.js';
import { type PortMapping, type PortMappingRefusal, type PortMappingRequest, PortMappingTable } from './port-mappings.js';
import type { PortPool } from './port-pool.js';
import { PortPools } from './port-pools.js';
import { applyConfig, restartOnlyChanges, type ReconfigureSummary } from './reconfigure.js';
import { Refusals } from './refusals.js';
import * as rewriteModule from './rewrite.js';
import { L4Checksum } from './rewrite.js';
import type { ApplyReport, EngineStateBatch, FlowColumnsFor } from './snapshot.js';
import { StateTransfer } from './state-transfer.js';
import { creditOffloaded, offloadable, type OffloadedActivity } from './offload.js';
import { SynHoldTable } from './syn-hold.js';
import { trackTcpSegment } from './tcp-tracker.js';
import { TriggerTable } from './triggers.js';
import { type EmittedPacket, Side, Verdict } from './verdict.js';

export { Side, Verdict, type EmittedPacket } from './verdict.js';
export type { CallInfo, FlowInfo, TableSizes } from './inspection.js';

// Imported bindings are live: V8 reloads and checks them on every use in a hot
// loop. Local copies, taken once at load, are constants it can fold.
const { PROTO_ICMP, PROTO_TCP, PROTO_UDP, IPV4, IPV4_MORE_FRAGMENTS, IPV4_FRAGMENT_OFFSET_MASK } = ipv4Module;
const { ICMP, ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY, ICMP_TIMESTAMP, ICMP_TIMESTAMP_REPLY, isIcmpError } = icmpModule;
const { TCP, TCP_MIN_HEADER, TCP_RST } = tcpModule;
const { UDP, UDP_HEADER } = udpModule;
const { FLOW_REPLIED, FLOW_TRIGGERED, FLOW_TRIGGER_SOURCE, NO_FLOW } = flowTableModule;
const { rewriteEndpoint } = rewriteModule;
const L4_FULL = L4Checksum.Full;
const L4_PARTIAL = L4Checksum.Partial;
// Field offsets, by name (src/wire), as module constants the hot path folds.
const IP_VER_IHL = IPV4.VER_IHL;
const IP_TOTAL_LEN = IPV4.TOTAL_LEN;
const IP_FLAGS_FRAG = IPV4.FLAGS_FRAG;
const IP_PROTO = IPV4.PROTO;
const IP_SRC = IPV4.SRC;
const IP_DST = IPV4.DST;
const SRC_PORT = UDP.SRC_PORT; // the same offsets in TCP
const DST_PORT = UDP.DST_PORT;
const TCP_DATA_OFF = TCP.DATA_OFF;
const TCP_FLAGS = TCP.FLAGS;
const ICMP_TYPE = ICMP.TYPE;
const ICMP_ID = ICMP.ID;
/** The IPv4 flags-and-offset word without DF: non-zero for any fragment. */
const FRAGMENT_BITS = IPV4_MORE_FRAGMENTS | IPV4_FRAGMENT_OFFSET_MASK;

/** What the transport header of a packet is, as far as translation cares. */
const enum Transport {
  Ports,
  IcmpRequest,
  IcmpReply,
  IcmpError,
  IcmpOther,
  Malformed,
  Unsupported,
}

/**
 * An ALG's view of a packet on a flow it was attached to, after the engine has
 * translated the headers. It returns the packet to send (the same buffer, or a
 * new one when the payload changed), several packets (a rewritten TCP message
 * that needs more segments), an empty list (the data is held until a message
 * is complete), or null to drop the packet by policy.
 */
export type HelperHook = (
  engine: NatEngine,
  flow: number,
  packet: Uint8Array,
  outbound: boolean,
  now: number,
) => Uint8Array | Uint8Array[] | null;

export interface NatEngineOptions {
  clock: Clock;
  /**
   * Uniform [0, 1) for port choice: seeded in sim; by default the OS CSPRNG
   * (RFC 6056: public ports must not be guessable). Never Math.random.
   */
  random?: () => number;
  onEvent?: NatEventSink;
  /** Starting table capacity; tables grow by doubling up to the configured limits. */
  initialCapacity?: number;
}

const SWEEP_INTERVAL_MS = 10;
const SWEEP_BUDGET = 1024;

export class NatEngine {
  readonly counters = new NatCounters();
  readonly flows: FlowTable;
  readonly mappings: MappingTable;
  readonly expectations: ExpectationTable;
  readonly hosts: HostTable;
  readonly forwards: ForwardTable;
  readonly triggers: TriggerTable;
  /** Port mappings inside hosts asked for (PCP, NAT-PMP, UPnP IGD): mapPort(), unmapPort(). */
  readonly portMappings: PortMappingTable;
  /**
   * What changed since a shell last asked (exportChanges): off until the shell
   * sets `changes.enabled`; a store or a standby's replication reads it.
   */
  readonly changes = new ChangeFeed();
  /**
   * The engine mirrors another gateway's state (a standby): tick() leaves
   * flows to the active gateway, whose feed says which ones ended. Packets on
   * established flows refresh their times without entering the feed, so a
   * standby expiring by its own copy of those times would drop flows the
   * active gateway still carries.
   */
  following = false;
  /** The packet to send after process(): the input, or a replacement when an ALG resized it. */
  output: Uint8Array = new Uint8Array(0);
  /** The output's transport checksum is still partial (see process()). */
  outputPartial = false;
  /** The flow the last process() translated a packet on; NO_FLOW when it translated none (a pass, a drop before the lookup). */
  lastFlow = -1;

  private readonly clock: Clock;
  private current: ResolvedNatConfig;
  private readonly parts: NatParts;
  private readonly events: EventReporter;
  private readonly emitted: EmittedPacket[] = [];
  private readonly addresses: AddressPlan;
  private readonly refusals: Refusals;
  private readonly pinholes: Pinholes;
  private readonly helpers: Helpers;
  private readonly admission: Admission;
  private readonly icmpErrors: IcmpErrors;
  private readonly fragmentPath: FragmentPath;
  private readonly expiry: Expiry;
  private readonly inspection: Inspection;
  private readonly pools: PortPools;
  private readonly fragments: FragmentTable;
  private readonly synHolds: SynHoldTable;
  private readonly transfer: StateTransfer;
  private udpInboundRefresh: boolean;
  private hairpinEnabled: boolean;
  private nextSweep = 0;
  private l4Checksum: L4Checksum = L4_FULL;
  private l4Src = 0;
  private l4Dst = 0;
  private l4Flags = 0;

  constructor(config: ResolvedNatConfig | unknown, options: NatEngineOptions) {
    this.current = isResolved(config) ? config : resolveNatConfig(config);
    const c = this.current;
    this.clock = options.clock;
    const initial = options.initialCapacity ?? 1024;
    const behaviour = behaviourOf(c);
    const events = new EventReporter(options.onEvent);
    this.events = events;
    this.flows = new FlowTable(c.limits.flows, [c.udpMs, c.tcpEstablishedMs, c.tcpTransitoryMs, c.icmpMs], behaviour.filter === 1, initial);
    this.mappings = new MappingTable(initial);
    this.expectations = new ExpectationTable(c.limits.expectations, c.limits.expectationsPerGroup, c.limits.expectationsPerHost);
    this.hosts = new HostTable(c.publicAddrs, c.pooling);
    this.forwards = new ForwardTable(c.forwards);
    this.triggers = new TriggerTable(c.triggers);
    this.fragments = new FragmentTable(c.limits.fragments, c.fragmentMs);
    this.synHolds = new SynHoldTable(c.limits.pendingSyns);
    this.addresses = new AddressPlan(c.inside, c.publicAddrs);
    this.pools = new PortPools(c.ports, options.random ?? cryptoUniform());
    this.refusals = new Refusals(c, this.counters, events, this.emitted);
    this.helpers = new Helpers(this.flows, this.counters, this.emitted, (a) => this.addresses.isPublic(a));
    this.pinholes = new Pinholes(
      {
        config: c,
        counters: this.counters,
        events,
        expectations: this.expectations,
        mappings: this.mappings,
        hosts: this.hosts,
        pools: this.pools,
        changes: this.changes,
      },
      (flow) => this.expiry.removeFlow(flow),
    );
    this.portMappings = new PortMappingTable({
      mappings: this.mappings,
      hosts: this.hosts,
      pools: this.pools,
      forwards: this.forwards,
      isInside: (a) => this.addresses.isInside(a),
      isPublic: (a) => this.addresses.isPublic(a),
      changed: (id) => this.changes.portMapping(id),
    });
    const parts: NatParts = {
      config: c,
      behaviour,
      counters: this.counters,
      events,
      addresses: this.addresses,
      flows: this.flows,
      mappings: this.mappings,
      expectations: this.expectations,
      hosts: this.hosts,
      forwards: this.forwards,
      triggers: this.triggers,
      fragments: this.fragments,
      synHolds: this.synHolds,
      pools: this.pools,
      refusals: this.refusals,
      pinholes: this.pinholes,
      helpers: this.helpers,
      portMappings: this.portMappings,
      changes: this.changes,
      emitted: this.emitted,
    };
    this.parts = parts;
    this.admission = new Admission(parts);
    this.icmpErrors = new IcmpErrors(parts);
    this.fragmentPath = new FragmentPath(parts);
    this.expiry = new Expiry(parts);
    this.inspection = new Inspection(parts);
    this.transfer = new StateTransfer(parts, this.expiry);
    this.udpInboundRefresh = c.udpInboundRefresh;
    this.hairpinEnabled = c.hairpin;
    // Forwarded and trigger ports are never handed out to dynamic mappings.
    for (const [proto, addr, port] of this.forwards.claims()) this.pools.of(addr, proto).hold(port);
    for (const [proto, port] of this.triggers.claims()) for (const a of c.publicAddrs) this.pools.of(a, proto).hold(port);
  }

  /** The configuration in force (a reload replaces it). */
  get config(): ResolvedNatConfig {
    return this.current;
  }

  /**
   * Takes a new configuration without dropping a flow (a reload): forwards,
   * triggers, limits, timeouts and policies change in place. Throws
   * NatConfigError, changing nothing, when the configuration is invalid or
   * changes what the tables were built from (inside prefixes, public
   * addresses, mapping and filtering behaviour, ports, pooling).
   */
  reconfigure(config: ResolvedNatConfig | unknown): ReconfigureSummary {
    const next = isResolved(config) ? config : resolveNatConfig(config);
    const refused = restartOnlyChanges(this.current, next);
    if (refused.length > 0) {
      throw new NatConfigError(`cannot apply the configuration while running:\n${refused.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`, refused);
    }
    const summary = applyConfig(this.parts, next);
    this.pinholes.setConfig(next);
    this.udpInboundRefresh = next.udpInboundRefresh;
    this.hairpinEnabled = next.hairpin;
    this.current = next;
    return summary;
  }

  // ---------------------------------------------------------------- packets

  /**
   * Translates one IPv4 packet (the whole of `pkt`, possibly with trailing link
   * padding) that arrived on `side`. Rewrites it in place; `output` is what to send.
   * `partialChecksum`: the TCP/UDP checksum is left for the kernel or NIC to
   * finish (checksum offload on a TUN device with virtio-net headers); after
   * process(), `outputPartial` says whether `output` still is (an ALG completes it).
   */
  process(pkt: Uint8Array, side: Side, now: number = this.clock.now(), partialChecksum = false): Verdict {
    this.output = pkt;
    this.lastFlow = NO_FLOW;
    this.l4Checksum = partialChecksum ? L4_PARTIAL : L4_FULL;
    this.outputPartial = partialChecksum;
    // Expiry is also checked on every lookup; the sweep only reclaims memory,
    // so a few milliseconds of lag are harmless and keep it off most packets.
    if (now >= this.nextSweep) {
      this.nextSweep = now + SWEEP_INTERVAL_MS;
      this.flows.sweep(now, SWEEP_BUDGET, this.expiry.onExpired);
      if (this.expiry.due(now)) this.expiry.housekeeping(now);
    }
    const len = pkt.length;
    if (len < 20) return this.refusals.malformed(side);
    const version = pkt[IP_VER_IHL] >> 4;
    if (version !== 4) {
      if (version === 6 && len >= 40) {
        this.counters.passes[PassReason.ipv6]++;
        return side === Side.Inside ? Verdict.ToOutside : Verdict.ToInside;
      }
      return this.refusals.malformed(side);
    }
    const hl = (pkt[IP_VER_IHL] & 0x0f) << 2;
    const total = (pkt[IP_TOTAL_LEN] << 8) | pkt[IP_TOTAL_LEN + 1];
    if (hl < 20 || total < hl || total > len) return this.refusals.malformed(side);
    if (!headerChecksumOk(pkt, hl)) return this.refusals.drop(DropReason.badChecksum);
    return side === Side.Inside ? this.outbound(pkt, hl, total, now) : this.inbound(pkt, hl, total, now, false);
  }

  /**
   * True when nothing waits on time alone: no flows, expectations, held SYNs,
   * held fragments or active triggers. A shell may stop calling tick() then.
   */
  get idle(): boolean {
    return (
      this.flows.size === 0 &&
      this.expectations.size === 0 &&
      this.synHolds.size === 0 &&
      this.fragments.heldCount === 0 &&
      this.fragments.size === 0 &&
      this.portMappings.size === 0 &&
      !this.triggers.anyActive
    );
  }

  /** Packets the engine originated since the last call. */
  drainEmitted(): EmittedPacket[] {
    if (this.emitted.length === 0) return [];
    return this.emitted.splice(0, this.emitted.length);
  }

  /**
   * Time passes without packets: expire flows, expectations, triggers, held
   * SYNs and fragments. Dataplanes call this on a timer (once a second is plenty).
   */
  tick(now: number = this.clock.now()): void {
    while (!this.following && this.flows.sweep(now, 4096, this.expiry.onExpired) === 4096) {
      /* keep sweeping: the budget only bounds one pass */
    }
    this.expiry.housekeeping(now);
  }

  /**
   * Reads the transport header's ports into l4Src/l4Dst and TCP flags into
   * l4Flags (for ICMP queries, the identifier into l4Src). Fields rather than
   * a returned object: this runs for every packet and must not allocate.
   */
  private readTransport(pkt: Uint8Array, l4: number, l4Len: number, proto: number): Transport {
    this.l4Flags = 0;
    if (proto === PROTO_UDP || proto === PROTO_TCP) {
      if (proto === PROTO_UDP ? l4Len < UDP_HEADER : l4Len < TCP_MIN_HEADER || pkt[l4 + TCP_DATA_OFF] >> 4 < 5) return Transport.Malformed;
      this.l4Src = (pkt[l4 + SRC_PORT] << 8) | pkt[l4 + SRC_PORT + 1];
      this.l4Dst = (pkt[l4 + DST_PORT] << 8) | pkt[l4 + DST_PORT + 1];
      if (proto === PROTO_TCP) this.l4Flags = pkt[l4 + TCP_FLAGS];
      return Transport.Ports;
    }
    if (proto !== PROTO_ICMP) return Transport.Unsupported;
    if (l4Len < 8) return Transport.Malformed;
    const type = pkt[l4 + ICMP_TYPE];
    if (isIcmpError(type)) return Transport.IcmpError;
    this.l4Src = (pkt[l4 + ICMP_ID] << 8) | pkt[l4 + ICMP_ID + 1];
    if (type === ICMP_ECHO_REQUEST || type === ICMP_TIMESTAMP) return Transport.IcmpRequest;
    if (type === ICMP_ECHO_REPLY || type === ICMP_TIMESTAMP_REPLY) return Transport.IcmpReply;
    return Transport.IcmpOther;
  }

  /**
   * The verdict for a packet whose transport header is not one with ports or
   * an ICMP query (errors, unknown ICMP types, other protocols, malformed).
   */
  private otherTransport(kind: Transport, pkt: Uint8Array, hl: number, total: number, side: Side, now: number): Verdict {
    switch (kind) {
      case Transport.IcmpError:
        return this.icmpErrors.translate(pkt, hl, total, side, now);
      case Transport.IcmpOther:
        return this.refusals.drop(DropReason.icmpUnsupported);
      case Transport.Malformed:
        return this.refusals.malformed(side);
      default:
        return this.refusals.drop(DropReason.unsupportedProtocol);
    }
  }

  private outbound(pkt: Uint8Array, hl: number, total: number, now: number): Verdict {
    const src = ((pkt[IP_SRC] << 24) | (pkt[IP_SRC + 1] << 16) | (pkt[IP_SRC + 2] << 8) | pkt[IP_SRC + 3]) >>> 0;
    const dst = ((pkt[IP_DST] << 24) | (pkt[IP_DST + 1] << 16) | (pkt[IP_DST + 2] << 8) | pkt[IP_DST + 3]) >>> 0;
    const addresses = this.addresses;
    if (!addresses.isInside(src)) return this.refusals.drop(DropReason.notInsideSource);
    if (addresses.isInside(dst)) {
      this.counters.passes[PassReason.insideToInside]++;
      return Verdict.ToInside;
    }
    const proto = pkt[IP_PROTO];
    const fragWord = ((pkt[IP_FLAGS_FRAG] << 8) | pkt[IP_FLAGS_FRAG + 1]) & FRAGMENT_BITS;
    if ((fragWord & IPV4_FRAGMENT_OFFSET_MASK) !== 0) return this.fragmentPath.translateLater(pkt, Side.Inside, proto, src, dst, now);
    const l4 = hl;
    const l4Len = total - hl;
    const kind = this.readTransport(pkt, l4, l4Len, proto);
    let sport: number;
    let dport = 0;
    if (kind === Transport.Ports) {
      sport = this.l4Src;
      dport = this.l4Dst;
    } else if (kind === Transport.IcmpRequest || kind === Transport.IcmpReply) {
      sport = this.l4Src; // the identifier plays the inside port
    } else {
      return this.otherTransport(kind, pkt, hl, total, Side.Inside, now);
    }
    const tcpFlags = this.l4Flags;
    const hairpin = addresses.isPublic(dst);
    if (hairpin && !this.hairpinEnabled) return this.refusals.drop(DropReason.hairpinDisabled);

    const flows = this.flows;
    let id = flows.findOutbound(proto, src, sport, dst, dport);
    if (id !== NO_FLOW && flows.isExpired(id, now)) {
      this.expiry.removeFlow(id);
      id = NO_FLOW;
    }
    let created = false;
    if (id === NO_FLOW) {
      if (proto === PROTO_TCP && tcpFlags & TCP_RST) return this.refusals.drop(DropReason.tcpNoFlow);
      // Echo replies leave only on flows that an admitted request created.
      if (kind === Transport.IcmpReply) return this.refusals.drop(DropReason.icmpNoFlow);
      id = this.admission.outbound(proto, src, sport, dst, dport, tcpFlags, now);
      if (id === NO_FLOW) {
        this.refusals.icmpToSender(pkt, now);
        return Verdict.Drop;
      }
      created = true;
    }
    this.lastFlow = id;
    const pubAddr = flows.pubAddr[id];
    const pubPort = flows.pubPort[id];
    rewriteEndpoint(pkt, 0, l4, l4Len, proto, IP_SRC, SRC_PORT, src, pubAddr, pubPort, this.l4Checksum);
    flows.touch(id, now);
    flows.packetsOut[id]++;
    flows.bytesOut[id] += total;
    this.counters.packetsOut++;
    this.counters.bytesOut += total;
    const changed = proto === PROTO_TCP && trackTcpSegment(flows, id, tcpFlags, true, now);
    // The first packet out on a flow opened from outside is its first reply.
    if (this.events.flowListening) this.flowEvent(id, created, changed || flows.packetsOut[id] === 1);
    if (flows.flags[id] & FLOW_TRIGGER_SOURCE) this.admission.triggerFlowPacket(proto, src, pubAddr, dst, dport, now);
    if (fragWord & IPV4_MORE_FRAGMENTS) this.fragmentPath.remember(true, proto, src, dst, pkt, pubAddr, now);
    if (flows.helper[id] !== 0) {
      const out = this.runHelper(id, pkt, true, now);
      if (out === null) return Verdict.Drop;
      pkt = out;
    }
    if (hairpin) {
      this.counters.hairpinned++;
      const v = this.inbound(pkt, hl, (pkt[IP_TOTAL_LEN] << 8) | pkt[IP_TOTAL_LEN + 1], now, true);
      return v === Verdict.Drop ? Verdict.Drop : Verdict.ToInside;
    }
    return Verdict.ToOutside;
  }

  private inbound(pkt: Uint8Array, hl: number, total: number, now: number, hairpin: boolean): Verdict {
    const src = ((pkt[IP_SRC] << 24) | (pkt[IP_SRC + 1] << 16) | (pkt[IP_SRC + 2] << 8) | pkt[IP_SRC + 3]) >>> 0;
    const dst = ((pkt[IP_DST] << 24) | (pkt[IP_DST + 1] << 16) | (pkt[IP_DST + 2] << 8) | pkt[IP_DST + 3]) >>> 0;
    if (!this.addresses.isPublic(dst)) return this.refusals.drop(DropReason.notPublicDestination);
    const proto = pkt[IP_PROTO];
    const fragWord = ((pkt[IP_FLAGS_FRAG] << 8) | pkt[IP_FLAGS_FRAG + 1]) & FRAGMENT_BITS;
    if ((fragWord & IPV4_FRAGMENT_OFFSET_MASK) !== 0) return this.fragmentPath.translateLater(pkt, Side.Outside, proto, src, dst, now);
    const l4 = hl;
    const l4Len = total - hl;
    const kind = this.readTransport(pkt, l4, l4Len, proto);
    let sport = 0;
    let dport: number;
    if (kind === Transport.Ports) {
      sport = this.l4Src;
      dport = this.l4Dst;
    } else if (kind === Transport.IcmpReply) {
      dport = this.l4Src; // the identifier names the public "port"
    } else if (kind === Transport.IcmpRequest) {
      // Echo/timestamp requests to our public address: no inside host asked for them.
      return this.refusals.drop(DropReason.noMapping);
    } else {
      return this.otherTransport(kind, pkt, hl, total, Side.Outside, now);
    }
    const tcpFlags = this.l4Flags;

    const flows = this.flows;
    let id = flows.findInbound(proto, src, sport, dst, dport);
    if (id !== NO_FLOW && flows.isExpired(id, now)) {
      this.expiry.removeFlow(id);
      id = NO_FLOW;
    }
    let created = false;
    if (id === NO_FLOW) {
      id = this.admission.inbound(pkt, proto, src, sport, dst, dport, tcpFlags, hairpin, now);
      if (id === NO_FLOW) return Verdict.Drop;
      created = true;
    }
    this.lastFlow = id;
    const inAddr = flows.inAddr[id];
    const inPort = flows.inPort[id];
    rewriteEndpoint(pkt, 0, l4, l4Len, proto, IP_DST, proto === PROTO_ICMP ? SRC_PORT : DST_PORT, dst, inAddr, inPort, this.l4Checksum);
    if (proto === PROTO_TCP || this.udpInboundRefresh) flows.touch(id, now);
    flows.packetsIn[id]++;
    flows.bytesIn[id] += total;
    flows.flags[id] |= FLOW_REPLIED;
    if (!hairpin) {
      this.counters.packetsIn++;
      this.counters.bytesIn += total;
    }
    const changed = proto === PROTO_TCP && trackTcpSegment(flows, id, tcpFlags, false, now);
    // The first packet in on a flow an inside host opened is its first reply.
    if (this.events.flowListening) this.flowEvent(id, created, changed || flows.packetsIn[id] === 1);
    if (flows.flags[id] & FLOW_TRIGGERED) this.triggers.refreshFromInbound(proto, flows.pubAddr[id], flows.pubPort[id], now);
    if (fragWord & IPV4_MORE_FRAGMENTS) this.fragmentPath.remember(false, proto, src, dst, pkt, inAddr, now);
    if (flows.helper[id] !== 0) {
      const out = this.runHelper(id, pkt, false, now);
      if (out === null) return Verdict.Drop;
    }
    return Verdict.ToInside;
  }

  /**
   * Someone listens for flow events: a flow this packet created is new (with
   * the state its first packet gave it); else it changed when its TCP state
   * did or its first reply passed.
   */
  private flowEvent(id: number, created: boolean, changed: boolean): void {
    if (created) this.events.flow('new', readFlowInfo(this.flows, id));
    else if (changed) this.events.flow('update', readFlowInfo(this.flows, id));
  }

  /** Runs the flow's helper; `output` becomes what it returns. */
  private runHelper(id: number, pkt: Uint8Array, outbound: boolean, now: number): Uint8Array | null {
    const out = this.helpers.run(id, pkt, this.outputPartial, outbound, now);
    this.outputPartial = false; // the helper completed any partial checksum
    if (out !== null) this.output = out;
    return out;
  }

  // ----------------------------------------------------------- pinholes (the services ALGs call)

  /**
   * Opens a pinhole. With publicPort 0 the engine picks the public port: the
   * one the inside endpoint already maps to if it has an endpoint-independent
   * mapping, else a fresh one (of the inside port's parity). The public port is
   * held until the expectation ends.
   */
  expect(req: PinholeRequest, now: number = this.clock.now()): Expectation | ExpectationRefusal | 'no-port' {
    return this.pinholes.expect(req, now);
  }

  /** A media stream's RTP and RTCP pinholes (RTCP on the next inside port, with its own reason), opened together or not at all. */
  expectMediaPair(req: PinholeRequest, rtcpReason: string, now: number = this.clock.now()): [Expectation, Expectation] | ExpectationRefusal | 'no-port' {
    return this.pinholes.expectMediaPair(req, rtcpReason, now);
  }

  /** Public ports for a media stream's RTP and RTCP (an even/odd pair when free), without holding them; null when none is free. */
  planMediaPorts(proto: number, insideAddr: number, rtpPort: number, publicAddr?: number): MediaPorts | null {
    return this.pinholes.planMediaPorts(proto, insideAddr, rtpPort, publicAddr);
  }

  /** Removes one expectation (releasing its public port). */
  removeExpectation(id: number): boolean {
    return this.pinholes.remove(id);
  }

  /** Narrows an expectation to the remote it must come from. */
  restrictExpectation(id: number, remoteAddr: number, remotePort: number): boolean {
    return this.pinholes.restrict(id, remoteAddr, remotePort);
  }

  /** Gives an expectation a new time to live from now. */
  extendExpectation(id: number, ttlMs: number, now: number = this.clock.now()): boolean {
    return this.pinholes.extend(id, ttlMs, now);
  }

  /**
   * Removes every expectation of a helper's group: the call ended (BYE,
   * CANCEL, error). Without a helper, the group of that name in every helper.
   */
  removeExpectationGroup(group: string, helper?: string): number {
    return this.pinholes.removeGroup(group, helper);
  }

  /** Removes a helper's group's expectations and the flows they admitted (a call's H.245 connection, its media). */
  endExpectationGroup(group: string, helper: string): { expectations: number; flows: number } {
    return this.pinholes.endGroup(group, helper);
  }

  /** The helper and group of the expectation that admitted a flow, or undefined. */
  groupOfFlow(flow: number): FlowGroup | undefined {
    return this.pinholes.groupOf(flow);
  }

  // ----------------------------------------------------------- helpers (ALGs)

  /**
   * Registers an ALG: flows whose destination port (outbound) or inside port
   * (inbound) lies in one of `rules` for `proto` are attached to it, and flows
   * an expectation names it for. `flowGone` is told when such a flow goes away,
   * so the ALG can drop its state. Returns its id.
   */
  registerHelper(
    hook: HelperHook,
    rules: readonly HelperPortRule[],
    flowGone?: (flow: number) => void,
    name = `helper${this.helpers.count + 1}`,
  ): number {
    return this.helpers.register((flow, pkt, outbound, now) => hook(this, flow, pkt, outbound, now), rules, flowGone, name);
  }

  /** New port rules for a helper (a reload): new flows on those ports get it; flows that have it keep it. */
  setHelperPorts(helper: number, rules: readonly HelperPortRule[]): void {
    this.helpers.setRules(helper, rules);
  }

  /** The helper ids of an ALG: its own and its related handlers' ("alg/handler"). */
  helperIds(alg: string): Set<number> {
    const ids = new Set<number>();
    for (let id = 1; id <= this.helpers.count; id++) {
      const name = this.helpers.name(id);
      if (name === alg || name?.startsWith(`${alg}/`)) ids.add(id);
    }
    return ids;
  }

  /** The name an ALG registered under (flow listings show it), or null for 0 (none). */
  helperName(helper: number): string | null {
    return this.helpers.name(helper);
  }

  // ----------------------------------------------------------- addresses, ports, flows

  isInside(addr: number): boolean {
    return this.addresses.isInside(addr);
  }

  isPublic(addr: number): boolean {
    return this.addresses.isPublic(addr);
  }

  /** The port pool of a public address and protocol. */
  pool(addr: number, proto: number): PortPool {
    return this.pools.of(addr, proto);
  }

  /** Whether the kernel may carry this flow from now on (offload.ts says which may). */
  offloadable(id: number, minPackets: number): boolean {
    return offloadable(this.flows, id, minPackets, this.addresses);
  }

  /** Counts and refreshes what the kernel carried for an offloaded flow. */
  creditOffloaded(id: number, activity: OffloadedActivity, now: number = this.clock.now()): void {
    creditOffloaded(this.flows, id, activity, this.udpInboundRefresh, now);
  }

  /** Removes a flow, and its mapping when no other flow uses it. */
  expireFlow(id: number): void {
    this.expiry.removeFlow(id, 'deleted');
  }

  /**
   * Deletes a live flow as `conntrack -D` does. With `withCall`, the call it
   * belongs to goes with it: for a flow an ALG's expectation admitted (media,
   * a data connection), its group's pinholes and other flows; for a flow an
   * ALG watches by port (a phone's signalling), the groups that ALG holds for
   * the same inside host. Returns what went.
   */
  deleteFlow(id: number, withCall = true): { flows: number; expectations: number } {
    const flows = this.flows;
    if (!flows.isLive(id)) return { flows: 0, expectations: 0 };
    const groups: Array<{ helper: string; group: string }> = [];
    if (withCall) {
      const admitted = this.pinholes.groupOf(id);
      if (admitted) groups.push(admitted);
      else if (flows.helper[id] !== 0) {
        // Expectations are named by the ALG (a related handler registers as "alg/handler").
        const alg = (this.helpers.name(flows.helper[id]) ?? '').split('/')[0];
        for (const group of this.pinholes.groupsOfHost(alg, flows.inAddr[id], (f) => flows.inAddr[f])) groups.push({ helper: alg, group });
      }
    }
    this.expiry.removeFlow(id, 'deleted');
    const out = { flows: 1, expectations: 0 };
    for (const g of groups) {
      const ended = this.pinholes.endGroup(g.group, g.helper);
      out.flows += ended.flows;
      out.expectations += ended.expectations;
    }
    return out;
  }

  // ----------------------------------------------------------- port mappings (PCP, NAT-PMP, UPnP IGD)

  /**
   * Maps a public port to an inside endpoint for a lifetime, or renews the
   * endpoint's port mapping (same public port). Anyone may reach the inside
   * endpoint through it, and the endpoint's own new flows leave from it. Which
   * host may ask for what is the caller's policy.
   */
  mapPort(req: PortMappingRequest, now: number = this.clock.now()): PortMapping | PortMappingRefusal {
    return this.portMappings.add(req, now);
  }

  /** Deletes a port mapping (its flows live on until they expire). */
  unmapPort(id: number): boolean {
    return this.portMappings.remove(id) !== undefined;
  }

  /** The live port mappings. */
  listPortMappings(now: number = this.clock.now()): PortMapping[] {
    return this.portMappings.list().filter((m) => m.expiresAt > now);
  }

  // ----------------------------------------------------------- state (restart, failover)

  /** The whole state as a plain value (src/nat/snapshot.ts); starts the change feed afresh. `columns`: where the flows go. */
  exportState(now: number = this.clock.now(), columns?: FlowColumnsFor): EngineStateBatch {
    return this.transfer.exportFull(now, columns);
  }

  /** The changes the feed recorded since the last export (the whole state if it overflowed). */
  exportChanges(now: number = this.clock.now(), columns?: FlowColumnsFor): EngineStateBatch {
    return this.transfer.exportChanges(now, columns);
  }

  /**
   * Writes exported state into this engine: a full batch makes it hold exactly
   * that state, a batch of changes adds and removes what it names. `elapsedMs`:
   * real time since the export; times move on by it, and what expired meanwhile
   * stays out. ALGs must be attached first (flows and pinholes name them).
   */
  applyState(batch: EngineStateBatch, elapsedMs = 0, now: number = this.clock.now()): ApplyReport {
    return this.transfer.apply(batch, now, elapsedMs);
  }

  // ----------------------------------------------------------- inspection

  flowInfo(id: number): FlowInfo {
    return this.inspection.flowInfo(id);
  }

  listFlows(now: number = this.clock.now()): FlowInfo[] {
    return this.inspection.listFlows(now);
  }

  /** The first `limit` live flows, and how many there are in all. */
  flowPage(limit: number, now: number = this.clock.now()): { total: number; flows: FlowInfo[] } {
    return this.inspection.flowPage(now, limit);
  }

  /**
   * Visits live flows matching `filter` among table rows [cursor, cursor + budget);
   * returns the next cursor, or -1 at the end. A listing of a large table runs
   * slice by slice, letting packets through in between.
   */
  scanFlows(cursor: number, budget: number, filter: FlowFilter, visit: (id: number) => void, now: number = this.clock.now()): number {
    return this.inspection.scan(cursor, budget, filter, now, visit);
  }

  /** Live flows by protocol and state (TCP state bits; otherwise 1 when replied, else 0), in one pass: for metrics. */
  countFlowsByState(now: number = this.clock.now()): Map<number, Map<number, number>> {
    return this.inspection.countByState(now);
  }

  /**
   * Listens to the engine's events as they happen (expectations, limits,
   * forwards, triggers; with `flows`, every flow created, changed and gone).
   * Returns what stops it. Keep listeners quick: they run on the packet path.
   */
  subscribe(listener: NatEventSink, options: EventSubscription = {}): () => void {
    return this.events.subscribe(listener, options);
  }

  /** Calls: each ALG group with its live pinholes and the flows they admitted. */
  listCalls(now: number = this.clock.now()): CallInfo[] {
    return this.inspection.calls(now);
  }

  listExpectations(now: number = this.clock.now()): Expectation[] {
    return this.inspection.listExpectations(now);
  }

  sizes(): TableSizes {
    return this.inspection.sizes();
  }

  /** Public endpoint an inside endpoint maps to toward a remote, or null (for tests and tools). */
  lookupMapping(proto: number, inAddr: number, inPort: number, remAddr: number, remPort: number): [number, number] | null {
    return this.inspection.lookupMapping(proto, inAddr, inPort, remAddr, remPort);
  }

  /** The public endpoint of the flow from an inside endpoint to a remote, or null. */
  flowPublicEndpoint(proto: number, inAddr: number, inPort: number, remAddr: number, remPort: number): [number, number] | null {
    return this.inspection.flowPublicEndpoint(proto, inAddr, inPort, remAddr, remPort);
  }
}

/** The IPv4 header checksum verifies; unrolled for the usual 20-byte header. */
function headerChecksumOk(b: Uint8Array, hl: number): boolean {
  if (hl !== 20) return internetChecksum(b, 0, hl) === 0;
  let s =
    ((b[0] << 8) | b[1]) +
    ((b[2] << 8) | b[3]) +
    ((b[4] << 8) | b[5]) +
    ((b[6] << 8) | b[7]) +
    ((b[8] << 8) | b[9]) +
    ((b[10] << 8) | b[11]) +
    ((b[12] << 8) | b[13]) +
    ((b[14] << 8) | b[15]) +
    ((b[16] << 8) | b[17]) +
    ((b[18] << 8) | b[19]);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return s === 0xffff;
}

function isResolved(c: unknown): c is ResolvedNatConfig {
  return typeof c === 'object' && c !== null && 'publicAddrs' in c && 'source' in c;
}
