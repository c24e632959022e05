/** pcapng blocks built field by field, in either byte order, independent of masq's writer: for tests. */
export class Blocks {
  readonly parts: Uint8Array[] = [];
  constructor(private le = true) {}

  private u16(v: number): number[] {
    return this.le ? [v & 0xff, v >> 8] : [v >> 8, v & 0xff];
  }
  private u32(v: number): number[] {
    const b = [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
    return this.le ? b.reverse() : b;
  }
  option(code: number, value: number[]): number[] {
    const pad = (4 - (value.length % 4)) % 4;
    return [...this.u16(code), ...this.u16(value.length), ...value, ...new Array<number>(pad).fill(0)];
  }
  endOfOptions(): number[] {
    return [0, 0, 0, 0];
  }
  block(type: number, body: number[], overrideLength?: number): this {
    const length = overrideLength ?? 12 + body.length;
    this.parts.push(new Uint8Array([...this.u32(type), ...this.u32(length), ...body, ...this.u32(length)]));
    return this;
  }
  shb(le: boolean, options: number[] = []): this {
    this.le = le;
    return this.block(0x0a0d0d0a, [...this.u32(0x1a2b3c4d), ...this.u16(1), ...this.u16(0), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...options]);
  }
  idb(linkType: number, snap: number, options: number[] = []): this {
    return this.block(1, [...this.u16(linkType), 0, 0, ...this.u32(snap), ...options]);
  }
  epb(ifId: number, high: number, low: number, data: number[], orig = data.length): this {
    const pad = new Array<number>((4 - (data.length % 4)) % 4).fill(0);
    return this.block(6, [...this.u32(ifId), ...this.u32(high), ...this.u32(low), ...this.u32(data.length), ...this.u32(orig), ...data, ...pad]);
  }
  spb(orig: number, data: number[]): this {
    const pad = new Array<number>((4 - (data.length % 4)) % 4).fill(0);
    return this.block(3, [...this.u32(orig), ...data, ...pad]);
  }
  pb(ifId: number, high: number, low: number, data: number[], orig = data.length): this {
    const pad = new Array<number>((4 - (data.length % 4)) % 4).fill(0);
    return this.block(2, [...this.u16(ifId), 0, 0, ...this.u32(high), ...this.u32(low), ...this.u32(data.length), ...this.u32(orig), ...data, ...pad]);
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of this.parts) {
      out.set(p, offset);
      offset += p.length;
    }
    return out;
  }
}
