/**
 * The peer's side of the rendezvous protocol on its main socket: observe the
 * two server ports, join, refresh, leave, and take introductions and
 * departures (acknowledging each, dropping replays by sequence number).
 */
import type { Endpoint, NetEnv, UdpSocket } from '../../net/udp.js';
import { sameEndpoint } from '../../net/udp.js';
import type { TimerHandle } from '../../util/clock.js';
import { ErrorCode, encodeMessage, type Message, type MessageOf, type PeerInfo } from '../protocol/messages.js';
import { SeqWindow } from '../protocol/replay.js';
import { RequestError, Requester, type RequestPolicy } from './requester.js';

export interface SessionClientOptions {
  server: Endpoint;
  /** The server's observation socket; null when it has none. */
  observe: Endpoint | null;
  session: string;
  peerId: string;
  name?: string;
  wallClock: () => number;
  log?: (event: string, fields?: Record<string, unknown>) => void;
}

export interface SessionHandlers {
  introduce(peer: PeerInfo): void;
  peerLeft(peerId: string): void;
  /** A join (first or later) was answered. */
  joined(ok: MessageOf<'join-ok'>): void;
  /** Refreshes keep failing: the server is unreachable. */
  lost(err: Error): void;
}

const OBSERVE_POLICY: RequestPolicy = { rtoMs: 250, tries: 4 };

export class SessionClient {
  private readonly requester: Requester;
  private readonly window = new SeqWindow(1024);
  private refreshTimer: TimerHandle | null = null;
  private refreshMs = 15_000;
  private locals: Endpoint[] = [];
  private observed: Endpoint | undefined;
  private spare: Endpoint | undefined;
  private mapped: Endpoint | undefined;
  private closed = false;
  publicEndpoint: Endpoint | null = null;
  relay: Endpoint | undefined;

  constructor(
    private readonly env: NetEnv,
    private readonly socket: UdpSocket,
    private readonly key: Uint8Array,
    private readonly o: SessionClientOptions,
    private readonly h: SessionHandlers,
  ) {
    this.requester = new Requester(env, socket, key, o.wallClock);
  }

  /** Is this packet source one of the server's sockets? */
  fromServer(from: Endpoint): boolean {
    return sameEndpoint(from, this.o.server) || (this.o.observe !== null && sameEndpoint(from, this.o.observe));
  }

  /**
   * Asks both server sockets where we come from, the primary first (so a
   * sequential NAT numbers them in that order). Returns what it learned;
   * `observed` is absent when the observation socket did not answer.
   */
  async observe(): Promise<{ public: Endpoint; observed?: Endpoint }> {
    const body = { kind: 'observe', session: this.o.session, peerId: this.o.peerId } as const;
    const first = this.requester.request(this.o.server, body, OBSERVE_POLICY);
    const second = this.o.observe ? this.requester.request(this.o.observe, body, OBSERVE_POLICY).catch(() => null) : Promise.resolve(null);
    const [a, b] = await Promise.all([first, second]);
    if (a.kind !== 'observe-ok') throw new RequestError(`unexpected ${a.kind}`, 0);
    const observed = b && b.kind === 'observe-ok' ? b.public : undefined;
    return { public: a.public, ...(observed ? { observed } : {}) };
  }

  async join(locals: Endpoint[], observed?: Endpoint, spare?: Endpoint, mapped?: Endpoint): Promise<MessageOf<'join-ok'>> {
    this.locals = locals;
    this.observed = observed;
    this.spare = spare;
    this.mapped = mapped;
    const m = await this.requester.request(this.o.server, {
      kind: 'join',
      session: this.o.session,
      peerId: this.o.peerId,
      ...(this.o.name !== undefined ? { name: this.o.name } : {}),
      locals,
      ...(observed ? { observed } : {}),
      ...(spare ? { spare } : {}),
      ...(mapped ? { mapped } : {}),
    });
    if (m.kind !== 'join-ok') throw new RequestError(`unexpected ${m.kind} to a join`, 0);
    this.publicEndpoint = m.public;
    this.relay = m.relay;
    this.refreshMs = Math.max(1000, m.refreshMs);
    this.window.reset(m.seq);
    this.scheduleRefresh();
    this.h.joined(m);
    for (const p of m.peers) this.h.introduce(p);
    return m;
  }

  /** Joins again with the same id: the server re-introduces us to everyone. */
  async rejoin(): Promise<void> {
    await this.join(this.locals, this.observed, this.spare, this.mapped);
  }

  /** Our port mapping appeared, moved or went: join again so that the others learn it. */
  async offerMapped(mapped: Endpoint | undefined): Promise<void> {
    await this.join(this.locals, this.observed, this.spare, mapped);
  }

  async leave(): Promise<void> {
    if (this.refreshTimer) this.env.scheduler.clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    try {
      await this.requester.request(this.o.server, { kind: 'leave', session: this.o.session, peerId: this.o.peerId }, { rtoMs: 200, tries: 3 });
    } catch {
      /* the server will expire us */
    }
  }

  /** A message from the server (MAC already checked). Returns true if it was ours. */
  handle(m: Message): boolean {
    switch (m.kind) {
      case 'join-ok':
      case 'refresh-ok':
      case 'leave-ok':
      case 'observe-ok':
      case 'error':
      case 'cookie':
        return this.requester.answer(m);
      case 'introduce':
      case 'peer-left': {
        if (m.target !== this.o.peerId) return false;
        // Acknowledge even a duplicate: our earlier ack may have been lost.
        this.socket.send(encodeMessage({ kind: 'introduce-ack', session: this.o.session, peerId: this.o.peerId, seq: m.seq }, this.key), this.o.server);
        if (!this.window.accept(m.seq)) return true;
        if (m.kind === 'introduce') this.h.introduce(m.peer);
        else this.h.peerLeft(m.peerId);
        return true;
      }
      default:
        return false;
    }
  }

  hint(reason: string): void {
    this.requester.lastHint = reason;
  }

  close(): void {
    this.closed = true;
    if (this.refreshTimer) this.env.scheduler.clearTimeout(this.refreshTimer);
    this.requester.close();
  }

  private scheduleRefresh(): void {
    if (this.refreshTimer) this.env.scheduler.clearTimeout(this.refreshTimer);
    this.refreshTimer = this.env.scheduler.setTimeout(() => {
      this.refreshTimer = null;
      void this.refresh();
    }, this.refreshMs);
  }

  private async refresh(): Promise<void> {
    if (this.closed) return;
    try {
      const m = await this.requester.request(this.o.server, { kind: 'refresh', session: this.o.session, peerId: this.o.peerId });
      if (m.kind === 'refresh-ok') this.publicEndpoint = m.public;
      this.scheduleRefresh();
    } catch (err) {
      if (this.closed) return;
      if (err instanceof RequestError && err.code === ErrorCode.UnknownPeer) {
        this.o.log?.('rejoin', { reason: err.message });
        try {
          await this.rejoin();
          return;
        } catch (e) {
          err = e;
        }
      }
      this.h.lost(err as Error);
      this.scheduleRefresh();
    }
  }
}
