/**
 * `masq stun serve` and `masq stun probe`: thin shells over src/stun on real
 * sockets. The lead wires `registerStunCommands` into the main CLI;
 * src/cli/stun-main.ts runs it standalone.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { InvalidArgumentError, type Command } from 'commander';
import { nodeNetEnv } from '../net/node-udp.js';
import { endpointToString, parseEndpoint, type Endpoint } from '../net/udp.js';
import { systemClock } from '../util/clock.js';
import { availableParallelism } from 'node:os';
import { startStunUdpService } from '../stun/server/udp-service.js';
import { StunTcpListener, TCP_DEFAULTS } from '../stun/server/tcp-listener.js';
import { socketEndpoint, socketKeys } from '../stun/server/binding-handler.js';
import type { CoreEvent } from '../stun/server/server-core.js';
import { probeNatBehaviour, type ProbeOptions } from '../stun/client/probe.js';
import { formatNatReport } from '../stun/client/report.js';
import { makeLogger } from './event-log.js';
import { udpIoOption, type UdpIoCliOptions } from './udp-io-option.js';

const STUN_PORT = 3478;

function intOption(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}`);
    return n;
  };
}

function ipEndpoint(text: string, what: string): Endpoint {
  const e = parseEndpoint(text, STUN_PORT);
  if (!isIP(e.address)) throw new Error(`${what} must be IP:PORT with a literal IP address, not ${JSON.stringify(text)}`);
  return e;
}

interface ServeOptions extends UdpIoCliOptions {
  listen: string;
  alternate?: string;
  jsonLog?: boolean;
  tcp: boolean;
  software: string | false;
  rateLimit: number;
  burst: number;
  tcpMaxConnections: number;
  tcpMaxPerAddress: number;
  tcpMessageTimeout: number;
  tcpIdleTimeout: number;
  statsInterval: number;
  verbose?: boolean;
  workers: number;
  recvBuffer?: number;
  sendBuffer?: number;
}

async function serve(opts: ServeOptions): Promise<void> {
  const log = makeLogger(!!opts.jsonLog);
  const primary = ipEndpoint(opts.listen, '--listen');
  const alternate = opts.alternate ? ipEndpoint(opts.alternate, '--alternate') : undefined;
  if (alternate && (alternate.address === primary.address || alternate.port === primary.port)) {
    throw new Error('--alternate needs an IP address and a port both different from --listen (RFC 5780 uses all four combinations)');
  }
  const onEvent = opts.verbose
    ? (e: CoreEvent) => log('request', { outcome: e.outcome, from: endpointToString(e.from), on: e.arrivedOn, transport: e.transport, ...(e.detail ? { detail: e.detail } : {}) })
    : undefined;
  const udp = await startStunUdpService(
    {
      addresses: alternate ? { primary, alternate } : { primary },
      software: opts.software === false ? null : opts.software,
      rateLimit: opts.rateLimit > 0 ? { ratePerSecond: opts.rateLimit, burst: Math.max(1, opts.burst) } : null,
    },
    {
      workers: opts.workers,
      udpIo: opts.udpIo,
      buffers: {
        ...(opts.recvBuffer ? { recvBufferSize: opts.recvBuffer } : {}),
        ...(opts.sendBuffer ? { sendBufferSize: opts.sendBuffer } : {}),
      },
      ...(onEvent ? { onEvent } : {}),
      onWorkerExit: (e) => log('worker-exit', { pid: e.pid, code: e.code, signal: e.signal, replaced: e.replaced }),
    },
  );
  const tcp = opts.tcp
    ? await StunTcpListener.start(udp.core, udp.addresses.primary, {
        clock: systemClock,
        maxConnections: opts.tcpMaxConnections,
        maxConnectionsPerAddress: opts.tcpMaxPerAddress,
        messageTimeoutMs: opts.tcpMessageTimeout * 1000,
        idleTimeoutMs: opts.tcpIdleTimeout * 1000,
        onLimit: (e) => log('tcp-limit', { limit: e.limit, from: endpointToString(e.from), count: e.count }),
      })
    : null;
  const rateLimit = opts.rateLimit > 0 ? `${opts.rateLimit}/s burst ${opts.burst}${opts.workers > 1 ? ` per worker (${opts.workers} workers)` : ''}` : 'off';
  log('listening', {
    udp: socketKeys(udp.addresses).map((k) => endpointToString(socketEndpoint(udp.addresses, k))),
    ...(tcp
      ? {
          tcp: endpointToString(tcp.local),
          tcpLimits: `${opts.tcpMaxConnections} connections, ${opts.tcpMaxPerAddress} per address, message ${opts.tcpMessageTimeout} s, idle ${opts.tcpIdleTimeout} s`,
        }
      : {}),
    rfc5780: alternate !== undefined,
    workers: udp.workers,
    udpIo: udp.udpIo,
    rateLimit,
  });
  const withTcp = (c: object) => ({ ...c, ...(tcp ? { tcp: { ...tcp.counters, open: tcp.connections } } : {}) });
  let last = '';
  const stats =
    opts.statsInterval > 0
      ? setInterval(() => {
          void udp.counters().then((c) => {
            const now = JSON.stringify(withTcp(c));
            if (now !== last) log('counters', withTcp(c));
            last = now;
          });
        }, opts.statsInterval * 1000)
      : null;
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  if (stats) clearInterval(stats);
  await tcp?.close();
  const final = await udp.close();
  log('stopped', withTcp(final));
}

interface ProbeCliOptions {
  json?: boolean;
  lifetime?: boolean;
  lifetimeMax: number;
  lifetimeResolution: number;
  local?: string;
  rto: number;
  rc: number;
  rm: number;
  hairpin: boolean;
}

/** The local address the kernel would use toward `to` (connect a UDP socket; nothing is sent). */
async function routeSource(to: Endpoint): Promise<string> {
  const sock = dgram.createSocket(isIP(to.address) === 6 ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.connect(to.port, to.address, () => resolve());
    });
    return sock.address().address;
  } finally {
    sock.close();
  }
}

async function probe(serverText: string, opts: ProbeCliOptions): Promise<number> {
  const parsed = parseEndpoint(serverText, STUN_PORT);
  const address = isIP(parsed.address) ? parsed.address : (await lookup(parsed.address, { family: 4 })).address;
  const server = { address, port: parsed.port };
  const localAddress = opts.local ?? (await routeSource(server));
  const options: ProbeOptions = {
    localAddress,
    retransmit: { rtoMs: opts.rto, maxRequests: opts.rc, lastWaitFactor: opts.rm },
    hairpinning: opts.hairpin,
    lifetime: opts.lifetime ? { maxMs: opts.lifetimeMax * 1000, resolutionMs: opts.lifetimeResolution * 1000 } : false,
    transactionIds: () => new Uint8Array(randomBytes(12)),
  };
  const result = await probeNatBehaviour(nodeNetEnv, server, options);
  process.stdout.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatNatReport(result)}\n`);
  return result.udpBlocked ? 1 : 0;
}

export function registerStunCommands(program: Command): void {
  const stun = program.command('stun').description('STUN server and NAT behaviour discovery (RFC 8489, RFC 5780)');

  stun
    .command('serve')
    .description('run a STUN server; with --alternate, an RFC 5780 behaviour-discovery server on four UDP sockets')
    .requiredOption('--listen <ip:port>', 'primary address and port (UDP, and TCP unless --no-tcp)')
    .option('--alternate <ip:port>', 'alternate address and port, both different from the primary (RFC 5780)')
    .option('--json-log', 'log JSON lines')
    .option('--no-tcp', 'do not listen on TCP')
    .option('--software <text>', 'SOFTWARE attribute value', 'masq')
    .option('--no-software', 'send no SOFTWARE attribute')
    .option('--rate-limit <n>', 'requests per second per source address (0: off)', intOption('--rate-limit', 0), 200)
    .option('--burst <n>', 'requests back to back per source address', intOption('--burst', 1), 400)
    .option('--tcp-max-connections <n>', 'TCP connections at once, all addresses together', intOption('--tcp-max-connections', 1), TCP_DEFAULTS.maxConnections)
    .option('--tcp-max-per-address <n>', 'TCP connections at once from one source address', intOption('--tcp-max-per-address', 1), TCP_DEFAULTS.maxConnectionsPerAddress)
    .option(
      '--tcp-message-timeout <s>',
      'a TCP connection must deliver each whole message within s seconds of its first byte (the first: of connecting)',
      intOption('--tcp-message-timeout', 1, 3600),
      TCP_DEFAULTS.messageTimeoutMs / 1000,
    )
    .option('--tcp-idle-timeout <s>', 'close a TCP connection with no message in flight after s seconds', intOption('--tcp-idle-timeout', 1, 86400), TCP_DEFAULTS.idleTimeoutMs / 1000)
    .option('--stats-interval <s>', 'log counters every s seconds when they change (0: never)', intOption('--stats-interval', 0), 60)
    .option('--verbose', 'log every request that is not a plain success (errors, drops)')
    .option(
      '--workers <n>',
      'processes answering UDP (they share the sockets; the rate limit applies per worker); 1: this process alone',
      intOption('--workers', 1, 256),
      availableParallelism(),
    )
    .option('--recv-buffer <bytes>', 'UDP receive buffer per socket (SO_RCVBUF; capped by net.core.rmem_max)', intOption('--recv-buffer', 1))
    .option('--send-buffer <bytes>', 'UDP send buffer per socket (SO_SNDBUF; capped by net.core.wmem_max)', intOption('--send-buffer', 1))
    .addOption(udpIoOption())
    .action(async (opts: ServeOptions) => {
      await serve(opts);
    });

  stun
    .command('probe')
    .description('discover the NAT between here and an RFC 5780 STUN server: mapping, filtering, hairpinning, port preservation')
    .argument('<server>', 'STUN server host[:port] (port 3478 by default)')
    .option('--json', 'print the result as JSON')
    .option('--lifetime', 'also search the mapping lifetime (slow: about twice --lifetime-max)')
    .option('--lifetime-max <s>', 'upper bound of the lifetime search, seconds', intOption('--lifetime-max', 1), 120)
    .option('--lifetime-resolution <s>', 'stop the search when the bounds are this close, seconds', intOption('--lifetime-resolution', 1), 5)
    .option('--local <ip>', 'local address to bind (default: the one the kernel routes toward the server)')
    .option('--rto <ms>', 'initial retransmission timeout (RFC 8489: 500)', intOption('--rto', 1), 500)
    .option('--rc <n>', 'requests per transaction (RFC 8489: 7)', intOption('--rc', 1, 20), 4)
    .option('--rm <n>', 'wait after the last request, in RTOs (RFC 8489: 16)', intOption('--rm', 1, 64), 4)
    .option('--no-hairpin', 'skip the hairpinning test')
    .action(async (server: string, opts: ProbeCliOptions) => {
      process.exitCode = await probe(server, opts);
    });
}
