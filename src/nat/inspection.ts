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

/** A call (an ALG's group): its pinholes and the flows they admitted. */
export interface CallInfo {
  alg: string;
  group: string;
  insideAddrs: number[];
  expectations: Expectation[];
  flows: number[];
}

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
   * Live flows by protocol and state, counted in one pass over the columns
   * (for metrics, which ask every scrape): TCP by its state bits, the others
   * 1 when traffic went both ways, else 0.
   */
  countByState(now: number): Map<number, Map<number, number>> {
    const f = this.p.flows;
    const tcp = new Float64Array(256);
    const other = new Map<number, Float64Array>([
      [17, new Float64Array(2)],
      [1, new Float64Array(2)],
    ]);
    const udp = other.get(17)!;
    const icmp = other.get(1)!;
    for (let id = 0, end = f.slotEnd; id < end; id++) {
      const proto = f.proto[id];
      if (proto === 0 || f.isExpired(id, now)) continue;
      if (proto === 6) tcp[f.state[id]]++;
      else {
        const replied = f.packetsIn[id] > 0 && f.packetsOut[id] > 0 ? 1 : 0;
        if (proto === 17) udp[replied]++;
        else if (proto === 1) icmp[replied]++;
      }
    }
    const nonZero = (counts: Float64Array) => new Map([...counts.entries()].filter(([, n]) => n > 0));
    return new Map([
      [6, nonZero(tcp)],
      [17, nonZero(udp)],
      [1, nonZero(icmp)],
    ]);
  }

  /**
   * Calls (an ALG's groups): the expectations and the flows each holds, from
   * the groups' own tables (their size is the calls', not the flow table's).
   */
  calls(now: number): CallInfo[] {
    const byKey = new Map<string, CallInfo>();
    const get = (alg: string, group: string) => {
      const key = `${alg}\u0000${group}`;
      let c = byKey.get(key);
      if (!c) byKey.set(key, (c = { alg, group, insideAddrs: [], expectations: [], flows: [] }));
      return c;
    };
    for (const e of this.listExpectations(now)) {
      const c = get(e.helper, e.group);
      c.expectations.push(e);
      if (!c.insideAddrs.includes(e.insideAddr)) c.insideAddrs.push(e.insideAddr);
    }
    for (const g of this.p.pinholes.groupsWithFlows()) {
      const c = get(g.helper, g.group);
      for (const id of g.flows) {
        if (!this.p.flows.isLive(id) || this.p.flows.isExpired(id, now)) continue;
        c.flows.push(id);
        const inside = this.p.flows.inAddr[id];
        if (!c.insideAddrs.includes(inside)) c.insideAddrs.push(inside);
      }
    }
    return [...byKey.values()];
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
