/**
 * Expiry: flows leave the table when their time is up (swept from the heads
 * of the expiry lists), taking their mapping when no other flow uses it; once
 * a second, housekeeping expires what lives outside the flow table:
 * expectations, triggers, held fragments and held SYNs (answered with an ICMP
 * port unreachable when so configured, RFC 5382 REQ-4).
 */
import { buildIcmpError, ICMP_DEST_UNREACHABLE, UNREACH_PORT } from '../wire/icmp.js';
import { DropReason } from './counters.js';
import type { FlowEndReason } from './events.js';
import { readFlowInfo } from './flow-info.js';
import { FLOW_CHILD } from './flow-table.js';
import type { NatParts } from './parts.js';
import { Side } from './verdict.js';

const HOUSEKEEPING_INTERVAL_MS = 1000;

export class Expiry {
  private nextHousekeeping = 0;

  constructor(private readonly p: NatParts) {}

  /** For FlowTable.sweep: a flow whose time is up. */
  readonly onExpired = (id: number): void => {
    this.p.counters.flowsExpired++;
    this.removeFlow(id);
  };

  /** Removes a flow, and its mapping when no other flow uses it. */
  removeFlow(id: number, reason: FlowEndReason = 'expired'): void {
    const { flows, hosts, mappings, pools, events } = this.p;
    if (events.flowListening) events.flow('destroy', readFlowInfo(flows, id), reason);
    const m = flows.mapping[id];
    const inAddr = flows.inAddr[id];
    if (flows.helper[id] !== 0) this.p.helpers.flowGone(id);
    if (flows.flags[id] & FLOW_CHILD) this.p.pinholes.forgetFlow(id);
    this.p.changes.flowRemoved(flows.proto[id], inAddr, flows.inPort[id], flows.remAddr[id], flows.remPort[id]);
    flows.remove(id);
    const host = hosts.get(inAddr);
    if (host) host.flows--;
    if (--mappings.refs[m] === 0) {
      pools.of(mappings.pubAddr[m], mappings.proto[m]).release(mappings.pubPort[m]);
      mappings.remove(m);
      if (host) host.mappings--;
    }
    if (host) hosts.release(inAddr, host);
  }

  /** Whether housekeeping is due (the engine asks on its sweep, every few milliseconds). */
  due(now: number): boolean {
    return now >= this.nextHousekeeping;
  }

  housekeeping(now: number): void {
    const { pinholes, triggers, fragments, synHolds, counters, config, events, emitted } = this.p;
    this.nextHousekeeping = now + HOUSEKEEPING_INTERVAL_MS;
    pinholes.expireDue(now);
    this.p.portMappings.expire(now);
    for (const { rule, trigger } of triggers.expire(now)) {
      events.emit({ type: 'trigger-expired', trigger: rule, insideAddr: trigger.insideAddr });
    }
    counters.drops[DropReason.fragmentOrphan] += fragments.expire(now);
    for (const held of synHolds.due(now)) {
      if (config.unsolicitedSyn !== 'icmp') continue;
      emitted.push({
        side: Side.Outside,
        packet: buildIcmpError(held.publicAddr, ICMP_DEST_UNREACHABLE, UNREACH_PORT, held.packet, 8),
      });
      counters.icmpErrorsSent++;
    }
  }
}
