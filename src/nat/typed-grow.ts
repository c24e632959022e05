/** Growing struct-of-arrays columns: a new, larger typed array holding the old contents. */
type Column = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array;

export function grown<T extends Column>(column: T, capacity: number): T {
  const Ctor = column.constructor as new (n: number) => T;
  const out = new Ctor(capacity);
  out.set(column as never);
  return out;
}

/** A stack of free ids, reused before the table grows. */
export class FreeList {
  private stack: Int32Array;
  private top = 0;
  constructor(capacity: number) {
    this.stack = new Int32Array(capacity);
  }
  get size(): number {
    return this.top;
  }
  push(id: number): void {
    if (this.top === this.stack.length) this.stack = grown(this.stack, this.stack.length * 2);
    this.stack[this.top++] = id;
  }
  pop(): number {
    return this.top === 0 ? -1 : this.stack[--this.top];
  }
  get bytes(): number {
    return this.stack.byteLength;
  }
}

/**
 * Row ids of a struct-of-arrays table: freed ids are reused first, then fresh
 * ones; when the columns are full they grow by doubling (at least to one row,
 * at most to the limit), and the table regrows its columns in `onGrow`.
 */
export class SlotAllocator {
  capacity: number;
  used = 0;
  /** Rows below this have been handed out at least once (live or freed). */
  highWater = 0;
  private readonly free = new FreeList(64);

  constructor(
    initialCapacity: number,
    private limit: number,
    private readonly onGrow: (capacity: number) => void,
  ) {
    this.capacity = Math.max(1, Math.min(initialCapacity, limit));
  }

  /** A row id for a new entry (the caller checks the limit first). */
  take(): number {
    let id = this.free.pop();
    if (id < 0) {
      if (this.highWater === this.capacity) {
        this.capacity = Math.min(this.limit, this.capacity * 2);
        this.onGrow(this.capacity);
      }
      id = this.highWater++;
    }
    this.used++;
    return id;
  }

  /** Growth stops at the new limit; rows already handed out stay valid. */
  setLimit(limit: number): void {
    this.limit = Math.max(limit, this.capacity);
  }

  release(id: number): void {
    this.used--;
    this.free.push(id);
  }

  get bytes(): number {
    return this.free.bytes;
  }
}
