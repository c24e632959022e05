/**
 * What every masq server (`stun serve`, `rendezvous serve`, `relay serve`,
 * and the SIP proxy) shares on the command line: one vocabulary of options
 * (--config, --log-level, --metrics, --metrics-token-file), one logger
 * (pino, JSON lines, as the gateway's), and a Prometheus endpoint.
 */
import { readFileSync } from 'node:fs';
import { Hono } from 'hono';
import { Option, type Command } from 'commander';
import { GatewayConfigError } from '../control/config/load.js';
import { LOG_LEVELS } from '../control/config/schema.js';
import { requireRead } from '../control/http/auth.js';
import { isLoopbackHost, listenHttp, ListenError, parseListen, type HttpListener } from '../control/http/serve.js';
import { createServiceLogger, eventLog, type Logger } from '../control/logging.js';
import { createMetricsRegistry, type Registry } from '../control/metrics/registry.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE } from './errors.js';
import { loadServiceConfig, mergeServiceConfig } from './service-config.js';

export interface ServiceOptions {
  config?: string;
  logLevel: string;
  verbose?: boolean;
  metrics?: string;
  metricsTokenFile?: string;
}

/** Adds the shared options to a server command. */
export function addServiceOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'YAML file of these options (keys as the long options: "listen: 0.0.0.0:3478"); the command line wins')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .option('--metrics <ip:port>', 'serve Prometheus metrics at http://IP:PORT/metrics (loopback unless --metrics-token-file)')
    .option('--metrics-token-file <file>', 'a file holding the bearer token /metrics asks for (required off loopback)')
    .addOption(new Option('--json-log', 'logs are always JSON lines now; kept so old command lines still run').hideHelp());
}

/** Reads --config into the options (command-line values stay); a bad file is a usage error with every problem listed. */
export function applyConfigFile<T extends ServiceOptions>(cmd: Command, opts: T): T {
  if (!opts.config) return opts;
  let fromFile: Record<string, unknown>;
  try {
    fromFile = loadServiceConfig(opts.config, cmd);
  } catch (err) {
    if (err instanceof GatewayConfigError) {
      throw new CliError(err.unreadable ? err.message : `invalid configuration (${err.issues.length} problem${err.issues.length === 1 ? '' : 's'}):\n${err.message}`, EXIT_USAGE);
    }
    throw err;
  }
  mergeServiceConfig(cmd, opts as unknown as Record<string, unknown>, fromFile);
  return opts;
}

export interface ServiceRuntime {
  logger: Logger;
  /** Detail (--verbose, or --log-level debug): joins, expiries, requests. */
  debug: (event: string, fields?: Record<string, unknown>) => void;
  info: (event: string, fields?: Record<string, unknown>) => void;
  /** What an operator should always hear: limits hit, running open. */
  warn: (event: string, fields?: Record<string, unknown>) => void;
  registry: Registry;
}

/** The logger and metrics registry of the server `service`. */
export function serviceRuntime(service: string, o: ServiceOptions): ServiceRuntime {
  const level = o.verbose && (o.logLevel === 'info' || o.logLevel === undefined) ? 'debug' : (o.logLevel ?? 'info');
  const logger = createServiceLogger(`masq-${service}`, level);
  return {
    logger,
    debug: eventLog(logger, 'debug'),
    info: eventLog(logger, 'info'),
    warn: eventLog(logger, 'warn'),
    registry: createMetricsRegistry(service),
  };
}

/** Serves /metrics when --metrics was given; null otherwise. */
export async function startMetricsEndpoint(o: ServiceOptions, registry: Registry): Promise<HttpListener | null> {
  if (!o.metrics) return null;
  let host: string;
  try {
    host = parseListen(o.metrics, '--metrics').host;
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  const token = o.metricsTokenFile ? readToken(o.metricsTokenFile) : undefined;
  if (!isLoopbackHost(host) && token === undefined) {
    throw new CliError(`--metrics ${o.metrics} is not a loopback address: give --metrics-token-file too (anyone who reaches it could read the counters)`);
  }
  const app = new Hono();
  app.use('*', requireRead(token === undefined ? {} : { readToken: token }));
  app.get('/metrics', async (c) => c.body(await registry.metrics(), 200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }));
  app.notFound((c) => c.text('only /metrics here\n', 404));
  try {
    return await listenHttp(o.metrics, app, 'metrics endpoint');
  } catch (err) {
    if (err instanceof ListenError) throw new CliError(err.message, EXIT_FAILURE);
    throw err;
  }
}

function readToken(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`--metrics-token-file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const token = text.split('\n')[0].trim();
  if (token.length < 16) throw new CliError(`--metrics-token-file ${file}: the token must be at least 16 characters`);
  return token;
}
