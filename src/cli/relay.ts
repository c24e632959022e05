/** `masq relay serve`: the authenticated, per-session UDP relay on real sockets. */
import type { Command } from 'commander';
import { endpointToString } from '../net/udp.js';
import { RELAY_DEFAULTS, RelayServer } from '../relay/relay-server.js';
import { CliError } from './errors.js';
import { udpIoOption, type UdpIoCliOptions } from './udp-io-option.js';
import { addKeyOptions, cryptoNetEnv, intOption, ipEndpoint, openWarning, sessionKeysFrom, untilSignal, type KeyOptions } from './rendezvous-common.js';
import { makeLogger } from './event-log.js';

interface ServeOptions extends KeyOptions, UdpIoCliOptions {
  listen: string;
  ttl: number;
  rate: number;
  maxBindings: number;
  maxOpenBindings?: number;
  maxBindingsPerSession: number;
  maxBindingsPerAddress: number;
  statsInterval: number;
  jsonLog?: boolean;
  verbose?: boolean;
}

async function serve(o: ServeOptions): Promise<void> {
  const log = makeLogger(!!o.jsonLog);
  const listen = ipEndpoint(o.listen, '--listen', 7100);
  const { keys, mode } = sessionKeysFrom(o);
  if (o.maxOpenBindings !== undefined && o.maxOpenBindings > o.maxBindings) {
    throw new CliError(`--max-open-bindings (${o.maxOpenBindings}) cannot exceed --max-bindings (${o.maxBindings})`);
  }
  const relay = await RelayServer.start(cryptoNetEnv(o.udpIo), {
    listen,
    keys,
    bindingTtlMs: o.ttl * 1000,
    bytesPerSecond: o.rate,
    maxBindings: o.maxBindings,
    ...(o.maxOpenBindings !== undefined ? { maxOpenBindings: o.maxOpenBindings } : {}),
    maxBindingsPerSession: o.maxBindingsPerSession,
    maxBindingsPerAddress: o.maxBindingsPerAddress,
    wallClock: Date.now,
    ...(o.verbose ? { log } : {}),
    warn: log,
  }).catch((err: Error) => {
    throw new CliError(`cannot listen on ${o.listen}: ${err.message}`);
  });
  log('listening', { address: endpointToString(relay.local), sessions: mode });
  if (keys.open) log('WARNING', { message: openWarning(o, 'relay through it') });
  let last = '';
  const stats = o.statsInterval > 0 ? setInterval(() => {
    const now = JSON.stringify(relay.counters);
    if (now !== last) log('stats', { ...relay.counters, bindings: relay.bindings, openBindings: relay.openBindings });
    last = now;
  }, o.statsInterval * 1000) : null;
  const sig = await untilSignal();
  if (stats) clearInterval(stats);
  log('stopping', { signal: sig });
  relay.close();
}

export function registerRelayCommands(program: Command): void {
  const relay = program.command('relay').description('the relay: the fallback path between peers that cannot punch through');
  addKeyOptions(
    relay
      .command('serve')
      .description('run a relay (UDP); peers authenticate with their session key')
      .requiredOption('--listen <ip:port>', 'address and port to listen on (port default 7100)')
      .option('--ttl <s>', 'a binding lives this long unless refreshed', intOption('--ttl', 5, 3600), 60)
      .option('--rate <bytes/s>', 'bytes per second each peer may send through the relay', intOption('--rate', 1000), 2_000_000)
      .option('--max-bindings <n>', 'peers bound at once', intOption('--max-bindings', 1), RELAY_DEFAULTS.maxBindings)
      .option('--max-open-bindings <n>', 'of those, peers of sessions without a secret (default: half of --max-bindings; the rest stay for keyed sessions)', intOption('--max-open-bindings', 0))
      .option('--max-bindings-per-session <n>', 'peers of one session bound at once', intOption('--max-bindings-per-session', 1), RELAY_DEFAULTS.maxBindingsPerSession)
      .option('--max-bindings-per-address <n>', 'peers bound from one source address (an IPv6 /64 counts as one)', intOption('--max-bindings-per-address', 1), RELAY_DEFAULTS.maxBindingsPerAddress)
      .option('--stats-interval <s>', 'log counters every s seconds when they change (0: never)', intOption('--stats-interval', 0), 60)
      .option('--json-log', 'log JSON lines')
      .option('--verbose', 'log every binding')
      .addOption(udpIoOption()),
  ).action(async (o: ServeOptions) => serve(o));
}
