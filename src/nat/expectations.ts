/**
 * Expectations (pinholes): related flows an ALG announces before they arrive,
 * as netfilter's nf_conntrack_expect does.
 *
 * - Inbound (the usual kind): the public endpoint the flow will reach, the
 *   inside endpoint it belongs to, and the remote it must come from (address
 *   and/or port may be wildcards, 0). The public port is held meanwhile, and
 *   an outbound packet from the inside endpoint leaves from it (a phone's RTP
 *   from the port its SDP announced).
 * - Outbound: the inside host will dial a remote endpoint the outside peer
 *   announced (an H.245 address in a Connect, FTP passive data). It opens
 *   nothing (inside hosts may always dial out); it names the helper and the
 *   group the resulting flow belongs to.
 *
 * Either kind lives for a bounded time, may be single-use, carries a traffic
 * class (signalling, audio, video, data) for its ALG's policy, and is capped in
 * total, per inside host and per group (a call), so a flood of signalling
 * cannot open unbounded holes.
 *
 * The table only keeps and matches them; the engine holds the public ports and
 * turns a matching packet into a flow.
 */
import { HashIndex } from './hash-index.js';

export type ExpectationClass = 'signalling' | 'audio' | 'video' | 'data';
export const EXPECTATION_CLASSES: readonly ExpectationClass[] = ['signalling', 'audio', 'video', 'data'];

export type ExpectationDirection = 'inbound' | 'outbound';

export interface ExpectationRequest {
  proto: number;
  insideAddr: number;
  /** Outbound expectations: 0, any source port of the inside host. */
  insidePort: number;
  /** Outbound expectations: 0 (no public port is held). */
  publicAddr: number;
  publicPort: number;
  /** 0: any address (inbound only: an outbound expectation names the remote it dials). */
  remoteAddr: number;
  /** 0: any port (inbound only). */
  remotePort: number;
  ttlMs: number;
  singleUse: boolean;
  /** The call or session this belongs to: removed together (BYE, TEARDOWN). Each helper has its own group names. */
  group: string;
  /** The ALG that asked for it. */
  helper: string;
  /** Why it was opened, for the log. */
  reason: string;
  /** Default inbound. */
  direction?: ExpectationDirection;
  /** Default data. */
  cls?: ExpectationClass;
  /** The engine helper id attached to the flow it admits (0: chosen by port, as for any flow). */
  attach?: number;
}

export interface Expectation extends ExpectationRequest {
  readonly id: number;
  direction: ExpectationDirection;
  cls: ExpectationClass;
  attach: number;
  expiresAt: number;
  uses: number;
}

export type ExpectationRefusal = 'limit' | 'group-limit' | 'host-limit' | 'bad-port';

/**
 * The key an endpoint index files an expectation under: (address, port)
 * folded into a signed 32-bit integer, a small integer to a Map (an address
 * times 65536 plus the port would be a heap number, made anew on every
 * lookup). Distinct ports of one address, or one port of distinct addresses,
 * never share a key; other endpoints share one only by chance, and every
 * lookup compares each candidate's own endpoint.
 */
const endpointKey = (addr: number, port: number) => (addr ^ Math.imul(port, 0x9e3779b1)) | 0;
const atPublic = (e: Expectation, addr: number, port: number) => e.publicAddr === addr && e.publicPort === port;
const atInside = (e: Expectation, addr: number, port: number) => e.insideAddr === addr && e.insidePort === port;
const atRemote = (e: Expectation, addr: number, port: number) => e.remoteAddr === addr && e.remotePort === port;

/** Where each class counts in a helper's per-class counts (a switch: a keyed load by string is slower). */
function classIndex(cls: ExpectationClass): number {
  switch (cls) {
    case 'signalling':
      return 0;
    case 'audio':
      return 1;
    case 'video':
      return 2;
    default:
      return 3;
  }
}
const CLASSES = 4;

/**
 * One helper's part of the table: group -> its expectations (a call's
 * teardown touches only its own; groups are small, capped per group; nested
 * under the helper, not keyed by a joined string, which would be a new string
 * to build and hash on every pinhole), and its live expectations per class
 * (indexed by classIndex).
 */
class HelperEntry {
  private readonly groups = new Map<string, Expectation[]>();
  readonly classes = new Uint32Array(CLASSES);
  // The group last asked for and its list (undefined: it has none), kept at
  // hand: a call's pinholes come in a run, each one's cap checked and then
  // entered, in one group, and a new group is asked for three times before
  // it is made.
  private lastName: string | null = null;
  private lastList: Expectation[] | undefined = undefined;

  /** A group's expectations, or undefined when it has none. */
  list(group: string): Expectation[] | undefined {
    if (group === this.lastName) return this.lastList;
    const list = this.groups.get(group);
    this.lastName = group;
    this.lastList = list;
    return list;
  }

  /** Enters an expectation in its group. */
  addTo(group: string, e: Expectation): void {
    const list = this.list(group);
    if (list !== undefined) {
      list.push(e);
      return;
    }
    const made = [e];
    this.groups.set(group, made);
    this.lastName = group;
    this.lastList = made;
  }

  /** The group leaves (ended, or its last expectation gone). */
  drop(group: string): void {
    this.groups.delete(group);
    if (group === this.lastName) this.lastList = undefined;
  }
}

/**
 * Expectations under one endpoint key: nearly always one, kept as itself; an
 * array only when several share it (a re-offer, a wildcard beside a narrowed
 * one, two calls on one endpoint, or endpoints whose keys meet). Saves
 * building and splicing a one-element array for every pinhole.
 */
type AtEndpoint = Expectation | Expectation[];

/** An endpoint index, one map per transport protocol (no map of maps to walk for TCP and UDP). */
class EndpointIndex {
  private readonly tcp = new Map<number, AtEndpoint>();
  private readonly udp = new Map<number, AtEndpoint>();
  private readonly other = new Map<number, Map<number, AtEndpoint>>();

  private mapOf(proto: number, make: boolean): Map<number, AtEndpoint> | undefined {
    if (proto === 6) return this.tcp;
    if (proto === 17) return this.udp;
    let m = this.other.get(proto);
    if (!m && make) this.other.set(proto, (m = new Map()));
    return m;
  }

  get(proto: number, key: number): AtEndpoint | undefined {
    return this.mapOf(proto, false)?.get(key);
  }

  add(proto: number, key: number, e: Expectation): void {
    const m = this.mapOf(proto, true)!;
    const at = m.get(key);
    if (at === undefined) m.set(key, e);
    else if (Array.isArray(at)) at.push(e);
    else m.set(key, [at, e]);
  }

  drop(proto: number, key: number, e: Expectation): void {
    const m = this.mapOf(proto, false);
    const at = m?.get(key);
    if (!m || at === undefined) return;
    if (!Array.isArray(at)) {
      if (at === e) m.delete(key);
      return;
    }
    const i = at.indexOf(e);
    if (i >= 0) at.splice(i, 1);
    if (at.length === 1) m.set(key, at[0]);
    else if (at.length === 0) m.delete(key);
  }
}

/**
 * Where an expectation's id is filed in the id index. Ids count up; filed at
 * their own value they would lie in one run of the open-addressing table,
 * which every removal would walk to its end. Multiplied and folded,
 * neighbours scatter.
 */
function idHash(id: number): number {
  const h = Math.imul(id | 0, 0x9e3779b1);
  return h ^ (h >>> 15);
}

/** The id index's first size (it grows by doubling and never shrinks). */
const INITIAL_IDS = 256;

/** A group is named within its helper: two ALGs may use the same group name without touching each other's pinholes. */
export function groupKey(helper: string, group: string): string {
  return `${helper}\u0000${group}`;
}

/** The helper and group a groupKey was made of. */
export function splitGroupKey(key: string): [helper: string, group: string] {
  const i = key.indexOf('\u0000');
  return [key.slice(0, i), key.slice(i + 1)];
}

export class ExpectationTable {
  /**
   * Expectations live in slots (a freed slot is reused), found by id through
   * an open-addressing index of slot numbers: a Map keyed by id would grow,
   * shrink and rehash as each call's pinholes come and go.
   */
  private readonly slots: Array<Expectation | undefined> = [];
  private readonly freeSlots: number[] = [];
  /** id -> slot */
  private readonly byId = new HashIndex(INITIAL_IDS);
  /** proto -> (public addr, port) -> inbound expectations there */
  private readonly byPublic = new EndpointIndex();
  /** proto -> (inside addr, port) -> inbound expectations for that inside endpoint */
  private readonly byInside = new EndpointIndex();
  /** proto -> (remote addr, port) -> outbound expectations dialling there */
  private readonly byRemote = new EndpointIndex();
  /**
   * helper -> its groups and per-class counts. A helper's entry stays once
   * made (there are a handful of helpers); the last one used is kept at hand,
   * since an ALG opens its pinholes in runs (five for an H.323 Setup).
   */
  private readonly byHelper = new Map<string, HelperEntry>();
  private lastHelper = '';
  private lastEntry: HelperEntry | undefined = undefined;
  /** inside host -> how many expectations it has. */
  private readonly perHost = new Map<number, number>();
  private nextId = 1;

  constructor(
    private limit: number,
    private perGroupLimit: number,
    private perHostLimit = Number.POSITIVE_INFINITY,
  ) {}

  /** New caps (a reload): live expectations stay; new ones are refused until below them. */
  setLimits(limit: number, perGroup: number, perHost: number): void {
    this.limit = limit;
    this.perGroupLimit = perGroup;
    this.perHostLimit = perHost;
  }

  get size(): number {
    return this.byId.size;
  }

  /**
   * Adds an expectation; refuses when over a cap or for ports that open nothing
   * (port 0 or below 1024 on either end: DESIGN safety rule 4; for an outbound
   * expectation, the remote port it dials). `insidePort` and `reason` stand
   * in for the request's (a media pair's RTCP half, without a second request).
   */
  add(
    req: Omit<ExpectationRequest, 'publicAddr' | 'publicPort'>,
    publicAddr: number,
    publicPort: number,
    now: number,
    insidePort = req.insidePort,
    reason = req.reason,
  ): Expectation | ExpectationRefusal {
    const direction = req.direction ?? 'inbound';
    if (direction === 'inbound' ? publicPort < 1024 || insidePort < 1024 : req.remotePort < 1024 || req.remoteAddr === 0) return 'bad-port';
    if (this.byId.size >= this.limit) return 'limit';
    const inGroup = this.helperEntry(req.helper)?.list(req.group);
    if ((inGroup?.length ?? 0) >= this.perGroupLimit) return 'group-limit';
    const hostCount = this.perHost.get(req.insideAddr) ?? 0;
    if (hostCount >= this.perHostLimit) return 'host-limit';
    // An explicit literal, not a spread: one object shape for every expectation,
    // and several times faster to build.
    const e: Expectation = {
      id: this.nextId++,
      proto: req.proto,
      insideAddr: req.insideAddr,
      insidePort,
      publicAddr: direction === 'inbound' ? publicAddr : 0,
      publicPort: direction === 'inbound' ? publicPort : 0,
      remoteAddr: req.remoteAddr,
      remotePort: req.remotePort,
      ttlMs: req.ttlMs,
      singleUse: req.singleUse,
      group: req.group,
      helper: req.helper,
      reason,
      direction,
      cls: req.cls ?? 'data',
      attach: req.attach ?? 0,
      expiresAt: now + req.ttlMs,
      uses: 0,
    };
    this.index(e);
    return e;
  }

  /**
   * Puts back an expectation from saved state with its id and times (the
   * ALGs' own state names it by id); refused only when the table is full
   * (the caps per group and host held when it was opened). The id must be free.
   */
  restore(saved: Expectation): Expectation | 'limit' {
    if (this.byId.size >= this.limit) return 'limit';
    if (this.slotOf(saved.id) >= 0) throw new Error(`expectation ${saved.id} restored twice`);
    const e: Expectation = { ...saved };
    this.nextId = Math.max(this.nextId, e.id + 1);
    this.index(e);
    return e;
  }

  /** Enters an expectation in every index and count. */
  private index(e: Expectation): void {
    const slot = this.freeSlots.length > 0 ? this.freeSlots.pop()! : this.slots.length;
    this.slots[slot] = e;
    this.byId.insert(idHash(e.id), slot);
    let h = this.helperEntry(e.helper);
    if (!h) this.byHelper.set(e.helper, (h = new HelperEntry()));
    h.addTo(e.group, e);
    this.perHost.set(e.insideAddr, (this.perHost.get(e.insideAddr) ?? 0) + 1);
    h.classes[classIndex(e.cls)]++;
    if (e.direction === 'inbound') {
      this.byPublic.add(e.proto, endpointKey(e.publicAddr, e.publicPort), e);
      this.byInside.add(e.proto, endpointKey(e.insideAddr, e.insidePort), e);
    } else {
      this.byRemote.add(e.proto, endpointKey(e.remoteAddr, e.remotePort), e);
    }
  }

  /** A helper's entry: the last one used without a lookup. */
  private helperEntry(helper: string): HelperEntry | undefined {
    if (helper === this.lastHelper && this.lastEntry) return this.lastEntry;
    const h = this.byHelper.get(helper);
    if (h) {
      this.lastHelper = helper;
      this.lastEntry = h;
    }
    return h;
  }

  /** The slot of the live expectation `id`, or -1. */
  private slotOf(id: number): number {
    const idx = this.byId;
    const h = idHash(id);
    for (let s = idx.probe(h); ; s = idx.next(s)) {
      const slot = idx.idAt(s);
      if (slot < 0) return -1;
      if (idx.hashAt(s) === h && this.slots[slot]!.id === id) return slot;
    }
  }

  get(id: number): Expectation | undefined {
    const slot = this.slotOf(id);
    return slot < 0 ? undefined : this.slots[slot];
  }

  /** The live expectation admitting a packet from remAddr:remPort to pubAddr:pubPort. */
  matchInbound(proto: number, pubAddr: number, pubPort: number, remAddr: number, remPort: number, now: number): Expectation | null {
    const at = this.byPublic.get(proto, endpointKey(pubAddr, pubPort));
    if (at === undefined) return null;
    if (!Array.isArray(at)) return atPublic(at, pubAddr, pubPort) && admitsInbound(at, remAddr, remPort, now) ? at : null;
    for (const e of at) if (atPublic(e, pubAddr, pubPort) && admitsInbound(e, remAddr, remPort, now)) return e;
    return null;
  }

  /**
   * A live expectation for this inside endpoint: an outbound packet from it
   * leaves from the announced public port (the phone's RTP from the port its
   * SDP announced), whatever its destination; the remote pattern restricts
   * only what may come in.
   */
  matchOutbound(proto: number, inAddr: number, inPort: number, now: number): Expectation | null {
    const at = this.byInside.get(proto, endpointKey(inAddr, inPort));
    if (at === undefined) return null;
    if (!Array.isArray(at)) return atInside(at, inAddr, inPort) && at.expiresAt > now ? at : null;
    for (const e of at) if (atInside(e, inAddr, inPort) && e.expiresAt > now) return e;
    return null;
  }

  /** The live outbound expectation for the inside host `inAddr` dialling remAddr:remPort from inPort. */
  matchDial(proto: number, inAddr: number, inPort: number, remAddr: number, remPort: number, now: number): Expectation | null {
    const at = this.byRemote.get(proto, endpointKey(remAddr, remPort));
    if (at === undefined) return null;
    if (!Array.isArray(at)) return atRemote(at, remAddr, remPort) && admitsDial(at, inAddr, inPort, now) ? at : null;
    for (const e of at) if (atRemote(e, remAddr, remPort) && admitsDial(e, inAddr, inPort, now)) return e;
    return null;
  }

  /** The public port an existing expectation holds for this inside endpoint on `publicAddr`, or -1. */
  publicPortOf(proto: number, inAddr: number, inPort: number, publicAddr: number): number {
    const at = this.byInside.get(proto, endpointKey(inAddr, inPort));
    if (at === undefined) return -1;
    if (!Array.isArray(at)) return atInside(at, inAddr, inPort) && at.publicAddr === publicAddr ? at.publicPort : -1;
    for (const e of at) if (atInside(e, inAddr, inPort) && e.publicAddr === publicAddr) return e.publicPort;
    return -1;
  }

  /** Whether an expectation of this inside endpoint already holds the public endpoint (a re-offer may reuse it). */
  holds(proto: number, inAddr: number, inPort: number, pubAddr: number, pubPort: number): boolean {
    const at = this.byInside.get(proto, endpointKey(inAddr, inPort));
    if (at === undefined) return false;
    if (!Array.isArray(at)) return atInside(at, inAddr, inPort) && atPublic(at, pubAddr, pubPort);
    return at.some((x) => atInside(x, inAddr, inPort) && atPublic(x, pubAddr, pubPort));
  }

  remove(id: number): Expectation | undefined {
    const slot = this.slotOf(id);
    if (slot < 0) return undefined;
    const e = this.slots[slot]!;
    const h = this.helperEntry(e.helper);
    const inGroup = h?.list(e.group);
    if (h && inGroup) {
      const i = inGroup.indexOf(e);
      if (i >= 0) inGroup.splice(i, 1);
      if (inGroup.length === 0) h.drop(e.group);
    }
    this.unindex(e, slot);
    return e;
  }

  /** Takes an expectation (in `slot`) out of every index and count but its group's (the caller's). */
  private unindex(e: Expectation, slot: number): void {
    this.byId.remove(idHash(e.id), slot);
    this.slots[slot] = undefined;
    this.freeSlots.push(slot);
    const hostCount = (this.perHost.get(e.insideAddr) ?? 1) - 1;
    if (hostCount === 0) this.perHost.delete(e.insideAddr);
    else this.perHost.set(e.insideAddr, hostCount);
    const classes = this.helperEntry(e.helper)?.classes;
    const ci = classIndex(e.cls);
    if (classes && classes[ci] > 0) classes[ci]--;
    if (e.direction === 'inbound') {
      this.byPublic.drop(e.proto, endpointKey(e.publicAddr, e.publicPort), e);
      this.byInside.drop(e.proto, endpointKey(e.insideAddr, e.insidePort), e);
    } else {
      this.byRemote.drop(e.proto, endpointKey(e.remoteAddr, e.remotePort), e);
    }
  }

  /** Removes every expectation of a helper's group (a call ended), or of that group name in every helper; returns them. */
  removeGroup(group: string, helper?: string): Expectation[] {
    if (helper === undefined) {
      const out = this.inGroup(group, undefined);
      for (const e of out) this.remove(e.id);
      return out;
    }
    // A helper's group goes whole: its list leaves the table as it is, no search and splice per member.
    const h = this.helperEntry(helper);
    const list = h?.list(group);
    if (!h || !list) return [];
    h.drop(group);
    for (const e of list) {
      const slot = this.slotOf(e.id);
      if (slot >= 0) this.unindex(e, slot);
    }
    return list;
  }

  /** The expectations of a helper's group, or of that group name in every helper (an operator's view). */
  private inGroup(group: string, helper: string | undefined): Expectation[] {
    if (helper !== undefined) return [...(this.helperEntry(helper)?.list(group) ?? [])];
    const out: Expectation[] = [];
    for (const h of this.byHelper.values()) {
      const list = h.list(group);
      if (list) out.push(...list);
    }
    return out;
  }

  /** Removes and returns the expectations whose time is up. */
  expire(now: number): Expectation[] {
    const out: Expectation[] = [];
    for (const e of this.slots) if (e !== undefined && e.expiresAt <= now) out.push(e);
    out.sort(byId);
    for (const e of out) this.remove(e.id);
    return out;
  }

  /** Every live expectation, oldest id first. */
  list(): Expectation[] {
    const out: Expectation[] = [];
    for (const e of this.slots) if (e !== undefined) out.push(e);
    return out.sort(byId);
  }

  countInGroup(group: string, helper?: string): number {
    return helper === undefined ? this.inGroup(group, undefined).length : (this.helperEntry(helper)?.list(group)?.length ?? 0);
  }

  /** Live expectations of one class in a helper's group. */
  countInGroupOfClass(helper: string, group: string, cls: ExpectationClass): number {
    const list = this.helperEntry(helper)?.list(group);
    if (!list) return 0;
    let n = 0;
    for (const e of list) if (e.cls === cls) n++;
    return n;
  }

  /** Live expectations an inside host has. */
  countForHost(insideAddr: number): number {
    return this.perHost.get(insideAddr) ?? 0;
  }

  /** Live expectations of one ALG and class. */
  countForHelper(helper: string, cls: ExpectationClass): number {
    return this.helperEntry(helper)?.classes[classIndex(cls)] ?? 0;
  }
}

function admitsInbound(e: Expectation, remAddr: number, remPort: number, now: number): boolean {
  return e.expiresAt > now && (e.remoteAddr === 0 || e.remoteAddr === remAddr) && (e.remotePort === 0 || e.remotePort === remPort);
}

function admitsDial(e: Expectation, inAddr: number, inPort: number, now: number): boolean {
  return e.expiresAt > now && e.insideAddr === inAddr && (e.insidePort === 0 || e.insidePort === inPort);
}

const byId = (a: Expectation, b: Expectation) => a.id - b.id;
