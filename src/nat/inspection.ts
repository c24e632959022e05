/**
 * Inspection: what the engine holds, as plain values for tools (the flow
 * listing of `masq conntrack`, the status endpoint, the dashboard) and for
 * shells that must ask about a flow without reaching into the tables (the
 * pcap LAN side). Not for the packet path.
 */
import type { Expectation } from './expectations.js';
import { NO_FLOW } from './flow-table.js';
import { NO_MAPPING } from './mapping-table.js';
import type { NatParts } from './parts.js';

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
    const f = this.p.flows;
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
