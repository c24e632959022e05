/**
 * The engine's tables to a state batch (snapshot.ts) and back. Export reads
 * the tables (all of them, or what the change feed says changed); apply
 * writes a batch into a live engine: a full batch makes the engine hold
 * exactly that state (entries it lacks are removed, the rest added or
 * updated), a batch of changes adds and removes what it names. The same code
 * restores a restarted gateway (an empty engine, a snapshot, then the
 * journal) and keeps a standby in step with the active gateway.
 *
 * Mappings come back with the public ports they had: a flow's mapping is
 * found by its key or made on its public port; a port already used by
 * another mapping is a conflict, and that flow is skipped (counted), never
 * moved to another port.
 */
import type { FeedDrain } from './change-feed.js';
import type { Expectation } from './expectations.js';
import type { Expiry } from './expiry.js';
import { NO_FLOW } from './flow-table.js';
import { NO_MAPPING } from './mapping-table.js';
import { FLOW_OFFLOADED } from './offload.js';
import type { NatParts } from './parts.js';
import {
  type ApplyReport,
  emptyFlowColumns,
  emptyRemovedFlows,
  ENGINE_STATE_VERSION,
  type EngineStateBatch,
  type ExpectationRecord,
  type FlowColumns,
  type FlowColumnsFor,
  type PortMappingRecord,
  type TriggerRecord,
} from './snapshot.js';

export class StateTransfer {
  /** Row ids of one export, kept between exports (a snapshot of a million flows would otherwise allocate 4 MB each time). */
  #ids = new Int32Array(0);

  constructor(
    private readonly p: NatParts,
    private readonly expiry: Expiry,
  ) {}

  /** The whole state; `columns` says where the flows go (fresh arrays by default). */
  exportFull(now: number, columns: FlowColumnsFor = emptyFlowColumns): EngineStateBatch {
    const flows = this.p.flows;
    // The live rows, read straight off the table (no iterator: a snapshot scans every row).
    const end = flows.slotEnd;
    const ids = this.scratchIds(end);
    const { proto, lastSeen, tclass, timeouts } = flows;
    let n = 0;
    for (let id = 0; id < end; id++) if (proto[id] !== 0 && lastSeen[id] + timeouts[tclass[id]] > now) ids[n++] = id;
    const batch = this.batch(true, now, ids, n, columns);
    batch.expectations = this.p.expectations.list().filter((e) => e.expiresAt > now).map((e) => this.expectationRecord(e));
    batch.portMappings = this.p.portMappings.list().filter((m) => m.expiresAt > now).map(portMappingRecord);
    this.p.changes.reset();
    return batch;
  }

  /** What the change feed recorded since it was last drained; the whole state when it overflowed. */
  exportChanges(now: number, columns: FlowColumnsFor = emptyFlowColumns): EngineStateBatch {
    const d: FeedDrain = this.p.changes.drain();
    if (d.overflowed) return this.exportFull(now, columns);
    const flows = this.p.flows;
    const added = d.added.ids;
    const ids = this.scratchIds(added.length);
    let n = 0;
    for (let i = 0; i < added.length; i++) {
      const id = added[i];
      // Still the flow that was created (not removed, its row not reused since).
      if (flows.isLive(id) && flows.created[id] === d.added.created[i]) ids[n++] = id;
    }
    const batch = this.batch(false, now, ids, n, columns);
    const r = d.removed;
    batch.removed = { count: r.proto.length, ...r };
    for (const id of d.expectations) {
      const e = this.p.expectations.get(id);
      if (e) batch.expectations.push(this.expectationRecord(e));
      else batch.expectationsRemoved.push(id);
    }
    for (const id of d.portMappings) {
      const m = this.p.portMappings.get(id);
      if (m) batch.portMappings.push(portMappingRecord(m));
      else batch.portMappingsRemoved.push(id);
    }
    return batch;
  }

  private scratchIds(n: number): Int32Array {
    if (this.#ids.length < n) this.#ids = new Int32Array(Math.max(n, this.#ids.length * 2));
    return this.#ids;
  }

  private batch(full: boolean, now: number, ids: Int32Array, count: number, columns: FlowColumnsFor): EngineStateBatch {
    const { flows, mappings, helpers, pinholes } = this.p;
    const names = [''];
    const nameIndex = new Map<number, number>();
    const groups: Array<[string, string]> = [];
    const groupIndex = new Map<string, number>();
    const c = columns(count);
    if (c.count !== count) throw new Error(`columns for ${c.count} flows given for ${count}`);
    // A plain loop over columns held in locals: this runs for every new flow
    // at each flush (bench/nat-engine.ts, state kept), where a closure per
    // flow and property loads per column cost as much as making the flow.
    // Every element is written: the columns may be reused memory.
    const { proto, state, flags, tclass, inAddr, pubAddr, remAddr, inPort, pubPort, remPort, created, lastSeen, packetsOut, packetsIn, bytesOut, bytesIn, helper, mapping } = flows;
    const { keyRemAddr, keyRemPort } = mappings;
    const grouped = pinholes.groupedFlows > 0;
    const cProto = c.proto, cState = c.state, cFlags = c.flags, cTclass = c.tclass, cInAddr = c.inAddr, cPubAddr = c.pubAddr, cRemAddr = c.remAddr;
    const cKeyRemAddr = c.keyRemAddr, cInPort = c.inPort, cPubPort = c.pubPort, cRemPort = c.remPort, cKeyRemPort = c.keyRemPort;
    const cCreated = c.created, cLastSeen = c.lastSeen, cPacketsOut = c.packetsOut, cPacketsIn = c.packetsIn, cBytesOut = c.bytesOut, cBytesIn = c.bytesIn;
    const cHelper = c.helper, cGroup = c.group;
    for (let i = 0; i < count; i++) {
      const id = ids[i];
      const m = mapping[id];
      cProto[i] = proto[id];
      cState[i] = state[id];
      // Another engine (a standby, a restart) has no kernel table carrying the flow.
      cFlags[i] = flags[id] & ~FLOW_OFFLOADED;
      cTclass[i] = tclass[id];
      cInAddr[i] = inAddr[id];
      cPubAddr[i] = pubAddr[id];
      cRemAddr[i] = remAddr[id];
      cKeyRemAddr[i] = keyRemAddr[m];
      cInPort[i] = inPort[id];
      cPubPort[i] = pubPort[id];
      cRemPort[i] = remPort[id];
      cKeyRemPort[i] = keyRemPort[m];
      cCreated[i] = created[id];
      cLastSeen[i] = lastSeen[id];
      cPacketsOut[i] = packetsOut[id];
      cPacketsIn[i] = packetsIn[id];
      cBytesOut[i] = bytesOut[id];
      cBytesIn[i] = bytesIn[id];
      const h = helper[id];
      let hn = 0;
      if (h !== 0) {
        let known = nameIndex.get(h);
        if (known === undefined) {
          known = names.push(helpers.name(h) ?? '') - 1;
          nameIndex.set(h, known);
        }
        hn = known;
      }
      cHelper[i] = hn;
      const g = grouped ? pinholes.groupOf(id) : undefined;
      if (g === undefined) cGroup[i] = -1;
      else {
        const key = `${g.helper}\u0000${g.group}`;
        let n = groupIndex.get(key);
        if (n === undefined) {
          n = groups.push([g.helper, g.group]) - 1;
          groupIndex.set(key, n);
        }
        cGroup[i] = n;
      }
    }
    return {
      version: ENGINE_STATE_VERSION,
      full,
      at: now,
      names,
      groups,
      flows: c,
      removed: emptyRemovedFlows(0),
      expectations: [],
      expectationsRemoved: [],
      portMappings: [],
      portMappingsRemoved: [],
      triggers: this.triggerRecords(),
    };
  }

  private expectationRecord(e: Expectation): ExpectationRecord {
    return {
      id: e.id,
      proto: e.proto,
      insideAddr: e.insideAddr,
      insidePort: e.insidePort,
      publicAddr: e.publicAddr,
      publicPort: e.publicPort,
      remoteAddr: e.remoteAddr,
      remotePort: e.remotePort,
      ttlMs: e.ttlMs,
      singleUse: e.singleUse,
      group: e.group,
      helper: e.helper,
      reason: e.reason,
      direction: e.direction,
      cls: e.cls,
      attach: e.attach === 0 ? null : this.p.helpers.name(e.attach),
      expiresAt: e.expiresAt,
      uses: e.uses,
    };
  }

  private triggerRecords(): TriggerRecord[] | null {
    const t = this.p.triggers;
    if (!t.any) return null;
    const out: TriggerRecord[] = [];
    for (const r of t.rules) {
      const a = t.get(r.index);
      if (a) out.push({ rule: r.index, proto: r.proto, first: r.first, last: r.last, ...a });
    }
    return out;
  }

  // ------------------------------------------------------------------ apply

  /**
   * Writes a batch into the engine. `now` is this engine's clock; `elapsedMs`
   * the real time since the batch was exported (0 for a live stream).
   */
  apply(b: EngineStateBatch, now: number, elapsedMs: number): ApplyReport {
    if (b.version !== ENGINE_STATE_VERSION) throw new Error(`engine state version ${b.version}; this masq reads version ${ENGINE_STATE_VERSION}`);
    const shift = now - elapsedMs - b.at;
    const report: ApplyReport = { flows: 0, flowsRemoved: 0, expectations: 0, portMappings: 0, triggers: 0, skipped: { expired: 0, conflict: 0, limit: 0, unknown: 0 } };
    if (b.full) this.removeAbsent(b, report);
    else this.removeNamed(b, report);
    for (const r of b.portMappings) this.applyPortMapping(r, shift, now, report);
    for (const r of b.expectations) this.applyExpectation(r, shift, now, report);
    this.applyFlows(b, shift, now, report);
    if (b.triggers !== null) this.applyTriggers(b.triggers, shift, now, report);
    return report;
  }

  /** A full batch: whatever the engine holds that the batch does not goes first (so its ports are free). */
  private removeAbsent(b: EngineStateBatch, report: ApplyReport): void {
    const { flows, expectations, portMappings, pinholes } = this.p;
    const f = b.flows;
    const keep = new Uint8Array(flows.capacity);
    for (let i = 0; i < f.count; i++) {
      const id = flows.findOutbound(f.proto[i], f.inAddr[i], f.inPort[i], f.remAddr[i], f.remPort[i]);
      if (id !== NO_FLOW && flows.pubAddr[id] === f.pubAddr[i] && flows.pubPort[id] === f.pubPort[i]) keep[id] = 1;
    }
    for (const id of [...flows.ids()]) {
      if (keep[id] === 0) {
        this.expiry.removeFlow(id);
        report.flowsRemoved++;
      }
    }
    const wanted = new Set(b.expectations.map((e) => e.id));
    for (const e of expectations.list()) if (!wanted.has(e.id)) pinholes.remove(e.id);
    const wantedMaps = new Set(b.portMappings.map((m) => m.id));
    for (const m of portMappings.list()) if (!wantedMaps.has(m.id)) portMappings.remove(m.id);
  }

  private removeNamed(b: EngineStateBatch, report: ApplyReport): void {
    const { flows, pinholes, portMappings } = this.p;
    const r = b.removed;
    for (let i = 0; i < r.count; i++) {
      const id = flows.findOutbound(r.proto[i], r.inAddr[i], r.inPort[i], r.remAddr[i], r.remPort[i]);
      if (id !== NO_FLOW) {
        this.expiry.removeFlow(id);
        report.flowsRemoved++;
      }
    }
    for (const id of b.expectationsRemoved) pinholes.remove(id);
    for (const id of b.portMappingsRemoved) portMappings.remove(id);
  }

  private applyPortMapping(r: PortMappingRecord, shift: number, now: number, report: ApplyReport): void {
    const expiresAt = r.expiresAt + shift;
    const table = this.p.portMappings;
    const live = table.get(r.id);
    if (live && (live.proto !== r.proto || live.insideAddr !== r.insideAddr || live.insidePort !== r.insidePort || live.publicPort !== r.publicPort)) {
      table.remove(r.id);
    }
    if (expiresAt <= now) {
      if (table.get(r.id)) table.remove(r.id);
      report.skipped.expired++;
      return;
    }
    const pm = table.add(
      {
        proto: r.proto,
        insideAddr: r.insideAddr,
        insidePort: r.insidePort,
        publicAddr: r.publicAddr,
        publicPort: r.publicPort,
        exactPort: true,
        lifetimeMs: expiresAt - now,
        owner: r.owner,
        description: r.description,
      },
      now,
      r.id,
    );
    if (typeof pm === 'string') {
      report.skipped[pm === 'limit' ? 'limit' : 'conflict']++;
      return;
    }
    report.portMappings++;
  }

  private applyExpectation(r: ExpectationRecord, shift: number, now: number, report: ApplyReport): void {
    const expiresAt = r.expiresAt + shift;
    if (expiresAt <= now) {
      if (this.p.expectations.get(r.id)) this.p.pinholes.remove(r.id);
      report.skipped.expired++;
      return;
    }
    const attach = r.attach === null ? 0 : this.p.helpers.idOf(r.attach);
    if (r.attach !== null && attach === 0) {
      report.skipped.unknown++; // its handler is not attached here: the flow it would admit could not be handled
      return;
    }
    if (r.direction === 'inbound') {
      // Its public port: free, or held by the mapping of the same inside endpoint.
      const m = this.p.mappings.findPublic(r.proto, r.publicAddr, r.publicPort);
      const live = this.p.expectations.get(r.id);
      const ours = m === NO_MAPPING || (this.p.mappings.inAddr[m] === r.insideAddr && this.p.mappings.inPort[m] === r.insidePort);
      if (!ours && !live) {
        report.skipped.conflict++;
        return;
      }
    }
    const e = this.p.pinholes.restore({ ...r, attach, expiresAt });
    if (typeof e === 'string') report.skipped.limit++;
    else report.expectations++;
  }

  private applyFlows(b: EngineStateBatch, shift: number, now: number, report: ApplyReport): void {
    const f = b.flows;
    const { flows, helpers, pinholes } = this.p;
    const helperIds = b.names.map((n) => (n === '' ? 0 : helpers.idOf(n)));
    // Oldest activity first: each expiry list stays in order of last activity.
    const order = Array.from({ length: f.count }, (_, i) => i).sort((x, y) => f.lastSeen[x] - f.lastSeen[y]);
    for (const i of order) {
      const lastSeen = f.lastSeen[i] + shift;
      const tclass = f.tclass[i];
      if (tclass >= flows.timeouts.length || lastSeen + flows.timeouts[tclass] <= now) {
        report.skipped.expired++;
        continue;
      }
      let id = flows.findOutbound(f.proto[i], f.inAddr[i], f.inPort[i], f.remAddr[i], f.remPort[i]);
      if (id !== NO_FLOW && (flows.pubAddr[id] !== f.pubAddr[i] || flows.pubPort[id] !== f.pubPort[i])) {
        this.expiry.removeFlow(id);
        id = NO_FLOW;
      }
      if (id === NO_FLOW) {
        id = this.addFlow(f, i, lastSeen, report);
        if (id === NO_FLOW) continue;
      } else {
        if (flows.tclass[id] !== tclass) flows.setClass(id, tclass, lastSeen);
        if (lastSeen > flows.lastSeen[id]) flows.touch(id, lastSeen);
      }
      flows.state[id] = f.state[i];
      flows.flags[id] |= f.flags[i];
      flows.created[id] = f.created[i] + shift;
      flows.packetsOut[id] = f.packetsOut[i];
      flows.packetsIn[id] = f.packetsIn[i];
      flows.bytesOut[id] = f.bytesOut[i];
      flows.bytesIn[id] = f.bytesIn[i];
      const h = helperIds[f.helper[i]] ?? 0;
      if (f.helper[i] !== 0 && h === 0) report.skipped.unknown++; // its ALG is not attached here: the flow passes unhelped
      flows.helper[id] = h;
      const g = f.group[i];
      if (g >= 0 && g < b.groups.length) pinholes.adopt(id, b.groups[g][0], b.groups[g][1]);
      report.flows++;
    }
  }

  /** A new flow on its own public port: the mapping found by key, or made on that port. */
  private addFlow(f: FlowColumns, i: number, lastSeen: number, report: ApplyReport): number {
    const { flows, mappings, hosts, pools } = this.p;
    const proto = f.proto[i];
    const inAddr = f.inAddr[i];
    const inPort = f.inPort[i];
    const pubAddr = f.pubAddr[i];
    const pubPort = f.pubPort[i];
    if (flows.full) {
      report.skipped.limit++;
      return NO_FLOW;
    }
    let m = mappings.findInside(proto, inAddr, inPort, f.keyRemAddr[i], f.keyRemPort[i]);
    if (m !== NO_MAPPING && (mappings.pubAddr[m] !== pubAddr || mappings.pubPort[m] !== pubPort)) {
      report.skipped.conflict++;
      return NO_FLOW;
    }
    const host = hosts.obtainPaired(inAddr, pubAddr);
    if (m === NO_MAPPING) {
      if (mappings.findPublic(proto, pubAddr, pubPort) !== NO_MAPPING) {
        hosts.release(inAddr, host);
        report.skipped.conflict++;
        return NO_FLOW;
      }
      pools.of(pubAddr, proto).hold(pubPort);
      m = mappings.add(proto, inAddr, inPort, f.keyRemAddr[i], f.keyRemPort[i], pubAddr, pubPort);
      host.mappings++;
    }
    const id = flows.add(proto, inAddr, inPort, pubAddr, pubPort, f.remAddr[i], f.remPort[i], m, f.tclass[i], f.flags[i], lastSeen);
    mappings.refs[m]++;
    host.flows++;
    return id;
  }

  private applyTriggers(records: TriggerRecord[], shift: number, now: number, report: ApplyReport): void {
    const t = this.p.triggers;
    for (const r of t.rules) t.restore(r.index, null);
    for (const r of records) {
      const rule = t.rules[r.rule];
      if (!rule || rule.proto !== r.proto || rule.first !== r.first || rule.last !== r.last) {
        report.skipped.unknown++; // the configuration changed: the activation names another rule
        continue;
      }
      const lastActivity = r.lastActivity + shift;
      if (lastActivity + rule.idleMs <= now) {
        report.skipped.expired++;
        continue;
      }
      t.restore(r.rule, { insideAddr: r.insideAddr, publicAddr: r.publicAddr, remoteAddr: r.remoteAddr, lastActivity });
      report.triggers++;
    }
  }
}

/** The record's fields only (a live port mapping has more). */
function portMappingRecord(m: PortMappingRecord): PortMappingRecord {
  return {
    id: m.id,
    proto: m.proto,
    insideAddr: m.insideAddr,
    insidePort: m.insidePort,
    publicAddr: m.publicAddr,
    publicPort: m.publicPort,
    owner: m.owner,
    description: m.description,
    created: m.created,
    expiresAt: m.expiresAt,
  };
}
