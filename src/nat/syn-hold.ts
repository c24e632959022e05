/**
 * RFC 5382 REQ-4: an unsolicited inbound SYN is not answered for at least 6 s.
 * If an outbound SYN for the same connection follows in that time (a
 * simultaneous open, as hole punching does), the inbound SYN is dropped
 * silently; otherwise, after the hold, an ICMP Port Unreachable may be sent.
 * The SYN itself is never delivered: it had no mapping to go through.
 */

export interface HeldSyn {
  packet: Uint8Array;
  publicAddr: number;
  deadline: number;
}

export class SynHoldTable {
  private readonly held = new Map<string, HeldSyn>();

  constructor(private limit: number) {}

  /** A new bound (a reload): SYNs already held stay. */
  setLimit(limit: number): void {
    this.limit = limit;
  }

  get size(): number {
    return this.held.size;
  }

  /** False when the table is full (the SYN is dropped without a hold). */
  hold(remAddr: number, remPort: number, pubAddr: number, pubPort: number, packet: Uint8Array, deadline: number): boolean {
    const k = key(remAddr, remPort, pubAddr, pubPort);
    if (!this.held.has(k) && this.held.size >= this.limit) return false;
    this.held.set(k, { packet: packet.slice(), publicAddr: pubAddr, deadline });
    return true;
  }

  /** An outbound SYN for this connection was translated: forget the held one. */
  cancel(remAddr: number, remPort: number, pubAddr: number, pubPort: number): boolean {
    if (this.held.size === 0) return false;
    return this.held.delete(key(remAddr, remPort, pubAddr, pubPort));
  }

  /** Removes and returns the holds whose time is up. */
  due(now: number): HeldSyn[] {
    const out: HeldSyn[] = [];
    for (const [k, h] of this.held) {
      if (h.deadline <= now) {
        out.push(h);
        this.held.delete(k);
      }
    }
    return out;
  }
}

function key(remAddr: number, remPort: number, pubAddr: number, pubPort: number): string {
  return `${remAddr}:${remPort}>${pubAddr}:${pubPort}`;
}
