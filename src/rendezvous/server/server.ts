/**
 * The rendezvous server: peers join a session with their local endpoints; the
 * server records the public endpoint it sees, answers with the participants,
 * and introduces the newcomer to each of them. Peers refresh to stay (and to
 * keep their NAT mapping toward the server open, which is the path
 * introductions take); a peer that stops refreshing expires and the others
 * hear that it left.
 *
 * A second socket (the observation port, by default the next port) answers
 * `observe` with the source it sees: a peer that asks both sockets learns
 * whether its NAT keeps one mapping for both destinations and, if not, how far
 * apart consecutive mappings are. That is what port prediction needs.
 *
 * Strangers: a source address is not believed until it echoes a cookie
 * (protocol/cookie.ts). A join, or a refresh that moves a peer to a new
 * address, without one gets only the cookie, smaller than the request; every
 * other answer to an unproven source is no larger than its request; and
 * introductions are retransmitted only to an address that has answered.
 * Joins are rate-limited per source address, and the sessions and
 * participants a server holds are capped per source and shared between open
 * and keyed sessions so that open ones cannot starve the others (Occupancy).
 *
 * The registry (Redis, when several servers share sessions) may go away:
 * then the server runs degraded (registry-health.ts) instead of refusing.
 *
 * Written against NetEnv, so the same server runs on real sockets and in sim.
 */
import type { Endpoint, NetEnv, UdpSocket } from '../../net/udp.js';
import { endpointToString, sameEndpoint } from '../../net/udp.js';
import type { TimerHandle } from '../../util/clock.js';
import { randomId, truncateUtf8 } from '../util/ids.js';
import type { SessionKeys } from '../protocol/keys.js';
import { encodeWithin } from '../protocol/bounded-reply.js';
import { CookieMinter } from '../protocol/cookie.js';
import {
  ErrorCode,
  encodeMessage,
  isAuthenticatedType,
  readMessage,
  sessionOf,
  type Message,
  type MessageOf,
  type PeerInfo,
} from '../protocol/messages.js';
import { NonceCache } from '../protocol/replay.js';
import { looksLikeMasqPacket, macValid, MAX_PACKET, parsePacket, RendezvousDecodeError, type RawPacket } from '../protocol/wire.js';
import { MemoryRegistry } from './memory-store.js';
import { infoOf, type PeerRecord, type RegistryEvent, type RegistryStore } from './registry.js';
import { RegistryHealth, type RegistryStatus } from './registry-health.js';
import { ReliableSender } from './reliable-sender.js';
import { LimitLog, type LogFn } from '../util/limit-log.js';
import { Occupancy, type CapName, type Holder } from '../util/occupancy.js';
import { sourceKey } from '../util/source-key.js';
import { TokenBuckets } from '../util/token-buckets.js';

export interface RendezvousServerOptions {
  listen: Endpoint;
  /** The observation socket; default: the next port on the same address; null: none. */
  observe?: Endpoint | null;
  keys: SessionKeys;
  /** Default: a MemoryRegistry on the env's clock. */
  store?: RegistryStore;
  /** This server's id on the registry bus; default random. */
  serverId?: string;
  /** A relay the server advertises to the peers. */
  relay?: Endpoint;
  /** How often peers should refresh (default 15 s: inside a 20-30 s NAT timeout). */
  refreshMs?: number;
  /** A peer that has not refreshed for this long expires (default 3 refreshes). */
  ttlMs?: number;
  maxPeersPerSession?: number;
  /** Sessions with peers attached to this server (default 100,000). */
  maxSessions?: number;
  /** Of those, sessions anyone may join (default half of maxSessions): the rest stay for keyed sessions. */
  maxOpenSessions?: number;
  /** Peers attached from one source address (an IPv4 address, an IPv6 /64), all sessions together (default 64). */
  maxPeersPerAddress?: number;
  /** Joins per second from one source address (default 20), in bursts of up to twice that. */
  joinsPerSecond?: number;
  /** The secret cookies are made with (default: 32 random bytes). */
  cookieSecret?: Uint8Array;
  /** Wall-clock ms for request timestamps; default the env's scheduler (right in sim). */
  wallClock?: () => number;
  /** Requests are accepted this far from the server's clock (default 15 s; clients correct their offset). */
  replayWindowMs?: number;
  /** Nonces remembered at most (default 250,000: 16,000 requests/s over a 15 s window). */
  replayCapacity?: number;
  log?: LogFn;
  /** What an operator should always hear: limits hit (throttled, one line per limit per 10 s). Default: log. */
  warn?: LogFn;
}

export const RENDEZVOUS_DEFAULTS = {
  maxPeersPerSession: 64,
  maxSessions: 100_000,
  maxPeersPerAddress: 64,
  joinsPerSecond: 20,
} as const;

export interface RendezvousCounters {
  joins: number;
  refreshes: number;
  leaves: number;
  observes: number;
  expired: number;
  introductions: number;
  malformed: number;
  unauthenticated: number;
  unknownSession: number;
  stale: number;
  replayed: number;
  refusedFull: number;
  /** Joins refused because the server holds maxSessions sessions. */
  refusedSessions: number;
  /** Joins into a new open session refused because open sessions hold their share. */
  refusedOpenSessions: number;
  /** Joins (or moves) refused because the source address has maxPeersPerAddress peers. */
  refusedPerAddress: number;
  /** Joins over the per-address rate. */
  rateLimited: number;
  /** Cookies sent to sources that had not proved they receive. */
  challenges: number;
  /** Answers to an unproven source that could not be made as small as the request, not sent. */
  unsentOversize: number;
  errors: number;
  /** Requests answered from this server's own state while the registry was unavailable. */
  degradedAnswers: number;
  /** Records of peers attached here written back to a registry that had lost them (a Redis restart). */
  restored: number;
}

/** A request being answered: where from, and how much may go back. */
interface Request {
  socket: UdpSocket;
  from: Endpoint;
  key: Uint8Array;
  /** Bytes of the request: the most an unproven source may get back. */
  size: number;
  /** It echoed a valid cookie: its source receives. */
  proven: boolean;
}

interface Attached {
  session: string;
  id: string;
  key: Uint8Array;
  endpoint: Endpoint;
  expiresAt: number;
  seq: number;
  /** Its share of the server's limits. */
  holder: Holder;
  /** The last endpoint it answered from (a cookie echoed): only there are introductions retransmitted. */
  answeredFrom: Endpoint;
  /** What the registry holds for it: written back when the registry lost it. */
  record: PeerRecord;
}

const SWEEP_MS = 1000;
const HINTS_PER_SECOND = 200;
/** Header, error code and reason attribute headers of a hint. */
const HINT_OVERHEAD = 8 + 7 + 3;

export class RendezvousServer {
  readonly counters: RendezvousCounters = {
    joins: 0,
    refreshes: 0,
    leaves: 0,
    observes: 0,
    expired: 0,
    introductions: 0,
    malformed: 0,
    unauthenticated: 0,
    unknownSession: 0,
    stale: 0,
    replayed: 0,
    refusedFull: 0,
    refusedSessions: 0,
    refusedOpenSessions: 0,
    refusedPerAddress: 0,
    rateLimited: 0,
    challenges: 0,
    unsentOversize: 0,
    errors: 0,
    degradedAnswers: 0,
    restored: 0,
  };
  readonly serverId: string;
  private readonly attached = new Map<string, Attached>();
  private readonly nonces: NonceCache;
  private readonly reliable: ReliableSender;
  private readonly cookies: CookieMinter;
  private readonly occupancy: Occupancy;
  private readonly joinRate: TokenBuckets;
  private readonly limits: LimitLog;
  private readonly refreshMs: number;
  private readonly ttlMs: number;
  private readonly maxPeers: number;
  private readonly wallClock: () => number;
  private readonly health: RegistryHealth;
  private sweepTimer: TimerHandle | null = null;
  private unsubscribe: (() => Promise<void>) | null = null;
  private hintTokens = HINTS_PER_SECOND;
  private hintRefilledAt: number;
  private closed = false;

  private constructor(
    private readonly env: NetEnv,
    private readonly o: RendezvousServerOptions,
    readonly store: RegistryStore,
    private readonly primary: UdpSocket,
    private readonly observer: UdpSocket | null,
  ) {
    this.serverId = o.serverId ?? randomId(env.random);
    this.refreshMs = o.refreshMs ?? 15_000;
    this.ttlMs = o.ttlMs ?? this.refreshMs * 3;
    this.maxPeers = o.maxPeersPerSession ?? RENDEZVOUS_DEFAULTS.maxPeersPerSession;
    const maxSessions = o.maxSessions ?? RENDEZVOUS_DEFAULTS.maxSessions;
    this.occupancy = new Occupancy({
      sessions: maxSessions,
      openSessions: o.maxOpenSessions ?? Math.floor(maxSessions / 2),
      perSource: o.maxPeersPerAddress ?? RENDEZVOUS_DEFAULTS.maxPeersPerAddress,
    });
    const rate = o.joinsPerSecond ?? RENDEZVOUS_DEFAULTS.joinsPerSecond;
    this.joinRate = new TokenBuckets({ perSecond: rate, burst: 2 * rate });
    this.cookies = new CookieMinter(o.cookieSecret);
    this.limits = new LimitLog(o.warn ?? o.log, () => env.scheduler.now());
    this.wallClock = o.wallClock ?? (() => env.scheduler.now());
    this.nonces = new NonceCache(o.replayWindowMs ?? 15_000, o.replayCapacity ?? 250_000);
    this.reliable = new ReliableSender(env.scheduler, { rtoMs: 250, tries: 6, maxPending: 100_000 });
    this.hintRefilledAt = env.scheduler.now();
    this.health = new RegistryHealth(store, {
      now: () => env.scheduler.now(),
      ttlMs: this.ttlMs,
      attached: () => [...this.attached.values()].map((a) => ({ session: a.session, record: a.record })),
      warn: o.warn ?? o.log,
    });
  }

  static async start(env: NetEnv, o: RendezvousServerOptions): Promise<RendezvousServer> {
    const store = o.store ?? new MemoryRegistry({ clock: env.scheduler, maxSessions: Math.max(o.maxSessions ?? 0, RENDEZVOUS_DEFAULTS.maxSessions) });
    const primary = await env.bindUdp({ address: o.listen.address, port: o.listen.port });
    let observer: UdpSocket | null = null;
    const obs = o.observe === undefined ? { address: o.listen.address, port: primary.local.port + 1 } : o.observe;
    if (obs) {
      try {
        observer = await env.bindUdp({ address: obs.address, port: obs.port });
      } catch (err) {
        primary.close();
        throw err;
      }
    }
    const s = new RendezvousServer(env, o, store, primary, observer);
    primary.onMessage((d, from) => s.receive(d, from, primary));
    observer?.onMessage((d, from) => s.receive(d, from, observer));
    s.unsubscribe = await store.subscribe(s.serverId, (e) => s.onRegistryEvent(e));
    s.scheduleSweep();
    return s;
  }

  get local(): Endpoint {
    return this.primary.local;
  }

  get observeLocal(): Endpoint | null {
    return this.observer?.local ?? null;
  }

  /** Peers attached to this server. */
  get attachedCount(): number {
    return this.attached.size;
  }

  /** Whether the registry is in use or the server runs degraded without it. */
  get registryStatus(): RegistryStatus {
    return this.health.status();
  }

  /** Sessions with peers attached to this server, and the open ones among them. */
  get sessionCounts(): { sessions: number; open: number } {
    return { sessions: this.occupancy.sessions, open: this.occupancy.openSessionCount };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer) this.env.scheduler.clearTimeout(this.sweepTimer);
    this.reliable.close();
    await this.unsubscribe?.();
    this.primary.close();
    this.observer?.close();
  }

  // ------------------------------------------------------------- receiving

  private receive(data: Uint8Array, from: Endpoint, socket: UdpSocket): void {
    if (this.closed || !looksLikeMasqPacket(data)) return;
    let raw: RawPacket;
    let session: string | null;
    try {
      raw = parsePacket(data, isAuthenticatedType);
      session = sessionOf(raw);
    } catch (err) {
      if (!(err instanceof RendezvousDecodeError)) throw err;
      this.counters.malformed++;
      return;
    }
    if (session === null) {
      this.counters.malformed++;
      return;
    }
    const key = this.o.keys.keyFor(session);
    if (!key) {
      this.counters.unknownSession++;
      this.hint(socket, from, data.length, ErrorCode.UnknownSession, `session ${JSON.stringify(session)} is not configured on this server`);
      return;
    }
    if (!macValid(raw, key)) {
      this.counters.unauthenticated++;
      this.hint(socket, from, data.length, ErrorCode.Unauthorized, 'authentication failed: wrong secret for this session?');
      return;
    }
    let msg: Message;
    try {
      msg = readMessage(raw);
    } catch (err) {
      if (!(err instanceof RendezvousDecodeError)) throw err;
      this.counters.malformed++;
      this.hint(socket, from, data.length, ErrorCode.BadRequest, err.message);
      return;
    }
    if (msg.kind === 'introduce-ack') {
      this.acked(msg, from);
      return;
    }
    if (msg.kind !== 'join' && msg.kind !== 'refresh' && msg.kind !== 'leave' && msg.kind !== 'observe') {
      this.counters.malformed++;
      return;
    }
    // The observation port answers observe and nothing else.
    if (msg.kind !== 'observe' && socket !== this.primary) return;
    const now = this.env.scheduler.now();
    const cookie = msg.kind === 'join' || msg.kind === 'refresh' ? msg.cookie : undefined;
    const req: Request = { socket, from, key, size: data.length, proven: this.cookies.valid(cookie, from, now) };
    // Nothing is recorded before the source is proven: forged requests cannot fill the nonce cache.
    const verdict = this.nonces.peek(msg.nonce, msg.timestamp, this.wallClock());
    if (verdict === 'replay') {
      this.counters.replayed++;
      return;
    }
    if (verdict !== 'ok') {
      const stale = verdict === 'stale';
      if (stale) this.counters.stale++;
      this.reply(req, {
        kind: 'error',
        echo: msg.nonce,
        code: stale ? ErrorCode.Stale : ErrorCode.ServerBusy,
        reason: stale ? 'timestamp outside the acceptance window: correct your clock by serverTime' : 'replay cache full',
        serverTime: this.wallClock(),
      });
      return;
    }
    if (!req.proven && this.needsCookie(msg, from)) {
      this.counters.challenges++;
      this.reply(req, { kind: 'cookie', echo: msg.nonce, cookie: this.cookies.mint(from, now) });
      return;
    }
    this.nonces.check(msg.nonce, msg.timestamp, this.wallClock());
    switch (msg.kind) {
      case 'observe':
        this.counters.observes++;
        this.reply(req, { kind: 'observe-ok', echo: msg.nonce, public: from });
        return;
      case 'join': {
        const source = sourceKey(from.address);
        if (!this.joinRate.take(source, now)) {
          this.counters.rateLimited++;
          this.limits.hit('join-rate', { source, session: msg.session });
          this.reply(req, { kind: 'error', echo: msg.nonce, code: ErrorCode.RateLimited, reason: 'too many joins from your address: try again in a second' });
          return;
        }
        void this.join(msg, req).catch((err) => this.fail(req, msg.nonce, err));
        return;
      }
      case 'refresh':
        void this.refresh(msg, req).catch((err) => this.fail(req, msg.nonce, err));
        return;
      case 'leave':
        void this.leave(msg, req).catch((err) => this.fail(req, msg.nonce, err));
        return;
    }
  }

  /**
   * Requests that record the source for a peer need a cookie: a join, and a
   * refresh from an address other than the peer's. The rest only get an
   * answer no larger than themselves.
   */
  private needsCookie(m: MessageOf<'join' | 'refresh' | 'leave' | 'observe'>, from: Endpoint): boolean {
    if (m.kind === 'join') return true;
    if (m.kind !== 'refresh') return false;
    const att = this.attached.get(attachKey(m.session, m.peerId));
    return att !== undefined && !sameEndpoint(att.endpoint, from);
  }

  private acked(m: MessageOf<'introduce-ack'>, from: Endpoint): void {
    const att = this.attached.get(attachKey(m.session, m.peerId));
    // An acknowledgement from where the peer is shows that it still receives there.
    if (att && sameEndpoint(att.endpoint, from)) att.answeredFrom = from;
    this.reliable.ack(reliableKey(m.session, m.peerId, m.seq));
  }

  // -------------------------------------------------------------- requests

  private async join(m: MessageOf<'join'>, req: Request): Promise<void> {
    this.counters.joins++;
    const from = req.from;
    const record: PeerRecord = {
      id: m.peerId,
      ...(m.name !== undefined ? { name: m.name } : {}),
      public: from,
      locals: m.locals,
      ...(m.observed ? { observed: m.observed } : {}),
      // The spare is on the address the server sees, whatever the peer guessed.
      ...(m.spare ? { spare: { address: from.address, port: m.spare.port } } : {}),
      // So is a port mapping's: a peer can point the others' hellos only at its own public address.
      ...(m.mapped ? { mapped: { address: from.address, port: m.mapped.port } } : {}),
      server: this.serverId,
    };
    const k = attachKey(m.session, m.peerId);
    const source = sourceKey(from.address);
    let att = this.attached.get(k);
    // A newcomer's share of the limits is taken before the first await, so that concurrent
    // joins see each other's; it is attached only once the registry has it (as before limits).
    let reserved: Holder | null = null;
    if (att) {
      const moved = this.occupancy.move(att.holder, source);
      if (!moved) return this.refuse(req, m.nonce, 'perSource', m.session);
      att.holder = moved;
    } else {
      reserved = { session: m.session, open: this.o.keys.isOpenSession(m.session), source };
      const cap = this.occupancy.refusal(reserved);
      if (cap) return this.refuse(req, m.nonce, cap, m.session);
      this.occupancy.add(reserved);
    }
    let others: PeerRecord[];
    try {
      others = await this.health.run(
        () => this.store.upsert(m.session, record, this.ttlMs),
        // Degraded: the others this server holds (those on other servers are out of reach meanwhile).
        () => this.localRecords(m.session, m.peerId),
      );
    } catch (err) {
      if (reserved) this.occupancy.remove(reserved);
      throw err;
    }
    if (reserved) {
      const meanwhile = this.attached.get(k);
      if (meanwhile) {
        // Another copy of this join attached the peer while we waited.
        this.occupancy.remove(reserved);
        att = meanwhile;
      } else if (others.length >= this.maxPeers) {
        this.occupancy.remove(reserved);
        await this.store.remove(m.session, m.peerId);
        this.counters.refusedFull++;
        this.reply(req, { kind: 'error', echo: m.nonce, code: ErrorCode.SessionFull, reason: `session has ${this.maxPeers} peers` });
        return;
      } else {
        att = { session: m.session, id: m.peerId, key: req.key, endpoint: from, expiresAt: 0, seq: 0, holder: reserved, answeredFrom: from, record };
        this.attached.set(k, att);
      }
    }
    if (!att) return;
    att.endpoint = from;
    att.answeredFrom = from;
    att.record = record;
    att.expiresAt = this.env.scheduler.now() + this.ttlMs;
    this.o.log?.('join', { session: m.session, peer: m.peerId, public: endpointToString(from), others: others.length });

    // The reply carries as many participants as fit; the rest follow as introductions.
    const inReply: PeerInfo[] = [];
    let budget = MAX_PACKET - 160;
    const rest: PeerRecord[] = [];
    for (const r of others) {
      const size = estimatePeerInfoSize(r);
      if (size <= budget) {
        inReply.push(infoOf(r));
        budget -= size;
      } else rest.push(r);
    }
    this.reply(req, {
      kind: 'join-ok',
      echo: m.nonce,
      peerId: m.peerId,
      public: from,
      peers: inReply,
      total: others.length,
      ...(this.o.relay ? { relay: this.o.relay } : {}),
      refreshMs: this.refreshMs,
      ttlMs: this.ttlMs,
      seq: att.seq,
    });
    for (const r of rest) this.introduceLocal(att, infoOf(r));
    const info = infoOf(record);
    for (const other of others) await this.deliver({ type: 'introduce', session: m.session, to: other.id, peer: info }, other.server);
  }

  /** A join refused by one of the limits: counted, logged (throttled), answered with 429. */
  private refuse(req: Request, nonce: string, cap: CapName, session: string): void {
    const source = sourceKey(req.from.address);
    let reason: string;
    if (cap === 'openSessions') {
      this.counters.refusedOpenSessions++;
      reason = `open sessions are at their share (${this.occupancy.caps.openSessions}); sessions with a secret are still admitted`;
    } else if (cap === 'perSource') {
      this.counters.refusedPerAddress++;
      reason = `${this.occupancy.caps.perSource} peers from your address already`;
    } else {
      this.counters.refusedSessions++;
      reason = `server holds its maximum of ${this.occupancy.caps.sessions} sessions`;
    }
    this.limits.hit(cap, { session, source });
    this.reply(req, { kind: 'error', echo: nonce, code: ErrorCode.SessionFull, reason });
  }

  private async refresh(m: MessageOf<'refresh'>, req: Request): Promise<void> {
    this.counters.refreshes++;
    const from = req.from;
    const att = this.attached.get(attachKey(m.session, m.peerId));
    const alive = att !== undefined && (await this.touch(att));
    if (!att || !alive) {
      this.reply(req, { kind: 'error', echo: m.nonce, code: ErrorCode.UnknownPeer, reason: 'not in the session (expired?): join again' });
      return;
    }
    att.expiresAt = this.env.scheduler.now() + this.ttlMs;
    if (!sameEndpoint(att.endpoint, from)) {
      // The peer's NAT gave it a new public endpoint (proven: a refresh from elsewhere needs a cookie).
      const moved = this.occupancy.move(att.holder, sourceKey(from.address));
      if (!moved) return this.refuse(req, m.nonce, 'perSource', m.session);
      att.holder = moved;
      att.endpoint = from;
      att.answeredFrom = from;
      // The others need the new endpoint to punch again.
      const updated: PeerRecord = { ...att.record, public: from };
      att.record = updated;
      const rest = await this.health.run(
        () => this.store.upsert(m.session, updated, this.ttlMs),
        () => this.localRecords(m.session, m.peerId),
      );
      for (const other of rest) await this.deliver({ type: 'introduce', session: m.session, to: other.id, peer: infoOf(updated) }, other.server);
    }
    this.reply(req, { kind: 'refresh-ok', echo: m.nonce, public: from });
  }

  private async leave(m: MessageOf<'leave'>, req: Request): Promise<void> {
    this.counters.leaves++;
    const k = attachKey(m.session, m.peerId);
    const att = this.attached.get(k);
    // Idempotent: a retransmitted leave after the first one also gets its answer.
    this.reply(req, { kind: 'leave-ok', echo: m.nonce });
    if (att) await this.drop(att);
  }

  /** Forgets an attached peer here: its share of the limits, its pending messages. */
  private detach(att: Attached): void {
    const k = attachKey(att.session, att.id);
    if (this.attached.get(k) !== att) return;
    this.attached.delete(k);
    this.occupancy.remove(att.holder);
    this.reliable.cancelPrefix(`${att.session}\n${att.id}\n`);
  }

  /**
   * Extends an attached peer's life in the registry. A registry that no
   * longer has the record (Redis restarted empty) gets it back: the peer is
   * here and refreshing, so it has not left.
   */
  private async touch(att: Attached): Promise<boolean> {
    return this.health.run(
      async () => {
        if (await this.store.touch(att.session, att.id, this.ttlMs)) return true;
        // Only if it is still attached: a leave may have come in meanwhile.
        if (this.attached.get(attachKey(att.session, att.id)) !== att) return false;
        await this.store.upsert(att.session, att.record, this.ttlMs);
        this.counters.restored++;
        return true;
      },
      () => true,
    );
  }

  /** The records of the peers of `session` attached here, but `except`. */
  private localRecords(session: string, except: string): PeerRecord[] {
    const out: PeerRecord[] = [];
    for (const a of this.attached.values()) if (a.session === session && a.id !== except) out.push(a.record);
    this.counters.degradedAnswers++;
    return out;
  }

  /** Removes an attached peer and tells the others. */
  private async drop(att: Attached): Promise<void> {
    this.detach(att);
    const others = await this.health.run(
      () => this.store.remove(att.session, att.id),
      () => {
        this.health.removeLater(att.session, att.id);
        return this.localRecords(att.session, att.id);
      },
    );
    for (const other of others) await this.deliver({ type: 'peer-left', session: att.session, to: other.id, peerId: att.id }, other.server);
  }

  private fail(req: Request, nonce: string, err: unknown): void {
    this.counters.errors++;
    const reason = err instanceof Error ? err.message : String(err);
    this.o.log?.('error', { reason });
    this.reply(req, { kind: 'error', echo: nonce, code: ErrorCode.ServerBusy, reason: `registry: ${reason}` });
  }

  // --------------------------------------------------- introductions, bus

  /** An event for a peer: handled here when this server holds it, else published to its server. */
  private async deliver(e: RegistryEvent, server: string): Promise<void> {
    if (server === this.serverId) this.onRegistryEvent(e);
    // Degraded, an event for a peer on another server is lost: the bus is the registry.
    else await this.health.run(() => this.store.publish(server, e), () => undefined);
  }

  private onRegistryEvent(e: RegistryEvent): void {
    if (this.closed) return;
    const att = this.attached.get(attachKey(e.session, e.to));
    if (!att) return;
    if (e.type === 'introduce') this.introduceLocal(att, e.peer);
    else this.sendReliable(att, (seq) => ({ kind: 'peer-left', target: att.id, seq, peerId: e.peerId }));
  }

  private introduceLocal(att: Attached, peer: PeerInfo): void {
    this.counters.introductions++;
    this.sendReliable(att, (seq) => ({ kind: 'introduce', target: att.id, seq, peer }));
  }

  private sendReliable(att: Attached, build: (seq: number) => Message): void {
    const seq = ++att.seq;
    const packet = encodeMessage(build(seq), att.key);
    this.reliable.send(
      reliableKey(att.session, att.id, seq),
      () => {
        if (!this.closed) this.primary.send(packet, att.endpoint);
      },
      () => sameEndpoint(att.answeredFrom, att.endpoint),
    );
  }

  // ------------------------------------------------------------- expiry

  private scheduleSweep(): void {
    this.sweepTimer = this.env.scheduler.setTimeout(() => {
      this.sweepTimer = null;
      if (this.closed) return;
      const now = this.env.scheduler.now();
      this.health.sweep();
      for (const att of [...this.attached.values()]) {
        if (att.expiresAt > now) continue;
        this.counters.expired++;
        this.o.log?.('expire', { session: att.session, peer: att.id });
        void this.drop(att).catch((err) => this.o.log?.('error', { reason: String(err) }));
      }
      this.scheduleSweep();
    }, SWEEP_MS);
  }

  // ------------------------------------------------------------- sending

  /** An answer to a request; to an unproven source, no larger than the request (or not at all). */
  private reply(req: Request, m: Message): void {
    if (this.closed) return;
    const bytes = req.proven ? encodeMessage(m, req.key) : encodeWithin(m, req.key, req.size);
    if (!bytes) {
      this.counters.unsentOversize++;
      return;
    }
    req.socket.send(bytes, req.from);
  }

  /** An unauthenticated error, never larger than what provoked it, within a global budget. */
  private hint(socket: UdpSocket, to: Endpoint, requestSize: number, code: number, reason: string): void {
    const room = requestSize - HINT_OVERHEAD;
    if (room < 8) return;
    const now = this.env.scheduler.now();
    this.hintTokens = Math.min(HINTS_PER_SECOND, this.hintTokens + ((now - this.hintRefilledAt) * HINTS_PER_SECOND) / 1000);
    this.hintRefilledAt = now;
    if (this.hintTokens < 1) return;
    this.hintTokens--;
    socket.send(encodeMessage({ kind: 'hint', code, reason: truncateUtf8(reason, room) }, null), to);
  }
}

function attachKey(session: string, id: string): string {
  return `${session}\n${id}`;
}

function reliableKey(session: string, id: string, seq: number): string {
  return `${session}\n${id}\n${seq}`;
}

function estimatePeerInfoSize(p: PeerInfo): number {
  const ep = (e: Endpoint) => 3 + (e.address.includes(':') ? 19 : 7);
  return 3 + 11 + ep(p.public) + (p.name ? 3 + Buffer.byteLength(p.name) : 0) + p.locals.reduce((n, l) => n + ep(l), 0) + (p.observed ? ep(p.observed) : 0) + (p.spare ? ep(p.spare) : 0) + (p.mapped ? ep(p.mapped) : 0);
}
