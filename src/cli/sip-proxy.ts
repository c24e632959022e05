/**
 * `masq sip-proxy --config FILE`: the SIP proxy and registrar for phones
 * behind NATs, with its media relay, until SIGINT or SIGTERM. `--check`
 * validates the file only; `--no-kernel` keeps media in user space.
 * `masq sip-proxy calls` lists the live calls of a running proxy.
 */
import type { Command } from 'commander';
import { GatewayConfigError } from '../control/config/load.js';
import { loadSipProxyConfigFile, type LoadedSipProxyConfig } from '../sipproxy/config/load.js';
import { SipProxyServer } from '../sipproxy/server.js';
import { formatCalls, type CallsResponse } from '../sipproxy/status/calls-model.js';
import { CliError } from './errors.js';
import { untilSignal } from './rendezvous-common.js';

interface RunOptions {
  config?: string;
  check?: boolean;
  kernel?: boolean;
}

function load(file: string): LoadedSipProxyConfig {
  try {
    return loadSipProxyConfigFile(file);
  } catch (err) {
    if (err instanceof GatewayConfigError) {
      if (err.unreadable) throw new CliError(err.message, 2);
      throw new CliError(`invalid configuration (${err.issues.length} problem${err.issues.length === 1 ? '' : 's'}):\n${err.message}`, 2);
    }
    throw err;
  }
}

function summary(l: LoadedSipProxyConfig): string {
  const c = l.config;
  return [
    `${l.source}: OK`,
    `  listen ${c.listen.map((x) => `${x.transport}:${x.address}:${x.port ?? (x.transport === 'tls' ? 5061 : 5060)}`).join(', ')}`,
    `  ${c.mode === 'path' ? `path mode, registrar ${c.registrar}` : `registrar for ${[...c.domains].join(', ') || 'its own addresses'}`}, next hop ${c.nextHop ?? 'the Request-URI'}`,
    `  relay ${c.media.address} ports ${c.media.ports.min}-${c.media.ports.max}, latching ${c.media.latching}, firewall ${c.media.firewall}, kernel ${c.media.kernel}`,
    `  store ${c.store ? c.store.redis : 'memory'}, ng ${c.ng?.listen ?? 'off'}, status ${c.status === false ? 'off' : `http://${c.status.listen}`}`,
  ].join('\n');
}

async function run(o: RunOptions): Promise<void> {
  if (!o.config) throw new CliError('--config FILE is required (see docs/sip-proxy.md)', 2);
  const loaded = load(o.config);
  if (o.check) {
    process.stdout.write(`${summary(loaded)}\n`);
    return;
  }
  let server: SipProxyServer;
  try {
    server = await SipProxyServer.start(loaded, { noKernel: o.kernel === false });
  } catch (err) {
    throw new CliError(`sip-proxy did not start: ${(err as Error).message}`, 1);
  }
  const onCrash = (err: Error) => {
    server.log.fatal({ event: 'crash', err }, 'uncaught error; stopping');
    void server.stop('crash').finally(() => process.exit(1));
  };
  process.on('uncaughtException', onCrash);
  const signal = await untilSignal();
  await server.stop(signal);
  process.off('uncaughtException', onCrash);
}

async function listCalls(o: { status: string; json?: boolean }): Promise<void> {
  const url = `${o.status.replace(/\/$/, '')}/calls`;
  let body: CallsResponse;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = (await res.json()) as CallsResponse;
  } catch (err) {
    throw new CliError(`cannot read ${url}: ${(err as Error).message} (is masq sip-proxy running with status on?)`, 1);
  }
  process.stdout.write(o.json ? `${JSON.stringify(body, null, 2)}\n` : formatCalls(body));
}

export function registerSipProxyCommands(program: Command): void {
  const cmd = program
    .command('sip-proxy')
    .description('SIP proxy and registrar for phones behind NATs, with an RTP relay (see docs/sip-proxy.md)')
    .option('-c, --config <file>', 'YAML configuration file')
    .option('--check', 'validate the configuration file and exit (0: valid)')
    .option('--no-kernel', 'never hand media streams to the kernel (user-space relay only)')
    .action(async (o: RunOptions) => run(o));
  cmd
    .command('calls')
    .description('list the live calls of a running proxy: legs, relay ports, latched sources, packets, user space or kernel')
    .option('--status <url>', 'the proxy\'s status endpoint', 'http://127.0.0.1:5081')
    .option('--json', 'print JSON')
    .action(async (o: { status: string; json?: boolean }) => listCalls(o));
}
