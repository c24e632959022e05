/**
 * Mappings (RFC 4787): an inside endpoint bound to a public endpoint. How many
 * remote endpoints share one mapping is the mapping behaviour: the inside key
 * carries the remote address (address-dependent) or address and port
 * (address-and-port-dependent), or neither (endpoint-independent).
 *
 * A public endpoint belongs to at most one mapping: no port overloading. Flows
 * hold references; a mapping lives while any flow uses it.
 */
import { findTuple, HashIndex, tupleHash } from './hash-index.js';
import { grown, SlotAllocator } from './typed-grow.js';

export const NO_MAPPING = -1;

export class MappingTable {
  private readonly slots: SlotAllocator;

  proto: Uint8Array;
  inAddr: Uint32Array;
  inPort: Uint16Array;
  pubAddr: Uint32Array;
  pubPort: Uint16Array;
  keyRemAddr: Uint32Array;
  keyRemPort: Uint16Array;
  refs: Uint32Array;

  readonly insideIndex: HashIndex;
  readonly publicIndex: HashIndex;

  constructor(initialCapacity = 1024) {
    this.slots = new SlotAllocator(initialCapacity, Number.MAX_SAFE_INTEGER, (cap) => this.grow(cap));
    const n = this.slots.capacity;
    this.proto = new Uint8Array(n);
    this.inAddr = new Uint32Array(n);
    this.inPort = new Uint16Array(n);
    this.pubAddr = new Uint32Array(n);
    this.pubPort = new Uint16Array(n);
    this.keyRemAddr = new Uint32Array(n);
    this.keyRemPort = new Uint16Array(n);
    this.refs = new Uint32Array(n);
    this.insideIndex = new HashIndex(n);
    this.publicIndex = new HashIndex(n);
  }

  get capacity(): number {
    return this.slots.capacity;
  }

  get size(): number {
    return this.slots.used;
  }

  get bytes(): number {
    return (1 + 4 + 2 + 4 + 2 + 4 + 2 + 4) * this.capacity + this.insideIndex.bytes + this.publicIndex.bytes + this.slots.bytes;
  }

  add(
    proto: number,
    inAddr: number,
    inPort: number,
    keyRemAddr: number,
    keyRemPort: number,
    pubAddr: number,
    pubPort: number,
  ): number {
    const id = this.slots.take();
    this.proto[id] = proto;
    this.inAddr[id] = inAddr;
    this.inPort[id] = inPort;
    this.keyRemAddr[id] = keyRemAddr;
    this.keyRemPort[id] = keyRemPort;
    this.pubAddr[id] = pubAddr;
    this.pubPort[id] = pubPort;
    this.refs[id] = 0;
    this.insideIndex.insert(tupleHash(proto, inAddr, inPort, keyRemAddr, keyRemPort), id);
    this.publicIndex.insert(tupleHash(proto, pubAddr, pubPort, 0, 0), id);
    return id;
  }

  remove(id: number): void {
    const proto = this.proto[id];
    this.insideIndex.remove(
      tupleHash(proto, this.inAddr[id], this.inPort[id], this.keyRemAddr[id], this.keyRemPort[id]),
      id,
    );
    this.publicIndex.remove(tupleHash(proto, this.pubAddr[id], this.pubPort[id], 0, 0), id);
    this.proto[id] = 0;
    this.slots.release(id);
  }

  isLive(id: number): boolean {
    return id >= 0 && id < this.slots.highWater && this.proto[id] !== 0;
  }

  findInside(proto: number, inAddr: number, inPort: number, keyRemAddr: number, keyRemPort: number): number {
    const h = tupleHash(proto, inAddr, inPort, keyRemAddr, keyRemPort);
    return findTuple(this.insideIndex, h, proto, inAddr, inPort, keyRemAddr, keyRemPort, this.proto, this.inAddr, this.inPort, this.keyRemAddr, this.keyRemPort);
  }

  findPublic(proto: number, pubAddr: number, pubPort: number): number {
    const idx = this.publicIndex;
    const h = tupleHash(proto, pubAddr, pubPort, 0, 0);
    for (let s = idx.probe(h); ; s = idx.next(s)) {
      const id = idx.idAt(s);
      if (id < 0) return NO_MAPPING;
      if (idx.hashAt(s) === h && this.pubAddr[id] === pubAddr && this.pubPort[id] === pubPort && this.proto[id] === proto) {
        return id;
      }
    }
  }

  *ids(): IterableIterator<number> {
    for (let id = 0; id < this.slots.highWater; id++) if (this.proto[id] !== 0) yield id;
  }

  private grow(cap: number): void {
    this.proto = grown(this.proto, cap);
    this.inAddr = grown(this.inAddr, cap);
    this.inPort = grown(this.inPort, cap);
    this.pubAddr = grown(this.pubAddr, cap);
    this.pubPort = grown(this.pubPort, cap);
    this.keyRemAddr = grown(this.keyRemAddr, cap);
    this.keyRemPort = grown(this.keyRemPort, cap);
    this.refs = grown(this.refs, cap);
  }
}
