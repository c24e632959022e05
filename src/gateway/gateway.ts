/**
 * A running masq gateway: the NAT engine between two TUN devices, the policy
 * routing that sends inside and public traffic through them, the status
 * endpoint, and the timer that ages the tables. start() either brings all of
 * it up or leaves the host as it found it; stop() takes away exactly what
 * start() put in place.
 *
 * This is the one place that puts the pieces together: the configuration,
 * logging and status endpoint (control/) around the TUN dataplane
 * (dataplane/tun/), which itself knows nothing of files, logs or HTTP.
 */
import { attachAlg, type AlgInstance } from '../alg/registry.js';
import type { LoadedGatewayConfig } from '../control/config/load.js';
import { logNatEvent, type Logger } from '../control/logging.js';
import { expectationToJson, flowToJson, type FlowJson } from '../control/status-model.js';
import { startStatusServer, type StatusServer, type StatusSource } from '../control/status-server.js';
import { openTun, type TunDevice, type TunError, type TunOptions } from '../dataplane/tun/device.js';
import { GatewayLoop } from '../dataplane/tun/gateway-loop.js';
import { commandText, planRouting } from '../dataplane/tun/gateway-routing.js';
import { applyRouting, hostSystem, preflight, readRoutingFacts, type AppliedRouting, type SystemAccess } from '../dataplane/tun/gateway-system.js';
import { NatEngine, type Side } from '../nat/engine.js';
import { systemClock, type Clock } from '../util/clock.js';
import { cryptoUniform } from '../util/random.js';
import { ipv4ToString, prefixToString } from '../wire/address.js';
import { routingSpecOf } from './routing-spec.js';

export interface GatewayDeps {
  system?: SystemAccess;
  clock?: Clock;
  openDevice?: (options: TunOptions) => TunDevice;
  /** Called once when the gateway stopped on its own (a TUN device failed); the process should exit non-zero. */
  onFatal?: (err: Error) => void;
}

const TICK_MS = 1000;
const WARN_INTERVAL_MS = 10_000;

export class Gateway implements StatusSource {
  readonly engine: NatEngine;
  readonly loop: GatewayLoop;
  readonly statusUrl: string | null;
  readonly #loaded: LoadedGatewayConfig;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #devices: { inside: TunDevice; outside: TunDevice };
  readonly #routing: AppliedRouting;
  readonly #status: StatusServer | null;
  readonly #algs: AlgInstance[];
  readonly #startedAt = new Date();
  readonly #timer: NodeJS.Timeout;
  #stopped = false;
  #onFatal: ((err: Error) => void) | undefined;
  #lastNotWritten = 0;
  #lastQueueWarning = -Infinity;
  #lastEngineErrorLog = -Infinity;

  private constructor(parts: {
    loaded: LoadedGatewayConfig;
    log: Logger;
    clock: Clock;
    engine: NatEngine;
    loop: GatewayLoop;
    devices: { inside: TunDevice; outside: TunDevice };
    routing: AppliedRouting;
    status: StatusServer | null;
    algs: AlgInstance[];
  }) {
    this.#loaded = parts.loaded;
    this.#log = parts.log;
    this.#clock = parts.clock;
    this.engine = parts.engine;
    this.loop = parts.loop;
    this.#devices = parts.devices;
    this.#routing = parts.routing;
    this.#status = parts.status;
    this.statusUrl = parts.status?.url ?? null;
    this.#algs = parts.algs;
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
  }

  /**
   * Brings the gateway up: checks, engine and ALGs, TUN devices, status
   * endpoint, packet loop, routing. On any failure what was done is undone
   * (last first) and the error is thrown.
   */
  static async start(loaded: LoadedGatewayConfig, log: Logger, deps: GatewayDeps = {}): Promise<Gateway> {
    const sys = deps.system ?? hostSystem;
    const clock = deps.clock ?? systemClock;
    const open = deps.openDevice ?? openTun;
    const c = loaded.config;
    const spec = routingSpecOf(loaded);
    preflight(spec, sys);

    const engine = new NatEngine(loaded.nat, {
      clock,
      random: cryptoUniform(),
      onEvent: (e) => logNatEvent(log, e),
    });
    const algs = attachAlgs(engine, loaded);

    const undo: Array<() => void | Promise<void>> = [];
    const rollback = async () => {
      for (const step of undo.reverse()) {
        try {
          await step();
        } catch (err) {
          log.error({ err }, 'undoing a start step failed');
        }
      }
    };
    try {
      const tun = { mtu: c.tun.mtu, batchSize: c.tun.batchSize, offload: c.tun.offload };
      const inside = open({ name: c.tun.inside, ...tun });
      undo.push(() => inside.close());
      const outside = open({ name: c.tun.outside, ...tun });
      undo.push(() => outside.close());

      // The status endpoint starts before routing changes (a port in use should fail early) and
      // answers for the gateway once it exists.
      const late = new LateStatusSource();
      const status = c.status === false ? null : await startStatusServer(c.status.listen, late);
      if (status) undo.push(() => status.close());

      let gateway: Gateway | undefined;
      const loop = new GatewayLoop(engine, inside, outside, clock, {
        singleHop: c.tun.singleHop,
        mtu: c.tun.mtu,
        // The kernel takes UDP GSO writes where it has USO (6.2+), which opening with offload probed.
        coalesceUdp: c.tun.coalesceUdp && inside.offloads?.uso === true && outside.offloads?.uso === true,
        onEngineError: (err, side) => gateway?.engineError(err, side),
        busyPollUs: c.tun.busyPollUs,
      });
      const fail = (err: TunError) => void gateway?.fatal(err);
      inside.onError(fail);
      outside.onError(fail);
      loop.start();

      const steps = planRouting(spec, readRoutingFacts(spec, sys));
      const routing = applyRouting(steps, sys, (s) => log.debug({ event: 'routing', command: commandText(s.apply) }, s.what));
      gateway = new Gateway({ loaded, log, clock, engine, loop, devices: { inside, outside }, routing, status, algs });
      late.target = gateway;
      gateway.#onFatal = deps.onFatal;
      log.info(
        {
          event: 'start',
          config: loaded.source,
          interfaces: c.interfaces,
          tun: [inside.name, outside.name],
          offload: inside.offloads ?? false,
          coalesceUdp: loop.coalescingUdp,
          inside: spec.insidePrefixes,
          public: spec.publicAddrs,
          publicDelivery: c.publicDelivery,
          mapping: loaded.nat.mapping,
          filtering: loaded.nat.filtering,
          allocation: loaded.nat.ports.allocation,
          hairpin: loaded.nat.hairpin,
          forwards: loaded.nat.source.forwards.length,
          triggers: loaded.nat.triggers.length,
          algs: algs.map((a) => a.name),
          status: status?.url ?? null,
          routingSteps: steps.length,
        },
        'gateway started',
      );
      return gateway;
    } catch (err) {
      await rollback();
      throw err;
    }
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Takes the routing away, closes the devices and the status endpoint. Idempotent. */
  async stop(reason = 'signal'): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    const failures = this.#routing.undo((argv) => this.#log.debug({ event: 'routing', command: commandText(argv) }, 'undo'));
    for (const f of failures) this.#log.error({ event: 'teardown', command: f.command, error: f.error }, 'could not undo a routing step');
    this.#devices.inside.close();
    this.#devices.outside.close();
    await this.#status?.close();
    this.#log.info(
      { event: 'stop', reason, teardownFailures: failures.length, counters: this.engine.counters.snapshot(), loop: this.loop.counters.snapshot() },
      'gateway stopped',
    );
  }

  // ------------------------------------------------------------ status endpoint

  status() {
    const c = this.#loaded.config;
    const nat = this.#loaded.nat;
    return {
      service: 'masq-gateway',
      config: this.#loaded.source,
      startedAt: this.#startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.#startedAt.getTime()) / 1000),
      interfaces: c.interfaces,
      tun: {
        inside: this.#devices.inside.name,
        outside: this.#devices.outside.name,
        mtu: c.tun.mtu,
        singleHop: c.tun.singleHop,
        offload: this.#devices.inside.offloads ?? false,
        coalesceUdp: this.loop.coalescingUdp,
        busyPollUs: c.tun.busyPollUs,
      },
      publicDelivery: c.publicDelivery,
      inside: nat.inside.map(prefixToString),
      public: nat.publicAddrs.map(ipv4ToString),
      mapping: nat.mapping,
      filtering: nat.filtering,
      allocation: nat.ports.allocation,
      hairpin: nat.hairpin,
      forwards: nat.source.forwards,
      triggers: nat.source.triggers,
      algs: this.#loaded.algs.map((a) => ({ name: a.definition.name, ports: a.ports })),
      flows: this.engine.sizes().flows,
      expectations: this.engine.sizes().expectations,
      routing: this.#routing.steps.map((s) => commandText(s.apply)),
    };
  }

  flows(limit: number) {
    const now = this.#clock.now();
    const name = (id: number) => this.engine.helperName(id);
    const page = this.engine.flowPage(limit, now);
    const out: FlowJson[] = page.flows.map((f) => flowToJson(f, now, name));
    return { total: page.total, truncated: page.total > out.length, flows: out };
  }

  expectations() {
    const now = this.#clock.now();
    const list = this.engine.listExpectations(now);
    return { total: list.length, expectations: list.map((e) => expectationToJson(e, now)) };
  }

  counters() {
    return {
      engine: this.engine.counters.snapshot(),
      loop: this.loop.counters.snapshot(),
      tun: { inside: this.#devices.inside.stats(), outside: this.#devices.outside.stats() },
      algs: this.#algs.map((a) => ({ name: a.name, counters: a.counters() })),
      flows: this.engine.sizes().flows,
      expectations: this.engine.sizes().expectations,
    };
  }

  // ------------------------------------------------------------ housekeeping

  #tick(): void {
    this.engine.tick(this.#clock.now());
    this.loop.sendEmitted();
    const notWritten = this.loop.counters.notWritten;
    const now = this.#clock.now();
    if (notWritten > this.#lastNotWritten && now - this.#lastQueueWarning >= WARN_INTERVAL_MS) {
      this.#log.warn(
        { event: 'limit', limit: 'tun-queue', notWritten, since: notWritten - this.#lastNotWritten },
        'TUN device queue full: translated packets were dropped',
      );
      this.#lastQueueWarning = now;
    }
    this.#lastNotWritten = notWritten;
  }

  private engineError(err: unknown, side: Side): void {
    const now = this.#clock.now();
    if (now - this.#lastEngineErrorLog < WARN_INTERVAL_MS) return;
    this.#lastEngineErrorLog = now;
    this.#log.error(
      { event: 'engine-error', err, side: side === 0 ? 'inside' : 'outside', total: this.loop.counters.engineErrors },
      'the NAT engine threw on a packet; dropped it and carried on',
    );
  }

  private async fatal(err: Error): Promise<void> {
    if (this.#stopped) return;
    this.#log.fatal({ event: 'tun-error', err }, `TUN device failed: ${err.message}`);
    await this.stop('tun-error');
    this.#onFatal?.(err);
  }
}

class LateStatusSource implements StatusSource {
  target: StatusSource | null = null;
  #get(): StatusSource {
    if (!this.target) throw new Error('the gateway is starting');
    return this.target;
  }
  status() {
    return this.#get().status();
  }
  flows(limit: number) {
    return this.#get().flows(limit);
  }
  expectations() {
    return this.#get().expectations();
  }
  counters() {
    return this.#get().counters();
  }
}

/** Attaches the configured ALGs. */
function attachAlgs(engine: NatEngine, loaded: LoadedGatewayConfig): AlgInstance[] {
  return loaded.algs.map((alg) => attachAlg(engine, alg.definition, alg.ports, alg.options));
}
