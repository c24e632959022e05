/**
 * The punching client's port mapping: asks the default gateway to map the
 * main socket's port (PCP, then NAT-PMP, then UPnP IGD, or the one named),
 * renews the mapping at half its lifetime while the client lives, and deletes
 * it on close. The mapped endpoint is reachable from anywhere, and the host's
 * own traffic from that port leaves on it, so it is the one candidate that
 * works even when both peers sit behind NATs that map per destination at
 * random.
 *
 * No gateway that answers is not an error: start() resolves with null and
 * the client punches as it would have without. Every wait is bounded.
 *
 * A PCP gateway that restarts loses its mappings; the client notices by the
 * epoch (RFC 6887 8.5) of the gateway's unsolicited ANNOUNCE, or of any
 * answer, and makes the mapping again at once (after a random wait of up to
 * 5 s, so that a LAN of clients does not answer an ANNOUNCE all together)
 * rather than at the next renewal, up to half a lifetime later.
 */
import type { NetEnv } from '../../net/udp.js';
import type { UdpSocket } from '../../net/udp.js';
import { listenPcpAnnounce, mapPort, type MapPortOptions, type PortMappingResult, type PortmapVia } from '../../portmap/client.js';
import { PcpEpochTracker } from '../../portmap/pcp-epoch.js';
import type { TimerHandle } from '../../util/clock.js';

export interface PortmapOptions {
  /** The gateway's inside address (the default route's, in `masq punch`). */
  gateway: string;
  /** This host's address toward the gateway (PCP puts it in its requests). */
  client: string;
  /** Default auto: PCP, then NAT-PMP, then UPnP IGD. */
  via?: PortmapVia | 'auto';
  /** Seconds asked for; renewed at half of what was granted. Default 3600. */
  lifetime?: number;
  /** Give one mapping request this long (ms). Default 3000. */
  timeoutMs?: number;
  /**
   * How long the join waits for the mapping (ms, default 500: a gateway on the LAN answers in a few);
   * a mapping that comes later is offered by joining again.
   */
  waitMs?: number;
  /** For UPnP's HTTP; default the global fetch. */
  fetch?: typeof fetch;
}

/** A failed renewal is tried again this soon (but never later than half the time left). */
const RETRY_MS = 30_000;
/** Deleting on close waits at most this long: the mapping expires anyway. */
const DELETE_TIMEOUT_MS = 1000;
/** After an ANNOUNCE that shows a restart, the mapping is made again within this (random, spread over the LAN's clients). */
const ANNOUNCE_SPREAD_MS = 5000;

export class PortMapper {
  private current: PortMappingResult | null = null;
  private timer: TimerHandle | null = null;
  private expiresAt = 0;
  private closed = false;
  private readonly epochs = new PcpEpochTracker();
  private announces: UdpSocket | null | 'binding' = null;
  /** Requests made (the first mapping and renewals), for tests and status. */
  renewals = 0;
  /** Gateway restarts seen through the PCP epoch (an ANNOUNCE's or an answer's). */
  restartsSeen = 0;

  constructor(
    private readonly env: NetEnv,
    private readonly o: PortmapOptions,
    private readonly internalPort: number,
    /** Called when the mapped endpoint appears, moves or is lost. */
    private readonly changed: (mapping: PortMappingResult | null) => void,
    private readonly log?: (event: string, fields?: Record<string, unknown>) => void,
  ) {}

  get mapping(): PortMappingResult | null {
    return this.current;
  }

  /** The first mapping, or null (logged) when no gateway grants one. Never rejects. */
  async start(): Promise<PortMappingResult | null> {
    try {
      const m = await mapPort(this.env, this.request(this.o.lifetime ?? 3600));
      if (this.closed) {
        await this.remove(m);
        return null;
      }
      this.adopt(m);
      this.log?.('portmap', { via: m.via, external: m.external, lifetime: m.lifetime });
      return m;
    } catch (err) {
      this.log?.('portmap-none', { reason: (err as Error).message });
      return null;
    }
  }

  /** Stops renewing and deletes the mapping (bounded wait). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) this.env.scheduler.clearTimeout(this.timer);
    this.timer = null;
    if (this.announces && this.announces !== 'binding') this.announces.close();
    this.announces = null;
    const m = this.current;
    this.current = null;
    if (m) await this.remove(m);
  }

  private request(lifetime: number, held?: PortMappingResult): MapPortOptions {
    return {
      gateway: this.o.gateway,
      client: this.o.client,
      proto: 'udp',
      internalPort: this.internalPort,
      lifetime,
      // A renewal or deletion goes to the protocol that made the mapping, for the port it gave,
      // with PCP's nonce (RFC 6887 11.3: another nonce may not touch it).
      via: held?.via ?? this.o.via ?? 'auto',
      ...(held ? { externalPort: held.external.port } : {}),
      ...(held?.nonce ? { nonce: Uint8Array.from(Buffer.from(held.nonce, 'hex')) } : {}),
      timeoutMs: lifetime === 0 ? DELETE_TIMEOUT_MS : (this.o.timeoutMs ?? 3000),
      description: 'masq punch',
      ...(this.o.fetch ? { fetch: this.o.fetch } : {}),
    };
  }

  private adopt(m: PortMappingResult): void {
    this.renewals++;
    this.current = m;
    const now = this.env.scheduler.now();
    this.expiresAt = now + m.lifetime * 1000;
    this.schedule(Math.max(1000, (m.lifetime * 1000) / 2));
    if (m.via !== 'pcp' || m.epoch === null) return;
    // This answer made the mapping (again), whatever the gateway lost before it: only said.
    if (this.epochs.observe(m.epoch, now) === 'lost-state') {
      this.restartsSeen++;
      this.log?.('portmap-gateway-restarted', { epoch: m.epoch, seenBy: 'answer' });
    }
    if (this.announces === null) void this.listenAnnounces();
  }

  private async listenAnnounces(): Promise<void> {
    this.announces = 'binding';
    const socket = await listenPcpAnnounce(this.env, this.o.gateway, (epoch) => this.announced(epoch));
    if (this.closed || this.announces !== 'binding') {
      socket?.close();
      return;
    }
    this.announces = socket;
    if (!socket) this.log?.('portmap-announce-unheard', { reason: 'port 5350 in use' });
  }

  /** An unsolicited ANNOUNCE (RFC 6887 14.1.3): when its epoch shows a restart, the mapping is made again. */
  private announced(epoch: number): void {
    const held = this.current;
    if (this.closed || !held || held.via !== 'pcp') return;
    if (this.epochs.observe(epoch, this.env.scheduler.now()) !== 'lost-state') return;
    this.restartsSeen++;
    this.log?.('portmap-gateway-restarted', { epoch, seenBy: 'announce' });
    this.schedule(Math.floor(this.env.random() * ANNOUNCE_SPREAD_MS));
  }

  private schedule(ms: number): void {
    if (this.timer) this.env.scheduler.clearTimeout(this.timer);
    this.timer = this.env.scheduler.setTimeout(() => {
      this.timer = null;
      void this.renew();
    }, ms);
  }

  private async renew(): Promise<void> {
    const held = this.current;
    if (this.closed || !held) return;
    try {
      const m = await mapPort(this.env, this.request(this.o.lifetime ?? 3600, held));
      if (this.closed) return;
      this.adopt(m);
      if (m.external.port !== held.external.port || m.external.address !== held.external.address) {
        this.log?.('portmap-moved', { from: held.external, to: m.external });
        this.changed(m);
      }
    } catch (err) {
      if (this.closed) return;
      const left = this.expiresAt - this.env.scheduler.now();
      this.log?.('portmap-renew-failed', { reason: (err as Error).message, leftMs: left });
      if (left <= 0) {
        this.current = null;
        this.changed(null);
        this.retryFresh();
        return;
      }
      this.schedule(Math.min(RETRY_MS, Math.max(1000, left / 2)));
    }
  }

  /** The mapping is gone; the gateway may come back (restarted, say): ask afresh now and then. */
  private retryFresh(): void {
    if (this.timer) this.env.scheduler.clearTimeout(this.timer);
    this.timer = this.env.scheduler.setTimeout(() => {
      this.timer = null;
      void this.start().then((m) => {
        if (m) this.changed(m);
        else if (!this.closed) this.retryFresh();
      });
    }, RETRY_MS);
  }

  private async remove(m: PortMappingResult): Promise<void> {
    try {
      await mapPort(this.env, this.request(0, m));
      this.log?.('portmap-deleted', { via: m.via, external: m.external });
    } catch (err) {
      this.log?.('portmap-delete-failed', { reason: (err as Error).message });
    }
  }
}
