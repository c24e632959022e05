/** Static port forwards: a public port (or range) to an inside host, from config. */
import type { ResolvedForward } from './config.js';

export interface ForwardTarget {
  insideAddr: number;
  insidePort: number;
}

const key = (addr: number, port: number) => addr * 65536 + port;

export class ForwardTable {
  /** proto -> (public addr, port) -> target */
  private readonly byProto = new Map<number, Map<number, ForwardTarget>>();

  constructor(forwards: readonly ResolvedForward[]) {
    this.replace(forwards);
  }

  /** Takes a new set of forwards (a reload); the caller moves the port claims. */
  replace(forwards: readonly ResolvedForward[]): void {
    this.byProto.clear();
    for (const f of forwards) {
      let m = this.byProto.get(f.proto);
      if (!m) this.byProto.set(f.proto, (m = new Map()));
      for (const a of f.publicAddrs) {
        for (let p = f.first; p <= f.last; p++) {
          m.set(key(a, p), { insideAddr: f.inside, insidePort: f.insideFirst + (p - f.first) });
        }
      }
    }
  }

  lookup(proto: number, pubAddr: number, pubPort: number): ForwardTarget | undefined {
    return this.byProto.get(proto)?.get(key(pubAddr, pubPort));
  }

  /** Every (proto, public addr, port) claimed, to hold them in the port pools. */
  *claims(): IterableIterator<[number, number, number]> {
    for (const [proto, m] of this.byProto) {
      for (const k of m.keys()) yield [proto, Math.floor(k / 65536), k % 65536];
    }
  }
}
