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
 */
import type { Endpoint, NetEnv, UdpSocket } from '../net/udp.js';
import { endpointToString } from '../net/udp.js';
import type { TimerHandle } from '../util/clock.js';
import type { SessionKeys } from '../rendezvous/protocol/keys.js';
import { ErrorCode, encodeMessage, isAuthenticatedType, readMessage, sessionOf, type Message } from '../rendezvous/protocol/messages.js';
import { NonceCache } from '../rendezvous/protocol/replay.js';
import { looksLikeMasqPacket, macValid, parsePacket, RendezvousDecodeError } from '../rendezvous/protocol/wire.js';

export interface RelayServerOptions {
  listen: Endpoint;
  keys: SessionKeys;
  /** A binding lives this long unless refreshed (default 60 s). */
  bindingTtlMs?: number;
  maxBindings?: number;
  maxBindingsPerSession?: number;
  /** Per binding, bytes per second forwarded (default 2 MB/s) with a one-second burst. */
  bytesPerSecond?: number;
  wallClock?: () => number;
  replayWindowMs?: number;
  log?: (event: string, fields?: Record<string, unknown>) => void;
}

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
  refused: number;
  expired: number;
}

interface Binding {
  session: string;
  peerId: string;
  endpoint: Endpoint;
  expiresAt: number;
  tokens: number;
  refilledAt: number;
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
    expired: 0,
  };
  private readonly byPeer = new Map<string, Binding>();
  private readonly byEndpoint = new Map<string, Binding>();
  private readonly perSession = new Map<string, number>();
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
      if (m.kind === 'relay-bind') this.bind(m, from, key);
    } catch (err) {
      if (!(err instanceof RendezvousDecodeError)) throw err;
      this.counters.malformed++;
    }
  }

  private bind(m: Extract<Message, { kind: 'relay-bind' }>, from: Endpoint, key: Uint8Array): void {
    const verdict = this.nonces.check(m.nonce, m.timestamp, this.wallClock());
    if (verdict === 'replay') {
      this.counters.replayed++;
      return;
    }
    if (verdict !== 'ok') {
      if (verdict === 'stale') this.counters.stale++;
      this.reply(from, key, {
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
    const now = this.env.scheduler.now();
    if (!b) {
      const inSession = this.perSession.get(m.session) ?? 0;
      if (this.byPeer.size >= (this.o.maxBindings ?? 10_000) || inSession >= (this.o.maxBindingsPerSession ?? 64)) {
        this.counters.refused++;
        this.reply(from, key, { kind: 'error', echo: m.nonce, code: ErrorCode.SessionFull, reason: 'relay full' });
        return;
      }
      b = { session: m.session, peerId: m.peerId, endpoint: from, expiresAt: 0, tokens: this.rate, refilledAt: now };
      this.byPeer.set(k, b);
      this.perSession.set(m.session, inSession + 1);
    } else {
      this.byEndpoint.delete(endpointToString(b.endpoint));
    }
    // One source address speaks for one peer: a newer binding from it replaces the older.
    const previous = this.byEndpoint.get(endpointToString(from));
    if (previous && previous !== b) this.unbind(previous);
    b.endpoint = from;
    b.expiresAt = now + this.ttlMs;
    this.byEndpoint.set(endpointToString(from), b);
    this.counters.binds++;
    this.o.log?.('bind', { session: m.session, peer: m.peerId, from: endpointToString(from) });
    this.reply(from, key, { kind: 'relay-bind-ok', echo: m.nonce, ttlMs: this.ttlMs });
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
    this.byPeer.delete(peerKey(b.session, b.peerId));
    this.byEndpoint.delete(endpointToString(b.endpoint));
    const n = (this.perSession.get(b.session) ?? 1) - 1;
    if (n <= 0) this.perSession.delete(b.session);
    else this.perSession.set(b.session, n);
  }

  private reply(to: Endpoint, key: Uint8Array, m: Message): void {
    this.socket.send(encodeMessage(m, key), to);
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
