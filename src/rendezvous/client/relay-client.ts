/**
 * The peer's side of the relay: one socket, bound to the relay with an
 * authenticated request and kept bound (which also keeps our NAT mapping to
 * the relay open); peer packets go out wrapped in relay-send and come back
 * unwrapped from relay-deliver. The inner packets keep their own end-to-end
 * MAC, so the relay can forward but not forge.
 */
import type { Endpoint, NetEnv, UdpSocket } from '../../net/udp.js';
import { sameEndpoint } from '../../net/udp.js';
import type { TimerHandle } from '../../util/clock.js';
import { encodeMessage, type Message } from '../protocol/messages.js';
import { Requester } from './requester.js';

export interface RelayClientOptions {
  relay: Endpoint;
  session: string;
  peerId: string;
  wallClock: () => number;
}

export class RelayClient {
  private requester: Requester | null = null;
  private binding: Promise<boolean> | null = null;
  private refreshTimer: TimerHandle | null = null;
  private closed = false;
  bound = false;
  socket: UdpSocket | null = null;

  constructor(
    private readonly env: NetEnv,
    private readonly key: Uint8Array,
    private readonly o: RelayClientOptions,
    /** Where packets arriving on the relay socket go. */
    private readonly onPacket: (data: Uint8Array, from: Endpoint, socket: UdpSocket) => void,
  ) {}

  get endpoint(): Endpoint {
    return this.o.relay;
  }

  isRelay(from: Endpoint): boolean {
    return sameEndpoint(from, this.o.relay);
  }

  /** Binds (once; later calls share the attempt). Resolves false when the relay does not answer. */
  ensureBound(): Promise<boolean> {
    if (this.bound) return Promise.resolve(true);
    if (!this.binding) {
      this.binding = this.bind().finally(() => {
        this.binding = null;
      });
    }
    return this.binding;
  }

  private async bind(): Promise<boolean> {
    if (this.closed) return false;
    if (!this.socket) {
      this.socket = await this.env.bindUdp({});
      const s = this.socket;
      s.onMessage((d, from) => this.onPacket(d, from, s));
      this.requester = new Requester(this.env, s, this.key, this.o.wallClock);
    }
    try {
      const m = await this.requester!.request(this.o.relay, { kind: 'relay-bind', session: this.o.session, peerId: this.o.peerId });
      if (m.kind !== 'relay-bind-ok' || this.closed) return false;
      this.bound = true;
      // Refresh well inside the binding's life and inside short NAT timeouts.
      this.scheduleRefresh(Math.min(15_000, Math.max(1000, m.ttlMs / 3)));
      return true;
    } catch {
      return false;
    }
  }

  private scheduleRefresh(ms: number): void {
    if (this.refreshTimer) this.env.scheduler.clearTimeout(this.refreshTimer);
    this.refreshTimer = this.env.scheduler.setTimeout(() => {
      this.refreshTimer = null;
      // Stay usable while the refresh is in flight; only a failed one unbinds.
      void this.bind().then((ok) => {
        if (!ok && !this.closed) {
          this.bound = false;
          this.scheduleRefresh(ms);
        }
      });
    }, ms);
  }

  /** An answer on the relay socket (MAC checked by the caller). */
  handle(m: Message): boolean {
    if (m.kind === 'relay-bind-ok' || m.kind === 'error' || m.kind === 'cookie') return this.requester?.answer(m) ?? false;
    return false;
  }

  send(to: string, inner: Uint8Array): boolean {
    if (!this.bound || !this.socket || this.closed) return false;
    this.socket.send(encodeMessage({ kind: 'relay-send', to, payload: inner }, null), this.o.relay);
    return true;
  }

  close(): void {
    this.closed = true;
    if (this.refreshTimer) this.env.scheduler.clearTimeout(this.refreshTimer);
    this.requester?.close();
    this.socket?.close();
  }
}
