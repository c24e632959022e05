/**
 * The other listening ports of phones: a Contact or Via naming a port the
 * phone does not send from gets a public port of its own, and inbound
 * messages to that public port must find the phone's port again. Bounded:
 * entries end with the pinholes behind them (kept longer while a
 * registration holds the port), the table has a size limit and drops its
 * oldest entry first, and lookups from either side are one Map access.
 */

export interface PhonePort {
  proto: number;
  insideAddr: number;
  insidePort: number;
  publicAddr: number;
  publicPort: number;
  /** The expectation that admits the signalling peer to it, while it lasts. */
  expectation: number;
  expiresAt: number;
}

export class PhonePorts {
  private readonly byInside = new Map<string, PhonePort>();
  private readonly byPublic = new Map<string, PhonePort>();

  constructor(private limit: number) {}

  /** A new bound (a reload): entries beyond it leave as their pinholes end. */
  setLimit(limit: number): void {
    this.limit = limit;
  }

  get size(): number {
    return this.byInside.size;
  }

  /** The live entry for a phone's port, or undefined. */
  get(proto: number, insideAddr: number, insidePort: number, now: number): PhonePort | undefined {
    const e = this.byInside.get(insideKey(proto, insideAddr, insidePort));
    if (e && e.expiresAt <= now) {
      this.delete(e);
      return undefined;
    }
    return e;
  }

  /** The phone's port behind one of its public ports, or undefined. */
  insidePortFor(proto: number, insideAddr: number, publicPort: number, now: number): number | undefined {
    const e = this.byPublic.get(publicKey(proto, insideAddr, publicPort));
    if (!e) return undefined;
    if (e.expiresAt <= now) {
      this.delete(e);
      return undefined;
    }
    return e.insidePort;
  }

  set(proto: number, insideAddr: number, insidePort: number, publicAddr: number, publicPort: number, expectation: number, expiresAt: number, now: number): void {
    const old = this.byInside.get(insideKey(proto, insideAddr, insidePort));
    if (old) this.delete(old);
    if (this.byInside.size >= this.limit) this.makeRoom(now);
    const e: PhonePort = { proto, insideAddr, insidePort, publicAddr, publicPort, expectation, expiresAt };
    this.byInside.set(insideKey(proto, insideAddr, insidePort), e);
    this.byPublic.set(publicKey(proto, insideAddr, publicPort), e);
  }

  /** A registration holds the port: the entry lives at least until `until`. */
  keepUntil(proto: number, insideAddr: number, insidePort: number, until: number): void {
    const e = this.byInside.get(insideKey(proto, insideAddr, insidePort));
    if (e && e.expiresAt < until) e.expiresAt = until;
  }

  /** Every entry, oldest first (saved state). */
  entries(): PhonePort[] {
    return [...this.byInside.values()].map((e) => ({ ...e }));
  }

  /** Replaces every entry with saved ones, their times moved by shiftMs. */
  replace(saved: readonly PhonePort[], shiftMs: number): void {
    this.byInside.clear();
    this.byPublic.clear();
    for (const e of saved.slice(-this.limit)) {
      const entry = { ...e, expiresAt: e.expiresAt + shiftMs };
      this.byInside.set(insideKey(e.proto, e.insideAddr, e.insidePort), entry);
      this.byPublic.set(publicKey(e.proto, e.insideAddr, e.publicPort), entry);
    }
  }

  /** Expired entries go; if none has, the oldest does. */
  private makeRoom(now: number): void {
    for (const e of this.byInside.values()) if (e.expiresAt <= now) this.delete(e);
    if (this.byInside.size < this.limit) return;
    const oldest = this.byInside.values().next().value;
    if (oldest) this.delete(oldest);
  }

  private delete(e: PhonePort): void {
    this.byInside.delete(insideKey(e.proto, e.insideAddr, e.insidePort));
    this.byPublic.delete(publicKey(e.proto, e.insideAddr, e.publicPort));
  }
}

function insideKey(proto: number, addr: number, port: number): string {
  return `${proto}|${addr}:${port}`;
}

function publicKey(proto: number, addr: number, publicPort: number): string {
  return `${proto}|${addr}>${publicPort}`;
}
