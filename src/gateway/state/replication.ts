/**
 * Failover through Redis (docs/state.md): the active gateway publishes every
 * record the keeper writes (changes every flush, the whole state every
 * snapshot) to a Redis stream, and keeps the latest whole state under a key
 * for gateways that join later; a standby reads the stream and applies each
 * record to its own engine and ALGs as it comes, so it holds the same
 * mappings, flows, pinholes and calls, on the same public ports.
 *
 * Who is active is decided by the network, not here: keepalived (VRRP)
 * moves the addresses, and traffic then reaches one gateway only. A standby
 * that starts seeing packets has become the active one: it stops applying
 * the stream, publishes its whole state at once, and from then on
 * publishes. An active gateway that then sees no traffic for `standbyAfterMs`
 * while another gateway publishes has lost the addresses to it (the primary
 * came back, or keepalived made both masters for a moment): it returns to
 * standby and applies the other's records from the first one it saw while
 * active (the other's whole state, published when it took over). A record is
 * never applied by the gateway that wrote it, nor if it is older than what
 * the standby holds.
 *
 *   <key>:stream    records, newest last (trimmed to maxEntries)
 *   <key>:snapshot  the latest whole state; <key>:snapshot-id its stream entry
 */
import { hostname } from 'node:os';
import { createClient, RESP_TYPES } from '@redis/client';
import type { AlgInstance } from '../../alg/definition.js';
import type { Logger } from '../../control/logging.js';
import type { NatEngine } from '../../nat/engine.js';
import type { Clock } from '../../util/clock.js';
import { applyRecord, type RestoreSummary, type StateSink } from './keeper.js';
import { decodeRecord, type StateRecord } from './record.js';

export interface ReplicationConfig {
  redis: string;
  key: string;
  node?: string;
  maxEntries: number;
  /** An active gateway quiet this long while another publishes returns to standby. Default 3000. */
  standbyAfterMs?: number;
}

export interface ReplicationStats {
  node: string;
  role: 'standby' | 'active';
  connected: boolean;
  published: number;
  applied: number;
  lastAppliedWall: number | null;
  errors: number;
  lastError: string | null;
}

type Client = ReturnType<typeof createBinaryClient>;

function createBinaryClient(url: string) {
  return createClient({ url, socket: { connectTimeout: 2000, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000) } }).withTypeMapping({
    [RESP_TYPES.BLOB_STRING]: Buffer,
  });
}

const POLL_MS = 100;
const BLOCK_MS = 500;
export const DEFAULT_STANDBY_AFTER_MS = 3000;

export class RedisReplication implements StateSink {
  readonly name = 'redis';
  #role: 'standby' | 'active' = 'standby';
  #lastId = '0-0';
  /** The newest record applied or held (wall ms): older ones are not applied over it. */
  #holdsWall = 0;
  #packetsSeen = -1;
  #stopped = false;
  #poll: NodeJS.Timeout | null = null;
  #stats: ReplicationStats;
  #onActive: (() => void) | null = null;
  /** Clock time of the last packet this gateway saw. */
  #lastTraffic = -Infinity;
  /** While active: clock time another gateway's entry was last seen, and the stream position just before its first one. */
  #otherSeen = -Infinity;
  #rewindTo: string | null = null;

  private constructor(
    private readonly config: ReplicationConfig,
    private readonly node: string,
    private readonly pub: Client,
    private readonly sub: Client,
    private readonly engine: NatEngine,
    private readonly algs: readonly AlgInstance[],
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {
    // A standby's flows end when the active gateway says so (NatEngine.following).
    engine.following = true;
    this.#stats = { node, role: 'standby', connected: false, published: 0, applied: 0, lastAppliedWall: null, errors: 0, lastError: null };
  }

  /**
   * Connects (without waiting for Redis longer than a moment: the gateway
   * starts anyway, and the client keeps trying in the background).
   */
  static async connect(config: ReplicationConfig, engine: NatEngine, algs: readonly AlgInstance[], log: Logger, clock: Clock): Promise<RedisReplication> {
    const pub = createBinaryClient(config.redis);
    const sub = createBinaryClient(config.redis);
    const r = new RedisReplication(config, config.node ?? hostname(), pub, sub, engine, algs, log, clock);
    for (const c of [pub, sub]) c.on('error', (err: Error) => r.failed('connection', err));
    await Promise.race([Promise.all([pub.connect(), sub.connect()]).catch((err: Error) => r.failed('connect', err)), new Promise((res) => setTimeout(res, 2000))]);
    r.#stats.connected = pub.isReady && sub.isReady;
    return r;
  }

  get role(): 'standby' | 'active' {
    return this.#role;
  }

  /** Wall time of the state this gateway restored from its own disk: stream records older than it are not applied. */
  holds(wall: number): void {
    this.#holdsWall = Math.max(this.#holdsWall, wall);
  }

  /** Starts following: the latest whole state, then the stream; and watching for traffic. `onActive` runs on takeover. */
  start(onActive: () => void): void {
    this.#onActive = onActive;
    this.#packetsSeen = this.packets();
    this.#poll = setInterval(() => this.watchTraffic(), POLL_MS);
    void this.follow();
  }

  stats(): ReplicationStats {
    return { ...this.#stats, role: this.#role, connected: this.pub.isReady };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#poll) clearInterval(this.#poll);
    await Promise.allSettled([this.pub.quit(), this.sub.disconnect()]);
  }

  // ------------------------------------------------------------ the active side: a StateSink

  changes(_record: StateRecord, payload: Uint8Array): void {
    if (this.#role === 'active') this.publish('c', payload, false);
  }

  snapshot(_record: StateRecord, payload: Uint8Array): void {
    if (this.#role === 'active') this.publish('s', payload, true);
  }

  private publish(kind: 'c' | 's', payload: Uint8Array, whole: boolean): void {
    if (!this.pub.isReady) return; // nothing to do while Redis is away: the next snapshot brings the standby up to date
    const key = this.config.key;
    // A copy: the command is sent after this returns, and the keeper reuses the payload's memory for its next record.
    const data = Buffer.from(payload);
    const add = ['XADD', `${key}:stream`, 'MAXLEN', '~', String(this.config.maxEntries), '*', 'n', this.node, 'k', kind, 'r', data];
    const sent = whole
      ? this.pub.sendCommand(add).then((id) => this.pub.multi().addCommand(['SET', `${key}:snapshot`, data]).addCommand(['SET', `${key}:snapshot-id`, id as unknown as Buffer]).exec())
      : this.pub.sendCommand(add);
    sent.then(
      () => this.#stats.published++,
      (err: Error) => this.failed('publish', err),
    );
  }

  // ------------------------------------------------------------ the standby side

  private packets(): number {
    return this.engine.counters.packetsOut + this.engine.counters.packetsIn;
  }

  /**
   * Traffic reaches only the gateway that holds the addresses: seeing some
   * means this one is active now; seeing none for a while, when another
   * gateway has published since, means the other holds them again.
   */
  private watchTraffic(): void {
    const now = this.packets();
    const at = this.clock.now();
    if (now !== this.#packetsSeen) {
      this.#packetsSeen = now;
      this.#lastTraffic = at;
      if (this.#role === 'active') return;
      this.#role = 'active';
      this.engine.following = false;
      this.#otherSeen = -Infinity;
      this.#rewindTo = null;
      this.log.warn({ event: 'failover', node: this.node, applied: this.#stats.applied }, 'traffic arrived: this gateway is active now and publishes its state');
      this.#onActive?.();
      return;
    }
    const quiet = at - this.#lastTraffic;
    if (this.#role === 'active' && this.#otherSeen > this.#lastTraffic && quiet >= (this.config.standbyAfterMs ?? DEFAULT_STANDBY_AFTER_MS)) this.backToStandby(quiet);
  }

  private backToStandby(quietMs: number): void {
    this.#role = 'standby';
    this.engine.following = true;
    if (this.#rewindTo !== null) this.#lastId = this.#rewindTo;
    this.#rewindTo = null;
    this.log.warn({ event: 'standby', node: this.node, quietMs: Math.round(quietMs) }, 'no traffic while another gateway publishes: this gateway is a standby again and follows it');
  }

  /** A standby applies what others publish; an active gateway only notes that another publishes. */
  private async follow(): Promise<void> {
    let needSnapshot = true;
    while (!this.#stopped) {
      try {
        if (!this.sub.isReady) {
          await sleep(250);
          continue;
        }
        if (needSnapshot && this.#role === 'standby') {
          await this.readSnapshot();
          needSnapshot = false;
        }
        const reply = await this.sub.sendCommand(['XREAD', 'COUNT', '64', 'BLOCK', String(BLOCK_MS), 'STREAMS', `${this.config.key}:stream`, this.#lastId]);
        const following = this.#role === 'standby';
        for (const [id, fields] of streamEntries(reply)) {
          if (this.#role !== (following ? 'standby' : 'active')) break;
          const before = this.#lastId;
          this.#lastId = id;
          if (following) this.applyEntry(fields);
          else this.noteOther(fields, before);
        }
        // Trimmed past our position: a standby reads the whole state again (an active gateway needs nothing).
        needSnapshot = this.#role === 'standby' && (await this.fellBehind());
      } catch (err) {
        this.failed('follow', err as Error);
        await sleep(500);
        needSnapshot = true;
      }
    }
  }

  private async readSnapshot(): Promise<void> {
    const [snap, id] = (await this.sub.multi().addCommand(['GET', `${this.config.key}:snapshot`]).addCommand(['GET', `${this.config.key}:snapshot-id`]).exec()) as unknown as [Buffer | null, Buffer | null];
    if (!snap || !id) return;
    this.#lastId = id.toString();
    this.applyPayload(snap, 'the latest whole state');
  }

  /** The stream was trimmed past our position: the snapshot must be read again. */
  private async fellBehind(): Promise<boolean> {
    if (this.#lastId === '0-0') return false;
    const first = await this.sub.sendCommand(['XRANGE', `${this.config.key}:stream`, '-', '+', 'COUNT', '1']);
    const entries = streamEntries({ s: first });
    return entries.length > 0 && compareIds(entries[0][0], this.#lastId) > 0;
  }

  /** While active: another gateway's entry means it holds the addresses too, or again. */
  private noteOther(fields: Map<string, Buffer>, before: string): void {
    if (fields.get('n')?.toString() === this.node) return;
    this.#otherSeen = this.clock.now();
    this.#rewindTo ??= before;
  }

  private applyEntry(fields: Map<string, Buffer>): void {
    if (fields.get('n')?.toString() === this.node) return; // our own, from before a failover back
    const payload = fields.get('r');
    if (payload) this.applyPayload(payload, `stream entry ${this.#lastId}`);
  }

  private applyPayload(payload: Buffer, what: string): void {
    let record: StateRecord;
    try {
      record = decodeRecord(new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength));
    } catch (err) {
      this.failed(`decode ${what}`, err as Error);
      return;
    }
    // A whole state older than what this gateway holds would take newer entries away.
    if (record.engine.full && record.wall < this.#holdsWall) return;
    const sum: RestoreSummary = { records: 0, flows: 0, expectations: 0, portMappings: 0, triggers: 0, skipped: { expired: 0, conflict: 0, limit: 0, unknown: 0 }, algs: [], problems: [] };
    const packetsBefore = this.packets();
    applyRecord(this.engine, this.algs, record, this.clock.now(), Date.now(), sum);
    this.#holdsWall = Math.max(this.#holdsWall, record.wall);
    // What the standby applied is not traffic: only what applying it counted is passed over, not
    // packets that arrived since the last look (they would be lost as a sign of takeover).
    this.#packetsSeen += this.packets() - packetsBefore;
    this.#stats.applied++;
    this.#stats.lastAppliedWall = record.wall;
    if (sum.problems.length) this.log.warn({ event: 'replication', problems: sum.problems }, 'replicated state partly refused');
    if (record.engine.full) {
      this.log.info({ event: 'replication', what, flows: sum.flows, expectations: sum.expectations, portMappings: sum.portMappings, skipped: sum.skipped }, 'standby holds the active gateway\'s state');
    }
  }

  private lastErrorLog = -Infinity;

  private failed(what: string, err: Error): void {
    this.#stats.errors++;
    this.#stats.lastError = `${what}: ${err.message}`;
    const now = this.clock.now();
    if (now - this.lastErrorLog < 10_000) return;
    this.lastErrorLog = now;
    this.log.warn({ event: 'replication', what, err: err.message }, `replication through Redis: ${what} failed`);
  }
}

/** Stream entries of an XREAD or XRANGE reply, RESP2 or RESP3 shaped: [id, field -> value]. */
function streamEntries(reply: unknown): Array<[string, Map<string, Buffer>]> {
  if (!reply) return [];
  const streams: unknown[] = reply instanceof Map ? [...reply.values()] : Array.isArray(reply) ? reply.map((s) => (Array.isArray(s) ? s[1] : s)) : Object.values(reply);
  const out: Array<[string, Map<string, Buffer>]> = [];
  for (const entries of streams) {
    if (!Array.isArray(entries)) continue;
    for (const e of entries) {
      if (!Array.isArray(e) || e.length < 2 || !Array.isArray(e[1])) continue;
      const fields = new Map<string, Buffer>();
      const list = e[1] as Buffer[];
      for (let i = 0; i + 1 < list.length; i += 2) fields.set(list[i].toString(), list[i + 1]);
      out.push([String(e[0]), fields]);
    }
  }
  return out;
}

function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am - bm || as - bs;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
