/**
 * The registry in Redis, for several rendezvous servers sharing one view.
 *
 *   {prefix}:peer:{session}:{peerId}   the participant's record (JSON), expiring with PX
 *   {prefix}:members:{session}         a set of its peer ids (stale ids are pruned on read)
 *   {prefix}:server:{serverId}         the pub/sub channel of one rendezvous server
 *
 * Expiry is Redis's own (key TTLs), so the servers' clocks need not agree.
 * Records read back are validated: Redis is shared state, not trusted input.
 */
import { RedisConnection, type RedisConnectionOptions } from './connection.js';
import { peerRecordSchema, registryEventSchema, type PeerRecord, type RegistryEvent, type RegistryStore } from '../server/registry.js';

export interface RedisRegistryOptions extends Omit<RedisConnectionOptions, 'url'> {
  url: string;
  /** Key prefix; default "masq:rv". */
  prefix?: string;
}

export class RedisRegistry implements RegistryStore {
  private subscriber: RedisConnection | null = null;
  private readonly prefix: string;
  /** Records or events that failed validation. */
  rejected = 0;

  private constructor(
    private readonly redis: RedisConnection,
    private readonly o: RedisRegistryOptions,
  ) {
    this.prefix = o.prefix ?? 'masq:rv';
  }

  static async connect(o: RedisRegistryOptions): Promise<RedisRegistry> {
    return new RedisRegistry(await RedisConnection.connect(o), o);
  }

  private peerKey(session: string, id: string): string {
    return `${this.prefix}:peer:${session}:${id}`;
  }
  private membersKey(session: string): string {
    return `${this.prefix}:members:${session}`;
  }
  private channel(serverId: string): string {
    return `${this.prefix}:server:${serverId}`;
  }

  async upsert(session: string, record: PeerRecord, ttlMs: number): Promise<PeerRecord[]> {
    const r = this.redis;
    // Pipelined: all go out before the first reply comes back.
    await Promise.all([
      r.command('SET', this.peerKey(session, record.id), JSON.stringify(record), 'PX', ttlMs),
      r.command('SADD', this.membersKey(session), record.id),
      r.command('PEXPIRE', this.membersKey(session), ttlMs * 2),
    ]);
    return (await this.list(session)).filter((p) => p.id !== record.id);
  }

  async touch(session: string, peerId: string, ttlMs: number): Promise<boolean> {
    const [alive] = await Promise.all([
      this.redis.command('PEXPIRE', this.peerKey(session, peerId), ttlMs),
      this.redis.command('PEXPIRE', this.membersKey(session), ttlMs * 2),
    ]);
    return alive === 1;
  }

  async remove(session: string, peerId: string): Promise<PeerRecord[]> {
    await Promise.all([this.redis.command('DEL', this.peerKey(session, peerId)), this.redis.command('SREM', this.membersKey(session), peerId)]);
    return this.list(session);
  }

  async list(session: string): Promise<PeerRecord[]> {
    const members = await this.redis.command('SMEMBERS', this.membersKey(session));
    if (!Array.isArray(members) || members.length === 0) return [];
    const ids = members.filter((x): x is string => typeof x === 'string');
    const values = await this.redis.command('MGET', ...ids.map((id) => this.peerKey(session, id)));
    if (!Array.isArray(values)) return [];
    const out: PeerRecord[] = [];
    const stale: string[] = [];
    values.forEach((v, i) => {
      const text = typeof v === 'string' ? v : null;
      if (text === null) {
        stale.push(ids[i]);
        return;
      }
      const parsed = safeJson(text, peerRecordSchema.safeParse.bind(peerRecordSchema));
      if (parsed) out.push(parsed as PeerRecord);
      else this.rejected++;
    });
    if (stale.length) void this.redis.command('SREM', this.membersKey(session), ...stale).catch(() => {});
    return out;
  }

  async publish(serverId: string, event: RegistryEvent): Promise<void> {
    await this.redis.command('PUBLISH', this.channel(serverId), JSON.stringify(event));
  }

  async subscribe(serverId: string, handler: (e: RegistryEvent) => void): Promise<() => Promise<void>> {
    // A subscribed connection serves nothing else: pub/sub gets its own.
    this.subscriber ??= await this.redis.duplicate();
    const sub = this.subscriber;
    const ch = this.channel(serverId);
    await sub.subscribe(ch, (payload) => {
      const e = safeJson(payload.toString('utf8'), registryEventSchema.safeParse.bind(registryEventSchema));
      if (e) handler(e as RegistryEvent);
      else this.rejected++;
    });
    return () => sub.unsubscribe(ch);
  }

  async ping(): Promise<void> {
    await this.redis.command('PING');
  }

  async close(): Promise<void> {
    await Promise.all([this.redis.close(), this.subscriber?.close()]);
  }
}

function safeJson(text: string, parse: (v: unknown) => { success: boolean; data?: unknown }): unknown {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  const r = parse(v);
  return r.success ? r.data : null;
}
