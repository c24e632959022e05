/**
 * Inspection: what the engine holds, as plain values for tools (the flow
 * listing of `masq conntrack`, the status endpoint, the dashboard) and for
 * shells that must ask about a flow without reaching into the tables (the
 * pcap LAN side). Not for the packet path.
 */
import type { Expectation } from './expectations.js';
import { readFlowInfo, type FlowInfo } from './flow-info.js';
import { flowMatches, type FlowFilter } from './flow-filter.js';
import { NO_FLOW } from './flow-table.js';
import { NO_MAPPING } from './mapping-table.js';
import type { NatParts } from './parts.js';

export type { FlowInfo } from './flow-info.js';

/** How much the engine holds, for status lines and summaries. */
export interface TableSizes {
  flows: number;
  mappings: number;
  expectations: number;
  hosts: number;
}

export class Inspection {
  constructor(private readonly p: NatParts) {}

  flowInfo(id: number): FlowInfo {
    return readFlowInfo(this.p.flows, id);
  }

  listFlows(now: number): FlowInfo[] {
    const out: FlowInfo[] = [];
    for (const id of this.p.flows.ids()) if (!this.p.flows.isExpired(id, now)) out.push(this.flowInfo(id));
    return out;
  }

  /** The first `limit` live flows, and how many there are in all. */
  flowPage(now: number, limit: number): { total: number; flows: FlowInfo[] } {
    const flows: FlowInfo[] = [];
    let total = 0;
    for (const id of this.p.flows.ids()) {
      if (this.p.flows.isExpired(id, now)) continue;
      total++;
      if (flows.length < limit) flows.push(this.flowInfo(id));
    }
    return { total, flows };
  }

  /**
   * Visits the live flows matching `filter` among the table's rows from
   * `cursor`, at most `budget` rows; returns where the next slice starts, or
   * -1 when the table is done. A listing of a large table runs as slices with
   * the packet path in between (the table may change between two slices: a
   * flow created meanwhile may or may not be listed, as in a conntrack dump).
   */
  scan(cursor: number, budget: number, filter: FlowFilter, now: number, visit: (id: number) => void): number {
    const f = this.p.flows;
    const end = Math.min(f.slotEnd, cursor + budget);
    for (let id = cursor; id < end; id++) {
      if (f.proto[id] === 0 || f.isExpired(id, now)) continue;
      if (flowMatches(f, id, filter)) visit(id);
    }
    return end >= f.slotEnd ? -1 : end;
  }

  /**
   * Live flows by protocol and raw state (TCP's state bits; 0 for the others),
   * counted in one pass over the columns: for metrics, which ask every scrape.
   */
  countByState(now: number): Map<number, Map<number, number>> {
    const f = this.p.flows;
    const out = new Map<number, Map<number, number>>();
    const tcp = new Float64Array(256);
    let udp = 0;
    let icmp = 0;
    for (let id = 0, end = f.slotEnd; id < end; id++) {
      const proto = f.proto[id];
      if (proto === 0 || f.isExpired(id, now)) continue;
      if (proto === 6) tcp[f.state[id]]++;
      else if (proto === 17) udp++;
      else if (proto === 1) icmp++;
    }
    const states = new Map<number, number>();
    tcp.forEach((n, state) => {
      if (n > 0) states.set(state, n);
    });
    out.set(6, states);
    out.set(17, new Map([[0, udp]]));
    out.set(1, new Map([[0, icmp]]));
    return out;
  }

  /** The live expectations (pinholes), oldest first. */
  listExpectations(now: number): Expectation[] {
    return this.p.expectations.list().filter((e) => e.expiresAt > now);
  }

  sizes(): TableSizes {
    return {
      flows: this.p.flows.size,
      mappings: this.p.mappings.size,
      expectations: this.p.expectations.size,
      hosts: this.p.hosts.size,
    };
  }

  /** Public endpoint an inside endpoint maps to toward a remote, or null (for tests and tools). */
  lookupMapping(proto: number, inAddr: number, inPort: number, remAddr: number, remPort: number): [number, number] | null {
    const { mappings, behaviour } = this.p;
    const m = mappings.findInside(proto, inAddr, inPort, behaviour.mappingKeysAddress ? remAddr : 0, behaviour.mappingKeysPort ? remPort : 0);
    return m === NO_MAPPING ? null : [mappings.pubAddr[m], mappings.pubPort[m]];
  }

  /** The public endpoint of the flow from an inside endpoint to a remote one, or null when there is no such flow. */
  flowPublicEndpoint(proto: number, inAddr: number, inPort: number, remAddr: number, remPort: number): [number, number] | null {
    const flows = this.p.flows;
    const id = flows.findOutbound(proto, inAddr, inPort, remAddr, remPort);
    return id === NO_FLOW ? null : [flows.pubAddr[id], flows.pubPort[id]];
  }
}
