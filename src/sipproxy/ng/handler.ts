/**
 * What the ng server does with one datagram, without the socket: parse the
 * cookie and command, answer a retransmission from the cache, run the
 * command on the relay, and hand the reply to `send` for the request's own
 * source. Kept apart from the UDP socket so that it can be driven directly
 * (the fuzz target bench/fuzz/targets/ng-server.ts does).
 */
import type { MediaRelay } from '../media/relay.js';
import { text } from './bencode.js';
import { runNgCommand } from './commands.js';
import { encodeNgMessage, parseNgMessage } from './message.js';

const KNOWN_COMMANDS = new Set(['ping', 'offer', 'answer', 'delete', 'query', 'list', 'statistics']);

export interface NgHandlerOptions {
  relay: MediaRelay;
  now(): number;
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

/** Sends a reply to address:port (the server's socket, or a test's recorder). */
export type NgSend = (reply: Uint8Array, port: number, address: string) => void;

export class NgHandler {
  readonly counters: NgCounters = { requests: 0, retransmissions: 0, malformed: 0, errors: 0, byCommand: {} };
  private readonly cache = new Map<string, { at: number; reply: Uint8Array | null }>();
  private readonly startedAt: number;

  constructor(
    private readonly o: NgHandlerOptions,
    private readonly send: NgSend,
  ) {
    this.startedAt = o.now();
  }

  /** Replies kept for retransmissions now (bounded by `cacheSize`). */
  get cached(): number {
    return this.cache.size;
  }

  async handle(msg: Uint8Array, address: string, port: number): Promise<void> {
    const p = parseNgMessage(msg);
    if (!p.ok) {
      this.counters.malformed++;
      if (p.cookie !== null) this.send(encodeNgMessage(p.cookie, { result: 'error', 'error-reason': `malformed request: ${p.reason}` }), port, address);
      return;
    }
    const key = `${address}:${port}|${p.cookie}`;
    const now = this.o.now();
    const cached = this.cache.get(key);
    if (cached && now - cached.at < (this.o.cacheMs ?? 30_000)) {
      this.counters.retransmissions++;
      // Still running: the reply goes out when it is done.
      if (cached.reply) this.send(cached.reply, port, address);
      return;
    }
    const entry = { at: now, reply: null as Uint8Array | null };
    this.remember(key, entry, now);
    this.counters.requests++;
    // `command` may be any bencoded value (an integer, a list): only a byte string names a command.
    const command = text(p.request.get('command')) ?? '';
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
    this.send(entry.reply, port, address);
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
}
