/**
 * The NAT engine: bytes in, verdicts out. Pure and synchronous: no sockets,
 * files or timers; time comes from the injected clock (or the caller's `now`).
 * Every dataplane (tun, pcap, sim) drives this one class, so a behaviour proven
 * in sim is the behaviour of the gateway.
 *
 * process(packet, side) translates the packet in place and says where it goes.
 * Packets the engine itself originates (an ICMP error for a held SYN) queue up
 * and are taken with drainEmitted().
 */
import type { Clock } from '../util/clock.js';
import { internetChecksum } from '../wire/checksum.js';
import { buildIcmpError, ICMP_DEST_UNREACHABLE, isIcmpError, UNREACH_ADMIN_PROHIBITED, UNREACH_PORT } from '../wire/icmp.js';
import * as ipv4Module from '../wire/ipv4.js';
import { fillTcpChecksum, TCP_ACK, TCP_RST, TCP_SYN } from '../wire/tcp.js';
import { fillUdpChecksum } from '../wire/udp.js';
import { resolveNatConfig, type ResolvedNatConfig } from './config.js';
import { DropReason, NatCounters, PassReason } from './counters.js';
import type { NatEvent, NatEventSink } from './events.js';
import { ExpectationTable, type Expectation, type ExpectationRefusal, type ExpectationRequest } from './expectations.js';
import * as flowTableModule from './flow-table.js';
import { FlowTable } from './flow-table.js';
import { ForwardTable } from './forwards.js';
import { FragmentTable } from './fragments.js';
import { HostTable } from './hosts.js';
import { MappingTable, NO_MAPPING } from './mapping-table.js';
import { PortPool } from './port-pool.js';
import * as rewriteModule from './rewrite.js';
import { L4 } from './rewrite.js';
import { SynHoldTable } from './syn-hold.js';
import { nextTcpState, SYN_IN, SYN_OUT, tcpPhase, TcpPhase } from './tcp-tracker.js';
import { TriggerTable } from './triggers.js';

// Imported bindings are live: V8 reloads and checks them on every use in a hot
// loop. Local copies, taken once at load, are constants it can fold.
const { PROTO_ICMP, PROTO_TCP, PROTO_UDP } = ipv4Module;
const { FLOW_EXPECTED, FLOW_FORWARDED, FLOW_INBOUND, FLOW_REPLIED, FLOW_TRIGGERED, NO_FLOW } = flowTableModule;
const { fillIcmpChecksumAt, rewriteEndpoint, rewriteQuoted } = rewriteModule;
const L4_FULL = L4.Full;
const L4_PARTIAL = L4.Partial;

export const enum Side {
  Inside = 0,
  Outside = 1,
}

export const enum Verdict {
  Drop = 0,
  ToOutside = 1,
  ToInside = 2,
}

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

/** Timeout classes: index into the flow table's expiry lists. */
const TC_UDP = 0;
const TC_TCP_ESTABLISHED = 1;
const TC_TCP_TRANSITORY = 2;
const TC_ICMP = 3;

/** Flow flag: outbound traffic on this flow keeps a port trigger alive. */
const FLOW_TRIGGER_SOURCE = 32;

/** A packet the engine originated, to be sent out of `side`. */
export interface EmittedPacket {
  side: Side;
  packet: Uint8Array;
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
  /** Uniform [0, 1): seeded in sim; a CSPRNG-backed source on a real gateway. */
  random?: () => number;
  onEvent?: NatEventSink;
  /** Starting table capacity; tables grow by doubling up to the configured limits. */
  initialCapacity?: number;
}

export interface FlowInfo {
  id: number;
  proto: number;
  inside: [number, number];
  public: [number, number];
  remote: [number, number];
  state: number;
  flags: number;
  created: number;
  lastSeen: number;
  expiresAt: number;
  packetsOut: number;
  packetsIn: number;
  bytesOut: number;
  bytesIn: number;
  helper: number;
}

type LimitName = Extract<NatEvent, { type: 'limit' }>['limit'];

const LIMIT_EVENT_INTERVAL_MS = 10_000;
const SWEEP_INTERVAL_MS = 10;
const REFUSAL_ICMP_PER_SECOND = 100;
const SWEEP_BUDGET = 1024;

export class NatEngine {
  readonly config: ResolvedNatConfig;
  readonly counters = new NatCounters();
  readonly flows: FlowTable;
  readonly mappings: MappingTable;
  readonly expectations: ExpectationTable;
  readonly hosts: HostTable;
  readonly forwards: ForwardTable;
  readonly triggers: TriggerTable;
  /** The packet to send after process(): the input, or a replacement when an ALG resized it. */
  output: Uint8Array = new Uint8Array(0);
  /** The output's transport checksum is still partial (see process()). */
  outputPartial = false;

  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly onEvent: NatEventSink | undefined;
  private readonly pools = new Map<number, PortPool>();
  private readonly fragments: FragmentTable;
  private readonly synHolds: SynHoldTable;
  private readonly emitted: EmittedPacket[] = [];
  private readonly lastLimitEvent = new Map<string, number>();
  private readonly insideNets: Int32Array; // pairs of (network, mask)
  private readonly publicAddrs: Uint32Array;
  private readonly mappingKeysAddress: boolean;
  private readonly mappingKeysPort: boolean;
  private readonly filterMode: number; // 0 EIF, 1 ADF, 2 APDF
  private readonly helperHooks: (HelperHook | null)[] = [null];
  private readonly helperGone: (((flow: number) => void) | null)[] = [null];
  private readonly helperNames: string[] = [''];
  private readonly helperRules: Array<{ helper: number; proto: number; first: number; last: number }> = [];
  private nextHousekeeping = 0;
  private nextSweep = 0;
  private refusalWindowStart = 0;
  private l4Checksum: L4 = L4.Full;
  private l4Src = 0;
  private l4Dst = 0;
  private l4Flags = 0;
  private refusalsInWindow = 0;

  constructor(config: ResolvedNatConfig | unknown, options: NatEngineOptions) {
    this.config = isResolved(config) ? config : resolveNatConfig(config);
    const c = this.config;
    this.clock = options.clock;
    this.random = options.random ?? Math.random;
    this.onEvent = options.onEvent;
    const initial = options.initialCapacity ?? 1024;
    this.filterMode = c.filtering === 'endpoint-independent' ? 0 : c.filtering === 'address-dependent' ? 1 : 2;
    this.mappingKeysAddress = c.mapping !== 'endpoint-independent';
    this.mappingKeysPort = c.mapping === 'address-and-port-dependent';
    this.flows = new FlowTable(
      c.limits.flows,
      [c.udpMs, c.tcpEstablishedMs, c.tcpTransitoryMs, c.icmpMs],
      this.filterMode === 1,
      initial,
    );
    this.mappings = new MappingTable(initial);
    this.expectations = new ExpectationTable(c.limits.expectations, c.limits.expectationsPerGroup);
    this.hosts = new HostTable(c.publicAddrs, c.pooling);
    this.forwards = new ForwardTable(c.forwards);
    this.triggers = new TriggerTable(c.triggers);
    this.fragments = new FragmentTable(c.limits.fragments, c.fragmentMs);
    this.synHolds = new SynHoldTable(c.limits.pendingSyns);
    this.insideNets = new Int32Array(c.inside.length * 2);
    c.inside.forEach((p, i) => {
      this.insideNets[2 * i] = p.network | 0;
      this.insideNets[2 * i + 1] = p.mask | 0;
    });
    this.publicAddrs = Uint32Array.from(c.publicAddrs);
    // Forwarded and trigger ports are never handed out to dynamic mappings.
    for (const [proto, addr, port] of this.forwards.claims()) this.pool(addr, proto).hold(port);
    for (const [proto, port] of this.triggers.claims()) for (const a of c.publicAddrs) this.pool(a, proto).hold(port);
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
    this.l4Checksum = partialChecksum ? L4_PARTIAL : L4_FULL;
    this.outputPartial = partialChecksum;
    // Expiry is also checked on every lookup; the sweep only reclaims memory,
    // so a few milliseconds of lag are harmless and keep it off most packets.
    if (now >= this.nextSweep) {
      this.nextSweep = now + SWEEP_INTERVAL_MS;
      this.flows.sweep(now, SWEEP_BUDGET, this.expireFlowCallback);
      if (now >= this.nextHousekeeping) this.housekeeping(now);
    }
    const len = pkt.length;
    if (len < 20) return this.malformed(side);
    const version = pkt[0] >> 4;
    if (version !== 4) {
      if (version === 6 && len >= 40) {
        this.counters.passes[PassReason.ipv6]++;
        return side === Side.Inside ? Verdict.ToOutside : Verdict.ToInside;
      }
      return this.malformed(side);
    }
    const hl = (pkt[0] & 0x0f) << 2;
    const total = (pkt[2] << 8) | pkt[3];
    if (hl < 20 || total < hl || total > len) return this.malformed(side);
    if (!headerChecksumOk(pkt, hl)) return this.drop(DropReason.badChecksum);
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
    while (this.flows.sweep(now, 4096, this.expireFlowCallback) === 4096) {
      /* keep sweeping: the budget only bounds one pass */
    }
    this.housekeeping(now);
  }

  /**
   * Reads the transport header's ports into l4Src/l4Dst and TCP flags into
   * l4Flags (for ICMP queries, the identifier into l4Src). Fields rather than
   * a returned object: this runs for every packet and must not allocate.
   */
  private readTransport(pkt: Uint8Array, l4: number, l4Len: number, proto: number): Transport {
    this.l4Flags = 0;
    if (proto === PROTO_UDP || proto === PROTO_TCP) {
      if (proto === PROTO_UDP ? l4Len < 8 : l4Len < 20 || pkt[l4 + 12] >> 4 < 5) return Transport.Malformed;
      this.l4Src = (pkt[l4] << 8) | pkt[l4 + 1];
      this.l4Dst = (pkt[l4 + 2] << 8) | pkt[l4 + 3];
      if (proto === PROTO_TCP) this.l4Flags = pkt[l4 + 13];
      return Transport.Ports;
    }
    if (proto !== PROTO_ICMP) return Transport.Unsupported;
    if (l4Len < 8) return Transport.Malformed;
    const type = pkt[l4];
    if (isIcmpError(type)) return Transport.IcmpError;
    this.l4Src = (pkt[l4 + 4] << 8) | pkt[l4 + 5];
    if (type === 8 || type === 13) return Transport.IcmpRequest;
    if (type === 0 || type === 14) return Transport.IcmpReply;
    return Transport.IcmpOther;
  }

  private outbound(pkt: Uint8Array, hl: number, total: number, now: number): Verdict {
    const src = ((pkt[12] << 24) | (pkt[13] << 16) | (pkt[14] << 8) | pkt[15]) >>> 0;
    const dst = ((pkt[16] << 24) | (pkt[17] << 16) | (pkt[18] << 8) | pkt[19]) >>> 0;
    if (!this.isInside(src)) return this.drop(DropReason.notInsideSource);
    if (this.isInside(dst)) {
      this.counters.passes[PassReason.insideToInside]++;
      return Verdict.ToInside;
    }
    const proto = pkt[9];
    const fragWord = ((pkt[6] & 0x3f) << 8) | pkt[7];
    if (fragWord !== 0 && (fragWord & 0x1fff) !== 0) return this.outboundFragment(pkt, proto, src, dst, now);
    const l4 = hl;
    const l4Len = total - hl;
    let sport = 0;
    let dport = 0;
    switch (this.readTransport(pkt, l4, l4Len, proto)) {
      case Transport.Ports:
        sport = this.l4Src;
        dport = this.l4Dst;
        break;
      case Transport.IcmpRequest:
      case Transport.IcmpReply:
        sport = this.l4Src; // the identifier plays the inside port
        dport = 0;
        break;
      case Transport.IcmpError:
        return this.outboundIcmpError(pkt, hl, total, now);
      case Transport.IcmpOther:
        return this.drop(DropReason.icmpUnsupported);
      case Transport.Malformed:
        return this.malformed(Side.Inside);
      case Transport.Unsupported:
        return this.drop(DropReason.unsupportedProtocol);
    }
    const tcpFlags = this.l4Flags;
    const hairpin = this.isPublic(dst);
    if (hairpin && !this.config.hairpin) return this.drop(DropReason.hairpinDisabled);

    const flows = this.flows;
    let id = flows.findOutbound(proto, src, sport, dst, dport);
    if (id !== NO_FLOW && flows.isExpired(id, now)) {
      this.expireFlow(id);
      id = NO_FLOW;
    }
    if (id === NO_FLOW) {
      if (proto === PROTO_TCP && tcpFlags & TCP_RST) return this.drop(DropReason.tcpNoFlow);
      // Echo replies leave only on flows that an admitted request created.
      if (proto === PROTO_ICMP && (pkt[l4] === 0 || pkt[l4] === 14)) return this.drop(DropReason.icmpNoFlow);
      id = this.newOutboundFlow(proto, src, sport, dst, dport, tcpFlags, now);
      if (id === NO_FLOW) {
        this.refusalIcmp(pkt, now);
        return Verdict.Drop;
      }
    }
    const pubAddr = flows.pubAddr[id];
    const pubPort = flows.pubPort[id];
    rewriteEndpoint(pkt, 0, l4, l4Len, proto, 12, 0, src, pubAddr, sport, pubPort, this.l4Checksum);
    flows.touch(id, now);
    flows.packetsOut[id]++;
    flows.bytesOut[id] += total;
    this.counters.packetsOut++;
    if (proto === PROTO_TCP) this.trackTcp(id, tcpFlags, true, now);
    if (flows.flags[id] & FLOW_TRIGGER_SOURCE) this.refreshTriggerFrom(id, now);
    if (fragWord & 0x2000) this.rememberFragment(true, proto, src, dst, pkt, pubAddr, now);
    if (flows.helper[id] !== 0) {
      const out = this.runHelper(id, pkt, true, now);
      if (out === null) return Verdict.Drop;
      pkt = out;
    }
    if (hairpin) {
      this.counters.hairpinned++;
      const v = this.inbound(pkt, hl, (pkt[2] << 8) | pkt[3], now, true);
      return v === Verdict.Drop ? Verdict.Drop : Verdict.ToInside;
    }
    return Verdict.ToOutside;
  }

  private inbound(pkt: Uint8Array, hl: number, total: number, now: number, hairpin: boolean): Verdict {
    const src = ((pkt[12] << 24) | (pkt[13] << 16) | (pkt[14] << 8) | pkt[15]) >>> 0;
    const dst = ((pkt[16] << 24) | (pkt[17] << 16) | (pkt[18] << 8) | pkt[19]) >>> 0;
    if (!this.isPublic(dst)) return this.drop(DropReason.notPublicDestination);
    const proto = pkt[9];
    const fragWord = ((pkt[6] & 0x3f) << 8) | pkt[7];
    if (fragWord !== 0 && (fragWord & 0x1fff) !== 0) return this.inboundFragment(pkt, proto, src, dst, now);
    const l4 = hl;
    const l4Len = total - hl;
    let sport = 0;
    let dport = 0;
    switch (this.readTransport(pkt, l4, l4Len, proto)) {
      case Transport.Ports:
        sport = this.l4Src;
        dport = this.l4Dst;
        break;
      case Transport.IcmpReply:
        dport = this.l4Src; // the identifier names the public "port"
        break;
      case Transport.IcmpRequest:
        // Echo/timestamp requests to our public address: no inside host asked for them.
        return this.drop(DropReason.noMapping);
      case Transport.IcmpError:
        return this.inboundIcmpError(pkt, hl, total, now);
      case Transport.IcmpOther:
        return this.drop(DropReason.icmpUnsupported);
      case Transport.Malformed:
        return this.malformed(Side.Outside);
      case Transport.Unsupported:
        return this.drop(DropReason.unsupportedProtocol);
    }
    const tcpFlags = this.l4Flags;

    const flows = this.flows;
    let id = flows.findInbound(proto, src, sport, dst, dport);
    if (id !== NO_FLOW && flows.isExpired(id, now)) {
      this.expireFlow(id);
      id = NO_FLOW;
    }
    if (id === NO_FLOW) {
      id = this.newInboundFlow(pkt, proto, src, sport, dst, dport, tcpFlags, hairpin, now);
      if (id === NO_FLOW) return Verdict.Drop;
    }
    const inAddr = flows.inAddr[id];
    const inPort = flows.inPort[id];
    rewriteEndpoint(pkt, 0, l4, l4Len, proto, 16, proto === PROTO_ICMP ? 0 : 2, dst, inAddr, dport, inPort, this.l4Checksum);
    if (proto === PROTO_TCP || this.config.udpInboundRefresh) flows.touch(id, now);
    flows.packetsIn[id]++;
    flows.bytesIn[id] += total;
    flows.flags[id] |= FLOW_REPLIED;
    if (!hairpin) this.counters.packetsIn++;
    if (proto === PROTO_TCP) this.trackTcp(id, tcpFlags, false, now);
    if (flows.flags[id] & FLOW_TRIGGERED) this.refreshTriggerOf(flows.pubAddr[id], flows.pubPort[id], proto, now);
    if (fragWord & 0x2000) this.rememberFragment(false, proto, src, dst, pkt, inAddr, now);
    if (flows.helper[id] !== 0) {
      const out = this.runHelper(id, pkt, false, now);
      if (out === null) return Verdict.Drop;
      this.output = out;
    }
    return Verdict.ToInside;
  }

  // ----------------------------------------------------------- new flows

  private newOutboundFlow(
    proto: number,
    src: number,
    sport: number,
    dst: number,
    dport: number,
    tcpFlags: number,
    now: number,
  ): number {
    const flows = this.flows;
    if (flows.full) return this.refuse(DropReason.flowLimit, 'flows', `flow table full (${this.config.limits.flows})`, now);
    const host = this.hosts.obtain(src);
    if (host.flows >= this.config.limits.flowsPerHost) {
      this.hosts.release(src, host);
      return this.refuse(DropReason.hostFlowLimit, 'flowsPerHost', `inside host ${fmt(src)} at ${host.flows} flows`, now);
    }
    const keyAddr = this.mappingKeysAddress ? dst : 0;
    const keyPort = this.mappingKeysPort ? dport : 0;
    const mappings = this.mappings;
    let m = mappings.findInside(proto, src, sport, keyAddr, keyPort);
    if (m === NO_MAPPING) {
      let pubAddr: number;
      let pubPort: number;
      // An ALG announced a public port for this inside endpoint: leave from it.
      const exp = this.expectations.size ? this.expectations.matchOutbound(proto, src, sport, now) : null;
      if (exp && mappings.findPublic(proto, exp.publicAddr, exp.publicPort) === NO_MAPPING) {
        pubAddr = exp.publicAddr;
        pubPort = exp.publicPort;
        this.pool(pubAddr, proto).hold(pubPort);
      } else {
        pubAddr = this.hosts.publicAddrFor(host);
        pubPort = this.pool(pubAddr, proto).allocate(sport);
        if (pubPort < 0) {
          this.hosts.release(src, host);
          return this.refuse(DropReason.portsExhausted, 'ports', `no free ${protoName(proto)} port on ${fmt(pubAddr)}`, now);
        }
      }
      m = mappings.add(proto, src, sport, keyAddr, keyPort, pubAddr, pubPort);
      host.mappings++;
      this.counters.mappingsCreated++;
    }
    const tclass = proto === PROTO_UDP ? TC_UDP : proto === PROTO_TCP ? TC_TCP_TRANSITORY : TC_ICMP;
    let flags = 0;
    if (this.triggers.any) {
      const rule = this.triggers.ruleFor(proto, dport);
      if (rule >= 0) {
        flags |= FLOW_TRIGGER_SOURCE;
        const pubAddr = mappings.pubAddr[m];
        if (this.triggers.fire(rule, src, pubAddr, dst, now)) {
          this.event({ type: 'trigger-activated', trigger: rule, insideAddr: src, remoteAddr: dst, publicAddr: pubAddr });
        }
      }
    }
    const id = flows.add(proto, src, sport, mappings.pubAddr[m], mappings.pubPort[m], dst, dport, m, tclass, flags, now);
    mappings.refs[m]++;
    host.flows++;
    this.counters.flowsCreated++;
    this.attachHelper(id, proto, dport);
    if (proto === PROTO_TCP && tcpFlags & TCP_SYN) {
      this.synHolds.cancel(dst, dport, mappings.pubAddr[m], mappings.pubPort[m]);
    }
    return id;
  }

  /**
   * An inbound packet with no flow: filtering, expectations, forwards, triggers.
   * Hairpinned packets come from an inside host, and filtering guards against
   * the outside, so they pass it (RFC 4787 REQ-9: hairpinning must work, and
   * with dependent mapping the hairpinned source is a fresh mapping that no
   * dependent filter could know).
   */
  private newInboundFlow(
    pkt: Uint8Array,
    proto: number,
    src: number,
    sport: number,
    dst: number,
    dport: number,
    tcpFlags: number,
    hairpin: boolean,
    now: number,
  ): number {
    // Only a SYN opens a TCP connection from outside; anything else is stray.
    const isSyn = (tcpFlags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN;
    if (proto === PROTO_TCP && !isSyn) return this.dropFlow(DropReason.tcpNoFlow);
    const mappings = this.mappings;
    const m = mappings.findPublic(proto, dst, dport);
    let flags = FLOW_INBOUND;
    let inAddr: number;
    let inPort: number;
    let exp: Expectation | null = null;
    let trigger = -1;
    if (m !== NO_MAPPING) {
      inAddr = mappings.inAddr[m];
      inPort = mappings.inPort[m];
      let admitted =
        hairpin ||
        this.filterMode === 0 ||
        (this.filterMode === 1 && this.liveFlowToAddress(proto, src, dst, dport, now)) ||
        this.forwards.lookup(proto, dst, dport) !== undefined;
      if (!admitted && this.expectations.size) {
        exp = this.expectations.matchInbound(proto, dst, dport, src, sport, now);
        admitted = exp !== null && exp.insideAddr === inAddr && exp.insidePort === inPort;
        if (admitted) flags |= FLOW_EXPECTED;
      }
      if (!admitted && this.triggers.any) {
        trigger = this.triggers.matchInbound(proto, dst, dport, src, now);
        admitted = trigger >= 0 && this.triggers.get(trigger)!.insideAddr === inAddr;
        if (admitted) flags |= FLOW_TRIGGERED;
      }
      if (!admitted) return this.unsolicited(pkt, proto, isSyn, src, sport, dst, dport, DropReason.filtered, now);
    } else {
      const fwd = this.forwards.lookup(proto, dst, dport);
      exp = fwd ? null : this.expectations.size ? this.expectations.matchInbound(proto, dst, dport, src, sport, now) : null;
      if (fwd) {
        inAddr = fwd.insideAddr;
        inPort = fwd.insidePort;
        flags |= FLOW_FORWARDED;
      } else if (exp) {
        inAddr = exp.insideAddr;
        inPort = exp.insidePort;
        flags |= FLOW_EXPECTED;
      } else if (this.triggers.any && (trigger = this.triggers.matchInbound(proto, dst, dport, src, now)) >= 0) {
        inAddr = this.triggers.get(trigger)!.insideAddr;
        inPort = dport;
        flags |= FLOW_TRIGGERED;
      } else {
        return this.unsolicited(pkt, proto, isSyn, src, sport, dst, dport, DropReason.noMapping, now);
      }
    }
    if (this.flows.full) return this.refuse(DropReason.flowLimit, 'flows', `flow table full (${this.config.limits.flows})`, now);
    const host = this.hosts.obtain(inAddr);
    if (host.flows >= this.config.limits.flowsPerHost) {
      this.hosts.release(inAddr, host);
      return this.refuse(DropReason.hostFlowLimit, 'flowsPerHost', `inside host ${fmt(inAddr)} at ${host.flows} flows`, now);
    }
    let mapping = m;
    if (mapping === NO_MAPPING) {
      // The public port is already held (by the forward, the expectation or the
      // trigger range); the mapping takes its own reference. Such mappings are
      // keyed endpoint-independently whatever the mapping behaviour: the public
      // port was fixed in advance, not chosen per destination.
      this.pool(dst, proto).hold(dport);
      mapping = mappings.add(proto, inAddr, inPort, 0, 0, dst, dport);
      host.mappings++;
      this.counters.mappingsCreated++;
    }
    const tclass = proto === PROTO_UDP ? TC_UDP : proto === PROTO_TCP ? TC_TCP_TRANSITORY : TC_ICMP;
    const id = this.flows.add(proto, inAddr, inPort, dst, dport, src, sport, mapping, tclass, flags, now);
    mappings.refs[mapping]++;
    host.flows++;
    this.counters.flowsCreated++;
    this.attachHelper(id, proto, inPort);
    if (exp) {
      this.counters.expectationsUsed++;
      exp.uses++;
      this.expectationEvent('used', exp);
      if (exp.singleUse) this.removeExpectation(exp.id);
    }
    if (flags & FLOW_FORWARDED) {
      this.event({ type: 'forward', proto, publicAddr: dst, publicPort: dport, insideAddr: inAddr, insidePort: inPort, remoteAddr: src, remotePort: sport });
    }
    if (trigger >= 0) this.triggers.touch(trigger, now);
    return id;
  }

  /**
   * A new outbound flow refused for want of resources (flow table, per-host
   * limit, ports): RFC 5508 REQ-8 asks for an ICMP "communication
   * administratively prohibited" to the sender, so it fails fast instead of
   * retrying into a black hole. Rate-limited; off with icmpOnRefusal: false.
   */
  private refusalIcmp(pkt: Uint8Array, now: number): void {
    if (!this.config.icmpOnRefusal) return;
    if (pkt[9] === PROTO_ICMP && isIcmpError(pkt[(pkt[0] & 0x0f) << 2])) return; // never an error about an error
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

  /** Dropping an inbound packet nothing admits; an unsolicited SYN is held (RFC 5382 REQ-4). */
  private unsolicited(
    pkt: Uint8Array,
    proto: number,
    isSyn: boolean,
    src: number,
    sport: number,
    dst: number,
    dport: number,
    reason: number,
    now: number,
  ): number {
    if (proto === PROTO_TCP && isSyn) {
      const ok = this.synHolds.hold(src, sport, dst, dport, pkt, now + this.config.tcpSynHoldMs);
      if (!ok) this.limitEvent('pendingSyns', `SYN hold table full (${this.config.limits.pendingSyns})`, now);
      return this.dropFlow(ok ? DropReason.synHeld : DropReason.synHoldOverflow);
    }
    return this.dropFlow(reason);
  }

  private liveFlowToAddress(proto: number, rem: number, pub: number, pubPort: number, now: number): boolean {
    const id = this.flows.findByRemoteAddress(proto, rem, pub, pubPort);
    return id !== NO_FLOW && !this.flows.isExpired(id, now);
  }

  // ----------------------------------------------------------- TCP state

  private trackTcp(id: number, flags: number, outbound: boolean, now: number): void {
    const flows = this.flows;
    const old = flows.state[id];
    let next = nextTcpState(old, flags, outbound);
    // A flow picked up mid-stream (no SYN seen: masq restarted, or the route
    // changed) becomes established once the far side answers with an ACK.
    if (!outbound && (old & (SYN_OUT | SYN_IN)) === 0 && (flows.flags[id] & FLOW_INBOUND) === 0 && flags & TCP_ACK) {
      next |= SYN_OUT | SYN_IN;
    }
    if (next === old) return;
    flows.state[id] = next;
    const phase = tcpPhase(next);
    const tclass = phase === TcpPhase.Established ? TC_TCP_ESTABLISHED : TC_TCP_TRANSITORY;
    if (tclass !== flows.tclass[id]) flows.setClass(id, tclass, now);
  }

  // ----------------------------------------------------------- ICMP errors

  /**
   * An ICMP error from outside about a packet we sent out: the quoted packet
   * carries our public source. Translate the outer destination and the quoted
   * source back to the inside endpoint, fixing the quoted header's checksum,
   * the quoted transport checksum when quoted, and the ICMP checksum. The flow
   * is neither refreshed nor deleted (RFC 5508 REQ-?; RFC 4787 REQ-?).
   */
  private inboundIcmpError(pkt: Uint8Array, hl: number, total: number, now: number): Verdict {
    const q = this.quoted(pkt, hl, total);
    if (q === -2) return this.drop(DropReason.badChecksum);
    if (q < 0) return this.malformed(Side.Outside);
    const inner = hl + 8;
    const ihl = (pkt[inner] & 0x0f) << 2;
    const iproto = pkt[inner + 9];
    const isrc = read32(pkt, inner + 12);
    const idst = read32(pkt, inner + 16);
    const il4 = inner + ihl;
    const outerDst = read32(pkt, 16);
    if (outerDst !== isrc) return this.drop(DropReason.icmpNoFlow);
    let isport: number;
    let idport: number;
    if (iproto === PROTO_ICMP) {
      isport = (pkt[il4 + 4] << 8) | pkt[il4 + 5];
      idport = 0;
    } else {
      isport = (pkt[il4] << 8) | pkt[il4 + 1];
      idport = (pkt[il4 + 2] << 8) | pkt[il4 + 3];
    }
    const id = this.flows.findInbound(iproto, idst, idport, isrc, isport);
    if (id === NO_FLOW || this.flows.isExpired(id, now)) return this.drop(DropReason.icmpNoFlow);
    const inAddr = this.flows.inAddr[id];
    const inPort = this.flows.inPort[id];
    rewriteEndpoint(pkt, 0, hl, total - hl, PROTO_ICMP, 16, 0, outerDst, inAddr, 0, 0, L4.None);
    rewriteQuoted(pkt, inner, ihl, total, iproto, 12, isrc, inAddr, isport, inPort);
    fillIcmpChecksumAt(pkt, hl, total);
    this.counters.icmpErrorsTranslated++;
    return Verdict.ToInside;
  }

  /** An ICMP error from inside about a packet it received from outside. */
  private outboundIcmpError(pkt: Uint8Array, hl: number, total: number, now: number): Verdict {
    const q = this.quoted(pkt, hl, total);
    if (q === -2) return this.drop(DropReason.badChecksum);
    if (q < 0) return this.malformed(Side.Inside);
    const inner = hl + 8;
    const ihl = (pkt[inner] & 0x0f) << 2;
    const iproto = pkt[inner + 9];
    const isrc = read32(pkt, inner + 12);
    const idst = read32(pkt, inner + 16);
    const il4 = inner + ihl;
    let isport: number;
    let idport: number;
    if (iproto === PROTO_ICMP) {
      isport = 0;
      idport = (pkt[il4 + 4] << 8) | pkt[il4 + 5];
    } else {
      isport = (pkt[il4] << 8) | pkt[il4 + 1];
      idport = (pkt[il4 + 2] << 8) | pkt[il4 + 3];
    }
    const id = this.flows.findOutbound(iproto, idst, idport, isrc, isport);
    if (id === NO_FLOW || this.flows.isExpired(id, now)) return this.drop(DropReason.icmpNoFlow);
    const pubAddr = this.flows.pubAddr[id];
    const pubPort = this.flows.pubPort[id];
    // The sender may be an inside router rather than the host itself: either way
    // the error leaves from the flow's public address.
    rewriteEndpoint(pkt, 0, hl, total - hl, PROTO_ICMP, 12, 0, read32(pkt, 12), pubAddr, 0, 0, L4.None);
    rewriteQuoted(pkt, inner, ihl, total, iproto, 16, idst, pubAddr, idport, pubPort);
    fillIcmpChecksumAt(pkt, hl, total);
    this.counters.icmpErrorsTranslated++;
    // About hairpinned traffic: the error goes to another inside host's public
    // endpoint, so it turns around like the traffic did (RFC 5508 REQ-7).
    if (this.isPublic(read32(pkt, 16))) {
      if (!this.config.hairpin) return this.drop(DropReason.hairpinDisabled);
      this.counters.hairpinned++;
      return this.inboundIcmpError(pkt, hl, total, now) === Verdict.Drop ? Verdict.Drop : Verdict.ToInside;
    }
    return Verdict.ToOutside;
  }

  /**
   * Checks an ICMP error before translating it (RFC 5508 REQ-3): the quoted
   * packet has a header and ports, the ICMP checksum and the quoted header's
   * checksum verify. The quoted transport checksum is not checked (REQ-3c).
   * Returns the quoted packet's offset, -1 if malformed, -2 if a checksum fails.
   */
  private quoted(pkt: Uint8Array, hl: number, total: number): number {
    const inner = hl + 8;
    if (total - inner < 20 || pkt[inner] >> 4 !== 4) return -1;
    const ihl = (pkt[inner] & 0x0f) << 2;
    if (ihl < 20 || inner + ihl + 8 > total) return -1;
    // A quoted non-first fragment has no ports to match.
    if ((((pkt[inner + 6] & 0x1f) << 8) | pkt[inner + 7]) !== 0) return -1;
    if (internetChecksum(pkt, hl, total) !== 0 || internetChecksum(pkt, inner, inner + ihl) !== 0) return -2;
    return inner;
  }

  // ----------------------------------------------------------- fragments

  /** After translating a first fragment: remember it, and release any later fragments that came early. */
  private rememberFragment(outbound: boolean, proto: number, src: number, dst: number, pkt: Uint8Array, addr: number, now: number): void {
    const ipId = (pkt[4] << 8) | pkt[5];
    const early = this.fragments.remember(outbound, proto, src, dst, ipId, addr, now);
    if (early === null) {
      this.counters.drops[DropReason.fragmentLimit]++;
      this.limitEvent('fragments', `fragment table full (${this.config.limits.fragments})`, now);
      return;
    }
    for (const f of early) {
      const v = outbound ? this.outboundFragment(f, proto, src, dst, now) : this.inboundFragment(f, proto, src, dst, now);
      if (v !== Verdict.Drop) this.emitted.push({ side: v === Verdict.ToOutside ? Side.Outside : Side.Inside, packet: f });
    }
  }

  /** A later fragment with no known first fragment: hold it (bounded) for the first to arrive. */
  private earlyFragment(outbound: boolean, pkt: Uint8Array, proto: number, src: number, dst: number, now: number): Verdict {
    if (this.fragments.hold(outbound, proto, src, dst, (pkt[4] << 8) | pkt[5], pkt, now)) {
      this.counters.fragmentsHeld++;
      return Verdict.Drop;
    }
    this.limitEvent('fragments', 'early-fragment buffer full', now);
    return this.drop(DropReason.fragmentOrphan);
  }

  private outboundFragment(pkt: Uint8Array, proto: number, src: number, dst: number, now: number): Verdict {
    const pub = this.fragments.lookup(true, proto, src, dst, (pkt[4] << 8) | pkt[5], now);
    if (pub < 0) return this.earlyFragment(true, pkt, proto, src, dst, now);
    rewriteEndpoint(pkt, 0, 0, 0, proto, 12, 0, src, pub, 0, 0, L4.None);
    this.counters.fragmentsTranslated++;
    this.counters.packetsOut++;
    if (this.isPublic(dst)) {
      this.counters.hairpinned++;
      return this.inboundFragment(pkt, proto, pub, dst, now) === Verdict.Drop ? Verdict.Drop : Verdict.ToInside;
    }
    return Verdict.ToOutside;
  }

  private inboundFragment(pkt: Uint8Array, proto: number, src: number, dst: number, now: number): Verdict {
    const inAddr = this.fragments.lookup(false, proto, src, dst, (pkt[4] << 8) | pkt[5], now);
    if (inAddr < 0) return this.earlyFragment(false, pkt, proto, src, dst, now);
    rewriteEndpoint(pkt, 0, 0, 0, proto, 16, 0, dst, inAddr, 0, 0, L4.None);
    this.counters.fragmentsTranslated++;
    this.counters.packetsIn++;
    return Verdict.ToInside;
  }

  // ----------------------------------------------------------- expiry

  private readonly expireFlowCallback = (id: number) => {
    this.counters.flowsExpired++;
    this.expireFlow(id);
  };

  /** Removes a flow, and its mapping when no other flow uses it. */
  expireFlow(id: number): void {
    const flows = this.flows;
    const m = flows.mapping[id];
    const inAddr = flows.inAddr[id];
    if (flows.helper[id] !== 0) this.helperGone[flows.helper[id]]?.(id);
    flows.remove(id);
    const host = this.hosts.get(inAddr);
    if (host) host.flows--;
    const mappings = this.mappings;
    if (--mappings.refs[m] === 0) {
      this.pool(mappings.pubAddr[m], mappings.proto[m]).release(mappings.pubPort[m]);
      mappings.remove(m);
      if (host) host.mappings--;
    }
    if (host) this.hosts.release(inAddr, host);
  }

  private housekeeping(now: number): void {
    this.nextHousekeeping = now + 1000;
    for (const e of this.expectations.expire(now)) this.releaseExpectation(e, 'expired');
    for (const { rule, trigger } of this.triggers.expire(now)) {
      this.event({ type: 'trigger-expired', trigger: rule, insideAddr: trigger.insideAddr });
    }
    this.counters.drops[DropReason.fragmentOrphan] += this.fragments.expire(now);
    for (const held of this.synHolds.due(now)) {
      if (this.config.unsolicitedSyn !== 'icmp') continue;
      this.emitted.push({
        side: Side.Outside,
        packet: buildIcmpError(held.publicAddr, ICMP_DEST_UNREACHABLE, UNREACH_PORT, held.packet, 8),
      });
      this.counters.icmpErrorsSent++;
    }
  }

  // ----------------------------------------------------------- expectations (the ALG interface)

  /**
   * Opens a pinhole. With publicPort 0 the engine picks the public port: the
   * one the inside endpoint already maps to if it has an endpoint-independent
   * mapping, else a fresh one (of the inside port's parity). The public port is
   * held until the expectation ends.
   */
  expect(
    req: Omit<ExpectationRequest, 'publicAddr' | 'publicPort'> & { publicAddr?: number; publicPort?: number },
    now: number = this.clock.now(),
  ): Expectation | ExpectationRefusal | 'no-port' {
    if (req.insidePort < 1024) return this.refuseExpectation('bad-port', req, now);
    const host = this.hosts.obtain(req.insideAddr);
    const publicAddr = req.publicAddr ?? this.hosts.publicAddrFor(host);
    let publicPort = req.publicPort ?? 0;
    if (publicPort === 0) {
      // The inside endpoint keeps one public port: its endpoint-independent
      // mapping's, or the one an earlier expectation announced (a re-INVITE).
      const m = this.mappings.findInside(req.proto, req.insideAddr, req.insidePort, 0, 0);
      publicPort = m !== NO_MAPPING && this.mappings.pubAddr[m] === publicAddr ? this.mappings.pubPort[m] : -1;
      if (publicPort < 0) publicPort = this.expectations.publicPortOf(req.proto, req.insideAddr, req.insidePort, publicAddr);
      const pool = this.pool(publicAddr, req.proto);
      if (publicPort < 0) publicPort = pool.allocate(Math.max(req.insidePort, 1024), true);
      else if (pool.canHold(publicPort)) pool.hold(publicPort);
      else publicPort = -1;
      if (publicPort < 0) {
        this.hosts.release(req.insideAddr, host);
        return this.refuseExpectation('no-port', req, now);
      }
    } else {
      // A caller-chosen port must be free, or already this inside endpoint's.
      const m = this.mappings.findPublic(req.proto, publicAddr, publicPort);
      const pool = this.pool(publicAddr, req.proto);
      const ours = m !== NO_MAPPING && this.mappings.inAddr[m] === req.insideAddr && this.mappings.inPort[m] === req.insidePort;
      if ((!ours && pool.inUse(publicPort) && !this.expectationHolds(req, publicAddr, publicPort)) || !pool.canHold(publicPort)) {
        this.hosts.release(req.insideAddr, host);
        return this.refuseExpectation('no-port', req, now);
      }
      pool.hold(publicPort);
    }
    const e = this.expectations.add(req, publicAddr, publicPort, now);
    if (typeof e === 'string') {
      this.pool(publicAddr, req.proto).release(publicPort);
      this.hosts.release(req.insideAddr, host);
      return this.refuseExpectation(e, req, now);
    }
    host.mappings++; // the expectation keeps the host's pairing alive
    this.counters.expectationsOpened++;
    this.expectationEvent('opened', e);
    return e;
  }

  /**
   * Public ports for a media stream's RTP and RTCP (RFC 3550: RTCP on the next
   * port), without holding anything: the inside endpoints' existing ports when
   * they have them, else a free even/odd pair (or, failing that, single ports
   * of the right parity). The caller opens each with expect() and an explicit
   * port, only for what the stream uses (no RTCP pinhole with rtcp-mux).
   * Returns null when no port is free.
   */
  planMediaPorts(proto: number, insideAddr: number, rtpPort: number, publicAddr?: number): { publicAddr: number; rtp: number; rtcp: number } | null {
    const host = this.hosts.obtain(insideAddr);
    const addr = publicAddr ?? this.hosts.publicAddrFor(host);
    this.hosts.release(insideAddr, host); // drops the entry only if it holds nothing
    const pool = this.pool(addr, proto);
    let rtp = this.publicPortFor(proto, insideAddr, rtpPort, addr);
    let rtcp = this.publicPortFor(proto, insideAddr, rtpPort + 1, addr);
    if (rtp < 0 && rtcp < 0) {
      rtp = pool.allocatePair(Math.max(rtpPort, 1024));
      if (rtp >= 0) {
        rtcp = rtp + 1;
        pool.release(rtp);
        pool.release(rtcp);
      }
    }
    if (rtp < 0) rtp = this.peekPort(pool, rtpPort);
    if (rtcp < 0) rtcp = (rtp & 1) === 0 && rtp + 1 <= 65535 && !pool.inUse(rtp + 1) ? rtp + 1 : this.peekPort(pool, rtpPort + 1);
    return rtp < 0 || rtcp < 0 ? null : { publicAddr: addr, rtp, rtcp };
  }

  /** The public port an inside endpoint has (endpoint-independent mapping or expectation), or -1. */
  private publicPortFor(proto: number, inAddr: number, inPort: number, publicAddr: number): number {
    const m = this.mappings.findInside(proto, inAddr, inPort, 0, 0);
    if (m !== NO_MAPPING && this.mappings.pubAddr[m] === publicAddr) return this.mappings.pubPort[m];
    return this.expectations.publicPortOf(proto, inAddr, inPort, publicAddr);
  }

  /** A free port of the inside port's parity, not held. */
  private peekPort(pool: PortPool, insidePort: number): number {
    const p = pool.allocate(Math.max(insidePort, 1024), true);
    if (p >= 0) pool.release(p);
    return p;
  }

  /** Removes one expectation (releasing its public port). */
  removeExpectation(id: number): boolean {
    const e = this.expectations.remove(id);
    if (!e) return false;
    this.releaseExpectation(e, 'removed');
    return true;
  }

  /** Narrows an expectation to the remote it must come from (the peer's media address once its SDP is known). */
  restrictExpectation(id: number, remoteAddr: number, remotePort: number): boolean {
    const e = this.expectations.get(id);
    if (!e) return false;
    e.remoteAddr = remoteAddr;
    e.remotePort = remotePort;
    return true;
  }

  /** Gives an expectation a new time to live from now (a call that got its answer lives longer than its INVITE transaction). */
  extendExpectation(id: number, ttlMs: number, now: number = this.clock.now()): boolean {
    const e = this.expectations.get(id);
    if (!e) return false;
    e.ttlMs = ttlMs;
    e.expiresAt = now + ttlMs;
    return true;
  }

  /** Removes every expectation of a group: the call ended (BYE, CANCEL, error). */
  removeExpectationGroup(group: string): number {
    const removed = this.expectations.removeGroup(group);
    for (const e of removed) this.releaseExpectation(e, 'removed');
    return removed.length;
  }

  private expectationHolds(req: { insideAddr: number; insidePort: number; proto: number }, addr: number, port: number): boolean {
    return this.expectations.holds(req.proto, req.insideAddr, req.insidePort, addr, port);
  }

  /** An expectation left the table: its public port and host pairing go with it. */
  private releaseExpectation(e: Expectation, why: 'expired' | 'removed'): void {
    this.pool(e.publicAddr, e.proto).release(e.publicPort);
    const host = this.hosts.get(e.insideAddr);
    if (host) {
      host.mappings--;
      this.hosts.release(e.insideAddr, host);
    }
    this.expectationEvent(why, e);
  }

  private refuseExpectation<R extends string>(why: R, req: { group: string; reason: string }, now: number): R {
    this.counters.expectationsRefused++;
    if (why === 'limit') this.limitEvent('expectations', `expectation table full (${this.config.limits.expectations})`, now);
    if (why === 'group-limit') {
      this.limitEvent('expectationsPerGroup', `group ${req.group} at ${this.config.limits.expectationsPerGroup} expectations`, now);
    }
    return why;
  }

  // ----------------------------------------------------------- helpers (ALGs)

  /**
   * Registers an ALG: flows whose destination port (outbound) or inside port
   * (inbound) lies in one of `ports` for `proto` are attached to it. `flowGone`
   * is told when such a flow goes away, so the ALG can drop its state. Returns its id.
   */
  registerHelper(
    hook: HelperHook,
    rules: Array<{ proto: number; first: number; last: number }>,
    flowGone?: (flow: number) => void,
    name = `helper${this.helperHooks.length}`,
  ): number {
    const helper = this.helperHooks.length;
    if (helper > 255) throw new RangeError('too many helpers');
    this.helperHooks.push(hook);
    this.helperGone.push(flowGone ?? null);
    this.helperNames.push(name);
    for (const r of rules) this.helperRules.push({ helper, ...r });
    return helper;
  }

  /** The name an ALG registered under (flow listings show it), or null for 0 (none). */
  helperName(helper: number): string | null {
    return helper === 0 ? null : (this.helperNames[helper] ?? null);
  }

  private attachHelper(id: number, proto: number, port: number): void {
    const rules = this.helperRules;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i];
      if (r.proto === proto && port >= r.first && port <= r.last) {
        this.flows.helper[id] = r.helper;
        return;
      }
    }
  }

  /**
   * Runs the flow's ALG on a translated packet. Returns the packet to send, or
   * null when nothing goes now (dropped by policy, counted; or held by the ALG).
   * Extra packets of a re-segmented message queue up as emitted packets.
   */
  private runHelper(id: number, pkt: Uint8Array, outbound: boolean, now: number): Uint8Array | null {
    const hook = this.helperHooks[this.flows.helper[id]];
    if (!hook) return pkt;
    // ALGs work with complete checksums: finish an offloaded one first.
    if (this.outputPartial) {
      completeTransportChecksum(pkt);
      this.outputPartial = false;
    }
    const out = hook(this, id, pkt, outbound, now);
    if (out === null) {
      this.counters.drops[DropReason.helperDrop]++;
      return null;
    }
    if (out instanceof Uint8Array) {
      this.output = out;
      return out;
    }
    if (out.length === 0) {
      this.counters.helperHeld++;
      return null;
    }
    const side = outbound && !this.isPublic(ipv4Dst(out[0])) ? Side.Outside : Side.Inside;
    for (let i = 1; i < out.length; i++) this.emitted.push({ side, packet: out[i] });
    this.output = out[0];
    return out[0];
  }

  // ----------------------------------------------------------- small helpers

  isInside(addr: number): boolean {
    const nets = this.insideNets;
    for (let i = 0; i < nets.length; i += 2) if ((addr & nets[i + 1]) === nets[i]) return true;
    return false;
  }

  isPublic(addr: number): boolean {
    const p = this.publicAddrs;
    for (let i = 0; i < p.length; i++) if (p[i] === addr) return true;
    return false;
  }

  /** The port pool of a public address and protocol. */
  pool(addr: number, proto: number): PortPool {
    const key = addr * 256 + proto;
    let p = this.pools.get(key);
    if (!p) {
      const ports = this.config.ports;
      const icmp = proto === PROTO_ICMP;
      p = new PortPool({
        // ICMP identifiers have no well-known range: the whole space is one pool.
        allocation: ports.allocation,
        parity: icmp ? false : ports.parity,
        range: icmp ? [1024, 65535] : ports.range,
        lowRange: icmp ? [1, 1023] : ports.lowRange,
        random: this.random,
      });
      this.pools.set(key, p);
    }
    return p;
  }

  private refreshTriggerFrom(id: number, now: number): void {
    const rule = this.triggers.ruleFor(this.flows.proto[id], this.flows.remPort[id]);
    if (rule < 0) return;
    const a = this.triggers.get(rule);
    if (a && a.insideAddr === this.flows.inAddr[id]) this.triggers.touch(rule, now);
  }

  private refreshTriggerOf(pubAddr: number, pubPort: number, proto: number, now: number): void {
    for (const r of this.triggers.rules) {
      if (pubPort >= r.openFirst && pubPort <= r.openLast && r.openProtos.includes(proto)) {
        const a = this.triggers.get(r.index);
        if (a && a.publicAddr === pubAddr) this.triggers.touch(r.index, now);
      }
    }
  }

  private drop(reason: number): Verdict.Drop {
    this.counters.drops[reason]++;
    return Verdict.Drop;
  }

  /** The same, where a flow id is expected: no flow. */
  private dropFlow(reason: number): number {
    this.counters.drops[reason]++;
    return NO_FLOW;
  }

  /** Counts a drop at a limit and reports it (at most every 10 s per limit). */
  private refuse(reason: number, limit: LimitName, detail: string, now: number): number {
    this.counters.drops[reason]++;
    this.limitEvent(limit, detail, now);
    return NO_FLOW;
  }

  private limitEvent(limit: LimitName, detail: string, now: number): void {
    const last = this.lastLimitEvent.get(limit);
    if (last !== undefined && now - last < LIMIT_EVENT_INTERVAL_MS) return;
    this.lastLimitEvent.set(limit, now);
    this.event({ type: 'limit', limit, detail });
  }

  private malformed(side: Side): Verdict {
    if (this.config.malformed === 'pass') {
      this.counters.passes[PassReason.malformedPassed]++;
      return side === Side.Inside ? Verdict.ToOutside : Verdict.ToInside;
    }
    return this.drop(DropReason.malformed);
  }

  private expectationEvent(action: 'opened' | 'used' | 'expired' | 'removed', e: Expectation): void {
    if (!this.onEvent) return; // no one listens: build nothing
    this.event({
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

  private event(e: NatEvent): void {
    this.onEvent?.(e);
  }

  // ----------------------------------------------------------- inspection

  flowInfo(id: number): FlowInfo {
    const f = this.flows;
    return {
      id,
      proto: f.proto[id],
      inside: [f.inAddr[id], f.inPort[id]],
      public: [f.pubAddr[id], f.pubPort[id]],
      remote: [f.remAddr[id], f.remPort[id]],
      state: f.state[id],
      flags: f.flags[id],
      created: f.created[id],
      lastSeen: f.lastSeen[id],
      expiresAt: f.expiresAt(id),
      packetsOut: f.packetsOut[id],
      packetsIn: f.packetsIn[id],
      bytesOut: f.bytesOut[id],
      bytesIn: f.bytesIn[id],
      helper: f.helper[id],
    };
  }

  listFlows(now: number = this.clock.now()): FlowInfo[] {
    const out: FlowInfo[] = [];
    for (const id of this.flows.ids()) if (!this.flows.isExpired(id, now)) out.push(this.flowInfo(id));
    return out;
  }

  /** Public endpoint an inside endpoint maps to toward a remote, or null (for tests and tools). */
  lookupMapping(proto: number, inAddr: number, inPort: number, remAddr: number, remPort: number): [number, number] | null {
    const m = this.mappings.findInside(
      proto,
      inAddr,
      inPort,
      this.mappingKeysAddress ? remAddr : 0,
      this.mappingKeysPort ? remPort : 0,
    );
    return m === NO_MAPPING ? null : [this.mappings.pubAddr[m], this.mappings.pubPort[m]];
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

/** Replaces a partial (offload) TCP/UDP checksum with the complete one. */
function completeTransportChecksum(b: Uint8Array): void {
  if (b[9] === PROTO_TCP) fillTcpChecksum(b, 0);
  else if (b[9] === PROTO_UDP) fillUdpChecksum(b, 0);
}

function ipv4Dst(b: Uint8Array): number {
  return ((b[16] << 24) | (b[17] << 16) | (b[18] << 8) | b[19]) >>> 0;
}

function isResolved(c: unknown): c is ResolvedNatConfig {
  return typeof c === 'object' && c !== null && 'publicAddrs' in c && 'source' in c;
}

function read32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

function fmt(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

function protoName(p: number): string {
  return p === PROTO_TCP ? 'tcp' : p === PROTO_UDP ? 'udp' : p === PROTO_ICMP ? 'icmp' : String(p);
}

