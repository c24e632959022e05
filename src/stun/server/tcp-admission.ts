/**
 * Who may hold a STUN-over-TCP connection: at most `maxPerAddress` per source
 * address and `maxConnections` in all. When the table is full, a newcomer
 * still gets in if some address holds at least two connections more than the
 * newcomer's address does: that address's oldest connection makes room. So one
 * address (or a few) that fills the table cannot lock the others out, while an
 * address that already holds as much as everyone else waits its turn.
 * Pure: the listener owns the sockets and closes what this says to evict.
 */

export interface TcpAdmissionLimits {
  /** Connections at once, all addresses together. */
  maxConnections: number;
  /** Connections at once from one source address. */
  maxPerAddress: number;
}

export type Admission<T> =
  | { admitted: true; evicted?: { address: string; connection: T } }
  | { admitted: false; reason: 'per-address' | 'full' };

export class TcpAdmission<T> {
  /** Each address's connections, oldest first (Set keeps insertion order). */
  private readonly byAddress = new Map<string, Set<T>>();
  /** byCount[n]: the addresses holding exactly n connections, for finding the heaviest without a scan. */
  private readonly byCount: Array<Set<string>>;
  private heaviest = 0;
  private total = 0;

  constructor(readonly limits: TcpAdmissionLimits) {
    if (!(Number.isInteger(limits.maxConnections) && limits.maxConnections >= 1)) throw new RangeError('maxConnections must be an integer of at least 1');
    if (!(Number.isInteger(limits.maxPerAddress) && limits.maxPerAddress >= 1)) throw new RangeError('maxPerAddress must be an integer of at least 1');
    this.byCount = Array.from({ length: Math.min(limits.maxPerAddress, limits.maxConnections) + 1 }, () => new Set<string>());
  }

  /** Records `connection` from `address` if the limits allow, making room by eviction when they say so. */
  admit(address: string, connection: T): Admission<T> {
    const mine = this.byAddress.get(address)?.size ?? 0;
    if (mine >= this.limits.maxPerAddress) return { admitted: false, reason: 'per-address' };
    let evicted: { address: string; connection: T } | undefined;
    if (this.total >= this.limits.maxConnections) {
      if (this.heaviest < mine + 2) return { admitted: false, reason: 'full' };
      const victimAddress = this.byCount[this.heaviest].values().next().value as string;
      const victim = this.byAddress.get(victimAddress)!.values().next().value as T;
      this.release(victimAddress, victim);
      evicted = { address: victimAddress, connection: victim };
    }
    let set = this.byAddress.get(address);
    if (!set) this.byAddress.set(address, (set = new Set()));
    set.add(connection);
    this.moveCount(address, mine, mine + 1);
    this.total++;
    return evicted ? { admitted: true, evicted } : { admitted: true };
  }

  /** Forgets a connection; a connection already forgotten (evicted) is ignored. */
  release(address: string, connection: T): void {
    const set = this.byAddress.get(address);
    if (!set?.delete(connection)) return;
    this.moveCount(address, set.size + 1, set.size);
    if (set.size === 0) this.byAddress.delete(address);
    this.total--;
  }

  private moveCount(address: string, from: number, to: number): void {
    if (from > 0) this.byCount[from].delete(address);
    if (to > 0) this.byCount[to].add(address);
    if (to > this.heaviest) this.heaviest = to;
    while (this.heaviest > 0 && this.byCount[this.heaviest].size === 0) this.heaviest--;
  }

  get connections(): number {
    return this.total;
  }

  get addresses(): number {
    return this.byAddress.size;
  }

  connectionsFrom(address: string): number {
    return this.byAddress.get(address)?.size ?? 0;
  }
}
