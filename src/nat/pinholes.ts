/**
 * Pinholes: the services an ALG calls through the framework. Opening an
 * expectation holds its public port (and keeps the inside host's address
 * pairing alive); planning media ports finds an even/odd pair without holding
 * it; expectations can be narrowed to a remote, given a new time to live, and
 * removed one by one or by group (a call).
 *
 * A flow an expectation admitted is a child of the expectation's group: a
 * call's teardown can take its children with it (the H.245 connection of an
 * H.323 call), and an ALG sees which call a flow belongs to.
 */
import { ipv4ToString } from '../wire/address.js';
import type { ChangeFeed } from './change-feed.js';
import type { ResolvedNatConfig } from './config.js';
import type { NatCounters } from './counters.js';
import type { EventReporter, FlowEndReason } from './events.js';
import { type Expectation, type ExpectationRefusal, type ExpectationRequest, type ExpectationTable, groupKey, splitGroupKey } from './expectations.js';
import type { HostTable } from './hosts.js';
import { type MappingTable, NO_MAPPING } from './mapping-table.js';
import type { PortPools } from './port-pools.js';

/** What an ALG asks for: the engine chooses the public endpoint when none is given. */
export type PinholeRequest = Omit<ExpectationRequest, 'publicAddr' | 'publicPort'> & { publicAddr?: number; publicPort?: number };

export interface MediaPorts {
  publicAddr: number;
  rtp: number;
  rtcp: number;
}

/** The call a flow belongs to: the group of the expectation that admitted it, named within its helper. */
export interface FlowGroup {
  readonly helper: string;
  readonly group: string;
}

export interface PinholeParts {
  /** Replaced as a whole by a reload. */
  config: ResolvedNatConfig;
  readonly counters: NatCounters;
  readonly events: EventReporter;
  readonly expectations: ExpectationTable;
  readonly mappings: MappingTable;
  readonly hosts: HostTable;
  readonly pools: PortPools;
  readonly changes: ChangeFeed;
}

export class Pinholes {
  /** flow id -> the helper and group of the expectation that admitted it. */
  private readonly flowGroup = new Map<number, FlowGroup>();
  /** groupKey(helper, group) -> its child flows. */
  private readonly groupFlows = new Map<string, Set<number>>();

  constructor(
    private readonly p: PinholeParts,
    /** Removes a flow from the engine (a group's teardown takes its children). */
    private readonly removeFlow: (flow: number, reason: FlowEndReason) => void,
  ) {}

  /**
   * Opens a pinhole. With publicPort 0 the engine picks the public port: the
   * one the inside endpoint already maps to if it has an endpoint-independent
   * mapping, else a fresh one (of the inside port's parity). The public port is
   * held until the expectation ends. An outbound expectation holds nothing.
   */
  expect(req: PinholeRequest, now: number): Expectation | ExpectationRefusal | 'no-port' {
    if ((req.direction ?? 'inbound') === 'outbound') return this.expectDial(req, now);
    const { hosts, mappings, pools, expectations } = this.p;
    if (req.insidePort < 1024) return this.refuse('bad-port', req, now);
    const host = hosts.obtain(req.insideAddr);
    const publicAddr = req.publicAddr ?? hosts.publicAddrFor(host);
    let publicPort = req.publicPort ?? 0;
    const pool = pools.of(publicAddr, req.proto);
    if (publicPort === 0) {
      // The inside endpoint keeps one public port: its endpoint-independent
      // mapping's, or the one an earlier expectation announced (a re-INVITE).
      publicPort = this.publicPortFor(req.proto, req.insideAddr, req.insidePort, publicAddr);
      if (publicPort < 0) publicPort = pool.allocate(Math.max(req.insidePort, 1024), true);
      else if (pool.canHold(publicPort)) pool.hold(publicPort);
      else publicPort = -1;
      if (publicPort < 0) {
        hosts.release(req.insideAddr, host);
        return this.refuse('no-port', req, now);
      }
    } else {
      // A caller-chosen port must be free, or already this inside endpoint's.
      const m = mappings.findPublic(req.proto, publicAddr, publicPort);
      const ours = m !== NO_MAPPING && mappings.inAddr[m] === req.insideAddr && mappings.inPort[m] === req.insidePort;
      const held = expectations.holds(req.proto, req.insideAddr, req.insidePort, publicAddr, publicPort);
      if ((!ours && pool.inUse(publicPort) && !held) || !pool.canHold(publicPort)) {
        hosts.release(req.insideAddr, host);
        return this.refuse('no-port', req, now);
      }
      pool.hold(publicPort);
    }
    const e = expectations.add(req, publicAddr, publicPort, now);
    if (typeof e === 'string') {
      pool.release(publicPort);
      hosts.release(req.insideAddr, host);
      return this.refuse(e, req, now);
    }
    host.mappings++; // the expectation keeps the host's pairing alive
    this.opened(e);
    return e;
  }

  /**
   * A media stream's RTP and RTCP pinholes in one step (RFC 3550: RTCP on the
   * next inside port), all or nothing: the public ports planMediaPorts would
   * choose, held at once, and both expectations entered, the second with
   * `rtcpReason`. The inside host's entry and the port pool are found once,
   * and ports the engine itself just chose are not checked again as a
   * caller's would be: an H.323 Setup opens two of these. Where only one of
   * the two inside ports already has a public port, it is planned and opened
   * port by port, as before.
   */
  expectMediaPair(req: PinholeRequest, rtcpReason: string, now: number): [Expectation, Expectation] | ExpectationRefusal | 'no-port' {
    const { hosts, pools, expectations } = this.p;
    const { proto, insideAddr } = req;
    const rtpIn = req.insidePort;
    if (rtpIn < 1024 || rtpIn + 1 > 65535 || (req.direction ?? 'inbound') !== 'inbound') return this.refuse('bad-port', req, now);
    const host = hosts.obtain(insideAddr);
    const publicAddr = req.publicAddr ?? hosts.publicAddrFor(host);
    const pool = pools.of(publicAddr, proto);
    let rtp = this.publicPortFor(proto, insideAddr, rtpIn, publicAddr);
    let rtcp = this.publicPortFor(proto, insideAddr, rtpIn + 1, publicAddr);
    if (rtp < 0 && rtcp < 0) {
      rtp = pool.allocatePair(Math.max(rtpIn, 1024)); // held, both
      if (rtp >= 0) rtcp = rtp + 1;
      else {
        hosts.release(insideAddr, host);
        return this.portByPort(req, rtcpReason, now);
      }
    } else if (rtp >= 0 && rtcp >= 0 && pool.canHold(rtp) && pool.canHold(rtcp)) {
      // Both already this endpoint's (a second call on the same ports, a re-offer).
      pool.hold(rtp);
      pool.hold(rtcp);
    } else {
      hosts.release(insideAddr, host);
      return this.portByPort(req, rtcpReason, now);
    }
    const a = expectations.add(req, publicAddr, rtp, now);
    const b = typeof a === 'string' ? a : expectations.add(req, publicAddr, rtcp, now, rtpIn + 1, rtcpReason);
    if (typeof a === 'string' || typeof b === 'string') {
      if (typeof a !== 'string') expectations.remove(a.id);
      pool.release(rtp);
      pool.release(rtcp);
      hosts.release(insideAddr, host);
      return this.refuse(typeof a === 'string' ? a : (b as ExpectationRefusal), req, now);
    }
    host.mappings += 2; // the expectations keep the host's pairing alive
    this.opened(a);
    this.opened(b);
    return [a, b];
  }

  /** The pair planned, then each port opened on its own (the general path, for what the one step does not cover). */
  private portByPort(req: PinholeRequest, rtcpReason: string, now: number): [Expectation, Expectation] | ExpectationRefusal | 'no-port' {
    const plan = this.planMediaPorts(req.proto, req.insideAddr, req.insidePort, req.publicAddr);
    if (!plan) return this.refuse('no-port', req, now);
    const a = this.expect({ ...req, publicAddr: plan.publicAddr, publicPort: plan.rtp }, now);
    if (typeof a === 'string') return a;
    const b = this.expect({ ...req, insidePort: req.insidePort + 1, publicAddr: plan.publicAddr, publicPort: plan.rtcp, reason: rtcpReason }, now);
    if (typeof b === 'string') {
      this.remove(a.id);
      return b;
    }
    return [a, b];
  }

  /** An outbound expectation: the inside host will dial what the outside peer announced. */
  private expectDial(req: PinholeRequest, now: number): Expectation | ExpectationRefusal {
    const e = this.p.expectations.add(req, 0, 0, now);
    if (typeof e === 'string') return this.refuse(e, req, now);
    this.opened(e);
    return e;
  }

  private opened(e: Expectation): void {
    this.p.changes.expectation(e.id);
    this.p.counters.expectationsOpened++;
    this.p.events.expectation('opened', e);
  }

  /**
   * Public ports for a media stream's RTP and RTCP (RFC 3550: RTCP on the next
   * port), without holding anything: the inside endpoints' existing ports when
   * they have them, else a free even/odd pair (or, failing that, single ports
   * of the right parity). The caller opens each with expect() and an explicit
   * port, only for what the stream uses (no RTCP pinhole with rtcp-mux).
   * Returns null when no port is free.
   */
  planMediaPorts(proto: number, insideAddr: number, rtpPort: number, publicAddr?: number): MediaPorts | null {
    const { hosts, pools } = this.p;
    const host = hosts.obtain(insideAddr);
    const addr = publicAddr ?? hosts.publicAddrFor(host);
    hosts.release(insideAddr, host); // drops the entry only if it holds nothing
    const pool = pools.of(addr, proto);
    let rtp = this.publicPortFor(proto, insideAddr, rtpPort, addr);
    let rtcp = this.publicPortFor(proto, insideAddr, rtpPort + 1, addr);
    if (rtp < 0 && rtcp < 0) {
      rtp = pool.allocatePair(Math.max(rtpPort, 1024));
      if (rtp >= 0) {
        rtcp = rtp + 1;
        pool.release(rtp);
        pool.release(rtcp);
      }
    }
    if (rtp < 0) rtp = pools.peek(addr, proto, rtpPort);
    if (rtcp < 0) rtcp = (rtp & 1) === 0 && rtp + 1 <= 65535 && !pool.inUse(rtp + 1) ? rtp + 1 : pools.peek(addr, proto, rtpPort + 1);
    return rtp < 0 || rtcp < 0 ? null : { publicAddr: addr, rtp, rtcp };
  }

  /** The public port an inside endpoint has (endpoint-independent mapping or expectation), or -1. */
  private publicPortFor(proto: number, inAddr: number, inPort: number, publicAddr: number): number {
    const { mappings, expectations } = this.p;
    const m = mappings.findInside(proto, inAddr, inPort, 0, 0);
    if (m !== NO_MAPPING && mappings.pubAddr[m] === publicAddr) return mappings.pubPort[m];
    return expectations.publicPortOf(proto, inAddr, inPort, publicAddr);
  }

  /** Removes one expectation (releasing its public port). */
  remove(id: number): boolean {
    const e = this.p.expectations.remove(id);
    if (!e) return false;
    this.release(e, 'removed');
    return true;
  }

  /** Narrows an expectation to the remote it must come from (the peer's media address once its SDP is known). */
  restrict(id: number, remoteAddr: number, remotePort: number): boolean {
    const e = this.p.expectations.get(id);
    if (!e || e.direction !== 'inbound') return false;
    e.remoteAddr = remoteAddr;
    e.remotePort = remotePort;
    this.p.changes.expectation(id);
    return true;
  }

  /** Gives an expectation a new time to live from now (a call that got its answer lives longer than its INVITE transaction). */
  extend(id: number, ttlMs: number, now: number): boolean {
    const e = this.p.expectations.get(id);
    if (!e) return false;
    e.ttlMs = ttlMs;
    e.expiresAt = now + ttlMs;
    this.p.changes.expectation(id);
    return true;
  }

  /** Removes every expectation of a helper's group (or of that group in every helper): the call ended (BYE, CANCEL, error). */
  removeGroup(group: string, helper?: string): number {
    const removed = this.p.expectations.removeGroup(group, helper);
    for (const e of removed) this.release(e, 'removed');
    return removed.length;
  }

  /** Removes a helper's group's expectations and the flows they admitted: the call is over, its media and control connections with it. */
  endGroup(group: string, helper: string): { expectations: number; flows: number } {
    const expectations = this.removeGroup(group, helper);
    const children = this.groupFlows.get(groupKey(helper, group));
    let flows = 0;
    if (children) {
      for (const flow of [...children]) {
        this.removeFlow(flow, 'ended');
        flows++;
      }
    }
    return { expectations, flows };
  }

  /** Expectations whose time is up leave the table. */
  expireDue(now: number): void {
    for (const e of this.p.expectations.expire(now)) this.release(e, 'expired');
  }

  /** A new flow matched an expectation: it becomes a child of the expectation's group; a single-use expectation ends. */
  used(e: Expectation, flow: number): void {
    this.p.counters.expectationsUsed++;
    e.uses++;
    this.p.changes.expectation(e.id);
    this.p.events.expectation('used', e);
    this.adopt(flow, e.helper, e.group);
    if (e.singleUse) this.remove(e.id);
  }

  /**
   * Puts back an expectation from saved state, with its id (the ALGs' own
   * state names it): its public port held and its host's pairing kept, as
   * expect() does. Refused only when the table is full.
   */
  restore(e: Expectation): Expectation | 'limit' {
    const { hosts, pools, expectations } = this.p;
    const live = expectations.get(e.id);
    if (live && live.direction === e.direction && live.proto === e.proto && live.insideAddr === e.insideAddr && live.insidePort === e.insidePort && live.publicAddr === e.publicAddr && live.publicPort === e.publicPort) {
      // The same pinhole, changed since (restricted, extended, used): take the new values.
      live.remoteAddr = e.remoteAddr;
      live.remotePort = e.remotePort;
      live.ttlMs = e.ttlMs;
      live.expiresAt = e.expiresAt;
      live.uses = e.uses;
      return live;
    }
    if (live) this.remove(live.id);
    const r = expectations.restore(e);
    if (typeof r === 'string') return r;
    if (r.direction === 'inbound') {
      pools.of(r.publicAddr, r.proto).hold(r.publicPort);
      hosts.obtainPaired(r.insideAddr, r.publicAddr).mappings++;
    }
    return r;
  }

  /** A restored flow is again a child of its group (the call it belongs to). */
  adopt(flow: number, helper: string, group: string): void {
    this.flowGroup.set(flow, { helper, group });
    const gk = groupKey(helper, group);
    let children = this.groupFlows.get(gk);
    if (!children) this.groupFlows.set(gk, (children = new Set()));
    children.add(flow);
  }

  /**
   * The groups (calls) of a helper that hold an expectation or a flow for an
   * inside host: what a phone's signalling flow stands for when an operator
   * deletes it. `insideOf` reads a child flow's inside address.
   */
  groupsOfHost(helper: string, insideAddr: number, insideOf: (flow: number) => number): Set<string> {
    const groups = new Set<string>();
    for (const e of this.p.expectations.list()) if (e.helper === helper && e.insideAddr === insideAddr) groups.add(e.group);
    for (const [flow, fg] of this.flowGroup) if (fg.helper === helper && insideOf(flow) === insideAddr) groups.add(fg.group);
    return groups;
  }

  /** The configuration after a reload (the limits its refusals name). */
  setConfig(config: ResolvedNatConfig): void {
    this.p.config = config;
  }

  /** Every group that has admitted flows, with their ids (for call listings; small: flows of calls). */
  groupsWithFlows(): Array<{ helper: string; group: string; flows: number[] }> {
    const out: Array<{ helper: string; group: string; flows: number[] }> = [];
    for (const [key, flows] of this.groupFlows) {
      const [helper, group] = splitGroupKey(key);
      out.push({ helper, group, flows: [...flows] });
    }
    return out;
  }

  /** The group of a flow an expectation admitted, or undefined. */
  /** Flows that belong to a group (an exporter skips the lookups when none do). */
  get groupedFlows(): number {
    return this.flowGroup.size;
  }

  groupOf(flow: number): FlowGroup | undefined {
    return this.flowGroup.get(flow);
  }

  /** A child flow is gone. */
  forgetFlow(flow: number): void {
    const fg = this.flowGroup.get(flow);
    if (fg === undefined) return;
    this.flowGroup.delete(flow);
    const gk = groupKey(fg.helper, fg.group);
    const children = this.groupFlows.get(gk);
    if (!children) return;
    children.delete(flow);
    if (children.size === 0) this.groupFlows.delete(gk);
  }

  /** An expectation left the table: its public port and host pairing go with it. */
  private release(e: Expectation, why: 'expired' | 'removed'): void {
    this.p.changes.expectation(e.id);
    if (e.direction === 'inbound') {
      this.p.pools.of(e.publicAddr, e.proto).release(e.publicPort);
      const host = this.p.hosts.get(e.insideAddr);
      if (host) {
        host.mappings--;
        this.p.hosts.release(e.insideAddr, host);
      }
    }
    this.p.events.expectation(why, e);
  }

  private refuse<R extends string>(why: R, req: { group: string; insideAddr: number }, now: number): R {
    const { counters, events, config } = this.p;
    counters.expectationsRefused++;
    if (why === 'limit') events.limit('expectations', `expectation table full (${config.limits.expectations})`, now);
    if (why === 'group-limit') events.limit('expectationsPerGroup', `group ${req.group} at ${config.limits.expectationsPerGroup} expectations`, now);
    if (why === 'host-limit') {
      events.limit('expectationsPerHost', `inside host ${ipv4ToString(req.insideAddr)} at ${config.limits.expectationsPerHost} expectations`, now);
    }
    return why;
  }
}
