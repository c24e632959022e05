/**
 * The relay: the path of last resort between two peers that cannot reach each
 * other directly (both behind NATs that map per destination, say).
 *
 * A peer binds with an authenticated request (the session key, a timestamp and
 * a nonce, as for the rendezvous server): the relay records which source
 * address speaks for (session, peer id), for a limited time, refreshed by
 * binding again. After that, `relay-send` frames from that source address are
 * forwarded to the named peer of the same session, as `relay-deliver` frames
 * naming the sender. Forwarding frames carry no MAC of their own: the source
 * address identifies the sender (as with a TURN allocation), and the payload
 * is the peers' own end-to-end authenticated packet, which the relay does not
 * need to read. Sessions are separate: a peer can only reach peers of its own
 * session. A delivered frame is the same size as the frame that caused it, and
 * each binding has a byte rate limit.
 *
 * Strangers: a bind that would record a new source address must echo a cookie
 * sent to that address (rendezvous/protocol/cookie.ts), so nobody can point a
 * binding, and the frames delivered to it, at someone else's address; every
 * answer to an unproven source is no larger than its request. Bindings are
 * capped in total, per session and per source address, and bindings of open
 * sessions only get a share of the total, so that open sessions cannot starve
 * keyed ones.
 */
import type { Endpoint, NetEnv, UdpSocket } from '../net/udp.js';
import { endpointToString, sameEndpoint } from '../net/udp.js';
import type { TimerHandle } from '../util/clock.js';
import type { SessionKeys } from '../rendezvous/protocol/keys.js';
import { ErrorCode, encodeMessage, isAuthenticatedType, readMessage, sessionOf, type Message } from '../rendezvous/protocol/messages.js';
import { NonceCache } from '../rendezvous/protocol/replay.js';
import { looksLikeMasqPacket, macValid, parsePacket, RendezvousDecodeError } from '../rendezvous/protocol/wire.js';
import { encodeWithin } from '../rendezvous/protocol/bounded-reply.js';
import { CookieMinter } from '../rendezvous/protocol/cookie.js';
import { LimitLog, type LogFn } from '../rendezvous/util/limit-log.js';
import { Occupancy, type CapName, type Holder } from '../rendezvous/util/occupancy.js';
import { sourceKey } from '../rendezvous/util/source-key.js';

export interface RelayServerOptions {
  listen: Endpoint;
  keys: SessionKeys;
  /** A binding lives this long unless refreshed (default 60 s). */
  bindingTtlMs?: number;
  /** Bindings in all (default 10,000). */
  maxBindings?: number;
  /** Bindings of sessions anyone may join (default half of maxBindings): the rest stay for keyed sessions. */
  maxOpenBindings?: number;
  /** Bindings of one session (default 64). */
  maxBindingsPerSession?: number;
  /** Bindings from one source address (an IPv4 address, an IPv6 /64), all sessions together (default 64). */
  maxBindingsPerAddress?: number;
  /** The secret cookies are made with (default: 32 random bytes). */
  cookieSecret?: Uint8Array;
  /** Per binding, bytes per second forwarded (default 2 MB/s) with a one-second burst. */
  bytesPerSecond?: number;
  wallClock?: () => number;
  replayWindowMs?: number;
  log?: LogFn;
  /** What an operator should always hear: limits hit (throttled, one line per limit per 10 s). Default: log. */
  warn?: LogFn;
}

export const RELAY_DEFAULTS = {
  maxBindings: 10_000,
  maxBindingsPerSession: 64,
  maxBindingsPerAddress: 64,
} as const;

export interface RelayCounters {
  binds: number;
  forwarded: number;
  forwardedBytes: number;
  unbound: number;
  unknownTarget: number;
  rateLimited: number;
  unauthenticated: number;
  malformed: number;
  stale: number;
  replayed: number;
  /** Binds refused by any limit (the sum of the four below). */
  refused: number;
  refusedTotal: number;
  refusedOpen: number;
  refusedPerSession: number;
  refusedPerAddress: number;
  /** Cookies sent to sources that had not proved they receive. */
  challenges: number;
  /** Answers to an unproven source that could not be made as small as the request, not sent. */
  unsentOversize: number;
  expired: number;
}

/** A bind being answered: where from, and how much may go back. */
interface Request {
  from: Endpoint;
  key: Uint8Array;
  size: number;
  proven: boolean;
}

interface Binding {
  session: string;
  peerId: string;
  endpoint: Endpoint;
  expiresAt: number;
  tokens: number;
  refilledAt: number;
  holder: Holder;
}

export class RelayServer {
  readonly counters: RelayCounters = {
    binds: 0,
    forwarded: 0,
    forwardedBytes: 0,
    unbound: 0,
    unknownTarget: 0,
    rateLimited: 0,
    unauthenticated: 0,
    malformed: 0,
    stale: 0,
    replayed: 0,
    refused: 0,
    refusedTotal: 0,
    refusedOpen: 0,
    refusedPerSession: 0,
    refusedPerAddress: 0,
    challenges: 0,
    unsentOversize: 0,
    expired: 0,
  };
  private readonly byPeer = new Map<string, Binding>();
  private readonly byEndpoint = new Map<string, Binding>();
  private readonly occupancy: Occupancy;
  private readonly cookies: CookieMinter;
  private readonly limits: LimitLog;
  private readonly nonces: NonceCache;
  private readonly ttlMs: number;
  private readonly rate: number;
  private readonly wallClock: () => number;
  private sweepTimer: TimerHandle | null = null;
  private closed = false;

  private constructor(
    private readonly env: NetEnv,
    private readonly socket: UdpSocket,
    private readonly o: RelayServerOptions,
  ) {
    this.ttlMs = o.bindingTtlMs ?? 60_000;
    this.rate = o.bytesPerSecond ?? 2_000_000;
    this.wallClock = o.wallClock ?? (() => env.scheduler.now());
    this.nonces = new NonceCache(o.replayWindowMs ?? 15_000);
    const total = o.maxBindings ?? RELAY_DEFAULTS.maxBindings;
    this.occupancy = new Occupancy({
      total,
      open: o.maxOpenBindings ?? Math.floor(total / 2),
      perSession: o.maxBindingsPerSession ?? RELAY_DEFAULTS.maxBindingsPerSession,
      perSource: o.maxBindingsPerAddress ?? RELAY_DEFAULTS.maxBindingsPerAddress,
    });
    this.cookies = new CookieMinter(o.cookieSecret);
    this.limits = new LimitLog(o.warn ?? o.log, () => env.scheduler.now());
  }

  static async start(env: NetEnv, o: RelayServerOptions): Promise<RelayServer> {
    const socket = await env.bindUdp({ address: o.listen.address, port: o.listen.port });
    const r = new RelayServer(env, socket, o);
    socket.onMessage((d, from) => r.receive(d, from));
    r.scheduleSweep();
    return r;
  }

  get local(): Endpoint {
    return this.socket.local;
  }

  get bindings(): number {
    return this.byPeer.size;
  }

  /** Bindings of open sessions. */
  get openBindings(): number {
    return this.occupancy.openHolders;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer) this.env.scheduler.clearTimeout(this.sweepTimer);
    this.socket.close();
  }

  private receive(data: Uint8Array, from: Endpoint): void {
    if (this.closed || !looksLikeMasqPacket(data)) return;
    try {
      const raw = parsePacket(data, isAuthenticatedType);
      if (raw.mac === null) {
        const m = readMessage(raw);
        if (m.kind === 'relay-send') this.forward(m.to, m.payload, from);
        return;
      }
      const session = sessionOf(raw);
      const key = session === null ? null : this.o.keys.keyFor(session);
      if (!key || !macValid(raw, key)) {
        this.counters.unauthenticated++;
        return;
      }
      const m = readMessage(raw);
      if (m.kind === 'relay-bind') this.bind(m, { from, key, size: data.length, proven: this.cookies.valid(m.cookie, from, this.env.scheduler.now()) });
    } catch (err) {
      if (!(err instanceof RendezvousDecodeError)) throw err;
      this.counters.malformed++;
    }
  }

  private bind(m: Extract<Message, { kind: 'relay-bind' }>, req: Request): void {
    const from = req.from;
    // Nothing is recorded before the source is proven: forged binds cannot fill the nonce cache.
    const verdict = this.nonces.peek(m.nonce, m.timestamp, this.wallClock());
    if (verdict === 'replay') {
      this.counters.replayed++;
      return;
    }
    if (verdict !== 'ok') {
      if (verdict === 'stale') this.counters.stale++;
      this.reply(req, {
        kind: 'error',
        echo: m.nonce,
        code: verdict === 'stale' ? ErrorCode.Stale : ErrorCode.ServerBusy,
        reason: verdict === 'stale' ? 'timestamp outside the acceptance window' : 'replay cache full',
        serverTime: this.wallClock(),
      });
      return;
    }
    const k = peerKey(m.session, m.peerId);
    let b = this.byPeer.get(k);
    // Refreshing a binding from where it is needs no proof; binding a new address does.
    if (!req.proven && !(b && sameEndpoint(b.endpoint, from))) {
      this.counters.challenges++;
      this.reply(req, { kind: 'cookie', echo: m.nonce, cookie: this.cookies.mint(from, this.env.scheduler.now()) });
      return;
    }
    this.nonces.check(m.nonce, m.timestamp, this.wallClock());
    const now = this.env.scheduler.now();
    const source = sourceKey(from.address);
    // One source address speaks for one peer: a newer binding from it replaces the older.
    const previous = this.byEndpoint.get(endpointToString(from));
    if (previous && previous !== b) this.unbind(previous);
    if (!b) {
      const holder: Holder = { session: m.session, open: this.o.keys.isOpenSession(m.session), source };
      const cap = this.occupancy.refusal(holder);
      if (cap) return this.refuse(req, m.nonce, cap, m.session);
      this.occupancy.add(holder);
      b = { session: m.session, peerId: m.peerId, endpoint: from, expiresAt: 0, tokens: this.rate, refilledAt: now, holder };
      this.byPeer.set(k, b);
    } else {
      const moved = this.occupancy.move(b.holder, source);
      if (!moved) return this.refuse(req, m.nonce, 'perSource', m.session);
      b.holder = moved;
      this.byEndpoint.delete(endpointToString(b.endpoint));
    }
    b.endpoint = from;
    b.expiresAt = now + this.ttlMs;
    this.byEndpoint.set(endpointToString(from), b);
    this.counters.binds++;
    this.o.log?.('bind', { session: m.session, peer: m.peerId, from: endpointToString(from) });
    this.reply(req, { kind: 'relay-bind-ok', echo: m.nonce, ttlMs: this.ttlMs });
  }

  /** A bind refused by one of the limits: counted, logged (throttled), answered with 429. */
  private refuse(req: Request, nonce: string, cap: CapName, session: string): void {
    const caps = this.occupancy.caps;
    let reason: string;
    this.counters.refused++;
    if (cap === 'open') {
      this.counters.refusedOpen++;
      reason = `relay full for open sessions (${caps.open} bindings); sessions with a secret are still admitted`;
    } else if (cap === 'perSession') {
      this.counters.refusedPerSession++;
      reason = `relay full for this session (${caps.perSession} bindings)`;
    } else if (cap === 'perSource') {
      this.counters.refusedPerAddress++;
      reason = `relay full for your address (${caps.perSource} bindings)`;
    } else {
      this.counters.refusedTotal++;
      reason = `relay full (${caps.total} bindings)`;
    }
    this.limits.hit(cap, { session, source: sourceKey(req.from.address) });
    this.reply(req, { kind: 'error', echo: nonce, code: ErrorCode.SessionFull, reason });
  }

  private forward(to: string, payload: Uint8Array, from: Endpoint): void {
    const now = this.env.scheduler.now();
    const sender = this.byEndpoint.get(endpointToString(from));
    if (!sender || sender.expiresAt <= now) {
      this.counters.unbound++;
      return;
    }
    const target = this.byPeer.get(peerKey(sender.session, to));
    if (!target || target.expiresAt <= now) {
      this.counters.unknownTarget++;
      return;
    }
    sender.tokens = Math.min(this.rate, sender.tokens + ((now - sender.refilledAt) * this.rate) / 1000);
    sender.refilledAt = now;
    if (sender.tokens < payload.length) {
      this.counters.rateLimited++;
      return;
    }
    sender.tokens -= payload.length;
    this.counters.forwarded++;
    this.counters.forwardedBytes += payload.length;
    this.socket.send(encodeMessage({ kind: 'relay-deliver', from: sender.peerId, payload }, null), target.endpoint);
  }

  private unbind(b: Binding): void {
    if (this.byPeer.get(peerKey(b.session, b.peerId)) !== b) return;
    this.byPeer.delete(peerKey(b.session, b.peerId));
    if (this.byEndpoint.get(endpointToString(b.endpoint)) === b) this.byEndpoint.delete(endpointToString(b.endpoint));
    this.occupancy.remove(b.holder);
  }

  /** An answer to a bind; to an unproven source, no larger than the request (or not at all). */
  private reply(req: Request, m: Message): void {
    if (this.closed) return;
    const bytes = req.proven ? encodeMessage(m, req.key) : encodeWithin(m, req.key, req.size);
    if (!bytes) {
      this.counters.unsentOversize++;
      return;
    }
    this.socket.send(bytes, req.from);
  }

  private scheduleSweep(): void {
    this.sweepTimer = this.env.scheduler.setTimeout(() => {
      this.sweepTimer = null;
      if (this.closed) return;
      const now = this.env.scheduler.now();
      for (const b of [...this.byPeer.values()]) {
        if (b.expiresAt <= now) {
          this.counters.expired++;
          this.unbind(b);
        }
      }
      this.scheduleSweep();
    }, 5000);
  }
}

function peerKey(session: string, peerId: string): string {
  return `${session}\n${peerId}`;
}
