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
