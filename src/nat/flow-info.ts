/**
 * One flow as a plain value, read out of the flow table's columns: what
 * listings, events and tools see. Reading it allocates, so the packet path
 * never does; listings and events build it only for the flows they show.
 */
import type { FlowTable } from './flow-table.js';

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

export function readFlowInfo(f: FlowTable, id: number): FlowInfo {
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
