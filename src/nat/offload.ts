/**
 * Handing established flows to a kernel fast path (the gateway's nftables
 * table: dataplane/tun/kernel-offload.ts), the flow table's side of it:
 * which flows may go, the flag that says one went, and the activity the
 * kernel reports coming back to the flow as if masq had carried it.
 *
 * A flow may go when nothing but its addresses and ports would change on
 * the way through masq: no ALG on it (the ALG must see every message, and
 * its sequence offsets live here), no port trigger kept alive by it, both
 * directions seen, TCP past its handshake, not a hairpin (that takes two
 * translations), and at least `minPackets` packets carried, so that short
 * exchanges (a DNS query, an FTP data connection of one small file) never
 * cost a table change.
 */
import { PROTO_TCP, PROTO_UDP } from '../wire/ipv4.js';
import { TcpPhase, tcpPhase } from './tcp-tracker.js';
import { FLOW_REPLIED, FLOW_TRIGGERED, FLOW_TRIGGER_SOURCE, type FlowTable } from './flow-table.js';

/** Flow flag: the kernel carries this flow's packets (masq sees only its TCP control segments, fragments and ICMP errors). */
export const FLOW_OFFLOADED = 128;

const KEEPS_MASQ = FLOW_OFFLOADED | FLOW_TRIGGERED | FLOW_TRIGGER_SOURCE;

/** `addresses`: which addresses are the gateway's own (the engine's address plan; no closure per call, this runs per packet). */
export function offloadable(flows: FlowTable, id: number, minPackets: number, addresses: { isPublic(addr: number): boolean }): boolean {
  const flags = flows.flags[id];
  if ((flags & KEEPS_MASQ) !== 0 || (flags & FLOW_REPLIED) === 0 || flows.helper[id] !== 0) return false;
  if (flows.packetsOut[id] + flows.packetsIn[id] < minPackets) return false;
  const proto = flows.proto[id];
  if (proto === PROTO_TCP) {
    if (tcpPhase(flows.state[id]) !== TcpPhase.Established) return false;
  } else if (proto !== PROTO_UDP) {
    return false;
  }
  return !addresses.isPublic(flows.remAddr[id]);
}

/** What the kernel carried for a flow since the last report. */
export interface OffloadedActivity {
  packetsOut: number;
  bytesOut: number;
  packetsIn: number;
  bytesIn: number;
}

/**
 * Counts what the kernel carried as the flow's traffic and refreshes it the
 * way masq's own packets would have: outbound packets always, inbound ones
 * for TCP, and for UDP only when inbound refresh is configured.
 */
export function creditOffloaded(flows: FlowTable, id: number, a: OffloadedActivity, udpInboundRefresh: boolean, now: number): void {
  flows.packetsOut[id] += a.packetsOut;
  flows.bytesOut[id] += a.bytesOut;
  flows.packetsIn[id] += a.packetsIn;
  flows.bytesIn[id] += a.bytesIn;
  const refresh = a.packetsOut > 0 || (a.packetsIn > 0 && (flows.proto[id] === PROTO_TCP || udpInboundRefresh));
  if (refresh) flows.touch(id, now);
}
