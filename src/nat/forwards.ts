/** Static port forwards: a public port (or range) to an inside host, from config. */
import type { ResolvedForward } from './config.js';

export interface ForwardTarget {
  insideAddr: number;
  insidePort: number;
  /** Added by a port mapping rather than the configuration. */
  dynamic?: boolean;
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

  /**
   * A forward that a port mapping (PCP, NAT-PMP, UPnP) adds while it lives;
   * the port mapping table holds its public port. Never over a static one.
   */
  addDynamic(proto: number, pubAddr: number, pubPort: number, insideAddr: number, insidePort: number): void {
    let m = this.byProto.get(proto);
    if (!m) this.byProto.set(proto, (m = new Map()));
    const k = key(pubAddr, pubPort);
    if (!m.has(k)) m.set(k, { insideAddr, insidePort, dynamic: true });
  }

  /** Removes a forward addDynamic added (a static one stays). */
  removeDynamic(proto: number, pubAddr: number, pubPort: number): void {
    const m = this.byProto.get(proto);
    const k = key(pubAddr, pubPort);
    if (m?.get(k)?.dynamic) m.delete(k);
  }

  /** Every (proto, public addr, port) claimed, to hold them in the port pools. */
  *claims(): IterableIterator<[number, number, number]> {
    for (const [proto, m] of this.byProto) {
      for (const [k, t] of m) if (!t.dynamic) yield [proto, Math.floor(k / 65536), k % 65536];
    }
  }
}
