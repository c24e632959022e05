/**
 * The engine's state as a plain, versioned value, and back: what a shell
 * writes to disk to survive a restart, or sends to a standby to survive a
 * failover (src/gateway/state). Pure: values in, values out, time passed in.
 *
 * A batch is either the whole state (`full`: applying it makes the engine
 * hold exactly that) or the changes since the previous batch (flows created
 * and removed, expectations and port mappings opened, changed or closed),
 * read through the change feed. Flows travel as columns of typed arrays, as
 * the flow table keeps them: a snapshot of a million flows is a few copies,
 * not a million objects.
 *
 * Times are the engine clock's at export (`at`); whoever applies a batch
 * says how much real time passed since (`elapsedMs`), so every time moves
 * by the same amount and what expired meanwhile is not brought back.
 *
 * Kept: flows (tuples, mapping keys, TCP state, timeout class, counters, the
 * helper by name, the group of the expectation that admitted them),
 * expectations with their ids, owners and groups, port mappings, active
 * triggers; mappings and port holds follow from them. Not kept: held SYNs and
 * fragments (seconds-long), counters, ALG state (the ALG framework's, beside
 * this: src/alg/attach.ts).
 */
import type { ExpectationClass, ExpectationDirection } from './expectations.js';

export const ENGINE_STATE_VERSION = 1;

/** Flows as columns; `helper` indexes `EngineStateBatch.names`, `group` indexes `groups` (-1: none). */
export interface FlowColumns {
  count: number;
  proto: Uint8Array;
  state: Uint8Array;
  flags: Uint8Array;
  tclass: Uint8Array;
  helper: Uint16Array;
  group: Int32Array;
  inAddr: Uint32Array;
  pubAddr: Uint32Array;
  remAddr: Uint32Array;
  keyRemAddr: Uint32Array;
  inPort: Uint16Array;
  pubPort: Uint16Array;
  remPort: Uint16Array;
  keyRemPort: Uint16Array;
  created: Float64Array;
  lastSeen: Float64Array;
  packetsOut: Float64Array;
  packetsIn: Float64Array;
  bytesOut: Float64Array;
  bytesIn: Float64Array;
}

/** Flows gone since the previous batch, by the tuple that finds them from inside. */
export interface RemovedFlows {
  count: number;
  proto: Uint8Array;
  inAddr: Uint32Array;
  inPort: Uint16Array;
  remAddr: Uint32Array;
  remPort: Uint16Array;
}

export interface ExpectationRecord {
  id: number;
  proto: number;
  insideAddr: number;
  insidePort: number;
  publicAddr: number;
  publicPort: number;
  remoteAddr: number;
  remotePort: number;
  ttlMs: number;
  singleUse: boolean;
  group: string;
  helper: string;
  reason: string;
  direction: ExpectationDirection;
  cls: ExpectationClass;
  /** The handler the admitted flow gets, by name; null: chosen by port. */
  attach: string | null;
  expiresAt: number;
  uses: number;
}

export interface PortMappingRecord {
  id: number;
  proto: number;
  insideAddr: number;
  insidePort: number;
  publicAddr: number;
  publicPort: number;
  owner: string;
  description: string;
  created: number;
  expiresAt: number;
}

/** An active port trigger; `rule` with its ports, so a changed configuration is noticed. */
export interface TriggerRecord {
  rule: number;
  proto: number;
  first: number;
  last: number;
  insideAddr: number;
  publicAddr: number;
  remoteAddr: number;
  lastActivity: number;
}

export interface EngineStateBatch {
  version: typeof ENGINE_STATE_VERSION;
  /** The whole state (apply makes the engine hold exactly it), or changes since the previous batch. */
  full: boolean;
  /** Engine clock time of the export. */
  at: number;
  /** Helper names the flows' `helper` column indexes; 0 is none. */
  names: string[];
  /** Groups (helper, group) the flows' `group` column indexes. */
  groups: Array<[string, string]>;
  /** Every flow (full), or the flows created since the previous batch. */
  flows: FlowColumns;
  removed: RemovedFlows;
  expectations: ExpectationRecord[];
  expectationsRemoved: number[];
  portMappings: PortMappingRecord[];
  portMappingsRemoved: number[];
  /** The active triggers; null when the engine has none configured. */
  triggers: TriggerRecord[] | null;
}

/** What applying a batch did; `skipped` are entries left out, by reason. */
export interface ApplyReport {
  flows: number;
  flowsRemoved: number;
  expectations: number;
  portMappings: number;
  triggers: number;
  skipped: { expired: number; conflict: number; limit: number; unknown: number };
}

/**
 * Where an export puts its flows: columns for `n` flows, given by the caller
 * (a state store lays them out inside the record it will write, so the
 * export is the only copy). Every element is written by the export.
 */
export type FlowColumnsFor = (n: number) => FlowColumns;

export function emptyFlowColumns(n: number): FlowColumns {
  return {
    count: n,
    proto: new Uint8Array(n),
    state: new Uint8Array(n),
    flags: new Uint8Array(n),
    tclass: new Uint8Array(n),
    helper: new Uint16Array(n),
    group: new Int32Array(n),
    inAddr: new Uint32Array(n),
    pubAddr: new Uint32Array(n),
    remAddr: new Uint32Array(n),
    keyRemAddr: new Uint32Array(n),
    inPort: new Uint16Array(n),
    pubPort: new Uint16Array(n),
    remPort: new Uint16Array(n),
    keyRemPort: new Uint16Array(n),
    created: new Float64Array(n),
    lastSeen: new Float64Array(n),
    packetsOut: new Float64Array(n),
    packetsIn: new Float64Array(n),
    bytesOut: new Float64Array(n),
    bytesIn: new Float64Array(n),
  };
}

export function emptyRemovedFlows(n: number): RemovedFlows {
  return { count: n, proto: new Uint8Array(n), inAddr: new Uint32Array(n), inPort: new Uint16Array(n), remAddr: new Uint32Array(n), remPort: new Uint16Array(n) };
}

/** The column names of FlowColumns, in a fixed order (the store writes them in this order). */
export const FLOW_COLUMN_NAMES = [
  'proto',
  'state',
  'flags',
  'tclass',
  'helper',
  'group',
  'inAddr',
  'pubAddr',
  'remAddr',
  'keyRemAddr',
  'inPort',
  'pubPort',
  'remPort',
  'keyRemPort',
  'created',
  'lastSeen',
  'packetsOut',
  'packetsIn',
  'bytesOut',
  'bytesIn',
] as const satisfies ReadonlyArray<Exclude<keyof FlowColumns, 'count'>>;

export const REMOVED_COLUMN_NAMES = ['proto', 'inAddr', 'inPort', 'remAddr', 'remPort'] as const satisfies ReadonlyArray<Exclude<keyof RemovedFlows, 'count'>>;
