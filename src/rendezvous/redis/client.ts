/**
 * A small Redis client: the commands the rendezvous registry needs, pipelined
 * on one connection, plus a subscriber mode for pub/sub.
 *
 * - Reconnects by itself with a growing delay (and replays AUTH, SELECT and
 *   the subscriptions); commands issued while it is away wait in a bounded
 *   queue.
 * - Every command has a timeout. A reply that comes after its command timed
 *   out is still consumed in order (replies are matched by position), then
 *   dropped.
 * - Bounded: pending commands (maxPending), reply size (RespLimits).
 */
import net from 'node:net';
import { encodeCommand, RespError, RespParser, RespProtocolError, respText, type RespValue } from './resp.js';

export class RedisCommandError extends Error {
  override name = 'RedisCommandError';
}

export interface RedisClientOptions {
  /** redis://[:password@]host[:port][/db] */
  url: string;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  maxPending?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  log?: (event: string, fields?: Record<string, unknown>) => void;
}

interface Pending {
  args: Array<string | number | Uint8Array>;
  resolve(v: RespValue): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout | null;
  done: boolean;
  /** Internal (AUTH, SELECT, SUBSCRIBE on reconnect): not counted, never timed out by the caller. */
  internal: boolean;
}

interface Target {
  host: string;
  port: number;
  password?: string;
  username?: string;
  db?: number;
}

export function parseRedisUrl(url: string): Target {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`not a Redis URL: ${JSON.stringify(url)} (expected redis://host:port)`);
  }
  if (u.protocol !== 'redis:') throw new Error(`unsupported Redis URL scheme ${u.protocol} (only redis://)`);
  const db = u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : undefined;
  if (db !== undefined && (!Number.isInteger(db) || db < 0)) throw new Error(`bad Redis database number in ${url}`);
  return {
    host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(db !== undefined ? { db } : {}),
  };
}

export class RedisClient {
  private socket: net.Socket | null = null;
  private parser = new RespParser();
  /** Sent, awaiting replies, in order. */
  private inFlight: Pending[] = [];
  /** Waiting for a connection. */
  private queued: Pending[] = [];
  private connected = false;
  private closed = false;
  private reconnectDelay: number;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private readonly subscriptions = new Map<string, (message: Buffer) => void>();
  private readonly target: Target;
  private readonly o: Required<Omit<RedisClientOptions, 'log'>> & Pick<RedisClientOptions, 'log'>;
  private firstConnect: { resolve(): void; reject(e: Error): void } | null = null;

  private constructor(o: RedisClientOptions) {
    this.o = {
      connectTimeoutMs: 2000,
      commandTimeoutMs: 2000,
      maxPending: 10_000,
      reconnectMinMs: 100,
      reconnectMaxMs: 5000,
      ...o,
    };
    this.target = parseRedisUrl(o.url);
    this.reconnectDelay = this.o.reconnectMinMs;
  }

  /** Connects; rejects if the first connection fails (later ones are retried). */
  static connect(o: RedisClientOptions): Promise<RedisClient> {
    const c = new RedisClient(o);
    return new Promise((resolve, reject) => {
      c.firstConnect = { resolve: () => resolve(c), reject };
      c.open();
    });
  }

  get isConnected(): boolean {
    return this.connected;
  }

  get pendingCount(): number {
    return this.inFlight.filter((p) => !p.internal).length + this.queued.filter((p) => !p.internal).length;
  }

  /** Runs a command; resolves with its reply, rejects on an error reply, a timeout or a full queue. */
  command(...args: Array<string | number | Uint8Array>): Promise<RespValue> {
    if (this.closed) return Promise.reject(new RedisCommandError('client closed'));
    if (this.subscriptions.size > 0 && !/^(P?SUBSCRIBE|P?UNSUBSCRIBE|PING)$/i.test(String(args[0]))) {
      return Promise.reject(new RedisCommandError('a subscribed connection only takes (UN)SUBSCRIBE and PING'));
    }
    if (this.pendingCount >= this.o.maxPending) return Promise.reject(new RedisCommandError(`too many pending commands (${this.o.maxPending})`));
    return this.enqueue(args, false);
  }

  async text(...args: Array<string | number | Uint8Array>): Promise<string | null> {
    return respText(await this.command(...args));
  }

  /** Subscribes to a channel; messages go to `handler`. The connection then serves pub/sub only. */
  async subscribe(channel: string, handler: (message: Buffer) => void): Promise<void> {
    this.subscriptions.set(channel, handler);
    await this.command('SUBSCRIBE', channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    if (!this.subscriptions.delete(channel)) return;
    if (this.connected) await this.enqueue(['UNSUBSCRIBE', channel], false).catch(() => {});
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.failAll(new RedisCommandError('client closed'));
    const s = this.socket;
    this.socket = null;
    if (s) await new Promise<void>((r) => s.end(() => r())).finally(() => s.destroy());
  }

  // ------------------------------------------------------------ internals

  private enqueue(args: Array<string | number | Uint8Array>, internal: boolean): Promise<RespValue> {
    return new Promise((resolve, reject) => {
      const p: Pending = { args, resolve, reject, timer: null, done: false, internal };
      if (!internal) {
        p.timer = setTimeout(() => {
          if (p.done) return;
          p.done = true;
          // It stays in its place in inFlight so the late reply is consumed in order.
          const i = this.queued.indexOf(p);
          if (i >= 0) this.queued.splice(i, 1);
          reject(new RedisCommandError(`${String(args[0])} timed out after ${this.o.commandTimeoutMs} ms`));
        }, this.o.commandTimeoutMs);
      }
      if (this.connected && this.socket) this.write(p);
      else this.queued.push(p);
    });
  }

  private write(p: Pending): void {
    this.inFlight.push(p);
    this.socket!.write(encodeCommand(p.args));
  }

  private open(): void {
    if (this.closed) return;
    const s = net.createConnection({ host: this.target.host, port: this.target.port });
    this.socket = s;
    this.parser = new RespParser();
    s.setNoDelay(true);
    const connectTimer = setTimeout(() => s.destroy(new Error(`connect to ${this.target.host}:${this.target.port} timed out`)), this.o.connectTimeoutMs);
    s.once('connect', () => {
      clearTimeout(connectTimer);
      void this.onConnect();
    });
    s.on('data', (chunk: Buffer) => this.onData(chunk));
    s.on('error', (err) => {
      clearTimeout(connectTimer);
      this.o.log?.('redis-error', { reason: err.message });
      if (this.firstConnect) {
        this.firstConnect.reject(err);
        this.firstConnect = null;
        this.closed = true;
      }
    });
    s.on('close', () => {
      clearTimeout(connectTimer);
      this.onClose();
    });
  }

  private async onConnect(): Promise<void> {
    // Handshake first, ahead of anything queued.
    const handshake: Array<Promise<RespValue>> = [];
    const t = this.target;
    const hs = (args: Array<string | number>) => {
      const p = new Promise<RespValue>((resolve, reject) => this.write({ args, resolve, reject, timer: null, done: false, internal: true }));
      handshake.push(p);
    };
    if (t.password) hs(t.username ? ['AUTH', t.username, t.password] : ['AUTH', t.password]);
    if (t.db !== undefined) hs(['SELECT', t.db]);
    for (const ch of this.subscriptions.keys()) hs(['SUBSCRIBE', ch]);
    try {
      for (const r of await Promise.all(handshake)) if (r instanceof RespError) throw new RedisCommandError(r.message);
    } catch (err) {
      this.o.log?.('redis-handshake-failed', { reason: (err as Error).message });
      if (this.firstConnect) {
        this.firstConnect.reject(err as Error);
        this.firstConnect = null;
        this.closed = true;
      }
      this.socket?.destroy();
      return;
    }
    this.connected = true;
    this.reconnectDelay = this.o.reconnectMinMs;
    const waiting = this.queued.filter((p) => !p.done);
    this.queued = [];
    for (const p of waiting) this.write(p);
    this.firstConnect?.resolve();
    this.firstConnect = null;
    this.o.log?.('redis-connected', { host: t.host, port: t.port });
  }

  private onData(chunk: Buffer): void {
    let replies: RespValue[];
    try {
      replies = this.parser.push(chunk);
    } catch (err) {
      if (!(err instanceof RespProtocolError)) throw err;
      this.o.log?.('redis-protocol-error', { reason: err.message });
      this.socket?.destroy();
      return;
    }
    for (const r of replies) {
      if (this.isPush(r)) continue;
      const p = this.inFlight.shift();
      if (!p) continue;
      if (p.timer) clearTimeout(p.timer);
      if (p.done) continue;
      p.done = true;
      if (r instanceof RespError && !p.internal) p.reject(new RedisCommandError(r.message));
      else p.resolve(r);
    }
  }

  /** A pub/sub message (not a reply to a command): dispatched here. */
  private isPush(r: RespValue): boolean {
    if (this.subscriptions.size === 0 || !Array.isArray(r) || r.length !== 3) return false;
    const kind = respText(r[0] as RespValue);
    if (kind !== 'message') return false;
    const channel = respText(r[1] as RespValue);
    const payload = r[2];
    if (channel !== null && Buffer.isBuffer(payload)) this.subscriptions.get(channel)?.(payload);
    return true;
  }

  private onClose(): void {
    const wasConnected = this.connected;
    this.connected = false;
    this.socket = null;
    // What was sent may or may not have run: fail it rather than guess.
    const lost = this.inFlight;
    this.inFlight = [];
    for (const p of lost) {
      if (p.timer) clearTimeout(p.timer);
      if (!p.done) {
        p.done = true;
        p.reject(new RedisCommandError('connection lost'));
      }
    }
    if (this.closed) return;
    if (wasConnected) this.o.log?.('redis-disconnected', {});
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.open();
    }, this.reconnectDelay);
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, this.o.reconnectMaxMs);
  }

  private failAll(err: Error): void {
    for (const p of [...this.inFlight, ...this.queued]) {
      if (p.timer) clearTimeout(p.timer);
      if (!p.done) {
        p.done = true;
        p.reject(err);
      }
    }
    this.inFlight = [];
    this.queued = [];
  }
}
