/** `masq relay serve`: the authenticated, per-session UDP relay on real sockets. */
import { Option, type Command } from 'commander';
import { registerRelayMetrics } from '../control/metrics/service-metrics.js';
import { endpointToString } from '../net/udp.js';
import { RELAY_DEFAULTS, RelayServer } from '../relay/relay-server.js';
import { CliError, describeSystemError, EXIT_FAILURE } from './errors.js';
import { udpIoOption, type UdpIoCliOptions } from './udp-io-option.js';
import { addKeyOptions, announceOpen, cryptoNetEnv, intOption, ipEndpoint, sessionKeysFrom, untilSignal, type KeyOptions } from './rendezvous-common.js';
import { addServiceOptions, applyConfigFile, serviceRuntime, startMetricsEndpoint, type ServiceOptions } from './service-runtime.js';

interface ServeOptions extends KeyOptions, ServiceOptions, UdpIoCliOptions {
  listen?: string;
  ttl: number;
  rateLimit: number;
  maxBindings: number;
  maxOpenBindings?: number;
  maxBindingsPerSession: number;
  maxBindingsPerAddress: number;
  statsInterval: number;
}

async function serve(o: ServeOptions): Promise<void> {
  const rt = serviceRuntime('relay', o);
  if (!o.listen) throw new CliError('--listen is required (on the command line or in the --config file)');
  const listen = ipEndpoint(o.listen, '--listen', 7100);
  const { keys, mode } = sessionKeysFrom(o, 'relay through it');
  if (o.maxOpenBindings !== undefined && o.maxOpenBindings > o.maxBindings) {
    throw new CliError(`--max-open-bindings (${o.maxOpenBindings}) cannot exceed --max-bindings (${o.maxBindings})`);
  }
  const relay = await RelayServer.start(cryptoNetEnv(o.udpIo), {
    listen,
    keys,
    bindingTtlMs: o.ttl * 1000,
    bytesPerSecond: o.rateLimit,
    maxBindings: o.maxBindings,
    ...(o.maxOpenBindings !== undefined ? { maxOpenBindings: o.maxOpenBindings } : {}),
    maxBindingsPerSession: o.maxBindingsPerSession,
    maxBindingsPerAddress: o.maxBindingsPerAddress,
    wallClock: Date.now,
    log: rt.debug,
    warn: rt.warn,
  }).catch((err: Error) => {
    throw new CliError(`cannot listen on ${o.listen}: ${describeSystemError(err) ?? err.message}`, EXIT_FAILURE);
  });
  registerRelayMetrics(rt.registry, {
    counters: () => ({ ...relay.counters }),
    bindings: () => ({ all: relay.bindings, open: relay.openBindings }),
  });
  const metrics = await startMetricsEndpoint(o, rt.registry).catch((err: unknown) => {
    relay.close();
    throw err;
  });
  rt.info('listening', { address: endpointToString(relay.local), sessions: mode, metrics: metrics ? `${metrics.url}/metrics` : null });
  if (keys.open) announceOpen(rt.warn, 'relay through it');
  let last = '';
  const stats = o.statsInterval > 0 ? setInterval(() => {
    const now = JSON.stringify(relay.counters);
    if (now !== last) rt.info('stats', { ...relay.counters, bindings: relay.bindings, openBindings: relay.openBindings });
    last = now;
  }, o.statsInterval * 1000) : null;
  const sig = await untilSignal();
  if (stats) clearInterval(stats);
  rt.info('stopping', { signal: sig });
  await metrics?.close();
  relay.close();
}

export function registerRelayCommands(program: Command): void {
  const relay = program.command('relay').description('the relay: the fallback path between peers that cannot punch through');
  const serveCmd = relay
    .command('serve')
    .description('run a relay (UDP); peers authenticate with their session key; it needs a key (--master-key-file, MASQ_MASTER_KEY, --session) or an explicit --open')
    .option('--listen <ip:port>', 'address and port to listen on (port default 7100); required, here or in --config')
    .option('--ttl <s>', 'a binding lives this long unless refreshed', intOption('--ttl', 5, 3600), 60)
    .option('--rate-limit <bytes/s>', 'bytes per second each peer may send through the relay', intOption('--rate-limit', 1000), 2_000_000)
    .addOption(new Option('--rate <bytes/s>', 'the old name of --rate-limit').argParser(intOption('--rate', 1000)).hideHelp())
    .option('--max-bindings <n>', 'peers bound at once', intOption('--max-bindings', 1), RELAY_DEFAULTS.maxBindings)
    .option('--max-open-bindings <n>', 'of those, peers of sessions without a secret (default: half of --max-bindings; the rest stay for keyed sessions)', intOption('--max-open-bindings', 0))
    .option('--max-bindings-per-session <n>', 'peers of one session bound at once', intOption('--max-bindings-per-session', 1), RELAY_DEFAULTS.maxBindingsPerSession)
    .option('--max-bindings-per-address <n>', 'peers bound from one source address (an IPv6 /64 counts as one)', intOption('--max-bindings-per-address', 1), RELAY_DEFAULTS.maxBindingsPerAddress)
    .option('--stats-interval <s>', 'log counters every s seconds when they change (0: never)', intOption('--stats-interval', 0), 60)
    .option('--verbose', 'log every binding (--log-level debug)')
    .addOption(udpIoOption());
  addServiceOptions(addKeyOptions(serveCmd)).action(async (o: ServeOptions & { rate?: number }) => {
    if (o.rate !== undefined) o.rateLimit = o.rate;
    await serve(applyConfigFile(serveCmd, o));
  });
}
