/**
 * The port pools of every (public address, protocol), made on first use with
 * the configured allocation. One place owns them, so a forward, a trigger, an
 * expectation and a mapping all count their references on the same pool.
 */
import type { ResolvedNatConfig } from './config.js';
import { PortPool } from './port-pool.js';

const PROTO_ICMP = 1;

export class PortPools {
  private readonly pools = new Map<number, PortPool>();

  constructor(
    private readonly ports: ResolvedNatConfig['ports'],
    private readonly random: () => number,
  ) {}

  /** The pool of a public address and protocol. */
  of(addr: number, proto: number): PortPool {
    const key = addr * 256 + proto;
    let p = this.pools.get(key);
    if (!p) {
      const ports = this.ports;
      const icmp = proto === PROTO_ICMP;
      p = new PortPool({
        // ICMP identifiers have no well-known range: the whole space is one pool.
        allocation: ports.allocation,
        parity: icmp ? false : ports.parity,
        range: icmp ? (ports.icmpRange ?? [1024, 65535]) : ports.range,
        lowRange: icmp ? (ports.icmpLowRange ?? [1, 1023]) : ports.lowRange,
        random: this.random,
      });
      this.pools.set(key, p);
    }
    return p;
  }

  /** A free port of the inside port's parity, without holding it; -1 if none. */
  peek(addr: number, proto: number, insidePort: number): number {
    const pool = this.of(addr, proto);
    const p = pool.allocate(Math.max(insidePort, 1024), true);
    if (p >= 0) pool.release(p);
    return p;
  }
}
