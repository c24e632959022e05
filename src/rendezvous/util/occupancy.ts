/**
 * Who holds how much of a shared table (the relay's bindings, the rendezvous
 * server's participants), so that no one source and no open session can take
 * it all. Each holder belongs to a session, which is open (anyone may join) or
 * keyed, and comes from a source (sourceKey: an IPv4 address or an IPv6 /64).
 *
 * Caps (each optional):
 * - total: holders in all;
 * - open: holders in open sessions: the rest of `total` stays for keyed
 *   sessions, so open sessions can never starve them;
 * - perSession, perSource: holders of one session, from one source;
 * - sessions, openSessions: sessions with at least one holder, and the open
 *   ones among them (the same reserve, counted in sessions).
 */
export interface OccupancyCaps {
  total?: number;
  open?: number;
  perSession?: number;
  perSource?: number;
  sessions?: number;
  openSessions?: number;
}

export type CapName = keyof OccupancyCaps;

export interface Holder {
  session: string;
  open: boolean;
  /** sourceKey() of the holder's address. */
  source: string;
}

export class Occupancy {
  private total = 0;
  private open = 0;
  private openSessions = 0;
  private readonly bySession = new Map<string, number>();
  private readonly bySource = new Map<string, number>();

  constructor(readonly caps: OccupancyCaps) {}

  get holders(): number {
    return this.total;
  }

  get openHolders(): number {
    return this.open;
  }

  get sessions(): number {
    return this.bySession.size;
  }

  get openSessionCount(): number {
    return this.openSessions;
  }

  fromSource(source: string): number {
    return this.bySource.get(source) ?? 0;
  }

  inSession(session: string): number {
    return this.bySession.get(session) ?? 0;
  }

  /** The cap that adding `h` would exceed, or null when it may be added. */
  refusal(h: Holder): CapName | null {
    const c = this.caps;
    const inSession = this.inSession(h.session);
    if (c.total !== undefined && this.total >= c.total) return 'total';
    if (h.open && c.open !== undefined && this.open >= c.open) return 'open';
    if (inSession === 0 && c.sessions !== undefined && this.bySession.size >= c.sessions) return 'sessions';
    if (inSession === 0 && h.open && c.openSessions !== undefined && this.openSessions >= c.openSessions) return 'openSessions';
    if (c.perSession !== undefined && inSession >= c.perSession) return 'perSession';
    if (c.perSource !== undefined && this.fromSource(h.source) >= c.perSource) return 'perSource';
    return null;
  }

  add(h: Holder): void {
    this.total++;
    if (h.open) this.open++;
    const inSession = this.inSession(h.session);
    if (inSession === 0 && h.open) this.openSessions++;
    this.bySession.set(h.session, inSession + 1);
    this.bySource.set(h.source, this.fromSource(h.source) + 1);
  }

  remove(h: Holder): void {
    this.total--;
    if (h.open) this.open--;
    const inSession = this.inSession(h.session) - 1;
    if (inSession <= 0) {
      this.bySession.delete(h.session);
      if (h.open) this.openSessions--;
    } else this.bySession.set(h.session, inSession);
    const fromSource = this.fromSource(h.source) - 1;
    if (fromSource <= 0) this.bySource.delete(h.source);
    else this.bySource.set(h.source, fromSource);
  }

  /**
   * Moves a holder to another source (its NAT gave it a new address). Refused
   * (null returned, nothing changed) when the new source is at its cap;
   * otherwise returns the moved holder.
   */
  move(h: Holder, source: string): Holder | null {
    if (source === h.source) return h;
    if (this.caps.perSource !== undefined && this.fromSource(source) >= this.caps.perSource) return null;
    this.remove(h);
    const moved = { ...h, source };
    this.add(moved);
    return moved;
  }
}
