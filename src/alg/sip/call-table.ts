/**
 * The SIP ALG's calls, by key, in the order they started, with each inside
 * host's calls apart: a full table forgets a call to make room, and which one
 * matters. A host at its own bound forgets its own oldest call; only a table
 * full of many hosts' calls forgets the oldest of all. One phone flooding
 * INVITEs (each a call that is never answered) then turns over its own calls
 * and never another phone's call, ringing or answered.
 */

export interface HostCall {
  insideAddr: number;
}

export class CallTable<C extends HostCall> {
  private readonly all = new Map<string, C>();
  private readonly byHost = new Map<number, Map<string, C>>();

  get size(): number {
    return this.all.size;
  }

  get(key: string): C | undefined {
    return this.all.get(key);
  }

  set(key: string, call: C): void {
    this.delete(key);
    this.all.set(key, call);
    let mine = this.byHost.get(call.insideAddr);
    if (!mine) this.byHost.set(call.insideAddr, (mine = new Map()));
    mine.set(key, call);
  }

  delete(key: string): void {
    const call = this.all.get(key);
    if (!call) return;
    this.all.delete(key);
    const mine = this.byHost.get(call.insideAddr);
    mine?.delete(key);
    if (mine?.size === 0) this.byHost.delete(call.insideAddr);
  }

  clear(): void {
    this.all.clear();
    this.byHost.clear();
  }

  /**
   * The call to forget before `host` starts another: its own oldest when it
   * has `perHost` calls, else the oldest of all when there are `limit`; else none.
   */
  toForget(host: number, limit: number, perHost: number): { key: string; call: C; why: 'host' | 'table' } | undefined {
    const mine = this.byHost.get(host);
    if (mine && mine.size >= perHost) {
      const [key, call] = mine.entries().next().value!;
      return { key, call, why: 'host' };
    }
    if (this.all.size < limit) return undefined;
    const [key, call] = this.all.entries().next().value!;
    return { key, call, why: 'table' };
  }

  [Symbol.iterator](): IterableIterator<[string, C]> {
    return this.all.entries();
  }
}
