/**
 * The proxy's SIP listeners on real sockets: UDP, TCP and TLS (certificate
 * and key from the configuration). A stream is framed by the SIP codec's
 * stream framer (Content-Length, RFC 3261 18.3), resumable so a message
 * trickling in byte by byte is scanned once; double-CRLF pings are answered
 * with a CRLF pong (RFC 5626 4.4.1). Connections are kept by id: a phone
 * that registered over TCP or TLS is reached over its own connection, never
 * a new one; outbound connections (to a next hop) are reused by address.
 *
 * Bounds: connections in all, bytes buffered per connection (a message
 * larger than maxMessageBytes closes it), and idle connections close after
 * idleMs unless something registered over them keeps them in use.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { frameSipStream, SipFrameProgress } from '../../alg/sip/framing.js';
import type { Flow, SipTransport } from '../sip/flow.js';
import type { ListenerInfo, SipTransportLayer } from '../sip/transport.js';

export interface ListenerConfig {
  transport: SipTransport;
  /** Bind address. */
  address: string;
  port: number;
  /** Written into Via, Record-Route and Path; default: the bind address. */
  advertise?: string;
  /** TLS only: PEM files. */
  certificate?: string;
  key?: string;
}

export interface TransportsOptions {
  listeners: readonly ListenerConfig[];
  maxConnections: number;
  maxMessageBytes: number;
  idleMs: number;
  /** Outbound TLS: check the server's certificate (default true); extra CA file. */
  tlsVerify: boolean;
  tlsCa?: string;
  receive(bytes: Uint8Array, flow: Flow, stream: boolean): void;
  closed(connId: number): void;
  log(event: string, fields: Record<string, unknown>): void;
}

interface Connection {
  id: number;
  transport: 'tcp' | 'tls';
  socket: net.Socket;
  listener: number;
  address: string;
  port: number;
  buffer: Buffer;
  used: number;
  progress: SipFrameProgress;
  lastActivity: number;
  outbound: boolean;
}

export interface TransportCounters {
  udpIn: number;
  streamMessagesIn: number;
  pings: number;
  connectionsOpened: number;
  connectionsClosed: number;
  connectionsRefused: number;
  framingErrors: number;
  oversize: number;
}

const PONG = Buffer.from('\r\n');

export class Transports implements SipTransportLayer {
  readonly listeners: ListenerInfo[] = [];
  readonly counters: TransportCounters = { udpIn: 0, streamMessagesIn: 0, pings: 0, connectionsOpened: 0, connectionsClosed: 0, connectionsRefused: 0, framingErrors: 0, oversize: 0 };
  private readonly udp = new Map<number, dgram.Socket>();
  private readonly servers: net.Server[] = [];
  private readonly connections = new Map<number, Connection>();
  private readonly byRemote = new Map<string, Connection>();
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | null = null;
  /** Connections kept open regardless of idleness (phones registered over them). */
  readonly pinned = new Set<number>();

  private constructor(private readonly o: TransportsOptions) {}

  static async start(o: TransportsOptions): Promise<Transports> {
    const t = new Transports(o);
    try {
      for (const [index, l] of o.listeners.entries()) await t.listen(index, l);
    } catch (err) {
      await t.close();
      throw err;
    }
    t.idleTimer = setInterval(() => t.closeIdle(), Math.max(1000, Math.floor(o.idleMs / 4)));
    t.idleTimer.unref();
    return t;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  private async listen(index: number, l: ListenerConfig): Promise<void> {
    const host = l.advertise ?? l.address;
    if (l.transport === 'udp') {
      const sock = dgram.createSocket({ type: l.address.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.bind(l.port, l.address, () => {
          sock.off('error', reject);
          resolve();
        });
      });
      sock.on('error', (err) => this.o.log('udp-error', { listener: index, reason: err.message }));
      sock.on('message', (msg, rinfo) => {
        this.counters.udpIn++;
        this.o.receive(msg, { transport: 'udp', address: rinfo.address, port: rinfo.port, connId: 0, listener: index }, false);
      });
      this.udp.set(index, sock);
      this.listeners.push({ index, transport: 'udp', host, port: sock.address().port });
      return;
    }
    const onSocket = (socket: net.Socket) => this.accept(index, l.transport as 'tcp' | 'tls', socket);
    const server =
      l.transport === 'tls'
        ? tls.createServer({ cert: readFileSync(l.certificate!), key: readFileSync(l.key!) }, onSocket)
        : net.createServer(onSocket);
    server.maxConnections = this.o.maxConnections;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(l.port, l.address, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.o.log('listener-error', { listener: index, reason: err.message }));
    if (l.transport === 'tls') (server as tls.Server).on('tlsClientError', (err) => this.o.log('tls-client-error', { listener: index, reason: err.message }));
    this.servers.push(server);
    const bound = server.address();
    this.listeners.push({ index, transport: l.transport, host, port: typeof bound === 'object' && bound ? bound.port : l.port });
  }

  private accept(listener: number, transport: 'tcp' | 'tls', socket: net.Socket, outbound = false): Connection | null {
    if (this.connections.size >= this.o.maxConnections) {
      this.counters.connectionsRefused++;
      socket.destroy();
      return null;
    }
    const c: Connection = {
      id: this.nextId++,
      transport,
      socket,
      listener,
      address: (socket.remoteAddress ?? '').replace(/^::ffff:/, ''),
      port: socket.remotePort ?? 0,
      buffer: Buffer.alloc(0),
      used: 0,
      progress: new SipFrameProgress(),
      lastActivity: Date.now(),
      outbound,
    };
    this.connections.set(c.id, c);
    this.byRemote.set(remoteKey(transport, c.address, c.port), c);
    this.counters.connectionsOpened++;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(c, chunk));
    socket.on('error', () => {});
    socket.on('close', () => this.drop(c));
    return c;
  }

  private drop(c: Connection): void {
    if (this.connections.get(c.id) !== c) return;
    this.connections.delete(c.id);
    const k = remoteKey(c.transport, c.address, c.port);
    if (this.byRemote.get(k) === c) this.byRemote.delete(k);
    this.pinned.delete(c.id);
    this.counters.connectionsClosed++;
    this.o.closed(c.id);
  }

  private onData(c: Connection, chunk: Buffer): void {
    c.lastActivity = Date.now();
    if (c.used + chunk.length > c.buffer.length) {
      const need = c.used + chunk.length;
      if (need > this.o.maxMessageBytes + 4096) {
        this.counters.oversize++;
        c.socket.destroy();
        return;
      }
      const grown = Buffer.alloc(Math.min(Math.max(need, c.buffer.length * 2, 4096), this.o.maxMessageBytes + 4096));
      c.buffer.copy(grown, 0, 0, c.used);
      c.buffer = grown;
    }
    chunk.copy(c.buffer, c.used);
    c.used += chunk.length;
    let at = 0;
    for (;;) {
      const r = frameSipStream(c.buffer, at, c.used, c.progress);
      if (r.kind === 'need-more') break;
      if (r.kind === 'error') {
        this.counters.framingErrors++;
        this.o.log('stream-framing-error', { conn: c.id, reason: r.reason });
        c.socket.destroy();
        return;
      }
      if (r.kind === 'keepalive') {
        // A double CRLF is a ping: the pong is one CRLF (RFC 5626 4.4.1).
        if (r.length >= 4) {
          this.counters.pings++;
          c.socket.write(PONG);
        }
        at += r.length;
        continue;
      }
      if (r.length > this.o.maxMessageBytes) {
        this.counters.oversize++;
        c.socket.destroy();
        return;
      }
      const message = Buffer.from(c.buffer.subarray(at, at + r.length));
      at += r.length;
      this.counters.streamMessagesIn++;
      this.o.receive(message, { transport: c.transport, address: c.address, port: c.port, connId: c.id, listener: c.listener }, true);
    }
    if (at > 0) {
      c.buffer.copy(c.buffer, 0, at, c.used);
      c.used -= at;
    }
    if (c.used > this.o.maxMessageBytes) {
      this.counters.oversize++;
      c.socket.destroy();
    }
  }

  send(flow: Flow, bytes: Uint8Array): boolean {
    if (flow.transport === 'udp') {
      const sock = this.udp.get(flow.listener) ?? this.udp.values().next().value;
      if (!sock) return false;
      sock.send(bytes, flow.port, flow.address);
      return true;
    }
    const c = this.connections.get(flow.connId) ?? this.byRemote.get(remoteKey(flow.transport, flow.address, flow.port));
    if (!c || c.socket.destroyed) return false;
    c.socket.write(bytes);
    c.lastActivity = Date.now();
    return true;
  }

  async connect(transport: SipTransport, address: string, port: number): Promise<Flow | null> {
    const listener = this.listeners.find((l) => l.transport === transport);
    if (!listener) return null;
    if (transport === 'udp') return { transport, address, port, connId: 0, listener: listener.index };
    const existing = this.byRemote.get(remoteKey(transport, address, port));
    if (existing && !existing.socket.destroyed) return { transport, address, port, connId: existing.id, listener: existing.listener };
    const socket = await new Promise<net.Socket | null>((resolve) => {
      const s =
        transport === 'tls'
          ? tls.connect({ host: address, port, rejectUnauthorized: this.o.tlsVerify, ...(this.o.tlsCa ? { ca: readFileSync(this.o.tlsCa) } : {}), ...(net.isIP(address) ? {} : { servername: address }) })
          : net.connect({ host: address, port });
      const timer = setTimeout(() => {
        s.destroy();
        resolve(null);
      }, 5000);
      s.once(transport === 'tls' ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        this.o.log('connect-failed', { to: `${transport}:${address}:${port}`, reason: err.message });
        resolve(null);
      });
    });
    if (!socket) return null;
    const c = this.accept(listener.index, transport, socket, true);
    if (!c) return null;
    // The key is the address we dialled (the socket may report it differently).
    this.byRemote.set(remoteKey(transport, address, port), c);
    return { transport, address, port, connId: c.id, listener: listener.index };
  }

  keepOpen(connId: number, keep: boolean): void {
    if (keep && this.connections.has(connId)) this.pinned.add(connId);
    else this.pinned.delete(connId);
  }

  private closeIdle(): void {
    const now = Date.now();
    for (const c of this.connections.values()) {
      if (this.pinned.has(c.id)) continue;
      if (now - c.lastActivity > this.o.idleMs) c.socket.destroy();
    }
  }

  async close(): Promise<void> {
    if (this.idleTimer) clearInterval(this.idleTimer);
    for (const s of this.udp.values()) s.close();
    this.udp.clear();
    for (const c of this.connections.values()) c.socket.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

function remoteKey(transport: string, address: string, port: number): string {
  return `${transport}|${address}|${port}`;
}
