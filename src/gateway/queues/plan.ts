/**
 * The pure part of a multi-queue gateway: what each engine gets (its slice
 * of the public port space) and the table that steers inbound packets to the
 * engine owning their port (src/dataplane/tun/steering.ts).
 */
import type { ResolvedNatConfig } from '../../nat/config.js';
import { engineSlices, steeringTable, type EngineSlice, type SteeredForward } from '../../dataplane/tun/steering.js';

/** The engine configuration of queue `q`: the same NAT, public ports (and ICMP identifiers) from its own slice only. */
export function slicedNatConfig(nat: ResolvedNatConfig, slice: EngineSlice): ResolvedNatConfig {
  return {
    ...nat,
    ports: { ...nat.ports, range: [...slice.range], lowRange: [...slice.lowRange], icmpRange: [...slice.icmpRange], icmpLowRange: [...slice.icmpLowRange] },
  };
}

/** The static forwards as the steering table needs them. */
export function steeredForwards(nat: ResolvedNatConfig): SteeredForward[] {
  return nat.forwards.map((f) => ({ protocols: [f.proto], ports: [f.first, f.last] as const, to: f.inside }));
}

export interface QueuePlan {
  slices: EngineSlice[];
  /** The outside device's table: public port (per protocol) to queue. */
  table: Uint32Array;
}

export function planQueues(nat: ResolvedNatConfig, queues: number): QueuePlan {
  const slices = engineSlices(nat.ports, queues);
  for (const [q, s] of slices.entries()) {
    if (s.range[0] > s.range[1]) throw new RangeError(`ports.range ${nat.ports.range.join('-')} is too short for ${queues} queues (queue ${q} gets no port)`);
  }
  return { slices, table: steeringTable(slices, steeredForwards(nat)) };
}
