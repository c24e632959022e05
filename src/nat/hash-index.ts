/**
 * An open-addressing hash index from a 32-bit key hash to record ids.
 *
 * It stores (hash, id) pairs only; the caller owns the records and decides
 * whether a candidate id really matches. That keeps one index type serving every
 * tuple shape, lets several records share a key (a multi-index), and costs 8
 * bytes per slot at a load factor of at most 1/2: about 16 bytes per entry.
 *
 * Linear probing with backward-shift deletion: no tombstones, so lookups never
 * slow down as flows come and go.
 */

const EMPTY = -1;

export class HashIndex {
  private hashes: Int32Array;
  private ids: Int32Array;
  private mask: number;
  private count = 0;

  constructor(initialCapacity = 1024) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap *= 2;
    this.hashes = new Int32Array(cap);
    this.ids = new Int32Array(cap).fill(EMPTY);
    this.mask = cap - 1;
  }

  get size(): number {
    return this.count;
  }

  get bytes(): number {
    return this.hashes.byteLength + this.ids.byteLength;
  }

  insert(hash: number, id: number): void {
    if ((this.count + 1) * 2 > this.ids.length) this.grow();
    this.place(hash | 0, id);
    this.count++;
  }

  /**
   * The first id stored under `hash` for which `matches(id)` is true, or -1.
   * Callers on the hot path use probe()/next() instead to avoid a closure.
   */
  find(hash: number, matches: (id: number) => boolean): number {
    const h = hash | 0;
    for (let slot = h & this.mask; ; slot = (slot + 1) & this.mask) {
      const id = this.ids[slot];
      if (id === EMPTY) return -1;
      if (this.hashes[slot] === h && matches(id)) return id;
    }
  }

  /** Start of a probe for `hash`: a slot to pass to idAt/hashAt/next. */
  probe(hash: number): number {
    return hash & this.mask;
  }

  next(slot: number): number {
    return (slot + 1) & this.mask;
  }

  /** The id in a slot, or -1 when the probe has reached an empty slot (not found). */
  idAt(slot: number): number {
    return this.ids[slot];
  }

  hashAt(slot: number): number {
    return this.hashes[slot];
  }

  /** Removes the entry (hash, id); returns false when it was not there. */
  remove(hash: number, id: number): boolean {
    const h = hash | 0;
    const mask = this.mask;
    let slot = h & mask;
    for (;;) {
      const cur = this.ids[slot];
      if (cur === EMPTY) return false;
      if (cur === id && this.hashes[slot] === h) break;
      slot = (slot + 1) & mask;
    }
    // Backward-shift: pull later entries of the run into the hole when their home
    // slot does not lie cyclically within (hole, their slot].
    let hole = slot;
    let j = slot;
    for (;;) {
      j = (j + 1) & mask;
      const idj = this.ids[j];
      if (idj === EMPTY) break;
      const home = this.hashes[j] & mask;
      const between = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (between) continue;
      this.ids[hole] = idj;
      this.hashes[hole] = this.hashes[j];
      hole = j;
    }
    this.ids[hole] = EMPTY;
    this.count--;
    return true;
  }

  clear(): void {
    this.ids.fill(EMPTY);
    this.count = 0;
  }

  private place(h: number, id: number): void {
    let slot = h & this.mask;
    while (this.ids[slot] !== EMPTY) slot = (slot + 1) & this.mask;
    this.ids[slot] = id;
    this.hashes[slot] = h;
  }

  private grow(): void {
    const oldIds = this.ids;
    const oldHashes = this.hashes;
    const cap = oldIds.length * 2;
    this.ids = new Int32Array(cap).fill(EMPTY);
    this.hashes = new Int32Array(cap);
    this.mask = cap - 1;
    for (let i = 0; i < oldIds.length; i++) {
      if (oldIds[i] !== EMPTY) this.place(oldHashes[i], oldIds[i]);
    }
  }
}

/**
 * The record stored under `h` whose key columns hold (proto, a, pa, b, pb), or
 * -1: the lookup every 5-tuple table shares (flows from either side,
 * mappings from inside). The columns are the caller's typed arrays; the hash
 * is compared first, so a column is read only for a likely match.
 */
export function findTuple(
  idx: HashIndex,
  h: number,
  proto: number,
  a: number,
  pa: number,
  b: number,
  pb: number,
  protos: Uint8Array,
  as: Uint32Array,
  pas: Uint16Array,
  bs: Uint32Array,
  pbs: Uint16Array,
): number {
  for (let s = idx.probe(h); ; s = idx.next(s)) {
    const id = idx.idAt(s);
    if (id < 0) return -1;
    if (idx.hashAt(s) === h && as[id] === a && bs[id] === b && pas[id] === pa && pbs[id] === pb && protos[id] === proto) return id;
  }
}

/**
 * MurmurHash3 (x86, 32-bit) over the tuple's words: each word is mixed on its
 * own before it is combined, so fields that vary together (consecutive inside
 * addresses and ports) cannot cancel out. Never allocates.
 */
function round(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Hash of (proto, addrA, portA, addrB, portB): the shape of every 5-tuple key. */
export function tupleHash(proto: number, a: number, pa: number, b: number, pb: number): number {
  let h = round(0x6d61_7371, (proto << 16) | pa);
  h = round(h, a);
  h = round(h, b);
  h = round(h, pb);
  return finish(h ^ 16);
}
