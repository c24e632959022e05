/**
 * Per inside host: which public address it is paired with (RFC 4787 REQ-2:
 * "paired" pooling, one public address for all of a host's mappings) and how
 * many flows it holds (for the per-host limit). An entry exists only while the
 * host has flows or mappings.
 */

export interface HostState {
  publicAddr: number;
  flows: number;
  mappings: number;
}

export class HostTable {
  private readonly hosts = new Map<number, HostState>();
  private readonly pairedCount: number[];
  private roundRobin = 0;

  constructor(
    private readonly publicAddrs: readonly number[],
    private readonly pooling: 'paired' | 'arbitrary',
  ) {
    this.pairedCount = publicAddrs.map(() => 0);
  }

  get size(): number {
    return this.hosts.size;
  }

  get(inAddr: number): HostState | undefined {
    return this.hosts.get(inAddr);
  }

  /** The host's state, creating it (and choosing its public address) if new. */
  obtain(inAddr: number): HostState {
    let h = this.hosts.get(inAddr);
    if (!h) {
      // Paired: the least-shared public address, kept for the host's lifetime here.
      let best = 0;
      for (let i = 1; i < this.publicAddrs.length; i++) if (this.pairedCount[i] < this.pairedCount[best]) best = i;
      this.pairedCount[best]++;
      h = { publicAddr: this.publicAddrs[best], flows: 0, mappings: 0 };
      this.hosts.set(inAddr, h);
    }
    return h;
  }

  /**
   * The host's state, paired with `publicAddr` if it is new (state restored
   * from a snapshot keeps the pairing it had); an unknown address pairs as obtain() does.
   */
  obtainPaired(inAddr: number, publicAddr: number): HostState {
    const i = this.publicAddrs.indexOf(publicAddr);
    if (this.hosts.has(inAddr) || i < 0) return this.obtain(inAddr);
    this.pairedCount[i]++;
    const h: HostState = { publicAddr, flows: 0, mappings: 0 };
    this.hosts.set(inAddr, h);
    return h;
  }

  /** The public address for a host's next mapping. */
  publicAddrFor(h: HostState): number {
    if (this.pooling === 'paired' || this.publicAddrs.length === 1) return h.publicAddr;
    this.roundRobin = (this.roundRobin + 1) % this.publicAddrs.length;
    return this.publicAddrs[this.roundRobin];
  }

  /** Drops the entry once the host holds nothing. */
  release(inAddr: number, h: HostState): void {
    if (h.flows > 0 || h.mappings > 0) return;
    this.hosts.delete(inAddr);
    const i = this.publicAddrs.indexOf(h.publicAddr);
    if (i >= 0) this.pairedCount[i]--;
  }

  entries(): IterableIterator<[number, HostState]> {
    return this.hosts.entries();
  }
}
