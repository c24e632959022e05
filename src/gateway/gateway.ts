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
import { readFileSync } from 'node:fs';
import type { LoadedGatewayConfig } from '../control/config/load.js';
import { engineDashboard, type MeasuredBehaviour } from '../control/dashboard/engine-feed.js';
import { newToken, removeControlToken, writeControlToken } from '../control/http/control-token.js';
import { logNatEvent, type Logger } from '../control/logging.js';
import { DroppedLogLines } from '../control/log-dropped.js';
import { logOutputCounters } from '../control/log-output.js';
import { registerGatewayMetrics } from '../control/metrics/gateway-metrics.js';
import { createMetricsRegistry } from '../control/metrics/registry.js';
import { expectationToJson, flowToJson, type FlowJson } from '../control/status-model.js';
import { liveEngineOf, startStatusServer, type ReloadResult, type StatusServer, type StatusSource } from '../control/status-server.js';
import type { ResolvedNatConfig } from '../nat/config.js';
import { openTun, type TunDevice, type TunOptions } from '../dataplane/tun/device.js';
import { GatewayLoop } from '../dataplane/tun/gateway-loop.js';
import { DeviceRecovery, stepsForDevice } from '../dataplane/tun/device-recovery.js';
import { ReplaceableDevice } from '../dataplane/tun/replaceable-device.js';
import { commandText } from '../dataplane/tun/gateway-routing.js';
import { hostSystem, preflight, type AppliedRouting, type SystemAccess } from '../dataplane/tun/gateway-system.js';
import { NatEngine, type Side } from '../nat/engine.js';
import { systemClock, type Clock } from '../util/clock.js';
import { cryptoUniform } from '../util/random.js';
import { ipv4ToString, prefixToString } from '../wire/address.js';
import { activeAlgs, attachConfiguredAlgs, reloadGateway, type AlgSet } from './reload.js';
import { routingSpecOf } from './routing-spec.js';
import { setUpRouting, startedFields, startOrUndo, takeDownRouting } from './routing-setup.js';
import { GatewayState } from './state/gateway-state.js';
import { kernelOffloadSettings, startKernelOffload, type RunningOffload } from './kernel-offload.js';
import { PortmapServers } from './portmap/servers.js';
import { PortmapService } from './portmap/service.js';
import { createHash } from 'node:crypto';
import { portMappingToJson } from '../control/status-model.js';

export interface GatewayDeps {
  system?: SystemAccess;
  clock?: Clock;
  openDevice?: (options: TunOptions) => TunDevice;
  /** Between attempts to recreate a deleted TUN device (ms; default 1000). */
  tunRetryMs?: number;
  /**
   * Measures the NAT's behaviour for the configuration (the RFC 5780 probe in
   * the simulator, against the same engine and settings): shown on the
   * dashboard and /status. Run after start, off the start path.
   */
  measureBehaviour?: (nat: ResolvedNatConfig) => Promise<MeasuredBehaviour>;
}

const TICK_MS = 1000;
const WARN_INTERVAL_MS = 10_000;

export class Gateway implements StatusSource {
  readonly engine: NatEngine;
  readonly loop: GatewayLoop;
  readonly statusUrl: string | null;
  #loaded: LoadedGatewayConfig;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #devices: Devices;
  readonly #recovery: { inside: DeviceRecovery; outside: DeviceRecovery };
  readonly #routing: AppliedRouting;
  readonly #status: StatusServer | null;
  readonly #algs: AlgSet;
  readonly #tokenPath: string | null;
  #measured: MeasuredBehaviour | null = null;
  readonly #reloads = { ok: 0, failed: 0, lastOkSeconds: Date.now() / 1000 };
  readonly #startedAt = new Date();
  readonly #timer: NodeJS.Timeout;
  readonly #state: GatewayState | null;
  readonly #portmap: PortmapServers | null;
  readonly #kernel: RunningOffload | null;
  #stopped = false;
  #lastNotWritten = 0;
  #lastQueueWarning = -Infinity;
  #lastEngineErrorLog = -Infinity;
  #lastTunRetryLog = -Infinity;
  readonly #droppedLogLines = new DroppedLogLines();

  private constructor(parts: {
    loaded: LoadedGatewayConfig;
    log: Logger;
    clock: Clock;
    engine: NatEngine;
    loop: GatewayLoop;
    devices: Devices;
    recovery: { inside: DeviceRecovery; outside: DeviceRecovery };
    routing: AppliedRouting;
    status: StatusServer | null;
    algs: AlgSet;
    tokenPath: string | null;
    state: GatewayState | null;
    kernel: RunningOffload | null;
    portmap: PortmapServers | null;
  }) {
    this.#loaded = parts.loaded;
    this.#log = parts.log;
    this.#clock = parts.clock;
    this.engine = parts.engine;
    this.loop = parts.loop;
    this.#devices = parts.devices;
    this.#recovery = parts.recovery;
    this.#routing = parts.routing;
    this.#status = parts.status;
    this.statusUrl = parts.status?.url ?? null;
    this.#algs = parts.algs;
    this.#tokenPath = parts.tokenPath;
    this.#state = parts.state;
    this.#portmap = parts.portmap;
    this.#kernel = parts.kernel;
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
    const algs = attachConfiguredAlgs(engine, loaded);
    const portmap = c.portmap === false ? null : new PortmapService(engine, c.portmap.rules, log, clock);
    // Saved state goes in before the first packet, so every mapping keeps its public port.
    const stateful = [...algs.values(), ...(portmap ? [portmap.stateful] : [])];
    const state = await GatewayState.open(c.state, engine, stateful, log, clock);

    return startOrUndo(log, async (undo) => {
      if (state) undo.push(() => state.stop());
      const tun = { mtu: c.tun.mtu, batchSize: c.tun.batchSize, offload: c.tun.offload };
      const openSide = (side: keyof Devices) => () => open({ name: c.tun[side], ...tun });
      // A device deleted under the gateway is recreated (tunLost); until then its side drops.
      const inside = new ReplaceableDevice(openSide('inside')(), (err) => gateway?.tunLost('inside', err));
      undo.push(() => inside.close());
      const outside = new ReplaceableDevice(openSide('outside')(), (err) => gateway?.tunLost('outside', err));
      undo.push(() => outside.close());

      // The status endpoint starts before routing changes (a port in use should fail early) and
      // answers for the gateway once it exists.
      let gateway: Gateway | undefined;
      const late = new LateStatusSource();
      let status: StatusServer | null = null;
      let tokenPath: string | null = null;
      if (c.status !== false) {
        const s = c.status;
        const readToken = s.token ?? (s.tokenFile !== undefined ? readTokenFile(s.tokenFile) : undefined);
        // Changes (conntrack -D/-F, --reload) need a token only root and this user can read.
        const controlToken = readToken ?? newToken();
        const registry = createMetricsRegistry('gateway');
        const running = () => {
          if (!gateway) throw new Error('the gateway is starting');
          return gateway;
        };
        registerGatewayMetrics(registry, {
          engine,
          algs: () => (gateway ? gateway.algInstances() : [...algs.values()]),
          loop: () => running().loop.counters,
          tun: () => ({ inside: running().#devices.inside.stats(), outside: running().#devices.outside.stats() }),
          reloads: () => running().#reloads,
        });
        status = await startStatusServer(s.listen, late, {
          live: liveEngineOf(engine, () => clock.now()),
          ...(s.metrics ? { metrics: registry } : {}),
          ...(s.dashboard
            ? {
                dashboard: engineDashboard({
                  service: 'masq gateway',
                  engine: () => engine,
                  algs: () => running().algInstances(),
                  now: () => clock.now(),
                  summary: () => running().summaryForDashboard(),
                  measured: () => running().#measured,
                  counters: () => {
                    const { batchSizes: _, ...loopCounters } = running().loop.counters.snapshot();
                    return { loop: loopCounters };
                  },
                }),
              }
            : {}),
          reload: async () => running().reload('http'),
          access: { ...(readToken !== undefined ? { readToken } : {}), controlToken },
        });
        const started = status;
        undo.push(() => started.close());
        // The file is named by the port the endpoint got (the CLI knows the port from --status).
        tokenPath = readToken === undefined ? writeControlToken('gateway', Number(new URL(started.url).port), controlToken) : null;
        if (tokenPath) undo.push(() => removeControlToken(tokenPath));
        else if (readToken === undefined) log.warn({ event: 'control-token' }, 'no directory took the control token file: conntrack -D/-F and --reload over HTTP are unavailable (SIGHUP still reloads)');
      }
      const portmapServers =
        c.portmap === false || !portmap ? null : await PortmapServers.start(c.portmap, c.interfaces.inside, portmap, engine, log, upnpUuid(loaded));
      if (portmapServers) undo.push(() => portmapServers.close());

      // Its table and routing rule are routing steps: no packet reaches masq before they exist.
      const offloadSettings = kernelOffloadSettings(c);
      const kernel = offloadSettings ? startKernelOffload(engine, offloadSettings, 0, clock, log) : null;
      if (kernel) undo.push(() => kernel.stop());
      const loop = new GatewayLoop(engine, inside, outside, clock, {
        singleHop: c.tun.singleHop,
        mtu: c.tun.mtu,
        // The kernel takes UDP GSO writes where it has USO (6.2+), which opening with offload probed.
        coalesceUdp: c.tun.coalesceUdp && inside.offloads?.uso === true && outside.offloads?.uso === true,
        onEngineError: (err, side) => gateway?.engineError(err, side),
        busyPollUs: c.tun.busyPollUs,
        ...(kernel ? { offload: kernel.offload } : {}),
      });
      loop.start();

      const routing = setUpRouting(spec, sys, log);
      undo.push(() => takeDownRouting(routing, log));
      const devices = { inside, outside };
      const recovery = (side: keyof Devices) =>
        new DeviceRecovery(devices[side], {
          reopen: openSide(side),
          steps: stepsForDevice(routing.steps, devices[side].name),
          sys,
          now: () => clock.now(),
          intervalMs: deps.tunRetryMs ?? 1000,
          events: {
            retry: (err, attempt) => gateway?.tunRetry(side, err, attempt),
            recovered: (info) => gateway?.tunRecovered(side, info),
          },
        });
      gateway = new Gateway({ loaded, log, clock, engine, loop, devices, recovery: { inside: recovery('inside'), outside: recovery('outside') }, routing, status, algs, tokenPath, state, portmap: portmapServers, kernel });
      state?.start();
      late.target = gateway;
      if (deps.measureBehaviour) {
        const g = gateway;
        deps.measureBehaviour(loaded.nat).then(
          (m) => {
            g.#measured = m;
            log.info({ event: 'behaviour', ...m }, 'NAT behaviour measured');
          },
          (err: unknown) => log.warn({ event: 'behaviour', err }, 'could not measure the NAT behaviour'),
        );
      }
      log.info(
        {
          ...startedFields(loaded, spec, status?.url ?? null, routing),
          tun: [inside.name, outside.name],
          offload: inside.offloads ?? false,
          coalesceUdp: loop.coalescingUdp,
          kernelOffload: offloadSettings ?? false,
          publicDelivery: c.publicDelivery,
          mapping: loaded.nat.mapping,
          filtering: loaded.nat.filtering,
          allocation: loaded.nat.ports.allocation,
          hairpin: loaded.nat.hairpin,
          triggers: loaded.nat.triggers.length,
          algs: [...algs.keys()],
          dashboard: status && c.status !== false && c.status.dashboard ? `${status.url}/dashboard` : null,
          metrics: status && c.status !== false && c.status.metrics ? `${status.url}/metrics` : null,
          controlTokenFile: tokenPath,
        },
        'gateway started',
      );
      return gateway;
    });
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Takes the routing away, closes the devices and the status endpoint. Idempotent. */
  async stop(reason = 'signal'): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#recovery.inside.stop();
    this.#recovery.outside.stop();
    // The last snapshot first: whatever happens in teardown, the state is saved.
    try {
      await this.#state?.stop();
    } catch (err) {
      this.#log.error({ event: 'state-write', err }, 'could not save the state at stop');
    }
    // Flows come back to masq before the table goes with the routing.
    this.#kernel?.stop();
    const failures = takeDownRouting(this.#routing, this.#log);
    this.#devices.inside.close();
    this.#devices.outside.close();
    await this.#status?.close();
    await this.#portmap?.close();
    removeControlToken(this.#tokenPath);
    this.#log.info(
      { event: 'stop', reason, teardownFailures: failures, counters: this.engine.counters.snapshot(), loop: this.loop.counters.snapshot() },
      'gateway stopped',
    );
  }

  /** The ALGs the configuration in force names. */
  algInstances() {
    return activeAlgs(this.#algs, this.#loaded);
  }

  /** The configuration in force (a reload replaces it). */
  get loaded(): LoadedGatewayConfig {
    return this.#loaded;
  }

  /**
   * Re-reads the configuration file and applies what may change while
   * running, without dropping a flow (reload.ts). On any problem nothing
   * changes; the problems are logged and returned.
   */
  reload(trigger: 'signal' | 'http' = 'signal'): ReloadResult {
    const r = reloadGateway(this.#loaded.source, this.#loaded, this.engine, this.#algs, this.#log);
    if (!r.ok) {
      this.#reloads.failed++;
      this.#log.error({ event: 'reload', trigger, ok: false, problems: r.problems }, `reload refused; the running configuration stays:\n${r.problems.join('\n')}`);
      return r;
    }
    this.#loaded = r.loaded;
    this.#state?.keepAlgs(r.attached);
    this.#reloads.ok++;
    this.#reloads.lastOkSeconds = Date.now() / 1000;
    this.#log.info({ event: 'reload', trigger, ok: true, changed: r.changed, flows: this.engine.sizes().flows }, r.changed.length ? `configuration reloaded: ${r.changed.join(', ')}` : 'configuration reloaded: nothing changed');
    return { ok: true, changed: r.changed };
  }

  /** The facts at the top of the dashboard. */
  summaryForDashboard(): Record<string, string | number | boolean | null> {
    const st = this.status();
    return {
      config: st.config,
      uptime: `${st.uptimeSeconds} s`,
      inside: `${st.interfaces.inside.join(', ')} (${st.inside.join(', ')})`,
      outside: `${st.interfaces.outside}, public ${st.public.join(', ')}`,
      'port allocation': st.allocation,
      forwards: st.forwards.length,
      triggers: st.triggers.length,
      ALGs: st.algs.map((a) => a.name).join(', ') || 'none',
      flows: st.flows,
      'flow limit': this.engine.config.limits.flows,
      'TUN offload': st.tun.offload !== false,
    };
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
        // Devices deleted under the gateway and not yet recreated: their side drops its traffic.
        lost: (['inside', 'outside'] as const).filter((d) => this.#devices[d].lost !== null).map((d) => this.#devices[d].name),
        recreated: this.#devices.inside.replacements + this.#devices.outside.replacements,
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
      portMappings: this.engine.portMappings.size,
      portmap: this.#portmap ? { listen: this.#portmap.listen } : null,
      state: this.#state?.status() ?? null,
      routing: this.#routing.steps.map((s) => commandText(s.apply)),
      behaviour: this.#measured,
      reloads: this.#reloads,
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

  portMappings() {
    const now = this.#clock.now();
    const list = this.engine.listPortMappings(now);
    return { total: list.length, portMappings: list.map((m) => portMappingToJson(m, now)) };
  }

  counters() {
    return {
      engine: this.engine.counters.snapshot(),
      loop: this.loop.counters.snapshot(),
      tun: { inside: this.#devices.inside.stats(), outside: this.#devices.outside.stats() },
      algs: this.algInstances().map((a) => ({ name: a.name, counters: a.counters() })),
      portmap: this.#portmap?.stats() ?? null,
      kernelOffload: this.#kernel?.stats() ?? null,
      flows: this.engine.sizes().flows,
      expectations: this.engine.sizes().expectations,
      log: logOutputCounters(),
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
    this.#droppedLogLines.check(this.#log, now);
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

  // ------------------------------------------------------------ a TUN device deleted under the gateway

  private tunLost(side: keyof Devices, err: Error): void {
    if (this.#stopped) return;
    const dev = this.#devices[side].name;
    this.#lastTunRetryLog = -Infinity;
    this.#log.error(
      { event: 'tun-lost', device: dev, side, err: err.message, flows: this.engine.sizes().flows },
      `TUN device ${dev} stopped working (${err.message}); ${side} traffic is dropped until it is back. Recreating it; flows are kept`,
    );
    this.#recovery[side].begin();
  }

  private tunRetry(side: keyof Devices, err: Error, attempt: number): void {
    const now = this.#clock.now();
    if (now - this.#lastTunRetryLog < WARN_INTERVAL_MS) return;
    this.#lastTunRetryLog = now;
    this.#log.warn({ event: 'tun-retry', device: this.#devices[side].name, attempt, err: err.message }, `could not recreate TUN device ${this.#devices[side].name} yet; trying again`);
  }

  private tunRecovered(side: keyof Devices, info: { attempts: number; downMs: number; failedSteps: Array<{ command: string; error: string }> }): void {
    const dev = this.#devices[side].name;
    const fields = { event: 'tun-recovered', device: dev, side, ...info, flows: this.engine.sizes().flows, droppedWhileDown: this.#devices[side].lostWrites };
    if (info.failedSteps.length === 0) this.#log.warn(fields, `TUN device ${dev} recreated after ${info.downMs} ms with its routes; ${side} traffic flows again`);
    else this.#log.error(fields, `TUN device ${dev} recreated after ${info.downMs} ms, but ${info.failedSteps.length} routing step(s) failed: ${info.failedSteps.map((f) => f.command).join('; ')}`);
  }
}

type Devices = { inside: ReplaceableDevice<TunDevice>; outside: ReplaceableDevice<TunDevice> };

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
  portMappings() {
    return this.#get().portMappings?.() ?? { total: 0, portMappings: [] };
  }
}

/** A token kept in a file (status.tokenFile): the first line, trimmed. */
function readTokenFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`status.tokenFile ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const token = text.split('\n')[0].trim();
  if (token.length < 16) throw new Error(`status.tokenFile ${path}: the token must be at least 16 characters`);
  return token;
}

/** A UPnP device uuid that stays the same across restarts of the same gateway (clients cache it). */
function upnpUuid(loaded: LoadedGatewayConfig): string {
  const h = createHash('sha256').update(`masq-igd:${loaded.nat.publicAddrs.join(',')}:${loaded.config.interfaces.inside.join(',')}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
