/**
 * `masq rendezvous serve` and `masq rendezvous secret`: the rendezvous server
 * on real sockets, with the in-memory registry or a shared Redis.
 */
import type { Command } from 'commander';
import { endpointToString } from '../net/udp.js';
import { RENDEZVOUS_DEFAULTS, RendezvousServer } from '../rendezvous/server/server.js';
import { RedisRegistry } from '../rendezvous/redis/redis-store.js';
import { sessionSecretFromMaster } from '../rendezvous/protocol/keys.js';
import type { RegistryStore } from '../rendezvous/server/registry.js';
import { CliError } from './errors.js';
import { udpIoOption, type UdpIoCliOptions } from './udp-io-option.js';
import { addKeyOptions, cryptoNetEnv, intOption, ipEndpoint, openWarning, readMasterKey, sessionKeysFrom, untilSignal, type KeyOptions } from './rendezvous-common.js';
import { makeLogger } from './event-log.js';

interface ServeOptions extends KeyOptions, UdpIoCliOptions {
  listen: string;
  observe?: string | false;
  redis?: string;
  relay?: string;
  refresh: number;
  ttl?: number;
  maxPeers: number;
  maxSessions: number;
  maxOpenSessions?: number;
  maxPeersPerAddress: number;
  joinRate: number;
  serverId?: string;
  jsonLog?: boolean;
  verbose?: boolean;
  statsInterval: number;
}

async function serve(o: ServeOptions): Promise<void> {
  const log = makeLogger(!!o.jsonLog);
  const listen = ipEndpoint(o.listen, '--listen', 7000);
  const observe = o.observe === false ? null : o.observe ? ipEndpoint(o.observe, '--observe') : undefined;
  const relay = o.relay ? ipEndpoint(o.relay, '--relay') : undefined;
  const { keys, mode } = sessionKeysFrom(o);
  if (o.maxOpenSessions !== undefined && o.maxOpenSessions > o.maxSessions) {
    throw new CliError(`--max-open-sessions (${o.maxOpenSessions}) cannot exceed --max-sessions (${o.maxSessions})`);
  }
  let store: RegistryStore | undefined;
  if (o.redis) {
    try {
      store = await RedisRegistry.connect({ url: o.redis, log: o.verbose ? log : undefined });
    } catch (err) {
      throw new CliError(`--redis ${o.redis}: ${(err as Error).message}`);
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
    joinsPerSecond: o.joinRate,
    wallClock: Date.now,
    ...(o.verbose ? { log } : {}),
    warn: log,
  }).catch((err: Error) => {
    void store?.close();
    throw new CliError(`cannot listen on ${o.listen}: ${err.message}`);
  });
  log('listening', {
    address: endpointToString(server.local),
    observe: server.observeLocal ? endpointToString(server.observeLocal) : 'none',
    registry: o.redis ? `redis ${o.redis}` : 'memory',
    server: server.serverId,
    sessions: mode,
    ...(relay ? { relay: endpointToString(relay) } : {}),
  });
  if (keys.open) log('WARNING', { message: openWarning(o, 'join it') });
  let last = '';
  const stats = o.statsInterval > 0 ? setInterval(() => {
    const now = JSON.stringify(server.counters);
    if (now !== last) log('stats', { ...server.counters, attached: server.attachedCount, sessions: server.sessionCounts.sessions, openSessions: server.sessionCounts.open });
    last = now;
  }, o.statsInterval * 1000) : null;
  const sig = await untilSignal();
  if (stats) clearInterval(stats);
  log('stopping', { signal: sig });
  await server.close();
  await store?.close();
}

export function registerRendezvousCommands(program: Command): void {
  const rv = program.command('rendezvous').description('the rendezvous server that introduces peers for hole punching');
  addKeyOptions(
    rv
      .command('serve')
      .description('run a rendezvous server (UDP)')
      .requiredOption('--listen <ip:port>', 'address and port to listen on (port default 7000)')
      .option('--observe <ip:port>', 'the observation socket for port prediction (default: the next port)')
      .option('--no-observe', 'no observation socket (peers cannot predict sequential NATs)')
      .option('--redis <url>', 'share sessions with other servers through Redis (redis://host:port[/db])')
      .option('--relay <ip:port>', 'a relay (`masq relay serve`) to advertise to the peers')
      .option('--refresh <s>', 'how often peers refresh (keeps their NAT mapping to the server)', intOption('--refresh', 1, 3600), 15)
      .option('--ttl <s>', 'a peer that has not refreshed for this long expires (default 3 refreshes)', intOption('--ttl', 1, 86400))
      .option('--max-peers <n>', 'peers per session', intOption('--max-peers', 2, 1000), RENDEZVOUS_DEFAULTS.maxPeersPerSession)
      .option('--max-sessions <n>', 'sessions this server holds', intOption('--max-sessions', 1), RENDEZVOUS_DEFAULTS.maxSessions)
      .option('--max-open-sessions <n>', 'of those, sessions without a secret (default: half of --max-sessions; the rest stay for keyed sessions)', intOption('--max-open-sessions', 0))
      .option('--max-peers-per-address <n>', 'peers from one source address (an IPv6 /64 counts as one), all sessions together', intOption('--max-peers-per-address', 1), RENDEZVOUS_DEFAULTS.maxPeersPerAddress)
      .option('--join-rate <n>', 'joins per second from one source address (bursts of twice that)', intOption('--join-rate', 1), RENDEZVOUS_DEFAULTS.joinsPerSecond)
      .option('--server-id <id>', 'this server on the Redis bus (default random)')
      .option('--stats-interval <s>', 'log counters every s seconds when they change (0: never)', intOption('--stats-interval', 0), 60)
      .option('--json-log', 'log JSON lines')
      .option('--verbose', 'log joins, expiries and Redis events')
      .addOption(udpIoOption()),
  ).action(async (o: ServeOptions) => serve(o));

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
