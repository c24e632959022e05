/**
 * Which flows a listing, a count, a deletion or an event stream is about, in
 * conntrack's terms: the original direction is the packet that opened the
 * flow, the reply direction what answers it. For a flow an inside host opened
 * that is (inside -> remote) and (remote -> public); for one admitted from
 * outside (a forward, an expectation, a trigger) it is (remote -> public) and
 * (inside -> remote). Every field is optional; all given must match.
 *
 * Matching reads the flow table's columns directly, without building a value
 * per flow, so a filter over a million flows costs a scan and nothing more.
 */
import type { FlowInfo } from './flow-info.js';
import { FLOW_INBOUND } from './flow-table.js';
import { describeTcpState } from './tcp-tracker.js';

export interface FlowFilter {
  proto?: number;
  /** Original direction: source and destination address and port (conntrack -s, -d, --sport, --dport). */
  src?: number;
  dst?: number;
  sport?: number;
  dport?: number;
  /** Reply direction: source and destination address (conntrack -r, -q). */
  replySrc?: number;
  replyDst?: number;
  /** Any of the flow's three endpoints has this address (inside, public or remote). */
  address?: number;
  /** Any of the flow's three endpoints has this port. */
  port?: number;
  /** TCP states by conntrack's names (ESTABLISHED, TIME_WAIT, ...); other protocols never match a state. */
  tcpStates?: ReadonlySet<string>;
  /** Traffic seen both ways (conntrack's ASSURED) or not (UNREPLIED). */
  replied?: boolean;
  /** The engine helper (ALG) ids, one of which is attached; 0 stands for flows without one. */
  helpers?: ReadonlySet<number>;
}

/** The flow table's columns a filter reads (a FlowTable is one; so is a one-row view of a FlowInfo). */
export type FlowColumns = {
  readonly [K in 'proto' | 'helper' | 'flags' | 'state' | 'inAddr' | 'inPort' | 'pubAddr' | 'pubPort' | 'remAddr' | 'remPort' | 'packetsIn' | 'packetsOut']: ArrayLike<number>;
};

/** True when the live flow `id` matches every field the filter gives. */
export function flowMatches(f: FlowColumns, id: number, filter: FlowFilter): boolean {
  if (filter.proto !== undefined && f.proto[id] !== filter.proto) return false;
  if (filter.helpers !== undefined && !filter.helpers.has(f.helper[id])) return false;
  const inbound = (f.flags[id] & FLOW_INBOUND) !== 0;
  // Original and reply tuples as conntrack shows them.
  const origSrc = inbound ? f.remAddr[id] : f.inAddr[id];
  const origDst = inbound ? f.pubAddr[id] : f.remAddr[id];
  if (filter.src !== undefined && origSrc !== filter.src) return false;
  if (filter.dst !== undefined && origDst !== filter.dst) return false;
  if (filter.sport !== undefined && (inbound ? f.remPort[id] : f.inPort[id]) !== filter.sport) return false;
  if (filter.dport !== undefined && (inbound ? f.pubPort[id] : f.remPort[id]) !== filter.dport) return false;
  if (filter.replySrc !== undefined && (inbound ? f.inAddr[id] : f.remAddr[id]) !== filter.replySrc) return false;
  if (filter.replyDst !== undefined && (inbound ? f.remAddr[id] : f.pubAddr[id]) !== filter.replyDst) return false;
  if (filter.address !== undefined) {
    const a = filter.address;
    if (f.inAddr[id] !== a && f.pubAddr[id] !== a && f.remAddr[id] !== a) return false;
  }
  if (filter.port !== undefined) {
    const p = filter.port;
    if (f.inPort[id] !== p && f.pubPort[id] !== p && f.remPort[id] !== p) return false;
  }
  if (filter.replied !== undefined) {
    const replied = f.packetsIn[id] > 0 && f.packetsOut[id] > 0;
    if (replied !== filter.replied) return false;
  }
  if (filter.tcpStates !== undefined) {
    if (f.proto[id] !== 6 || !filter.tcpStates.has(describeTcpState(f.state[id]))) return false;
  }
  return true;
}

/** The same test on a flow value (an event's: the table may no longer hold the flow). */
export function flowInfoMatches(f: FlowInfo, filter: FlowFilter): boolean {
  const row: FlowColumns = {
    proto: [f.proto],
    helper: [f.helper],
    flags: [f.flags],
    state: [f.state],
    inAddr: [f.inside[0]],
    inPort: [f.inside[1]],
    pubAddr: [f.public[0]],
    pubPort: [f.public[1]],
    remAddr: [f.remote[0]],
    remPort: [f.remote[1]],
    packetsIn: [f.packetsIn],
    packetsOut: [f.packetsOut],
  };
  return flowMatches(row, 0, filter);
}

/** The filter that matches everything. */
export const ALL_FLOWS: FlowFilter = Object.freeze({});
