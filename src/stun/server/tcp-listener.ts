/**
 * STUN over TCP (RFC 8489 section 6.2.2) on node:net: a shell around the same
 * core as the UDP server. Messages are back to back on the stream; replies go
 * back on the connection they came from. RFC 5780's address-changing
 * attributes are refused by the core on TCP (400), so only the primary socket
 * listens.
 *
 * A connection costs the server a socket and a buffer for as long as it
 * stays open, so how long is not up to the client: each message must arrive
 * whole within `messageTimeoutMs` of its first byte (or of the connection
 * opening), and a connection with nothing in flight closes after
 * `idleTimeoutMs`. A byte now and then extends neither. Connections are capped
 * per source address and in all (tcp-admission.ts), so one address cannot
 * take the slots everyone else needs.
 */
import net from 'node:net';
import type { Clock } from '../../util/clock.js';
import type { Endpoint } from '../../net/udp.js';
import { StunStreamSplitter } from '../framing.js';
import type { StunServerCore } from './server-core.js';
import { TcpAdmission } from './tcp-admission.js';
import { ThrottledReport } from './throttled-report.js';

export const TCP_DEFAULTS = {
  maxConnections: 1000,
  maxConnectionsPerAddress: 10,
  messageTimeoutMs: 5000,
  idleTimeoutMs: 30_000,
  limitReportIntervalMs: 10_000,
  /** Replies queued for a client that does not read them; past this the connection closes. */
  maxQueuedReplyBytes: 64 * 1024,
} as const;

/** Which limit closed or refused a connection. */
export type StunTcpLimit = 'per-address' | 'full' | 'evicted' | 'message-timeout';

export interface StunTcpLimitEvent {
  limit: StunTcpLimit;
  /** The connection the latest hit concerned. */
  from: Endpoint;
  /** Hits of this limit since the previous event of its kind (events are at most one per kind per interval). */
  count: number;
}

export interface StunTcpListenerOptions {
  /** Connections at once, all addresses together; see tcp-admission.ts for who gets in when full. Default 1000. */
  maxConnections?: number;
  /** Connections at once from one source address. Default 10. */
  maxConnectionsPerAddress?: number;
  /** A message must be complete this long after its first byte (the first: after the connection opens). Default 5000 ms. */
  messageTimeoutMs?: number;
  /** A connection with no message in flight closes after this long. Default 30000 ms. */
  idleTimeoutMs?: number;
  /** Limit events of one kind at most this often (the counters have every hit). Default 10000 ms. */
  limitReportIntervalMs?: number;
  onLimit?: (e: StunTcpLimitEvent) => void;
  clock: Clock;
}

export interface StunTcpCounters {
  accepted: number;
  /** Refused: the source address already held its share. */
  refusedPerAddress: number;
  /** Refused: the table was full and no address held more than the newcomer's. */
  refusedFull: number;
  /** Closed to make room for an address holding fewer connections. */
  evicted: number;
  /** Closed: a message did not arrive whole in time (slow senders, silent openers), or replies piled up unread. */
  closedSlow: number;
  closedIdle: number;
  closedNotStun: number;
}

interface Connection {
  sock: net.Socket;
  address: string;
  timer: NodeJS.Timeout | undefined;
}

export class StunTcpListener {
  readonly counters: StunTcpCounters = {
    accepted: 0,
    refusedPerAddress: 0,
    refusedFull: 0,
    evicted: 0,
    closedSlow: 0,
    closedIdle: 0,
    closedNotStun: 0,
  };
  private readonly admission: TcpAdmission<Connection>;
  private readonly open = new Set<Connection>();
  private readonly reports: ThrottledReport<StunTcpLimit, Endpoint>;
  private readonly messageTimeoutMs: number;
  private readonly idleTimeoutMs: number;

  private constructor(
    private readonly server: net.Server,
    readonly local: Endpoint,
    private readonly core: StunServerCore,
    private readonly options: StunTcpListenerOptions,
  ) {
    this.admission = new TcpAdmission({
      maxConnections: options.maxConnections ?? TCP_DEFAULTS.maxConnections,
      maxPerAddress: options.maxConnectionsPerAddress ?? TCP_DEFAULTS.maxConnectionsPerAddress,
    });
    this.messageTimeoutMs = positive(options.messageTimeoutMs ?? TCP_DEFAULTS.messageTimeoutMs, 'messageTimeoutMs');
    this.idleTimeoutMs = positive(options.idleTimeoutMs ?? TCP_DEFAULTS.idleTimeoutMs, 'idleTimeoutMs');
    const onLimit = options.onLimit;
    this.reports = new ThrottledReport(options.limitReportIntervalMs ?? TCP_DEFAULTS.limitReportIntervalMs, (limit, count, from) =>
      onLimit?.({ limit, from, count }),
    );
  }

  static async start(core: StunServerCore, at: Endpoint, options: StunTcpListenerOptions): Promise<StunTcpListener> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: at.address, port: at.port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address() as net.AddressInfo;
    const listener = new StunTcpListener(server, { address: addr.address, port: addr.port }, core, options);
    server.on('connection', (sock) => listener.accept(sock));
    server.on('error', () => {});
    return listener;
  }

  private accept(sock: net.Socket): void {
    sock.on('error', () => {});
    const from: Endpoint = { address: sock.remoteAddress ?? '', port: sock.remotePort ?? 0 };
    const conn: Connection = { sock, address: from.address, timer: undefined };
    const now = this.options.clock.now();
    const admission = this.admission.admit(from.address, conn);
    if (!admission.admitted) {
      if (admission.reason === 'per-address') this.counters.refusedPerAddress++;
      else this.counters.refusedFull++;
      this.reports.hit(admission.reason, now, from);
      sock.destroy();
      return;
    }
    if (admission.evicted) {
      const victim = admission.evicted.connection;
      this.counters.evicted++;
      this.reports.hit('evicted', now, { address: victim.address, port: victim.sock.remotePort ?? 0 });
      this.drop(victim);
    }
    this.counters.accepted++;
    this.open.add(conn);
    sock.setNoDelay(true);
    sock.on('close', () => this.drop(conn));
    this.arm(conn, 'message');
    const splitter = new StunStreamSplitter();
    sock.on('data', (chunk: Buffer) => {
      const wasIdle = splitter.pending === 0;
      let messages: Uint8Array[];
      try {
        messages = splitter.push(chunk);
      } catch {
        this.counters.closedNotStun++;
        this.drop(conn);
        return;
      }
      for (const m of messages) {
        for (const reply of this.core.handle(m, from, 'PP', 'tcp', this.options.clock.now())) sock.write(reply.data);
      }
      if (sock.writableLength > TCP_DEFAULTS.maxQueuedReplyBytes) {
        this.counters.closedSlow++;
        this.drop(conn);
        return;
      }
      // Deadlines move only when a message completes or a new one starts: trickling bytes buys no time.
      if (messages.length > 0) this.arm(conn, splitter.pending > 0 ? 'message' : 'idle');
      else if (wasIdle) this.arm(conn, 'message');
    });
  }

  private arm(conn: Connection, wait: 'message' | 'idle'): void {
    clearTimeout(conn.timer);
    const ms = wait === 'message' ? this.messageTimeoutMs : this.idleTimeoutMs;
    conn.timer = setTimeout(() => {
      if (wait === 'message') {
        this.counters.closedSlow++;
        this.reports.hit('message-timeout', this.options.clock.now(), { address: conn.address, port: conn.sock.remotePort ?? 0 });
      } else {
        this.counters.closedIdle++;
      }
      this.drop(conn);
    }, ms);
  }

  /** Closes and forgets a connection; safe to call more than once. */
  private drop(conn: Connection): void {
    clearTimeout(conn.timer);
    conn.timer = undefined;
    this.admission.release(conn.address, conn);
    this.open.delete(conn);
    conn.sock.destroy();
  }

  get connections(): number {
    return this.open.size;
  }

  async close(): Promise<void> {
    for (const c of [...this.open]) this.drop(c);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function positive(ms: number, what: string): number {
  if (!(Number.isFinite(ms) && ms > 0)) throw new RangeError(`${what} must be a positive number of milliseconds`);
  return ms;
}
