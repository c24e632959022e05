/**
 * The engine's parts: the tables and services every concern of the engine
 * shares (admission, ICMP errors, fragments, expiry, inspection). The engine
 * builds them once; each concern takes what it needs from here, and none of
 * them owns another.
 */
import type { ChangeFeed } from './change-feed.js';
import type { ResolvedNatConfig } from './config.js';
import type { NatCounters } from './counters.js';
import type { EventReporter } from './events.js';
import type { ExpectationTable } from './expectations.js';
import type { FlowTable } from './flow-table.js';
import type { ForwardTable } from './forwards.js';
import type { FragmentTable } from './fragments.js';
import type { Helpers } from './helpers.js';
import type { HostTable } from './hosts.js';
import type { AddressPlan } from './address-plan.js';
import type { MappingTable } from './mapping-table.js';
import type { Pinholes } from './pinholes.js';
import type { PortMappingTable } from './port-mappings.js';
import type { PortPools } from './port-pools.js';
import type { Refusals } from './refusals.js';
import type { SynHoldTable } from './syn-hold.js';
import type { TriggerTable } from './triggers.js';
import type { EmittedPacket } from './verdict.js';

/** The mapping and filtering behaviour (RFC 4787) as the lookups use it. */
export interface Behaviour {
  /** The mapping key carries the remote address (address-dependent or address-and-port-dependent mapping). */
  readonly mappingKeysAddress: boolean;
  /** The mapping key carries the remote port (address-and-port-dependent mapping). */
  readonly mappingKeysPort: boolean;
  /** 0 endpoint-independent, 1 address-dependent, 2 address-and-port-dependent filtering. */
  readonly filter: 0 | 1 | 2;
}

export interface NatParts {
  /** Replaced as a whole by a reload (reconfigure.ts); read it at use, not once. */
  config: ResolvedNatConfig;
  readonly behaviour: Behaviour;
  readonly counters: NatCounters;
  readonly events: EventReporter;
  readonly addresses: AddressPlan;
  readonly flows: FlowTable;
  readonly mappings: MappingTable;
  readonly expectations: ExpectationTable;
  readonly hosts: HostTable;
  readonly forwards: ForwardTable;
  readonly triggers: TriggerTable;
  readonly fragments: FragmentTable;
  readonly synHolds: SynHoldTable;
  readonly pools: PortPools;
  readonly refusals: Refusals;
  readonly pinholes: Pinholes;
  readonly helpers: Helpers;
  /** Port mappings inside hosts asked for (PCP, NAT-PMP, UPnP). */
  readonly portMappings: PortMappingTable;
  /** What changed, for a shell that persists or replicates the state (off unless enabled). */
  readonly changes: ChangeFeed;
  /** Packets the engine originated, until the shell drains them. */
  readonly emitted: EmittedPacket[];
}

export function behaviourOf(c: ResolvedNatConfig): Behaviour {
  return {
    mappingKeysAddress: c.mapping !== 'endpoint-independent',
    mappingKeysPort: c.mapping === 'address-and-port-dependent',
    filter: c.filtering === 'endpoint-independent' ? 0 : c.filtering === 'address-dependent' ? 1 : 2,
  };
}
