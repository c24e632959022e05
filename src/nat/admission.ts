/**
 * Admission: whether a packet with no flow may start one, and the flow it
 * starts. Outbound: the limits, the mapping (existing, or new with a public
 * port from the pool or the one an ALG announced), port triggers fired, the
 * helper attached. Inbound: filtering on an existing mapping (RFC 4787),
 * else an expectation, a static forward or an active trigger; else the
 * packet is unsolicited (an unsolicited SYN is held, RFC 5382 REQ-4).
 */
import { ipv4ToString } from '../wire/address.js';
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP } from '../wire/ipv4.js';
import { TCP_ACK, TCP_RST, TCP_SYN } from '../wire/tcp.js';
import { DropReason } from './counters.js';
import type { Expectation } from './expectations.js';
import {
  FLOW_CHILD,
  FLOW_EXPECTED,
  FLOW_FORWARDED,
  FLOW_INBOUND,
  FLOW_TRIGGER_SOURCE,
  FLOW_TRIGGERED,
  NO_FLOW,
  TIMEOUT_ICMP,
  TIMEOUT_TCP_TRANSITORY,
  TIMEOUT_UDP,
} from './flow-table.js';
import { NO_MAPPING } from './mapping-table.js';
import type { NatParts } from './parts.js';
import { RangeSet } from './range-set.js';

export class Admission {
  /** Destination ports whose flows keep their source port when free (`keepSourcePorts`, ipautofw -d), per protocol. */
  private readonly keepPorts = new Map<number, RangeSet>();

  constructor(private readonly p: NatParts) {
    for (const k of p.config.keepSourcePorts) {
      if (!this.keepPorts.has(k.proto)) this.keepPorts.set(k.proto, new RangeSet());
      this.keepPorts.get(k.proto)!.add(k.first, k.last);
    }
  }

  private keepsSourcePort(proto: number, dport: number): boolean {
    return this.keepPorts.size !== 0 && this.keepPorts.get(proto)?.firstIn(dport, dport) !== undefined;
  }

  /** A new flow for an outbound packet, or NO_FLOW when a limit refuses it (counted, reported). */
  outbound(proto: number, src: number, sport: number, dst: number, dport: number, tcpFlags: number, now: number): number {
    const { flows, hosts, mappings, expectations, triggers, pools, refusals, config, behaviour, counters, events } = this.p;
    if (flows.full) return refusals.refuse(DropReason.flowLimit, 'flows', `flow table full (${config.limits.flows})`, now);
    const host = hosts.obtain(src);
    if (host.flows >= config.limits.flowsPerHost) {
      hosts.release(src, host);
      return refusals.refuse(DropReason.hostFlowLimit, 'flowsPerHost', `inside host ${ipv4ToString(src)} at ${host.flows} flows`, now);
    }
    const keyAddr = behaviour.mappingKeysAddress ? dst : 0;
    const keyPort = behaviour.mappingKeysPort ? dport : 0;
    let m = mappings.findInside(proto, src, sport, keyAddr, keyPort);
    // A port mapping (PCP, NAT-PMP, UPnP) holds the endpoint's public port whatever the behaviour.
    if (m === NO_MAPPING && keyAddr !== 0) m = this.p.portMappings.mappingFor(proto, src, sport);
    if (m === NO_MAPPING) {
      let pubAddr: number;
      let pubPort: number;
      // An ALG announced a public port for this inside endpoint: leave from it.
      const exp = expectations.size ? expectations.matchOutbound(proto, src, sport, now) : null;
      if (exp && mappings.findPublic(proto, exp.publicAddr, exp.publicPort) === NO_MAPPING) {
        pubAddr = exp.publicAddr;
        pubPort = exp.publicPort;
        pools.of(pubAddr, proto).hold(pubPort);
      } else {
        pubAddr = hosts.publicAddrFor(host);
        pubPort = pools.of(pubAddr, proto).allocate(sport, undefined, this.keepsSourcePort(proto, dport) ? 'preserve' : undefined);
        if (pubPort < 0) {
          hosts.release(src, host);
          return refusals.refuse(DropReason.portsExhausted, 'ports', `no free ${protoName(proto)} port on ${ipv4ToString(pubAddr)}`, now);
        }
      }
      m = mappings.add(proto, src, sport, keyAddr, keyPort, pubAddr, pubPort);
      host.mappings++;
      counters.mappingsCreated++;
    }
    let flags = 0;
    if (triggers.any) {
      const rule = triggers.ruleFor(proto, dport);
      if (rule >= 0) {
        flags |= FLOW_TRIGGER_SOURCE;
        const pubAddr = mappings.pubAddr[m];
        if (triggers.fire(rule, src, pubAddr, dst, now)) {
          events.emit({ type: 'trigger-activated', trigger: rule, insideAddr: src, remoteAddr: dst, publicAddr: pubAddr });
        }
      }
    }
    // The inside host dials what an ALG saw the outside peer announce: the flow joins that call.
    const dial = expectations.size ? expectations.matchDial(proto, src, sport, dst, dport, now) : null;
    if (dial) flags |= FLOW_CHILD;
    const tclass = proto === PROTO_UDP ? TIMEOUT_UDP : proto === PROTO_TCP ? TIMEOUT_TCP_TRANSITORY : TIMEOUT_ICMP;
    const id = flows.add(proto, src, sport, mappings.pubAddr[m], mappings.pubPort[m], dst, dport, m, tclass, flags, now);
    mappings.refs[m]++;
    host.flows++;
    counters.flowsCreated++;
    this.attach(id, proto, dport, dial);
    if (proto === PROTO_TCP && tcpFlags & TCP_SYN) {
      this.p.synHolds.cancel(dst, dport, mappings.pubAddr[m], mappings.pubPort[m]);
    }
    return id;
  }

  /** A packet on a flow to a trigger port: the trigger stays alive, or reopens for this host if it lapsed. */
  triggerFlowPacket(proto: number, src: number, pubAddr: number, dst: number, dport: number, now: number): void {
    const rule = this.p.triggers.refreshFromOutbound(proto, dport, src, pubAddr, dst, now);
    if (rule >= 0) this.p.events.emit({ type: 'trigger-activated', trigger: rule, insideAddr: src, remoteAddr: dst, publicAddr: pubAddr });
  }

  /**
   * A new flow for an inbound packet, or NO_FLOW when nothing admits it.
   * Hairpinned packets come from an inside host, and filtering guards against
   * the outside, so they pass it (RFC 4787 REQ-9: hairpinning must work, and
   * with dependent mapping the hairpinned source is a fresh mapping that no
   * dependent filter could know).
   */
  inbound(
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
    const { flows, hosts, mappings, expectations, triggers, forwards, pools, refusals, config, behaviour, counters, events } = this.p;
    // Only a SYN opens a TCP connection from outside; anything else is stray.
    const isSyn = (tcpFlags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN;
    if (proto === PROTO_TCP && !isSyn) return refusals.dropFlow(DropReason.tcpNoFlow);
    const m = mappings.findPublic(proto, dst, dport);
    let flags = FLOW_INBOUND;
    let inAddr: number;
    let inPort: number;
    let exp: Expectation | null = null;
    let trigger = -1;
    if (m !== NO_MAPPING) {
      inAddr = mappings.inAddr[m];
      inPort = mappings.inPort[m];
      // A forward's later flows find the mapping its first flow made: still forwarded flows.
      if (forwards.lookup(proto, dst, dport) !== undefined) flags |= FLOW_FORWARDED;
      let admitted =
        hairpin ||
        behaviour.filter === 0 ||
        (behaviour.filter === 1 && this.liveFlowToAddress(proto, src, dst, dport, now)) ||
        (flags & FLOW_FORWARDED) !== 0;
      if (!admitted && expectations.size) {
        exp = expectations.matchInbound(proto, dst, dport, src, sport, now);
        admitted = exp !== null && exp.insideAddr === inAddr && exp.insidePort === inPort;
        if (admitted) flags |= FLOW_EXPECTED | FLOW_CHILD;
        else exp = null;
      }
      if (!admitted && triggers.any) {
        trigger = triggers.matchInbound(proto, dst, dport, src, now);
        admitted = trigger >= 0 && triggers.get(trigger)!.insideAddr === inAddr;
        if (admitted) flags |= FLOW_TRIGGERED;
      }
      if (!admitted) return this.unsolicited(pkt, proto, isSyn, src, sport, dst, dport, DropReason.filtered, now);
    } else {
      const fwd = forwards.lookup(proto, dst, dport);
      exp = fwd ? null : expectations.size ? expectations.matchInbound(proto, dst, dport, src, sport, now) : null;
      if (fwd) {
        inAddr = fwd.insideAddr;
        inPort = fwd.insidePort;
        flags |= FLOW_FORWARDED;
      } else if (exp) {
        inAddr = exp.insideAddr;
        inPort = exp.insidePort;
        flags |= FLOW_EXPECTED | FLOW_CHILD;
      } else if (triggers.any && (trigger = triggers.matchInbound(proto, dst, dport, src, now)) >= 0) {
        inAddr = triggers.get(trigger)!.insideAddr;
        inPort = dport;
        flags |= FLOW_TRIGGERED;
      } else {
        return this.unsolicited(pkt, proto, isSyn, src, sport, dst, dport, DropReason.noMapping, now);
      }
    }
    if (flows.full) return refusals.refuse(DropReason.flowLimit, 'flows', `flow table full (${config.limits.flows})`, now);
    const host = hosts.obtain(inAddr);
    if (host.flows >= config.limits.flowsPerHost) {
      hosts.release(inAddr, host);
      return refusals.refuse(DropReason.hostFlowLimit, 'flowsPerHost', `inside host ${ipv4ToString(inAddr)} at ${host.flows} flows`, now);
    }
    let mapping = m;
    if (mapping === NO_MAPPING) {
      // The public port is already held (by the forward, the expectation or the
      // trigger range); the mapping takes its own reference. Such mappings are
      // keyed endpoint-independently whatever the mapping behaviour: the public
      // port was fixed in advance, not chosen per destination.
      pools.of(dst, proto).hold(dport);
      mapping = mappings.add(proto, inAddr, inPort, 0, 0, dst, dport);
      host.mappings++;
      counters.mappingsCreated++;
    }
    const tclass = proto === PROTO_UDP ? TIMEOUT_UDP : proto === PROTO_TCP ? TIMEOUT_TCP_TRANSITORY : TIMEOUT_ICMP;
    const id = flows.add(proto, inAddr, inPort, dst, dport, src, sport, mapping, tclass, flags, now);
    mappings.refs[mapping]++;
    host.flows++;
    counters.flowsCreated++;
    this.attach(id, proto, inPort, exp);
    if (flags & FLOW_FORWARDED) {
      events.emit({ type: 'forward', proto, publicAddr: dst, publicPort: dport, insideAddr: inAddr, insidePort: inPort, remoteAddr: src, remotePort: sport });
    }
    if (trigger >= 0) triggers.touchByUse(trigger, now);
    return id;
  }

  /**
   * The new flow's helper: the one its expectation names, else the one whose
   * ports cover it (`port`: the destination port outbound, the inside port
   * inbound). A flow an expectation admitted joins the expectation's group.
   */
  private attach(id: number, proto: number, port: number, exp: Expectation | null): void {
    this.p.changes.flowAdded(id, this.p.flows.created[id]);
    if (exp && exp.attach !== 0) this.p.flows.helper[id] = exp.attach;
    else this.p.helpers.attachByPort(id, proto, port);
    if (exp) this.p.pinholes.used(exp, id);
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
    const { synHolds, refusals, events, config } = this.p;
    if (proto === PROTO_TCP && isSyn) {
      const ok = synHolds.hold(src, sport, dst, dport, pkt, now + config.tcpSynHoldMs);
      if (!ok) events.limit('pendingSyns', `SYN hold table full (${config.limits.pendingSyns})`, now);
      return refusals.dropFlow(ok ? DropReason.synHeld : DropReason.synHoldOverflow);
    }
    return refusals.dropFlow(reason);
  }

  private liveFlowToAddress(proto: number, rem: number, pub: number, pubPort: number, now: number): boolean {
    const flows = this.p.flows;
    const id = flows.findByRemoteAddress(proto, rem, pub, pubPort);
    return id !== NO_FLOW && !flows.isExpired(id, now);
  }
}

function protoName(p: number): string {
  return p === PROTO_TCP ? 'tcp' : p === PROTO_UDP ? 'udp' : p === PROTO_ICMP ? 'icmp' : String(p);
}
