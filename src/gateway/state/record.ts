/**
 * One saved piece of a gateway's state: the engine's batch (whole or changes,
 * src/nat/snapshot.ts), the ALGs' states when they changed, and when it was
 * taken by the wall clock (the engine's clock starts again with each
 * process), with a sequence number so a journal record older than the
 * snapshot it follows is never replayed over it.
 *
 * Bytes: a JSON header (everything but the flow columns), then the columns
 * raw, each 8-byte aligned, in the fixed order of snapshot.ts. Decoding
 * checks every length and every field: a state file may be damaged, and a
 * standby's comes over the network.
 */
import { z } from 'zod';
import {
  emptyFlowColumns,
  emptyRemovedFlows,
  ENGINE_STATE_VERSION,
  FLOW_COLUMN_NAMES,
  REMOVED_COLUMN_NAMES,
  type EngineStateBatch,
  type FlowColumns,
  type RemovedFlows,
} from '../../nat/snapshot.js';

export interface StateRecord {
  /** Increases with every record a gateway writes. */
  seq: number;
  /** Wall-clock milliseconds (epoch) when the batch was exported. */
  wall: number;
  engine: EngineStateBatch;
  /** ALG name -> its exported state; only the ALGs whose state changed (all of them in a full record). */
  algs: Record<string, unknown>;
}

export class StateDecodeError extends Error {
  override name = 'StateDecodeError';
}

/** Refuses what no gateway writes: a bound on the JSON header and on flows in one record. */
const MAX_HEADER_BYTES = 256 * 1024 * 1024;
const MAX_FLOWS = 16_000_000;

const u32 = z.number().int().min(0).max(0xffffffff);
const port = z.number().int().min(0).max(65535);
const time = z.number().finite();
const proto = z.number().int().min(0).max(255);

const expectationRecord = z
  .object({
    id: z.number().int().min(1),
    proto,
    insideAddr: u32,
    insidePort: port,
    publicAddr: u32,
    publicPort: port,
    remoteAddr: u32,
    remotePort: port,
    ttlMs: time,
    singleUse: z.boolean(),
    group: z.string(),
    helper: z.string(),
    reason: z.string(),
    direction: z.enum(['inbound', 'outbound']),
    cls: z.enum(['signalling', 'audio', 'video', 'data']),
    attach: z.string().nullable(),
    expiresAt: time,
    uses: z.number().int().min(0),
  })
  .strict();

const portMappingRecord = z
  .object({
    id: z.number().int().min(1),
    proto,
    insideAddr: u32,
    insidePort: port,
    publicAddr: u32,
    publicPort: port,
    owner: z.string(),
    description: z.string(),
    created: time,
    expiresAt: time,
  })
  .strict();

const triggerRecord = z
  .object({ rule: z.number().int().min(0), proto, first: port, last: port, insideAddr: u32, publicAddr: u32, remoteAddr: u32, lastActivity: time })
  .strict();

const header = z
  .object({
    seq: z.number().int().min(0),
    wall: time,
    algs: z.record(z.string(), z.unknown()),
    engine: z
      .object({
        version: z.literal(ENGINE_STATE_VERSION),
        full: z.boolean(),
        at: time,
        names: z.array(z.string()).max(256),
        groups: z.array(z.tuple([z.string(), z.string()])),
        flows: z.number().int().min(0).max(MAX_FLOWS),
        removed: z.number().int().min(0).max(MAX_FLOWS),
        expectations: z.array(expectationRecord),
        expectationsRemoved: z.array(z.number().int().min(1)),
        portMappings: z.array(portMappingRecord),
        portMappingsRemoved: z.array(z.number().int().min(1)),
        triggers: z.array(triggerRecord).nullable(),
      })
      .strict(),
  })
  .strict();

type Column = FlowColumns[(typeof FLOW_COLUMN_NAMES)[number]] | RemovedFlows[(typeof REMOVED_COLUMN_NAMES)[number]];

const align8 = (n: number) => (n + 7) & ~7;

/** The JSON header of a record: everything but the flow columns. */
function encodeHead(r: StateRecord): Uint8Array {
  const { flows, removed, ...rest } = r.engine;
  return new TextEncoder().encode(JSON.stringify({ seq: r.seq, wall: r.wall, algs: r.algs, engine: { ...rest, flows: flows.count, removed: removed.count } }));
}

function columnsOf(r: StateRecord): Column[] {
  const { flows, removed } = r.engine;
  return [...FLOW_COLUMN_NAMES.map((n) => flows[n]), ...REMOVED_COLUMN_NAMES.map((n) => removed[n])];
}

/** Views in FLOW_COLUMN_NAMES order as FlowColumns, written out so the object has the shape the export's loop is compiled for. */
function flowColumnsOf(count: number, v: Column[]): FlowColumns {
  const [proto, state, flags, tclass, helper, group, inAddr, pubAddr, remAddr, keyRemAddr, inPort, pubPort, remPort, keyRemPort, created, lastSeen, packetsOut, packetsIn, bytesOut, bytesIn] = v;
  return {
    count,
    proto: proto as Uint8Array,
    state: state as Uint8Array,
    flags: flags as Uint8Array,
    tclass: tclass as Uint8Array,
    helper: helper as Uint16Array,
    group: group as Int32Array,
    inAddr: inAddr as Uint32Array,
    pubAddr: pubAddr as Uint32Array,
    remAddr: remAddr as Uint32Array,
    keyRemAddr: keyRemAddr as Uint32Array,
    inPort: inPort as Uint16Array,
    pubPort: pubPort as Uint16Array,
    remPort: remPort as Uint16Array,
    keyRemPort: keyRemPort as Uint16Array,
    created: created as Float64Array,
    lastSeen: lastSeen as Float64Array,
    packetsOut: packetsOut as Float64Array,
    packetsIn: packetsIn as Float64Array,
    bytesOut: bytesOut as Float64Array,
    bytesIn: bytesIn as Float64Array,
  };
}

/** A record in a buffer of its own. */
export function encodeRecord(r: StateRecord): Uint8Array {
  const head = encodeHead(r);
  const columns = columnsOf(r);
  let size = align8(4 + head.length);
  for (const c of columns) size += align8(c.byteLength);
  const out = new Uint8Array(size);
  new DataView(out.buffer).setUint32(0, head.length, true);
  out.set(head, 4);
  let at = align8(4 + head.length);
  for (const c of columns) {
    out.set(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), at);
    at += align8(c.byteLength);
  }
  return out;
}

type ColumnType = new (buffer: ArrayBuffer, at: number, n: number) => Column;
const FLOW_COLUMN_TYPES = FLOW_COLUMN_NAMES.map((n) => emptyFlowColumns(0)[n].constructor as ColumnType);
const FLOW_ELEMENT_BYTES = FLOW_COLUMN_NAMES.map((n) => emptyFlowColumns(0)[n].BYTES_PER_ELEMENT);
const REMOVED_ELEMENT_BYTES = REMOVED_COLUMN_NAMES.map((n) => emptyRemovedFlows(0)[n].BYTES_PER_ELEMENT);
const INITIAL_HEAD_ROOM = 64 * 1024;

/**
 * Encodes records in one buffer it keeps, with the flows written into it by
 * the engine's export itself (`flowColumns`, given to exportChanges and
 * exportState): the flows are copied once, from the engine's table to the
 * record, and nothing is allocated per record but its JSON header. The
 * columns are laid out after room for the header, which is written in front
 * of them once known; a header larger than the room costs one copy, and more
 * room next time.
 *
 * A payload encode() returns is valid until the next flowColumns() call: a
 * sink that keeps it (a write that is not finished when the call returns)
 * copies it.
 */
export class RecordEncoder {
  #buffer = new ArrayBuffer(0);
  #headRoom = INITIAL_HEAD_ROOM;
  /** The columns handed out last, and where they end. */
  #columns: FlowColumns | null = null;
  #columnsAt = 0;
  #columnsEnd = 0;

  /** Columns for `n` flows inside the buffer, where encode() puts them. */
  readonly flowColumns = (n: number): FlowColumns => {
    let size = 0;
    for (const b of FLOW_ELEMENT_BYTES) size += align8(n * b);
    const at = this.#headRoom;
    // Room for some removed flows too, so a flush with a few is written in place.
    this.#reserve(at + size + 64 * 1024);
    const bytes = new Uint8Array(this.#buffer);
    const views: Column[] = [];
    let o = at;
    for (let i = 0; i < FLOW_COLUMN_NAMES.length; i++) {
      const b = FLOW_ELEMENT_BYTES[i];
      views.push(new FLOW_COLUMN_TYPES[i](this.#buffer, o, n));
      // The padding up to the next column is part of the record: zeros, not the last record's bytes.
      bytes.fill(0, o + n * b, o + align8(n * b));
      o += align8(n * b);
    }
    const c = flowColumnsOf(n, views);
    this.#columns = c;
    this.#columnsAt = at;
    this.#columnsEnd = o;
    return this.#columns;
  };

  /** The record's bytes: in place when its flows are the columns handed out last, else a copy of its own. */
  encode(r: StateRecord): Uint8Array {
    const columns = this.#columns;
    this.#columns = null;
    if (columns === null || r.engine.flows !== columns) return encodeRecord(r);
    const head = encodeHead(r);
    const prefix = align8(4 + head.length);
    if (prefix > this.#columnsAt) {
      this.#headRoom = align8(prefix + (prefix >> 1));
      return encodeRecord(r);
    }
    const removed = r.engine.removed;
    let end = this.#columnsEnd;
    for (let i = 0; i < REMOVED_COLUMN_NAMES.length; i++) end += align8(removed.count * REMOVED_ELEMENT_BYTES[i]);
    if (end > this.#buffer.byteLength) return encodeRecord(r);
    const bytes = new Uint8Array(this.#buffer);
    const start = this.#columnsAt - prefix;
    new DataView(this.#buffer).setUint32(start, head.length, true);
    bytes.set(head, start + 4);
    bytes.fill(0, start + 4 + head.length, this.#columnsAt);
    let o = this.#columnsEnd;
    for (const n of REMOVED_COLUMN_NAMES) {
      const c = removed[n];
      bytes.set(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), o);
      bytes.fill(0, o + c.byteLength, o + align8(c.byteLength));
      o += align8(c.byteLength);
    }
    if (r.engine.full) this.#wholeSize = end;
    return bytes.subarray(start, end);
  }

  /** Bytes the last whole state took: the buffer is kept at about that, not at the largest burst ever seen. */
  #wholeSize = 0;

  #reserve(size: number): void {
    const have = this.#buffer.byteLength;
    if (have >= size && have <= 2 * Math.max(size, this.#wholeSize) + (1 << 20)) return;
    this.#buffer = new ArrayBuffer(Math.floor(size * 1.25));
  }
}

export function decodeRecord(bytes: Uint8Array): StateRecord {
  if (bytes.length < 4) throw new StateDecodeError(`record of ${bytes.length} bytes`);
  const headLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (headLength > MAX_HEADER_BYTES || 4 + headLength > bytes.length) throw new StateDecodeError(`header of ${headLength} bytes in a record of ${bytes.length}`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(4, 4 + headLength)));
  } catch (err) {
    throw new StateDecodeError(`header is not JSON: ${(err as Error).message}`);
  }
  const parsed = header.safeParse(json);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new StateDecodeError(`header: ${i?.path.join('.') || '(top)'}: ${i?.message ?? 'invalid'}`);
  }
  const h = parsed.data;
  const flows = emptyFlowColumns(h.engine.flows);
  const removed = emptyRemovedFlows(h.engine.removed);
  let at = align8(4 + headLength);
  const fill = (c: Column) => {
    const end = at + c.byteLength;
    if (end > bytes.length) throw new StateDecodeError(`columns end at byte ${end}, the record has ${bytes.length}`);
    new Uint8Array(c.buffer, c.byteOffset, c.byteLength).set(bytes.subarray(at, end));
    at = align8(end);
  };
  for (const n of FLOW_COLUMN_NAMES) fill(flows[n]);
  for (const n of REMOVED_COLUMN_NAMES) fill(removed[n]);
  // Indexes into the header's tables must land inside them.
  for (let i = 0; i < flows.count; i++) {
    if (flows.helper[i] >= h.engine.names.length) throw new StateDecodeError(`flow ${i} names helper ${flows.helper[i]} of ${h.engine.names.length}`);
    if (flows.group[i] >= h.engine.groups.length || flows.group[i] < -1) throw new StateDecodeError(`flow ${i} names group ${flows.group[i]}`);
  }
  return { seq: h.seq, wall: h.wall, algs: h.algs, engine: { ...h.engine, flows, removed } };
}
