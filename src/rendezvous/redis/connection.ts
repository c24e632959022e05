/**
 * The rendezvous registry's Redis connection, on node-redis (@redis/client,
 * the client Redis itself maintains): pipelining, RESP, reconnection with a
 * growing delay, AUTH and SELECT replayed on reconnect, resubscription, are
 * its work. What masq sets around it:
 *
 * - the first connection either succeeds or fails at once with the reason (a
 *   wrong password, a refused port): a server that cannot use its Redis says
 *   so and exits instead of retrying forever;
 * - every command has a timeout, and commands waiting while Redis is away are
 *   bounded (maxPending), so a stalled Redis cannot grow memory without end;
 * - the URL's password never appears in a message (redactRedisUrl).
 */
import { createClient, type RedisClientType } from '@redis/client';

export class RedisCommandError extends Error {
  override name = 'RedisCommandError';
}

export interface RedisConnectionOptions {
  /** redis://[[user]:password@]host[:port][/db] */
  url: string;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  /** Commands waiting for a reply or for the connection, at most. */
  maxPending?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  log?: (event: string, fields?: Record<string, unknown>) => void;
}

/** The URL with its password replaced: for logs and error messages. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/([^@/]*)@/, '//***@');
  }
}

/** Checks the URL before any connection: the scheme, the database number. */
export function checkRedisUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`not a Redis URL: ${JSON.stringify(redactRedisUrl(url))} (expected redis://host:port)`);
  }
  if (u.protocol !== 'redis:') throw new Error(`unsupported Redis URL scheme ${u.protocol} (only redis://)`);
  const db = u.pathname && u.pathname !== '/' ? u.pathname.slice(1) : undefined;
  if (db !== undefined && !/^\d+$/.test(db)) throw new Error(`bad Redis database number in ${redactRedisUrl(url)}`);
}

type Client = RedisClientType;

export class RedisConnection {
  private constructor(
    private readonly client: Client,
    private readonly o: Required<Omit<RedisConnectionOptions, 'log'>> & Pick<RedisConnectionOptions, 'log'>,
  ) {}

  /** Connects; rejects with the reason (password redacted) when the first connection fails. */
  static async connect(options: RedisConnectionOptions): Promise<RedisConnection> {
    checkRedisUrl(options.url);
    const o = { connectTimeoutMs: 2000, commandTimeoutMs: 2000, maxPending: 10_000, reconnectMinMs: 100, reconnectMaxMs: 5000, ...options };
    let ready = false;
    const client = createClient({
      url: o.url,
      commandsQueueMaxLength: o.maxPending,
      socket: {
        connectTimeout: o.connectTimeoutMs,
        // Before the first success, give up at once (the caller reports it); after, retry with a growing delay.
        reconnectStrategy: (retries: number, cause: Error) => (ready ? Math.min(o.reconnectMinMs * 2 ** retries, o.reconnectMaxMs) : cause),
      },
    }) as unknown as Client;
    let firstError: Error | null = null;
    client.on('error', (err: Error) => {
      if (!ready) firstError ??= err;
      else o.log?.('redis-error', { reason: cleanMessage(err, o.url) });
    });
    client.on('ready', () => {
      if (ready) o.log?.('redis-connected', { url: redactRedisUrl(o.url) });
    });
    client.on('reconnecting', () => o.log?.('redis-reconnecting', {}));
    try {
      await client.connect();
    } catch (err) {
      await client.destroy();
      throw new RedisCommandError(cleanMessage(firstError ?? (err as Error), o.url));
    }
    ready = true;
    return new RedisConnection(client, o);
  }

  get isConnected(): boolean {
    return this.client.isReady;
  }

  /** Runs a command; resolves with its reply (strings, numbers, arrays, null), rejects on an error reply, a timeout or a full queue. */
  async command(...args: Array<string | number>): Promise<unknown> {
    try {
      return await this.client.sendCommand(
        args.map((a) => String(a)),
        { timeout: this.o.commandTimeoutMs, rejectInFlight: true },
      );
    } catch (err) {
      throw new RedisCommandError(`${String(args[0])}: ${cleanMessage(err as Error, this.o.url)}`);
    }
  }

  /** A second connection with the same settings (pub/sub needs one of its own). */
  async duplicate(): Promise<RedisConnection> {
    return RedisConnection.connect({ ...this.o });
  }

  /** Subscribes to a channel; the connection then serves pub/sub (resubscribed after a reconnect). */
  async subscribe(channel: string, handler: (message: Buffer) => void): Promise<void> {
    await this.client.subscribe(channel, (message: Buffer) => handler(message), true);
  }

  async unsubscribe(channel: string): Promise<void> {
    if (this.client.isOpen) await this.client.unsubscribe(channel).catch(() => {});
  }

  async close(): Promise<void> {
    if (!this.client.isOpen) return;
    try {
      await this.client.close();
    } catch {
      await this.client.destroy();
    }
  }
}

/** An error's message, any password in it replaced. */
function cleanMessage(err: Error, url: string): string {
  let text = err?.message || String(err);
  const password = (() => {
    try {
      return decodeURIComponent(new URL(url).password);
    } catch {
      return '';
    }
  })();
  if (password) text = text.split(password).join('***');
  return text.split(url).join(redactRedisUrl(url));
}
