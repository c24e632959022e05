/**
 * A gateway on several CPUs (dataplane.queues > 1): multi-queue TUN devices,
 * one worker thread per queue running its own NAT engine and ALGs
 * (queues/worker.ts), and eBPF steering in the kernel so that both directions
 * of a flow reach the same engine (dataplane/tun/steering.ts). This thread
 * owns what is shared: the policy routing, the steering programs and their
 * table, and the status endpoint, which asks the workers and adds up.
 *
 * What this mode cannot do (state on disk, portmap, triggers, hairpin,
 * metrics and dashboard) is refused when the configuration loads; a reload
 * is refused (restart to change the configuration); a TUN device deleted
 * under it is logged, not recreated.
 */
import { Worker } from 'node:worker_threads';
import { readConfigText, type LoadedGatewayConfig } from '../../control/config/load.js';
import type { Logger } from '../../control/logging.js';
import { logOutputCounters } from '../../control/log-output.js';
import type { ExpectationJson, FlowJson, FlowsResponse, ExpectationsResponse } from '../../control/status-model.js';
import { startStatusServer, type ReloadResult, type StatusServer, type StatusSource } from '../../control/status-server.js';
import { commandText } from '../../dataplane/tun/gateway-routing.js';
import { hostSystem, preflight, type AppliedRouting, type SystemAccess } from '../../dataplane/tun/gateway-system.js';
import { QueueSteering } from '../../dataplane/tun/steering-native.js';
import { ipv4ToString, prefixToString } from '../../wire/address.js';
import { routingSpecOf } from '../routing-spec.js';
import { setUpRouting, startedFields, startOrUndo, takeDownRouting } from '../routing-setup.js';
import type { QueueQuestion, QueueReply, QueueRequest, QueueWorkerData } from './messages.js';
import { planQueues } from './plan.js';
import { sumCounters } from './sum.js';

export interface MultiQueueDeps {
  system?: SystemAccess;
  /** The configuration text the workers parse (default: read again from loaded.source). */
  configText?: string;
}

/** How long a worker may take to open its queues, and to answer or stop. */
const OPEN_TIMEOUT_MS = 10_000;
const ANSWER_TIMEOUT_MS = 5_000;

/**
 * The worker's module next to this one: worker.js when compiled. Running the sources (tsx), a worker
 * thread does not inherit tsx's loader on Node 20, so a one-line module registers it first.
 */
function newWorker(data: QueueWorkerData): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url), { workerData: data });
  const entry = new URL('./worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData: data });
}

class QueueThread {
  readonly #worker: Worker;
  readonly #pending = new Map<number, (data: unknown) => void>();
  #nextId = 1;
  #stopped: ((data: unknown) => void) | null = null;
  #exited = false;

  constructor(
    readonly queue: number,
    data: QueueWorkerData,
    private readonly log: Logger,
  ) {
    this.#worker = newWorker(data);
    this.#worker.on('message', (m: QueueReply) => this.#message(m));
    this.#worker.on('error', (err) => this.log.error({ event: 'queue-error', queue, err }, `queue ${queue}'s thread failed`));
    this.#worker.on('exit', () => {
      this.#exited = true;
      for (const resolve of this.#pending.values()) resolve(undefined);
      this.#pending.clear();
      this.#stopped?.(undefined);
    });
  }

  #onOpened: ((m: QueueReply) => void) | null = null;

  /** Waits for the queue's devices to open: their fds, or an error. */
  opened(): Promise<{ insideFd: number; outsideFd: number; uso: boolean; offload: boolean }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`queue ${this.queue} did not open its TUN queues within ${OPEN_TIMEOUT_MS} ms`)), OPEN_TIMEOUT_MS);
      this.#onOpened = (m) => {
        clearTimeout(timer);
        if (m.type === 'opened') resolve(m);
        else if (m.type === 'failed') reject(new Error(`queue ${this.queue}: ${m.message}`));
      };
      this.#worker.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  #message(m: QueueReply): void {
    switch (m.type) {
      case 'opened':
      case 'failed':
        this.#onOpened?.(m);
        this.#onOpened = null;
        break;
      case 'reply':
        this.#pending.get(m.id)?.(m.data);
        this.#pending.delete(m.id);
        break;
      case 'device-error':
        this.log.error({ event: 'tun-lost', queue: this.queue, device: m.device, err: m.message }, `TUN device ${m.device} stopped working on queue ${this.queue}: its traffic on this queue is dropped (restart the gateway)`);
        break;
      case 'stopped':
        this.#stopped?.(m.data);
        break;
    }
  }

  /** A question to the worker; undefined if it has gone or does not answer in time. */
  ask(request: QueueQuestion): Promise<unknown> {
    if (this.#exited) return Promise.resolve(undefined);
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve(undefined);
      }, ANSWER_TIMEOUT_MS);
      this.#pending.set(id, (data) => {
        clearTimeout(timer);
        resolve(data);
      });
      this.#worker.postMessage({ ...request, id } as QueueRequest);
    });
  }

  /** Stops the loop and closes the queues; the last counters. */
  async stop(): Promise<unknown> {
    if (this.#exited) return undefined;
    const last = new Promise<unknown>((resolve) => (this.#stopped = resolve));
    this.#worker.postMessage({ type: 'stop' } satisfies QueueRequest);
    const timer = setTimeout(() => void this.#worker.terminate(), ANSWER_TIMEOUT_MS);
    const data = await last;
    clearTimeout(timer);
    await this.#worker.terminate();
    return data;
  }
}

export class MultiQueueGateway implements StatusSource {
  readonly statusUrl: string | null;
  #stopped = false;
  readonly #startedAt = new Date();

  private constructor(
    private readonly loaded: LoadedGatewayConfig,
    private readonly log: Logger,
    private readonly threads: QueueThread[],
    private readonly steering: QueueSteering | null,
    private readonly routing: AppliedRouting | null,
    private readonly statusServer: StatusServer | null,
    private readonly offload: boolean,
  ) {
    this.statusUrl = statusServer?.url ?? null;
  }

  static async start(loaded: LoadedGatewayConfig, log: Logger, deps: MultiQueueDeps = {}): Promise<MultiQueueGateway> {
    const sys = deps.system ?? hostSystem;
    const c = loaded.config;
    const queues = c.dataplane.queues;
    const spec = routingSpecOf(loaded);
    preflight(spec, sys);
    const configText = deps.configText ?? readConfigText(loaded.source);
    const plan = planQueues(loaded.nat, queues);

    const threads: QueueThread[] = [];
    let steering: QueueSteering | null = null;
    let status: StatusServer | null = null;
    return startOrUndo(log, async (undo) => {
      undo.push(() => Promise.all(threads.map((t) => t.stop())));
      // One at a time: a queue's index on the device is the order it was opened in.
      let first: { insideFd: number; outsideFd: number; offload: boolean } | undefined;
      for (let q = 0; q < queues; q++) {
        const t = new QueueThread(q, { queue: q, configText, source: loaded.source, slice: plan.slices[q] }, log);
        threads.push(t);
        const opened = await t.opened();
        first ??= opened;
      }
      steering = QueueSteering.attach(first!.insideFd, first!.outsideFd, plan.table);
      const attached = steering;
      undo.push(() => attached.close());
      let gateway: MultiQueueGateway | undefined;
      if (c.status !== false) {
        const s = c.status;
        const late: StatusSource = {
          status: () => gateway!.status(),
          flows: (limit) => gateway!.flows(limit),
          expectations: () => gateway!.expectations(),
          counters: () => gateway!.counters(),
        };
        const readToken = s.token ?? (s.tokenFile !== undefined ? readConfigText(s.tokenFile).split('\n')[0].trim() : undefined);
        status = await startStatusServer(s.listen, late, {
          reload: async (): Promise<ReloadResult> => gateway!.reload('http'),
          access: readToken !== undefined ? { readToken } : {},
        });
        const started = status;
        undo.push(() => started.close());
      }
      const routing = setUpRouting(spec, sys, log);
      undo.push(() => takeDownRouting(routing, log));
      gateway = new MultiQueueGateway(loaded, log, threads, steering, routing, status, first!.offload);
      log.info(
        {
          ...startedFields(loaded, spec, status?.url ?? null, routing),
          queues,
          slices: plan.slices.map((sl) => sl.range),
          tun: [c.tun.inside, c.tun.outside],
          algs: loaded.algs.map((a) => a.definition.name),
        },
        'gateway started',
      );
      return gateway;
    });
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  async stop(reason = 'signal'): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const failures = this.routing ? takeDownRouting(this.routing, this.log) : 0;
    this.steering?.close();
    const last = await Promise.all(this.threads.map((t) => t.stop()));
    await this.statusServer?.close();
    this.log.info({ event: 'stop', reason, teardownFailures: failures, counters: sumCounters(last) }, 'gateway stopped');
  }

  /** Changing the configuration of several engines at once is not supported yet: refused, nothing changes. */
  reload(trigger: 'signal' | 'http' = 'signal'): ReloadResult {
    const problem = `${this.loaded.source}: dataplane.queues: a running gateway with several queues does not reload its configuration; restart it to apply changes`;
    this.log.error({ event: 'reload', trigger, ok: false, problems: [problem] }, problem);
    return { ok: false, problems: [problem] };
  }

  status() {
    const c = this.loaded.config;
    const nat = this.loaded.nat;
    return this.#reports().then((reports) => ({
      service: 'masq-gateway',
      config: this.loaded.source,
      startedAt: this.#startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.#startedAt.getTime()) / 1000),
      interfaces: c.interfaces,
      tun: { inside: c.tun.inside, outside: c.tun.outside, mtu: c.tun.mtu, singleHop: c.tun.singleHop, offload: this.offload, busyPollUs: c.tun.busyPollUs },
      queues: this.threads.length,
      publicDelivery: c.publicDelivery,
      inside: nat.inside.map(prefixToString),
      public: nat.publicAddrs.map(ipv4ToString),
      mapping: nat.mapping,
      filtering: nat.filtering,
      allocation: nat.ports.allocation,
      hairpin: nat.hairpin,
      forwards: nat.source.forwards,
      triggers: nat.source.triggers,
      algs: this.loaded.algs.map((a) => ({ name: a.definition.name, ports: a.ports })),
      flows: sumCounters(reports.map((r) => r?.flows)) ?? 0,
      expectations: sumCounters(reports.map((r) => r?.expectations)) ?? 0,
      perQueue: reports.map((r, q) => ({ queue: q, flows: r?.flows ?? null, expectations: r?.expectations ?? null, answered: r !== undefined })),
      routing: this.routing?.steps.map((s) => commandText(s.apply)) ?? [],
      state: null,
      portmap: null,
    }));
  }

  async flows(limit: number): Promise<FlowsResponse> {
    const pages = (await Promise.all(this.threads.map((t) => t.ask({ type: 'flows', limit })))) as Array<{ total: number; flows: FlowJson[] } | undefined>;
    const total = pages.reduce((s, p) => s + (p?.total ?? 0), 0);
    const flows = pages.flatMap((p) => p?.flows ?? []).slice(0, limit);
    return { total, truncated: total > flows.length, flows };
  }

  async expectations(): Promise<ExpectationsResponse> {
    const lists = (await Promise.all(this.threads.map((t) => t.ask({ type: 'expectations' })))) as Array<ExpectationJson[] | undefined>;
    const expectations = lists.flatMap((l) => l ?? []);
    return { total: expectations.length, expectations };
  }

  async counters() {
    const reports = await this.#reports();
    const answered = reports.filter((r): r is QueueReport => r !== undefined);
    // ALG counters by name: every queue runs the same ALGs.
    const algs = sumCounters(answered.map((r) => Object.fromEntries(r.algs.map((a) => [a.name, a.counters])))) as Record<string, unknown> | undefined;
    return {
      engine: sumCounters(answered.map((r) => r.engine)),
      loop: sumCounters(answered.map((r) => r.loop)),
      tun: sumCounters(answered.map((r) => r.tun)),
      algs: Object.entries(algs ?? {}).map(([name, counters]) => ({ name, counters })),
      portmap: null,
      kernelOffload: sumCounters(answered.map((r) => r.kernelOffload)) ?? null,
      flows: sumCounters(answered.map((r) => r.flows)) ?? 0,
      expectations: sumCounters(answered.map((r) => r.expectations)) ?? 0,
      // The queues' threads log on outputs of their own; the main thread's is added.
      log: sumCounters([logOutputCounters(), ...answered.map((r) => r.log)]),
      queues: reports.map((r, q) => ({ queue: q, answered: r !== undefined, flows: r?.flows ?? null, packetsRead: r?.loop.packetsRead ?? null, engineErrors: r?.engineErrors ?? [] })),
    };
  }

  async #reports(): Promise<Array<QueueReport | undefined>> {
    return (await Promise.all(this.threads.map((t) => t.ask({ type: 'report' })))) as Array<QueueReport | undefined>;
  }
}

interface QueueReport {
  engine: Record<string, unknown>;
  loop: { packetsRead: number } & Record<string, unknown>;
  tun: unknown;
  algs: Array<{ name: string; counters: unknown }>;
  flows: number;
  expectations: number;
  kernelOffload: Record<string, number> | null;
  log: unknown;
  engineErrors: string[];
}
