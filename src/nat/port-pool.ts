/**
 * Public ports of one (public address, protocol): who holds each one, and how a
 * new one is chosen. A reference count per port, because one public port can be
 * held at once by a static forward or an ALG reservation and by the mapping that
 * later uses it; it returns to the pool only when every holder has let go.
 *
 * RFC 4787 REQ-3: ports 0-1023 map into 1-1023 and others into the dynamic range,
 * never overloading a live port. RFC 6056 for the random choice.
 */

export type PortAllocation = 'preserve' | 'sequential' | 'random';

export interface PortPoolOptions {
  allocation: PortAllocation;
  parity: boolean;
  /** Inclusive dynamic range for source ports >= 1024. */
  range: readonly [number, number];
  /** Inclusive range for source ports < 1024 (RFC 4787 REQ-3a). */
  lowRange: readonly [number, number];
  random: () => number;
}

export class PortPool {
  /** References per port: 16 bits, so every expectation the limits allow can share one port (a phone's media port across calls). */
  private readonly refs = new Uint16Array(65536);
  private cursor: number;
  private free: number;
  private lowFree: number;

  constructor(private readonly o: PortPoolOptions) {
    this.cursor = o.range[0] - 1;
    this.free = o.range[1] - o.range[0] + 1;
    this.lowFree = o.lowRange[1] - o.lowRange[0] + 1;
  }

  inUse(port: number): boolean {
    return this.refs[port] !== 0;
  }

  /** Whether one more reference fits (callers that can refuse check first; hold() throws). */
  canHold(port: number): boolean {
    return this.refs[port] < 0xffff;
  }

  /** Takes one more reference on a port (a forward, a reservation, a mapping on a reserved port). */
  hold(port: number): void {
    if (this.refs[port] === 0xffff) throw new RangeError(`port ${port} held too many times`);
    if (this.refs[port]++ === 0) this.countTaken(port, -1);
  }

  release(port: number): void {
    if (this.refs[port] === 0) throw new RangeError(`port ${port} released but not held`);
    if (--this.refs[port] === 0) this.countTaken(port, +1);
  }

  /** Free ports left in the range a source port would map into. */
  available(sourcePort: number): number {
    return sourcePort < 1024 ? this.lowFree : this.free;
  }

  /**
   * Chooses and holds a free public port for an inside source port, or returns -1
   * when none is left (the caller drops the packet: never overload).
   * `parity`: the chosen port has the same parity as `sourcePort` (RTP even, RTCP odd).
   * `allocation`: this time only, instead of the pool's (a port kept by `keepSourcePorts`).
   */
  allocate(sourcePort: number, parity = this.o.parity, allocation: PortAllocation = this.o.allocation): number {
    const [lo, hi] = sourcePort < 1024 ? this.o.lowRange : this.o.range;
    if (lo > hi || this.available(sourcePort) === 0) return -1;
    const want = parity ? sourcePort & 1 : -1;
    let port: number;
    switch (allocation) {
      case 'preserve':
        // When the port is taken, choose at random rather than next door, so the
        // fallback is not predictable (RFC 7857 2.11, RFC 6056).
        port = sourcePort >= lo && sourcePort <= hi && this.refs[sourcePort] === 0 ? sourcePort : this.randomFree(lo, hi, want);
        break;
      case 'sequential':
        port = this.scan(lo, hi, this.cursor + 1 > hi || this.cursor + 1 < lo ? lo : this.cursor + 1, want);
        if (port >= 0 && sourcePort >= 1024) this.cursor = port;
        break;
      case 'random':
        port = this.randomFree(lo, hi, want);
        break;
    }
    if (port >= 0) this.hold(port);
    return port;
  }

  /** An even port p with p and p+1 both free, for an RTP/RTCP pair; held both. -1 if none. */
  allocatePair(preferred: number): number {
    const [lo, hi] = this.o.range;
    const start = this.o.allocation === 'random' ? lo + Math.floor(this.o.random() * (hi - lo + 1)) : Math.max(lo, preferred);
    const span = hi - lo + 1;
    for (let i = 0; i < span; i += 2) {
      let p = start + i;
      if (p > hi) p = lo + ((p - lo) % span);
      p &= ~1;
      if (p < lo || p + 1 > hi) continue;
      if (this.refs[p] === 0 && this.refs[p + 1] === 0) {
        this.hold(p);
        this.hold(p + 1);
        return p;
      }
    }
    return -1;
  }

  /** First free port at or after `from`, wrapping within [lo, hi], of the wanted parity. */
  private scan(lo: number, hi: number, from: number, parity: number): number {
    const span = hi - lo + 1;
    let p = from;
    for (let i = 0; i < span; i++, p = p === hi ? lo : p + 1) {
      if (this.refs[p] === 0 && (parity < 0 || (p & 1) === parity)) return p;
    }
    return -1;
  }

  /** RFC 6056 algorithm 1: a random start, then the next free port. */
  private randomFree(lo: number, hi: number, parity: number): number {
    const start = lo + Math.floor(this.o.random() * (hi - lo + 1));
    return this.scan(lo, hi, start, parity);
  }

  private countTaken(port: number, delta: number): void {
    if (port >= this.o.range[0] && port <= this.o.range[1]) this.free += delta;
    else if (port >= this.o.lowRange[0] && port <= this.o.lowRange[1]) this.lowFree += delta;
  }
}
