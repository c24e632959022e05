/**
 * RTSP sessions as the ALG keeps them: each is the media streams its SETUPs
 * opened (each stream a group of pinholes), the server and client it joins,
 * and when it times out. A session lives while its client keeps it alive
 * (any request or reply that names it: PLAY, GET_PARAMETER, OPTIONS...); the
 * server tells how long it waits (Session: id;timeout=n, 60 s by default), and
 * the session ends twice that long after the last word. The table is
 * bounded: beyond its size the session heard from longest ago is ended.
 */

/** The pinholes one SETUP opened: an RTP and an RTCP pinhole per client port pair. */
export interface MediaStream {
  insideRtp: number;
  /** The inside RTCP port, or -1 when the SETUP named a single port (RTCP then on RTP + 1). */
  insideRtcp: number;
  publicRtp: number;
  publicRtcp: number;
  rtpPinhole: number;
  rtcpPinhole: number;
}

export interface SetupStreams {
  /** The pinholes' group. */
  group: string;
  /** The request URI of the SETUP: a TEARDOWN of exactly this URI ends this stream only. */
  uri: string;
  streams: MediaStream[];
}

export interface RtspSession {
  readonly key: string;
  readonly id: string;
  setups: SetupStreams[];
  windowMs: number;
  expiresAt: number;
}

export function sessionKey(insideAddr: number, remoteAddr: number, id: string): string {
  return `${insideAddr}/${remoteAddr}/${id}`;
}

export class RtspSessions {
  /** By key, in the order they were last heard from. */
  private readonly byKey = new Map<string, RtspSession>();
  /** No session expires before this (a full scan finds the next one). */
  private nextExpiry = Number.POSITIVE_INFINITY;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): RtspSession | undefined {
    return this.byKey.get(key);
  }

  /** A new session; returns the one it pushed out (the table was full), if any. */
  add(key: string, id: string, windowMs: number, now: number): { session: RtspSession; evicted: RtspSession | null } {
    let evicted: RtspSession | null = null;
    if (this.byKey.size >= this.capacity) {
      const oldest = this.byKey.values().next();
      if (!oldest.done) {
        evicted = oldest.value;
        this.byKey.delete(evicted.key);
      }
    }
    const session: RtspSession = { key, id, setups: [], windowMs, expiresAt: now + windowMs };
    this.byKey.set(key, session);
    if (session.expiresAt < this.nextExpiry) this.nextExpiry = session.expiresAt;
    return { session, evicted };
  }

  /** The session was heard from: it lives another window from now. */
  touch(s: RtspSession, now: number): void {
    s.expiresAt = now + s.windowMs;
    if (s.expiresAt < this.nextExpiry) this.nextExpiry = s.expiresAt;
    this.byKey.delete(s.key);
    this.byKey.set(s.key, s);
  }

  remove(s: RtspSession): void {
    this.byKey.delete(s.key);
  }

  /** Sessions whose time is up, taken out of the table. */
  expired(now: number): RtspSession[] {
    if (now < this.nextExpiry) return [];
    const out: RtspSession[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const s of this.byKey.values()) {
      if (s.expiresAt <= now) out.push(s);
      else if (s.expiresAt < next) next = s.expiresAt;
    }
    for (const s of out) this.byKey.delete(s.key);
    this.nextExpiry = next;
    return out;
  }
}
