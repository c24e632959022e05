/**
 * `masq rendezvous serve` and `masq rendezvous secret`: the rendezvous server
 * on real sockets, with the in-memory registry or a shared Redis.
 */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { registerRendezvousMetrics } from '../control/metrics/service-metrics.js';
import { endpointToString } from '../net/udp.js';
import { RENDEZVOUS_DEFAULTS, RendezvousServer } from '../rendezvous/server/server.js';
import { RedisRegistry } from '../rendezvous/redis/redis-store.js';
import { redactRedisUrl } from '../rendezvous/redis/connection.js';
import { sessionSecretFromMaster } from '../rendezvous/protocol/keys.js';
import type { RegistryStore } from '../rendezvous/server/registry.js';
import { CliError, describeSystemError, EXIT_FAILURE } from './errors.js';
import { udpIoOption, type UdpIoCliOptions } from './udp-io-option.js';
import { addKeyOptions, announceOpen, cryptoNetEnv, intOption, ipEndpoint, readMasterKey, sessionKeysFrom, untilSignal, type KeyOptions } from './rendezvous-common.js';
import { addServiceOptions, applyConfigFile, serviceRuntime, startMetricsEndpoint, type ServiceOptions } from './service-runtime.js';

interface ServeOptions extends KeyOptions, ServiceOptions, UdpIoCliOptions {
  listen?: string;
  observe?: string | false;
  redis?: string;
  redisPasswordFile?: string;
  relay?: string;
  refresh: number;
  ttl?: number;
  maxPeers: number;
  maxSessions: number;
  maxOpenSessions?: number;
  maxPeersPerAddress: number;
  joinRateLimit: number;
  serverId?: string;
  statsInterval: number;
}

/** The Redis URL with the password from --redis-password-file, if given (so it is not in the process list). */
function redisUrl(o: ServeOptions): string {
  const url = o.redis!;
  if (!o.redisPasswordFile) return url;
  let password: string;
  try {
    password = readFileSync(o.redisPasswordFile, 'utf8').split('\n')[0].trim();
  } catch (err) {
    throw new CliError(`--redis-password-file ${o.redisPasswordFile}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    const u = new URL(url);
    u.password = encodeURIComponent(password);
    return u.toString();
  } catch {
    throw new CliError(`--redis ${redactRedisUrl(url)} is not a URL such as redis://127.0.0.1:6379`);
  }
}

async function serve(o: ServeOptions): Promise<void> {
  const rt = serviceRuntime('rendezvous', o);
  if (!o.listen) throw new CliError('--listen is required (on the command line or in the --config file)');
  const listen = ipEndpoint(o.listen, '--listen', 7000);
  const observe = o.observe === false ? null : o.observe ? ipEndpoint(o.observe, '--observe') : undefined;
  const relay = o.relay ? ipEndpoint(o.relay, '--relay') : undefined;
  const { keys, mode } = sessionKeysFrom(o, 'join it');
  if (o.maxOpenSessions !== undefined && o.maxOpenSessions > o.maxSessions) {
    throw new CliError(`--max-open-sessions (${o.maxOpenSessions}) cannot exceed --max-sessions (${o.maxSessions})`);
  }
  let store: RegistryStore | undefined;
  if (o.redis) {
    const url = redisUrl(o);
    try {
      store = await RedisRegistry.connect({ url, log: rt.debug });
    } catch (err) {
      // Never the password: the URL and the reason are redacted.
      throw new CliError(`cannot use Redis at ${redactRedisUrl(url)}: ${(err as Error).message}`, EXIT_FAILURE);
    }
  }
  const server = await RendezvousServer.start(cryptoNetEnv(o.udpIo), {
    listen,
    ...(observe !== undefined ? { observe } : {}),
    keys,
    ...(store ? { store } : {}),
    ...(o.serverId ? { serverId: o.serverId } : {}),
    ...(relay ? { relay } : {}),
    refreshMs: o.refresh * 1000,
    ...(o.ttl ? { ttlMs: o.ttl * 1000 } : {}),
    maxPeersPerSession: o.maxPeers,
    maxSessions: o.maxSessions,
    ...(o.maxOpenSessions !== undefined ? { maxOpenSessions: o.maxOpenSessions } : {}),
    maxPeersPerAddress: o.maxPeersPerAddress,
    joinsPerSecond: o.joinRateLimit,
    wallClock: Date.now,
    log: rt.debug,
    warn: rt.warn,
  }).catch(async (err: Error) => {
    await store?.close();
    throw new CliError(`cannot listen on ${o.listen}: ${describeSystemError(err) ?? err.message}`, EXIT_FAILURE);
  });
  registerRendezvousMetrics(rt.registry, {
    counters: () => ({ ...server.counters }),
    attached: () => server.attachedCount,
    sessions: () => server.sessionCounts,
  });
  const metrics = await startMetricsEndpoint(o, rt.registry).catch(async (err: unknown) => {
    await server.close();
    await store?.close();
    throw err;
  });
  rt.info('listening', {
    address: endpointToString(server.local),
    observe: server.observeLocal ? endpointToString(server.observeLocal) : 'none',
    registry: o.redis ? `redis ${redactRedisUrl(o.redis)}` : 'memory',
    server: server.serverId,
    sessions: mode,
    ...(relay ? { relay: endpointToString(relay) } : {}),
    metrics: metrics ? `${metrics.url}/metrics` : null,
  });
  if (keys.open) announceOpen(rt.warn, 'join it');
  let last = '';
  const stats = o.statsInterval > 0 ? setInterval(() => {
    const now = JSON.stringify(server.counters);
    if (now !== last) rt.info('stats', { ...server.counters, attached: server.attachedCount, sessions: server.sessionCounts.sessions, openSessions: server.sessionCounts.open, registry: server.registryStatus.state });
    last = now;
  }, o.statsInterval * 1000) : null;
  const sig = await untilSignal();
  if (stats) clearInterval(stats);
  rt.info('stopping', { signal: sig });
  await metrics?.close();
  await server.close();
  await store?.close();
}

export function registerRendezvousCommands(program: Command): void {
  const rv = program.command('rendezvous').description('the rendezvous server that introduces peers for hole punching');
  const serveCmd = rv
    .command('serve')
    .description('run a rendezvous server (UDP); it needs a key (--master-key-file, MASQ_MASTER_KEY, --session) or an explicit --open')
    .option('--listen <ip:port>', 'address and port to listen on (port default 7000); required, here or in --config')
    .option('--observe <ip:port>', 'the observation socket for port prediction (default: the next port)')
    .option('--no-observe', 'no observation socket (peers cannot predict sequential NATs)')
    .option('--redis <url>', 'share sessions with other servers through Redis (redis://host:port[/db]; the password is better in --redis-password-file)')
    .option('--redis-password-file <file>', 'a file holding the Redis password (kept out of the process list and the logs)')
    .option('--relay <ip:port>', 'a relay (`masq relay serve`) to advertise to the peers')
    .option('--refresh <s>', 'how often peers refresh (keeps their NAT mapping to the server)', intOption('--refresh', 1, 3600), 15)
    .option('--ttl <s>', 'a peer that has not refreshed for this long expires (default 3 refreshes)', intOption('--ttl', 1, 86400))
    .option('--max-peers <n>', 'peers per session', intOption('--max-peers', 2, 1000), RENDEZVOUS_DEFAULTS.maxPeersPerSession)
    .option('--max-sessions <n>', 'sessions this server holds', intOption('--max-sessions', 1), RENDEZVOUS_DEFAULTS.maxSessions)
    .option('--max-open-sessions <n>', 'of those, sessions without a secret (default: half of --max-sessions; the rest stay for keyed sessions)', intOption('--max-open-sessions', 0))
    .option('--max-peers-per-address <n>', 'peers from one source address (an IPv6 /64 counts as one), all sessions together', intOption('--max-peers-per-address', 1), RENDEZVOUS_DEFAULTS.maxPeersPerAddress)
    .option('--join-rate-limit <n>', 'joins per second from one source address (bursts of twice that)', intOption('--join-rate-limit', 1), RENDEZVOUS_DEFAULTS.joinsPerSecond)
    .addOption(new Option('--join-rate <n>', 'the old name of --join-rate-limit').argParser(intOption('--join-rate', 1)).hideHelp())
    .option('--server-id <id>', 'this server on the Redis bus (default random)')
    .option('--stats-interval <s>', 'log counters every s seconds when they change (0: never)', intOption('--stats-interval', 0), 60)
    .option('--verbose', 'log joins, expiries and Redis events (--log-level debug)')
    .addOption(udpIoOption());
  addServiceOptions(addKeyOptions(serveCmd)).action(async (o: ServeOptions & { joinRate?: number }) => {
    if (o.joinRate !== undefined) o.joinRateLimit = o.joinRate;
    await serve(applyConfigFile(serveCmd, o));
  });

  rv.command('secret')
    .description("print a session's secret, derived from the master key (give it to the session's peers)")
    .requiredOption('--session <name>', 'the session')
    .option('--master-key-file <path>', 'file holding the master key (or set MASQ_MASTER_KEY)')
    .action((o: { session: string; masterKeyFile?: string }) => {
      const master = readMasterKey(o.masterKeyFile);
      if (!master) throw new CliError('give --master-key-file or set MASQ_MASTER_KEY');
      process.stdout.write(`${sessionSecretFromMaster(master, o.session)}\n`);
    });
}
