/**
 * The stores in Redis, for proxies that serve the same users:
 *
 *   {prefix}:aor:{aor}       hash: contact -> binding (JSON); the key expires with its last binding
 *   {prefix}:call:{callId}   a call record (JSON), expiring with PX
 *   {prefix}:calls           set of call ids (stale ids pruned on read)
 *
 * Bindings carry their own expiry (expiresAt, wall clock), checked on every
 * read; Redis's key expiry only collects what nobody reads any more.
 */
import { RedisConnection, type RedisConnectionOptions } from '../../rendezvous/redis/connection.js';
import { bindingSchema, callRecordSchema, parseStored, type Binding, type CallRecord, type CallStore, type LocationStore } from './stores.js';

/** A reply as text: bulk strings come back as strings (or Buffers); anything else is not a stored record. */
function respText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return null;
}

/**
 * A hash reply's field/value pairs: node-redis gives HGETALL as a plain
 * object (or a Map), a bare RESP2 connection as a flat array.
 */
function hashEntries(v: unknown): Array<[unknown, unknown]> {
  if (Array.isArray(v)) {
    const out: Array<[unknown, unknown]> = [];
    for (let i = 0; i + 1 < v.length; i += 2) out.push([v[i], v[i + 1]]);
    return out;
  }
  if (v instanceof Map) return [...v.entries()];
  if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) return Object.entries(v);
  return [];
}

export interface RedisStoreOptions extends Omit<RedisConnectionOptions, 'url'> {
  url: string;
  /** Key prefix; default "masq:sip". */
  prefix?: string;
  wallClock: () => number;
}

export class RedisStores implements LocationStore, CallStore {
  private readonly prefix: string;
  /** Records read back that failed validation. */
  rejected = 0;

  private constructor(
    private readonly redis: RedisConnection,
    private readonly o: RedisStoreOptions,
  ) {
    this.prefix = o.prefix ?? 'masq:sip';
  }

  static async connect(o: RedisStoreOptions): Promise<RedisStores> {
    return new RedisStores(await RedisConnection.connect(o), o);
  }

  /** Whether the connection is up (while it is not, commands wait, then time out). */
  get connected(): boolean {
    return this.redis.isConnected;
  }

  private aorKey(aor: string): string {
    return `${this.prefix}:aor:${aor}`;
  }

  private async bindingsOf(aor: string): Promise<Binding[]> {
    const raw = await this.redis.command('HGETALL', this.aorKey(aor));
    const now = this.o.wallClock();
    const out: Binding[] = [];
    const stale: string[] = [];
    for (const [f, v] of hashEntries(raw)) {
      const field = respText(f);
      const text = respText(v);
      if (field === null || text === null) continue;
      const b = parseStored(bindingSchema, text);
      if (b === null) {
        this.rejected++;
        stale.push(field);
      } else if (b.expiresAt <= now) stale.push(field);
      else out.push(b);
    }
    if (stale.length) void this.redis.command('HDEL', this.aorKey(aor), ...stale).catch(() => {});
    return out;
  }

  async save(aor: string, upserts: readonly Binding[], removals: readonly string[], maxPerAor: number): Promise<Binding[] | 'full'> {
    const live = (await this.bindingsOf(aor)).filter((b) => !removals.includes(b.contact));
    const contacts = new Set(live.map((b) => b.contact));
    for (const u of upserts) contacts.add(u.contact);
    if (contacts.size > maxPerAor) return 'full';
    const key = this.aorKey(aor);
    const ops: Array<Promise<unknown>> = [];
    if (removals.length) ops.push(this.redis.command('HDEL', key, ...removals));
    if (upserts.length) {
      ops.push(this.redis.command('HSET', key, ...upserts.flatMap((u) => [u.contact, JSON.stringify(u)])));
      const last = Math.max(...upserts.map((u) => u.expiresAt), ...live.map((b) => b.expiresAt));
      ops.push(this.redis.command('PEXPIRE', key, Math.max(1000, Math.ceil(last - this.o.wallClock()) + 1000)));
    }
    await Promise.all(ops);
    const byContact = new Map(live.map((b) => [b.contact, b]));
    for (const u of upserts) byContact.set(u.contact, u);
    return [...byContact.values()];
  }

  lookup(aor: string): Promise<Binding[]> {
    return this.bindingsOf(aor);
  }

  async remove(aor: string, contact: string): Promise<void> {
    await this.redis.command('HDEL', this.aorKey(aor), contact);
  }

  async put(record: CallRecord, ttlMs: number): Promise<void> {
    await Promise.all([
      this.redis.command('SET', `${this.prefix}:call:${record.callId}`, JSON.stringify(record), 'PX', Math.max(1, Math.ceil(ttlMs))),
      this.redis.command('SADD', `${this.prefix}:calls`, record.callId),
    ]);
  }

  async list(): Promise<CallRecord[]> {
    const ids = await this.redis.command('SMEMBERS', `${this.prefix}:calls`);
    if (!Array.isArray(ids) || ids.length === 0) return [];
    const names = ids.map((v) => respText(v)).filter((x): x is string => x !== null);
    const values = await this.redis.command('MGET', ...names.map((id) => `${this.prefix}:call:${id}`));
    if (!Array.isArray(values)) return [];
    const out: CallRecord[] = [];
    const stale: string[] = [];
    values.forEach((v, i) => {
      const text = respText(v);
      if (text === null) {
        stale.push(names[i]);
        return;
      }
      const r = parseStored(callRecordSchema, text);
      if (r) out.push(r);
      else this.rejected++;
    });
    if (stale.length) void this.redis.command('SREM', `${this.prefix}:calls`, ...stale).catch(() => {});
    return out;
  }

  async end(callId: string): Promise<void> {
    await Promise.all([this.redis.command('DEL', `${this.prefix}:call:${callId}`), this.redis.command('SREM', `${this.prefix}:calls`, callId)]);
  }

  async close(): Promise<void> {
    await this.redis.close();
  }
}
