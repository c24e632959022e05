/**
 * What the status endpoint serves, as plain JSON: flows, expectations and
 * counters with addresses as text. `masq conntrack` reads the same shapes.
 */
import type { CallInfo, FlowInfo } from '../nat/engine.js';
import type { Expectation } from '../nat/expectations.js';
import type { PortMapping } from '../nat/port-mappings.js';
import { FLOW_EXPECTED, FLOW_FORWARDED, FLOW_INBOUND, FLOW_REPLIED, FLOW_TRIGGERED } from '../nat/flow-table.js';
import { FLOW_OFFLOADED } from '../nat/offload.js';
import { describeTcpState } from '../nat/tcp-tracker.js';
import { ipv4ToString } from '../wire/address.js';
import { protoName } from './logging.js';

export interface EndpointJson {
  address: string;
  port: number;
}

/** How a flow began: inside host first, or admitted from outside by a rule. */
export type FlowOrigin = 'outbound' | 'forward' | 'expected' | 'trigger' | 'inbound';

export interface FlowJson {
  id: number;
  proto: string;
  protoNumber: number;
  /** TCP connection state (conntrack's names); null for UDP and ICMP. */
  tcpState: string | null;
  origin: FlowOrigin;
  /** Traffic seen both ways (conntrack: ASSURED; otherwise UNREPLIED). */
  replied: boolean;
  inside: EndpointJson;
  public: EndpointJson;
  remote: EndpointJson;
  /** Seconds until the flow expires if nothing more passes. */
  timeoutSeconds: number;
  ageSeconds: number;
  packets: { out: number; in: number };
  bytes: { out: number; in: number };
  /** The ALG attached to the flow, if any. */
  helper: string | null;
  /** The kernel carries its packets (gateway kernel offload); its counters arrive from the kernel a little late. */
  offloaded: boolean;
}

export interface FlowsResponse {
  total: number;
  truncated: boolean;
  flows: FlowJson[];
}

export interface ExpectationJson {
  id: number;
  proto: string;
  public: EndpointJson;
  inside: EndpointJson;
  /** Address "*" / port 0: any. */
  remote: { address: string; port: number };
  timeoutSeconds: number;
  singleUse: boolean;
  uses: number;
  group: string;
  helper: string;
  reason: string;
  /** Traffic class (signalling, audio, video, data): the ALG's policy caps each. */
  class: string;
  /** inbound: admits a remote in; outbound: names the connection an inside host will dial. */
  direction: string;
}

/** A call (an ALG's group): who is in it, its pinholes and flows. */
export interface CallJson {
  alg: string;
  group: string;
  inside: string[];
  expectations: number;
  flows: number;
  /** The flows' packets and bytes, both ways together. */
  packets: number;
  bytes: number;
}

export interface ExpectationsResponse {
  total: number;
  expectations: ExpectationJson[];
}

const ep = (addr: number, port: number): EndpointJson => ({ address: ipv4ToString(addr), port });

function flowOrigin(flags: number): FlowOrigin {
  if (flags & FLOW_FORWARDED) return 'forward';
  if (flags & FLOW_EXPECTED) return 'expected';
  if (flags & FLOW_TRIGGERED) return 'trigger';
  if (flags & FLOW_INBOUND) return 'inbound';
  return 'outbound';
}

const seconds = (ms: number) => Math.max(0, Math.round(ms / 100) / 10);

export function flowToJson(f: FlowInfo, now: number, helperName: (id: number) => string | null = () => null): FlowJson {
  return {
    id: f.id,
    proto: protoName(f.proto),
    protoNumber: f.proto,
    tcpState: f.proto === 6 ? describeTcpState(f.state) : null,
    origin: flowOrigin(f.flags),
    replied: f.packetsIn > 0 && f.packetsOut > 0,
    inside: ep(f.inside[0], f.inside[1]),
    public: ep(f.public[0], f.public[1]),
    remote: ep(f.remote[0], f.remote[1]),
    timeoutSeconds: seconds(f.expiresAt - now),
    ageSeconds: seconds(now - f.created),
    packets: { out: f.packetsOut, in: f.packetsIn },
    bytes: { out: f.bytesOut, in: f.bytesIn },
    helper: f.helper === 0 ? null : (helperName(f.helper) ?? `#${f.helper}`),
    offloaded: (f.flags & FLOW_OFFLOADED) !== 0,
  };
}

/** What an expectation listing shows of one (an Expectation is one). */
export type ExpectationView = Pick<
  Expectation,
  'id' | 'proto' | 'publicAddr' | 'publicPort' | 'insideAddr' | 'insidePort' | 'remoteAddr' | 'remotePort' | 'expiresAt' | 'singleUse' | 'uses' | 'group' | 'helper' | 'reason' | 'cls' | 'direction'
>;

export function expectationToJson(e: ExpectationView, now: number): ExpectationJson {
  return {
    id: e.id,
    proto: protoName(e.proto),
    public: ep(e.publicAddr, e.publicPort),
    inside: ep(e.insideAddr, e.insidePort),
    remote: { address: e.remoteAddr === 0 ? '*' : ipv4ToString(e.remoteAddr), port: e.remotePort },
    timeoutSeconds: seconds(e.expiresAt - now),
    singleUse: e.singleUse,
    uses: e.uses,
    group: e.group,
    helper: e.helper,
    reason: e.reason,
    class: e.cls,
    direction: e.direction,
  };
}

/** A port mapping an inside host asked for (PCP, NAT-PMP, UPnP IGD). */
export interface PortMappingJson {
  id: number;
  proto: string;
  public: EndpointJson;
  inside: EndpointJson;
  /** The protocol that made it: pcp, natpmp, upnp. */
  owner: string;
  description: string;
  timeoutSeconds: number;
  ageSeconds: number;
}

export interface PortMappingsResponse {
  total: number;
  portMappings: PortMappingJson[];
}

export function portMappingToJson(m: PortMapping, now: number): PortMappingJson {
  return {
    id: m.id,
    proto: protoName(m.proto),
    public: ep(m.publicAddr, m.publicPort),
    inside: ep(m.insideAddr, m.insidePort),
    owner: m.owner,
    description: m.description,
    timeoutSeconds: seconds(m.expiresAt - now),
    ageSeconds: seconds(now - m.created),
  };
}

export function callToJson(c: CallInfo, flowInfo: (id: number) => FlowInfo): CallJson {
  let packets = 0;
  let bytes = 0;
  for (const id of c.flows) {
    const f = flowInfo(id);
    packets += f.packetsIn + f.packetsOut;
    bytes += f.bytesIn + f.bytesOut;
  }
  return { alg: c.alg, group: c.group, inside: c.insideAddrs.map(ipv4ToString), expectations: c.expectations.length, flows: c.flows.length, packets, bytes };
}
