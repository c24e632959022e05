/**
 * `masq gateway --config FILE`: the NAT gateway on TUN devices, until SIGINT or
 * SIGTERM; SIGHUP (or `--reload` from another shell) re-reads the file. `--check` validates the file only; `--dry-run` prints the commands
 * start and stop would run on this host; `--cleanup` removes what a gateway
 * killed without a chance to clean up left behind.
 */
import type { Command } from 'commander';
import { GatewayConfigError, loadGatewayConfigFile, type LoadedGatewayConfig } from '../control/config/load.js';
import { createLogger } from '../control/logging.js';
import { commandText, factKeys, planRouting, teardownCommands, type RoutingFacts } from '../dataplane/tun/gateway-routing.js';
import { cleanupLeftovers, hostSystem } from '../dataplane/tun/gateway-system.js';
import { Gateway } from '../gateway/gateway.js';
import { MultiQueueGateway } from '../gateway/queues/gateway.js';
import { routingSpecOf } from '../gateway/routing-spec.js';
import { describeAutofwRule } from '../nat/autofw.js';
import { ipv4ToString, prefixToString } from '../wire/address.js';
import { hasNetAdmin } from './capabilities.js';
import { CliError, EXIT_FAILURE } from './errors.js';
import { statusJson } from './status-client.js';

interface GatewayOptions {
  config: string;
  check?: boolean;
  dryRun?: boolean;
  cleanup?: boolean;
  reload?: boolean;
  tokenFile?: string;
}

/** `--reload`: the running gateway of this configuration re-reads it (as on SIGHUP) and says what changed. */
async function reloadRunning(loaded: LoadedGatewayConfig, tokenFile: string | undefined, out: (line: string) => void): Promise<void> {
  const status = loaded.config.status;
  if (status === false) throw new CliError(`${loaded.source}: status is off, so --reload cannot reach the gateway: send it SIGHUP instead`);
  const r = await statusJson<{ ok: boolean; changed?: string[]; problems?: string[] }>(
    { status: `http://${status.listen}`, ...(tokenFile ? { tokenFile } : {}) },
    'reload',
    { method: 'POST', control: true },
  ).catch((err: unknown) => {
    // A refused reload answers 400 with its problems: print them as they are.
    const m = /HTTP 400: (.*)$/s.exec((err as Error).message);
    if (m) throw new CliError(`reload refused; the running configuration stays: ${m[1]}`, EXIT_FAILURE);
    throw err;
  });
  out(r.changed && r.changed.length ? `reloaded: ${r.changed.join(', ')}` : 'reloaded: nothing changed');
}

function load(file: string): LoadedGatewayConfig {
  try {
    return loadGatewayConfigFile(file);
  } catch (err) {
    if (err instanceof GatewayConfigError) {
      // A file that is missing or cannot be read is not an invalid configuration: say which it is.
      if (err.unreadable) throw new CliError(err.message, 2);
      throw new CliError(`invalid configuration (${err.issues.length} problem${err.issues.length === 1 ? '' : 's'}):\n${err.message}`, 2);
    }
    throw err;
  }
}

function summary(loaded: LoadedGatewayConfig): string {
  const c = loaded.config;
  const n = loaded.nat;
  return [
    `${loaded.source}: OK`,
    `  inside ${c.interfaces.inside.join(', ')} (${n.inside.map(prefixToString).join(', ')})`,
    `  outside ${c.interfaces.outside}, public ${n.publicAddrs.map(ipv4ToString).join(', ')} (${c.publicDelivery})`,
    `  mapping ${n.mapping}, filtering ${n.filtering}, ports ${n.ports.allocation}, hairpin ${n.hairpin ? 'on' : 'off'}`,
    `  ${n.source.forwards.length + autofwRules(n, 'forward')} forward(s), ${n.triggers.length} trigger(s), ALGs: ${loaded.algs.map((a) => a.definition.name).join(', ') || 'none'}`,
    `  status ${c.status === false ? 'off' : `http://${c.status.listen}`}, log level ${c.log.level}`,
    ...autofwSummary(loaded),
  ].join('\n');
}

function autofwRules(n: LoadedGatewayConfig['nat'], kind: 'forward'): number {
  return n.autofw.reduce((sum, a) => sum + a.rules.filter((r) => r.kind === kind).length, 0);
}

/** Each `autofw:` line and the rules masq read from it, as the configuration that would say the same. */
function autofwSummary(loaded: LoadedGatewayConfig): string[] {
  if (loaded.nat.autofw.length === 0) return [];
  return [
    `  autofw: ${loaded.nat.autofw.length} line(s), read as`,
    ...loaded.nat.autofw.flatMap((a) => [
      `    line ${loaded.autofwLines.get(a.index) ?? '?'}: ${a.line.trim()}`,
      ...a.rules.map((r) => `      -> ${describeAutofwRule(r)}`),
    ]),
  ];
}

/** The facts a plan needs, read without the TUN devices: new devices take the "default" sysctls. */
function factsForPreview(loaded: LoadedGatewayConfig): RoutingFacts {
  const spec = routingSpecOf(loaded);
  const keys = factKeys(spec);
  const read = (key: string, fallback: number) => hostSystem.readSysctl(key) ?? fallback;
  const fromDefault = (key: string) => key.replace(/\/conf\/[^/]+\//, '/conf/default/');
  return {
    ipForward: read(keys.ipForward, 0),
    rpFilterAll: read(keys.rpFilterAll, 0),
    rpFilter: Object.fromEntries(Object.entries(keys.rpFilter).map(([d, k]) => [d, read(fromDefault(k), 0)])),
    disableIpv6: Object.fromEntries(Object.entries(keys.disableIpv6).map(([d, k]) => [d, hostSystem.readSysctl(fromDefault(k))])),
    ...(keys.proxyDelay ? { proxyDelay: read(keys.proxyDelay, 0) } : {}),
  };
}

async function run(opts: GatewayOptions): Promise<void> {
  const loaded = load(opts.config);
  if (opts.check) {
    process.stdout.write(`${summary(loaded)}\n`);
    return;
  }
  if (opts.dryRun) {
    const steps = planRouting(routingSpecOf(loaded), factsForPreview(loaded));
    const lines = [
      `# masq gateway --config ${loaded.source}: after opening TUN devices ${loaded.config.tun.inside} and ${loaded.config.tun.outside}`,
      ...steps.flatMap((s) => [`# ${s.what}`, commandText(s.apply)]),
      '# on stop, in this order:',
      ...teardownCommands(steps).map(commandText),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return;
  }
  if (opts.reload) {
    await reloadRunning(loaded, opts.tokenFile, (line) => process.stdout.write(`${line}\n`));
    return;
  }
  if (process.platform !== 'linux') throw new CliError(`masq gateway needs Linux (this is ${process.platform})`, 1);
  // The kernel checks CAP_NET_ADMIN, not the user id: a service user given the capability runs the gateway.
  if (!hasNetAdmin()) throw new CliError('masq gateway needs CAP_NET_ADMIN (root, or e.g. AmbientCapabilities=CAP_NET_ADMIN in its systemd unit) to create TUN devices and change routing', 1);
  if (opts.cleanup) {
    const steps = planRouting(routingSpecOf(loaded), { ipForward: 1, rpFilterAll: 0, rpFilter: {}, disableIpv6: {} });
    const removed = cleanupLeftovers(steps, hostSystem);
    process.stdout.write(removed.length ? `removed:\n${removed.map((r) => `  ${r}`).join('\n')}\n` : 'nothing left over\n');
    return;
  }

  const log = createLogger(loaded.config.log.level);
  let fatal: Error | null = null;
  let stopping = false;
  let wake: (reason: string) => void = () => {};
  const stopped = new Promise<string>((resolve) => (wake = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ event: 'signal', signal }, 'already stopping');
      return;
    }
    stopping = true;
    wake(signal);
  };
  // Whatever ends the process, the routing goes first: a crash must not leave rules pointing into
  // TUN devices that no longer exist.
  const onCrash = (err: Error) => {
    log.fatal({ event: 'crash', err }, 'uncaught error; stopping the gateway');
    fatal = err;
    stopping = true;
    wake('crash');
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  for (const s of signals) process.on(s, onSignal);
  process.on('uncaughtException', onCrash);
  // SIGHUP re-reads the configuration (the gateway logs what changed, or why it refused).
  let gateway: Gateway | MultiQueueGateway | undefined;
  const onHangup = () => {
    if (gateway && !stopping) gateway.reload('signal');
    else log.warn({ event: 'signal', signal: 'SIGHUP' }, 'not running yet or stopping: nothing to reload');
  };
  process.on('SIGHUP', onHangup);
  try {
    try {
      // A TUN device deleted under it is recreated by the gateway itself: only signals and crashes stop it.
      gateway = loaded.config.dataplane.queues > 1 ? await MultiQueueGateway.start(loaded, log) : await Gateway.start(loaded, log);
    } catch (err) {
      log.fatal({ event: 'start-failed', err }, 'gateway did not start; nothing it set up is left');
      throw new CliError((err as Error).message, 1);
    }
    const reason = await stopped;
    await gateway.stop(reason);
    if (fatal) process.exitCode = 1;
  } finally {
    for (const s of signals) process.off(s, onSignal);
    process.off('SIGHUP', onHangup);
    process.off('uncaughtException', onCrash);
  }
}

export function registerGatewayCommands(program: Command): void {
  program
    .command('gateway')
    .description('run the NAT gateway on TUN devices (Linux, root); see docs/gateway.md')
    .requiredOption('-c, --config <file>', 'YAML configuration file (examples/*.yaml)')
    .option('--check', 'validate the configuration file and exit (0: valid)')
    .option('--dry-run', 'print the routing commands start and stop would run here, change nothing')
    .option('--cleanup', 'remove rules and proxy ARP entries a killed gateway with this configuration left behind')
    .option('--reload', 'make the running gateway of this configuration re-read it (as SIGHUP does) and print what changed')
    .option('--token-file <file>', '--reload: the control token (default: the file the gateway wrote, readable by root and its user)')
    .action(async (opts: GatewayOptions) => {
      await run(opts);
    });
}
