/**
 * A STUN server on UDP answered by several processes: one Node thread answers
 * at most one core's worth of Binding requests. This process (the supervisor)
 * forks the workers (udp-worker.ts). On node:dgram, which has no SO_REUSEPORT
 * on Node 20, each binds the same addresses with `exclusive: false`, which
 * makes cluster create each socket once, here, and hand it to every worker;
 * the kernel gives a datagram to whichever worker reads it first. On batched
 * sockets each worker binds its own with SO_REUSEPORT, and the kernel spreads
 * the senders over them (one sender's datagrams all reach the same worker).
 * Before they do, the supervisor binds each address once without
 * SO_REUSEPORT and lets go: a port another server holds is refused then,
 * rather than joined.
 *
 * The supervisor answers no UDP itself (a socket of its own on the same port
 * would take the packets). It keeps a core of its own for STUN over TCP, sums
 * the workers' counters on request, and replaces a worker that dies.
 *
 * Rate limiting is per worker: each keeps its own buckets, and a source's
 * packets land on whichever worker reads first, so a source may get up to
 * `workers` times the configured rate before it is limited. Still bounded, and
 * never below the configured rate for a well-behaved client.
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { nodeNetEnv } from '../../net/node-udp.js';
import type { ResolvedUdpIo } from '../../net/udp-io.js';
import type { ServerAddresses } from './binding-handler.js';
import { emptyCounters, StunServerCore, type CoreEvent, type StunCounters, type StunServerCoreConfig } from './server-core.js';
import { StunUdpServer } from './udp-server.js';
import { addCounters, isFromWorker, sumCounters, type FromWorker, type SocketBufferOptions, type ToWorker } from './worker-messages.js';

export interface WorkerExit {
  pid: number | undefined;
  code: number | null;
  signal: string | null;
  /** A new worker was started in its place. */
  replaced: boolean;
}

export interface StunUdpWorkerPoolOptions {
  /** Worker processes answering UDP; at least 1. */
  workers: number;
  /** Everything but plain successes, from every worker (forwarded over IPC). */
  onEvent?: (e: CoreEvent) => void;
  /** With ephemeral ports (0): tries at finding ports every worker can bind. Default 10. */
  bindAttempts?: number;
  buffers?: SocketBufferOptions;
  /** A worker died without being asked to. */
  onWorkerExit?: (e: WorkerExit) => void;
  /** Time for a worker to start and bind. Default 30 s (under tsx a worker compiles its TypeScript first). */
  startTimeoutMs?: number;
  /** The workers' sockets. Default dgram. */
  udpIo?: ResolvedUdpIo;
}

/** Replacements allowed per worker slot within RESTART_WINDOW_MS; past that a crash loop is not fed. */
const RESTARTS_PER_SLOT = 3;
const RESTART_WINDOW_MS = 60_000;
const STOP_GRACE_MS = 3000;
const COUNTERS_TIMEOUT_MS = 2000;

interface Slot {
  worker: Worker;
  /** The worker's counters as last reported. */
  last: StunCounters;
  pending: Map<number, () => void>;
}

export class StunUdpWorkerPool {
  /** The supervisor's own core: for STUN over TCP, which stays in this process. Its counters are part of counters(). */
  readonly core: StunServerCore;
  private readonly live = new Set<Slot>();
  private readonly forked = new Set<Worker>();
  /** Counters of workers that are gone. */
  private readonly retired = emptyCounters();
  private readonly restarts: number[] = [];
  private stopping = false;
  private nextRequest = 0;

  private constructor(
    readonly config: StunServerCoreConfig,
    private readonly options: StunUdpWorkerPoolOptions,
  ) {
    this.core = new StunServerCore(config, options.onEvent);
  }

  static async start(config: StunServerCoreConfig, options: StunUdpWorkerPoolOptions): Promise<StunUdpWorkerPool> {
    if (!cluster.isPrimary) throw new Error('a STUN worker pool is started from the primary process only');
    if (!(options.workers >= 1)) throw new RangeError('workers must be at least 1');
    const ephemeral = config.addresses.primary.port === 0 || config.addresses.alternate?.port === 0;
    const attempts = ephemeral ? (options.bindAttempts ?? 10) : 1;
    let lastError: unknown;
    for (let i = 0; i < attempts; i++) {
      // Bound once here either way: for ephemeral ports, to choose them; for batched
      // sockets, so that a port another process holds fails now instead of being shared.
      const addresses = ephemeral || options.udpIo === 'batched' ? await pickFreePorts(config.addresses) : config.addresses;
      const pool = new StunUdpWorkerPool({ ...config, addresses }, options);
      try {
        await Promise.all(Array.from({ length: options.workers }, () => pool.startWorker()));
        return pool;
      } catch (e) {
        lastError = e;
        await pool.close();
        // Another program may have taken a port between the pick and the workers' binds.
        if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') break;
      }
    }
    throw lastError;
  }

  get addresses(): ServerAddresses {
    return this.config.addresses;
  }

  /** Workers answering now. */
  get workers(): number {
    return this.live.size;
  }

  /** Process ids of the workers answering now. */
  get pids(): number[] {
    return [...this.live].map((s) => s.worker.process.pid ?? -1);
  }

  /** Every worker's counters (asked for now; the last known for a worker that does not answer in time) and the TCP core's. */
  async counters(): Promise<StunCounters> {
    const id = ++this.nextRequest;
    await Promise.all(
      [...this.live].map(
        (slot) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(done, COUNTERS_TIMEOUT_MS);
            function done() {
              clearTimeout(timer);
              slot.pending.delete(id);
              resolve();
            }
            slot.pending.set(id, done);
            if (!tell(slot.worker, { type: 'counters', id })) done();
          }),
      ),
    );
    return this.total();
  }

  /** Stops every worker (they report their final counters) and returns the totals. */
  async close(): Promise<StunCounters> {
    this.stopping = true;
    await Promise.all(
      [...this.forked].map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            const kill = setTimeout(() => worker.process.kill('SIGKILL'), STOP_GRACE_MS);
            worker.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            if (!tell(worker, { type: 'stop' })) worker.process.kill('SIGKILL');
          }),
      ),
    );
    return this.total();
  }

  private total(): StunCounters {
    return sumCounters([this.retired, this.core.counters, ...[...this.live].map((s) => s.last)]);
  }

  /** Forks a worker; resolves once it has bound every socket. */
  private startWorker(): Promise<void> {
    setUpCluster();
    const worker = cluster.fork();
    this.forked.add(worker);
    // An IPC send to a worker that just died is reported here; the exit handler deals with the death.
    worker.on('error', () => {});
    worker.once('exit', () => this.forked.delete(worker));
    const slot: Slot = { worker, last: emptyCounters(), pending: new Map() };
    const timeoutMs = this.options.startTimeoutMs ?? 30_000;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`a STUN worker did not start within ${timeoutMs} ms`)), timeoutMs);
      const cleanUp = () => {
        clearTimeout(timer);
        worker.off('message', onStartMessage);
        worker.off('exit', onEarlyExit);
      };
      const fail = (e: Error) => {
        cleanUp();
        if (!worker.isDead()) worker.process.kill('SIGKILL');
        reject(e);
      };
      const onEarlyExit = (code: number | null, signal: string | null) =>
        fail(new Error(`a STUN worker exited while starting (code ${code}, signal ${signal})`));
      const onStartMessage = (m: unknown) => {
        if (!isFromWorker(m)) return;
        if (m.type === 'hello') {
          tell(worker, {
            type: 'start',
            config: this.config,
            buffers: this.options.buffers ?? {},
            udpIo: this.options.udpIo ?? 'dgram',
            events: this.options.onEvent !== undefined,
          });
        } else if (m.type === 'ready') {
          cleanUp();
          this.attach(slot);
          resolve();
        } else if (m.type === 'failed') {
          fail(Object.assign(new Error(`a STUN worker could not bind: ${m.error}`), m.code ? { code: m.code } : {}));
        }
      };
      worker.on('message', onStartMessage);
      worker.once('exit', onEarlyExit);
    });
  }

  private attach(slot: Slot): void {
    this.live.add(slot);
    slot.worker.on('message', (m: unknown) => {
      if (isFromWorker(m)) this.fromWorker(slot, m);
    });
    slot.worker.once('exit', (code: number | null, signal: string | null) => this.exited(slot, code, signal));
  }

  private fromWorker(slot: Slot, m: FromWorker): void {
    if (m.type === 'event') this.options.onEvent?.(m.event);
    else if (m.type === 'counters') {
      slot.last = m.counters;
      slot.pending.get(m.id)?.();
    } else if (m.type === 'stopped') slot.last = m.counters;
  }

  private exited(slot: Slot, code: number | null, signal: string | null): void {
    this.live.delete(slot);
    addCounters(this.retired, slot.last);
    for (const done of slot.pending.values()) done();
    if (this.stopping) return;
    const replaced = this.mayRestart();
    this.options.onWorkerExit?.({ pid: slot.worker.process.pid, code, signal, replaced });
    if (replaced) {
      this.startWorker().catch(() => {
        if (!this.stopping) this.options.onWorkerExit?.({ pid: undefined, code: null, signal: null, replaced: false });
      });
    }
  }

  private mayRestart(): boolean {
    const now = Date.now();
    while (this.restarts.length > 0 && now - this.restarts[0] > RESTART_WINDOW_MS) this.restarts.shift();
    if (this.restarts.length >= RESTARTS_PER_SLOT * this.options.workers) return false;
    this.restarts.push(now);
    return true;
  }
}

function tell(worker: Worker, m: ToWorker): boolean {
  if (worker.isDead() || !worker.isConnected()) return false;
  worker.send(m);
  return true;
}

/** The addresses bound here for a moment (ephemeral ports resolved), so all four combinations are known to be free. */
async function pickFreePorts(want: ServerAddresses): Promise<ServerAddresses> {
  const probe = await StunUdpServer.start(nodeNetEnv, { addresses: want, rateLimit: null });
  const got = probe.addresses;
  probe.close();
  return got;
}

let clusterReady = false;

/** Workers run udp-worker (.ts under tsx, .js when compiled) with this process's loader flags. */
function setUpCluster(): void {
  if (clusterReady) return;
  clusterReady = true;
  const self = fileURLToPath(import.meta.url);
  const exec = self.replace(/udp-worker-pool\.(ts|js)$/, 'udp-worker.$1');
  cluster.setupPrimary({
    exec,
    args: [],
    execArgv: workerExecArgv(process.execArgv),
    serialization: 'advanced',
  });
}

/** Loaders (--import tsx) and V8 flags carry over; the test runner's, watcher's and debugger's flags do not. */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i];
    if (/^--(test|experimental-test|inspect|debug|watch)/.test(a)) {
      // `--flag value` form: the value goes too.
      if (!a.includes('=') && i + 1 < execArgv.length && !execArgv[i + 1].startsWith('-')) i++;
      continue;
    }
    out.push(a);
  }
  return out;
}
