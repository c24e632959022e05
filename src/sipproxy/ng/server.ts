/**
 * The ng control protocol over UDP: a SIP proxy (Kamailio's rtpengine
 * module, OpenSIPS's rtpengine module) sends `<cookie> <bencoded command>`
 * and gets `<cookie> <bencoded reply>`. A retransmitted request (same
 * cookie) gets the same reply again, from a cache, and is not run twice.
 *
 * The protocol has no authentication: listen on loopback or a management
 * network only (the configuration's default is loopback).
 */
import dgram from 'node:dgram';
import type { MediaRelay } from '../media/relay.js';
import { runNgCommand } from './commands.js';
import { encodeNgMessage, parseNgMessage } from './message.js';

const KNOWN_COMMANDS = new Set(['ping', 'offer', 'answer', 'delete', 'query', 'list', 'statistics']);

export interface NgServerOptions {
  address: string;
  port: number;
  relay: MediaRelay;
  now(): number;
  log(event: string, fields: Record<string, unknown>): void;
  /** How long a reply is kept for retransmissions (ms, default 30 s), and how many at most. */
  cacheMs?: number;
  cacheSize?: number;
}

export interface NgCounters {
  requests: number;
  retransmissions: number;
  malformed: number;
  errors: number;
  byCommand: Record<string, number>;
}

export class NgServer {
  readonly counters: NgCounters = { requests: 0, retransmissions: 0, malformed: 0, errors: 0, byCommand: {} };
  private readonly cache = new Map<string, { at: number; reply: Uint8Array | null }>();
  private readonly startedAt: number;

  private constructor(
    private readonly sock: dgram.Socket,
    private readonly o: NgServerOptions,
  ) {
    this.startedAt = o.now();
  }

  static async start(o: NgServerOptions): Promise<NgServer> {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(o.port, o.address, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    const s = new NgServer(sock, o);
    sock.on('error', () => {});
    sock.on('message', (msg, rinfo) => void s.onMessage(msg, rinfo.address, rinfo.port));
    return s;
  }

  get port(): number {
    return this.sock.address().port;
  }

  private async onMessage(msg: Buffer, address: string, port: number): Promise<void> {
    const p = parseNgMessage(msg);
    if (!p.ok) {
      this.counters.malformed++;
      if (p.cookie !== null) this.sock.send(encodeNgMessage(p.cookie, { result: 'error', 'error-reason': `malformed request: ${p.reason}` }), port, address);
      return;
    }
    const key = `${address}:${port}|${p.cookie}`;
    const now = this.o.now();
    const cached = this.cache.get(key);
    if (cached && now - cached.at < (this.o.cacheMs ?? 30_000)) {
      this.counters.retransmissions++;
      // Still running: the reply goes out when it is done.
      if (cached.reply) this.sock.send(cached.reply, port, address);
      return;
    }
    const entry = { at: now, reply: null as Uint8Array | null };
    this.remember(key, entry, now);
    this.counters.requests++;
    const command = new TextDecoder().decode((p.request.get('command') as Uint8Array | undefined) ?? new Uint8Array());
    // Counted by name only for the commands there are: a client inventing names must not grow the counters.
    const counted = KNOWN_COMMANDS.has(command) ? command : 'other';
    this.counters.byCommand[counted] = (this.counters.byCommand[counted] ?? 0) + 1;
    let reply;
    try {
      reply = await runNgCommand(this.o.relay, p.request, this.startedAt, now);
    } catch (err) {
      reply = { result: 'error', 'error-reason': (err as Error).message };
    }
    if (reply.result === 'error') this.counters.errors++;
    entry.reply = encodeNgMessage(p.cookie, reply);
    this.sock.send(entry.reply, port, address);
  }

  private remember(key: string, entry: { at: number; reply: Uint8Array | null }, now: number): void {
    const max = this.o.cacheSize ?? 10_000;
    if (this.cache.size >= max) {
      for (const [k, v] of this.cache) {
        if (now - v.at < (this.o.cacheMs ?? 30_000) && this.cache.size < max) break;
        this.cache.delete(k);
        if (this.cache.size < max / 2) break;
      }
    }
    this.cache.set(key, entry);
  }

  close(): void {
    try {
      this.sock.close();
    } catch {
      /* closed */
    }
  }
}
