/**
 * The session table: one entry per (inside endpoint, remote endpoint) conversation,
 * stored as columns of typed arrays (no per-flow JS objects: no GC pressure, about
 * 100 bytes a flow with its indexes), found in O(1) from either direction:
 *
 *   outbound key: (proto, inside addr, inside port, remote addr, remote port)
 *   inbound key:  (proto, remote addr, remote port, public addr, public port)
 *
 * Each flow sits on the expiry list of its timeout class, ordered by last
 * activity: refreshing moves it to the tail, expiry pops from the head. O(1) per
 * packet, however many flows there are.
 */
import * as hashIndexModule from './hash-index.js';
import { grown, SlotAllocator } from './typed-grow.js';

// Imported bindings are live: V8 reloads and checks them on every use in a hot
// loop. Local copies, taken once at load, are constants it can fold.
const { HashIndex, findTuple, tupleHash } = hashIndexModule;
type HashIndex = hashIndexModule.HashIndex;

export const NO_FLOW = -1;

/** Flow flags: how a flow came to exist. */
export const FLOW_INBOUND = 1; // first packet came from outside (filtering, expectation, forward)
export const FLOW_EXPECTED = 2;
export const FLOW_FORWARDED = 4;
export const FLOW_TRIGGERED = 8;
export const FLOW_REPLIED = 16; // traffic seen in both directions
export const FLOW_TRIGGER_SOURCE = 32; // outbound traffic on this flow keeps a port trigger alive
export const FLOW_CHILD = 64; // admitted by an ALG's expectation: belongs to its group (a call)

/** Timeout classes: the index of a flow's expiry list (and of its timeout in `timeouts`). */
export const TIMEOUT_UDP = 0;
export const TIMEOUT_TCP_ESTABLISHED = 1;
export const TIMEOUT_TCP_TRANSITORY = 2;
export const TIMEOUT_ICMP = 3;

export class FlowTable {
  readonly limit: number;
  private readonly slots: SlotAllocator;

  proto: Uint8Array;
  state: Uint8Array;
  flags: Uint8Array;
  tclass: Uint8Array;
  helper: Uint8Array;
  inAddr: Uint32Array;
  pubAddr: Uint32Array;
  remAddr: Uint32Array;
  inPort: Uint16Array;
  pubPort: Uint16Array;
  remPort: Uint16Array;
  mapping: Int32Array;
  lastSeen: Float64Array;
  created: Float64Array;
  prev: Int32Array;
  next: Int32Array;
  packetsOut: Float64Array;
  packetsIn: Float64Array;
  bytesOut: Float64Array;
  bytesIn: Float64Array;

  readonly outIndex: HashIndex;
  readonly inIndex: HashIndex;
  /** (proto, remote addr, public addr, public port): for address-dependent filtering. */
  readonly addrIndex: HashIndex | null;

  /** Expiry lists, one per timeout class. */
  private readonly heads: Int32Array;
  private readonly tails: Int32Array;
  readonly timeouts: Float64Array;

  constructor(limit: number, timeoutsMs: number[], withAddressIndex: boolean, initialCapacity = 1024) {
    this.limit = limit;
    this.slots = new SlotAllocator(initialCapacity, limit, (cap) => this.grow(cap));
    const n = this.slots.capacity;
    this.proto = new Uint8Array(n);
    this.state = new Uint8Array(n);
    this.flags = new Uint8Array(n);
    this.tclass = new Uint8Array(n);
    this.helper = new Uint8Array(n);
    this.inAddr = new Uint32Array(n);
    this.pubAddr = new Uint32Array(n);
    this.remAddr = new Uint32Array(n);
    this.inPort = new Uint16Array(n);
    this.pubPort = new Uint16Array(n);
    this.remPort = new Uint16Array(n);
    this.mapping = new Int32Array(n);
    this.lastSeen = new Float64Array(n);
    this.created = new Float64Array(n);
    this.prev = new Int32Array(n);
    this.next = new Int32Array(n);
    this.packetsOut = new Float64Array(n);
    this.packetsIn = new Float64Array(n);
    this.bytesOut = new Float64Array(n);
    this.bytesIn = new Float64Array(n);
    this.outIndex = new HashIndex(n);
    this.inIndex = new HashIndex(n);
    this.addrIndex = withAddressIndex ? new HashIndex(n) : null;
    this.timeouts = Float64Array.from(timeoutsMs);
    this.heads = new Int32Array(timeoutsMs.length).fill(NO_FLOW);
    this.tails = new Int32Array(timeoutsMs.length).fill(NO_FLOW);
  }

  get capacity(): number {
    return this.slots.capacity;
  }

  get size(): number {
    return this.slots.used;
  }

  get full(): boolean {
    return this.slots.used >= this.limit;
  }

  /** Bytes held by the table's columns and indexes (for the memory benchmark). */
  get bytes(): number {
    const perFlow = 1 * 5 + 4 * 3 + 2 * 3 + 4 + 8 * 2 + 4 * 2 + 8 * 4;
    return (
      perFlow * this.capacity +
      this.outIndex.bytes +
      this.inIndex.bytes +
      (this.addrIndex?.bytes ?? 0) +
      this.slots.bytes
    );
  }

  /** Creates a flow and indexes it; NO_FLOW when the table is at its limit. */
  add(
    proto: number,
    inAddr: number,
    inPort: number,
    pubAddr: number,
    pubPort: number,
    remAddr: number,
    remPort: number,
    mapping: number,
    tclass: number,
    flags: number,
    now: number,
  ): number {
    if (this.slots.used >= this.limit) return NO_FLOW;
    const id = this.slots.take();
    this.proto[id] = proto;
    this.state[id] = 0;
    this.flags[id] = flags;
    this.helper[id] = 0;
    this.inAddr[id] = inAddr;
    this.inPort[id] = inPort;
    this.pubAddr[id] = pubAddr;
    this.pubPort[id] = pubPort;
    this.remAddr[id] = remAddr;
    this.remPort[id] = remPort;
    this.mapping[id] = mapping;
    this.created[id] = now;
    this.lastSeen[id] = now;
    this.packetsOut[id] = 0;
    this.packetsIn[id] = 0;
    this.bytesOut[id] = 0;
    this.bytesIn[id] = 0;
    this.tclass[id] = tclass;
    this.append(id);
    this.outIndex.insert(tupleHash(proto, inAddr, inPort, remAddr, remPort), id);
    this.inIndex.insert(tupleHash(proto, remAddr, remPort, pubAddr, pubPort), id);
    this.addrIndex?.insert(tupleHash(proto, remAddr, 0, pubAddr, pubPort), id);
    return id;
  }

  remove(id: number): void {
    const proto = this.proto[id];
    this.outIndex.remove(tupleHash(proto, this.inAddr[id], this.inPort[id], this.remAddr[id], this.remPort[id]), id);
    this.inIndex.remove(tupleHash(proto, this.remAddr[id], this.remPort[id], this.pubAddr[id], this.pubPort[id]), id);
    this.addrIndex?.remove(tupleHash(proto, this.remAddr[id], 0, this.pubAddr[id], this.pubPort[id]), id);
    this.unlink(id);
    this.proto[id] = 0; // marks the slot free
    this.slots.release(id);
  }

  isLive(id: number): boolean {
    return id >= 0 && id < this.slots.highWater && this.proto[id] !== 0;
  }

  findOutbound(proto: number, inAddr: number, inPort: number, remAddr: number, remPort: number): number {
    const h = tupleHash(proto, inAddr, inPort, remAddr, remPort);
    return findTuple(this.outIndex, h, proto, inAddr, inPort, remAddr, remPort, this.proto, this.inAddr, this.inPort, this.remAddr, this.remPort);
  }

  findInbound(proto: number, remAddr: number, remPort: number, pubAddr: number, pubPort: number): number {
    const h = tupleHash(proto, remAddr, remPort, pubAddr, pubPort);
    return findTuple(this.inIndex, h, proto, remAddr, remPort, pubAddr, pubPort, this.proto, this.remAddr, this.remPort, this.pubAddr, this.pubPort);
  }

  /** Any flow from this public endpoint to any port of remAddr (address-dependent filtering). */
  findByRemoteAddress(proto: number, remAddr: number, pubAddr: number, pubPort: number): number {
    const idx = this.addrIndex;
    if (!idx) throw new Error('address index not enabled');
    const h = tupleHash(proto, remAddr, 0, pubAddr, pubPort);
    for (let s = idx.probe(h); ; s = idx.next(s)) {
      const id = idx.idAt(s);
      if (id < 0) return NO_FLOW;
      if (
        idx.hashAt(s) === h &&
        this.remAddr[id] === remAddr &&
        this.pubAddr[id] === pubAddr &&
        this.pubPort[id] === pubPort &&
        this.proto[id] === proto
      ) {
        return id;
      }
    }
  }

  expiresAt(id: number): number {
    return this.lastSeen[id] + this.timeouts[this.tclass[id]];
  }

  isExpired(id: number, now: number): boolean {
    return this.lastSeen[id] + this.timeouts[this.tclass[id]] <= now;
  }

  /** Activity: the flow moves to the tail of its expiry list. */
  touch(id: number, now: number): void {
    this.lastSeen[id] = now;
    if (this.next[id] === NO_FLOW) return; // already the tail
    this.unlink(id);
    this.append(id);
  }

  /** Moves the flow to another timeout class; a change of state counts as activity. */
  setClass(id: number, tclass: number, now: number): void {
    this.unlink(id);
    this.tclass[id] = tclass;
    this.lastSeen[id] = now;
    this.append(id);
  }

  /**
   * Calls onExpired for flows whose time is up, oldest first, at most `budget`
   * of them; onExpired must remove the flow. Returns how many expired.
   */
  sweep(now: number, budget: number, onExpired: (id: number) => void): number {
    let n = 0;
    for (let c = 0; c < this.heads.length; c++) {
      const timeout = this.timeouts[c];
      for (let id = this.heads[c]; id !== NO_FLOW && n < budget; id = this.heads[c]) {
        if (this.lastSeen[id] + timeout > now) break;
        onExpired(id);
        n++;
      }
    }
    return n;
  }

  /** One past the highest row ever handed out: listings scan the ids below it, a slice at a time. */
  get slotEnd(): number {
    return this.slots.highWater;
  }

  /** A new flow limit: rows already live stay; below it again, new flows are admitted. */
  setLimit(limit: number): void {
    (this as { limit: number }).limit = limit;
    this.slots.setLimit(limit);
  }

  /** Every live flow id (for listings; not for the hot path). */
  *ids(): IterableIterator<number> {
    for (let id = 0; id < this.slots.highWater; id++) if (this.proto[id] !== 0) yield id;
  }

  private append(id: number): void {
    const c = this.tclass[id];
    const tail = this.tails[c];
    this.prev[id] = tail;
    this.next[id] = NO_FLOW;
    if (tail === NO_FLOW) this.heads[c] = id;
    else this.next[tail] = id;
    this.tails[c] = id;
  }

  private unlink(id: number): void {
    const c = this.tclass[id];
    const p = this.prev[id];
    const n = this.next[id];
    if (p === NO_FLOW) this.heads[c] = n;
    else this.next[p] = n;
    if (n === NO_FLOW) this.tails[c] = p;
    else this.prev[n] = p;
    this.prev[id] = NO_FLOW;
    this.next[id] = NO_FLOW;
  }

  private grow(cap: number): void {
    this.proto = grown(this.proto, cap);
    this.state = grown(this.state, cap);
    this.flags = grown(this.flags, cap);
    this.tclass = grown(this.tclass, cap);
    this.helper = grown(this.helper, cap);
    this.inAddr = grown(this.inAddr, cap);
    this.pubAddr = grown(this.pubAddr, cap);
    this.remAddr = grown(this.remAddr, cap);
    this.inPort = grown(this.inPort, cap);
    this.pubPort = grown(this.pubPort, cap);
    this.remPort = grown(this.remPort, cap);
    this.mapping = grown(this.mapping, cap);
    this.lastSeen = grown(this.lastSeen, cap);
    this.created = grown(this.created, cap);
    this.prev = grown(this.prev, cap);
    this.next = grown(this.next, cap);
    this.packetsOut = grown(this.packetsOut, cap);
    this.packetsIn = grown(this.packetsIn, cap);
    this.bytesOut = grown(this.bytesOut, cap);
    this.bytesIn = grown(this.bytesIn, cap);
  }
}
