/**
 * STUN over TCP (RFC 8489 section 6.2.2) on node:net: a shell around the same
 * core as the UDP server. Messages are back to back on the stream; replies go
 * back on the connection they came from. RFC 5780's address-changing
 * attributes are refused by the core on TCP (400), so only the primary socket
 * listens.
 */
import net from 'node:net';
import type { Clock } from '../../util/clock.js';
import type { Endpoint } from '../../net/udp.js';
import { StunStreamSplitter } from '../framing.js';
import type { StunServerCore } from './server-core.js';

export interface StunTcpListenerOptions {
  /** Connections at once; more are refused. Default 1000. */
  maxConnections?: number;
  /** A connection silent this long is closed. Default 30000 ms. */
  idleTimeoutMs?: number;
  clock: Clock;
}

export interface StunTcpCounters {
  accepted: number;
  closedNotStun: number;
  closedIdle: number;
}

export class StunTcpListener {
  readonly counters: StunTcpCounters = { accepted: 0, closedNotStun: 0, closedIdle: 0 };
  private readonly open = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly local: Endpoint,
  ) {}

  static async start(core: StunServerCore, at: Endpoint, options: StunTcpListenerOptions): Promise<StunTcpListener> {
    const server = net.createServer();
    server.maxConnections = options.maxConnections ?? 1000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: at.address, port: at.port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address() as net.AddressInfo;
    const listener = new StunTcpListener(server, { address: addr.address, port: addr.port });
    server.on('connection', (sock) => listener.serve(core, sock, options));
    server.on('error', () => {});
    return listener;
  }

  private serve(core: StunServerCore, sock: net.Socket, options: StunTcpListenerOptions): void {
    this.counters.accepted++;
    this.open.add(sock);
    const from: Endpoint = { address: sock.remoteAddress ?? '', port: sock.remotePort ?? 0 };
    const splitter = new StunStreamSplitter();
    sock.setNoDelay(true);
    sock.setTimeout(options.idleTimeoutMs ?? 30_000, () => {
      this.counters.closedIdle++;
      sock.destroy();
    });
    sock.on('data', (chunk: Buffer) => {
      let messages: Uint8Array[];
      try {
        messages = splitter.push(chunk);
      } catch {
        this.counters.closedNotStun++;
        sock.destroy();
        return;
      }
      for (const m of messages) {
        for (const reply of core.handle(m, from, 'PP', 'tcp', options.clock.now())) sock.write(reply.data);
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => this.open.delete(sock));
  }

  get connections(): number {
    return this.open.size;
  }

  async close(): Promise<void> {
    for (const s of this.open) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
