/**
 * `masq portmap`: ask a gateway for a port mapping with PCP, NAT-PMP or UPnP
 * IGD (whichever it speaks, or the one named), delete it, or ask for the
 * external address: masq's own client for the port mapping protocols
 * (docs/portmap.md).
 *
 *   masq portmap map --gateway 10.0.1.1 --proto udp --port 4000 [--external 4000] [--lifetime 3600] [--via pcp]
 *   masq portmap delete --gateway 10.0.1.1 --proto udp --port 4000 [--via pcp]
 */
import type { Command } from 'commander';
import { endpointToString } from '../net/udp.js';
import { mapPort, type MapPortOptions, type PortmapVia } from '../portmap/client.js';
import { tryParseIpv4 } from '../wire/address.js';
import { CliError } from './errors.js';
import { clientAddressFor, defaultGateway } from './local-network.js';
import { cryptoNetEnv, intOption } from './rendezvous-common.js';

interface PortmapCliOptions {
  gateway?: string;
  client?: string;
  proto: string;
  port: number;
  external?: number;
  lifetime: number;
  via: string;
  timeout: number;
  json?: boolean;
  nonce?: string;
}

async function run(o: PortmapCliOptions, lifetime: number): Promise<void> {
  const gateway = o.gateway ?? defaultGateway();
  if (!gateway || tryParseIpv4(gateway) === null) throw new CliError('--gateway: give the gateway\'s inside IPv4 address (no default route to take it from)');
  const client = o.client ?? clientAddressFor(gateway);
  if (!client) throw new CliError('--client: this host\'s IPv4 address toward the gateway (none found)');
  if (o.proto !== 'udp' && o.proto !== 'tcp') throw new CliError('--proto must be udp or tcp');
  if (!['auto', 'pcp', 'natpmp', 'upnp'].includes(o.via)) throw new CliError('--via must be auto, pcp, natpmp or upnp');
  if (o.nonce !== undefined && !/^[0-9a-f]{24}$/i.test(o.nonce)) throw new CliError('--nonce: 24 hex digits (the nonce map printed)');
  const request: MapPortOptions = {
    gateway,
    client,
    proto: o.proto,
    internalPort: o.port,
    ...(o.external !== undefined ? { externalPort: o.external } : {}),
    lifetime,
    via: o.via as PortmapVia | 'auto',
    timeoutMs: o.timeout * 1000,
    description: 'masq portmap',
    ...(o.nonce !== undefined ? { nonce: Uint8Array.from(Buffer.from(o.nonce, 'hex')) } : {}),
  };
  let r;
  try {
    r = await mapPort(cryptoNetEnv('dgram'), request);
  } catch (err) {
    throw new CliError(`${lifetime === 0 ? 'delete' : 'map'} ${o.proto}/${o.port} at ${gateway}: ${(err as Error).message}`, 1);
  }
  if (o.json) process.stdout.write(`${JSON.stringify({ ...r, internal: { address: client, port: o.port }, proto: o.proto })}\n`);
  else if (lifetime === 0) process.stdout.write(`deleted ${o.proto} ${client}:${o.port} (${r.via})\n`);
  else process.stdout.write(`mapped ${o.proto} ${endpointToString(r.external)} -> ${client}:${o.port} for ${r.lifetime} s (${r.via}${r.epoch !== null ? `, epoch ${r.epoch}` : ''}${r.nonce ? `, nonce ${r.nonce}` : ''})\n`);
}

export function registerPortmapCommands(program: Command): void {
  const pm = program.command('portmap').description('ask a gateway for a port mapping (PCP, NAT-PMP or UPnP IGD); see docs/portmap.md');
  const common = (c: Command) =>
    c
      .option('--gateway <addr>', 'the gateway\'s inside address (default: the default route\'s)')
      .option('--client <addr>', 'this host\'s address toward the gateway (default: found from the interfaces)')
      .option('--proto <udp|tcp>', 'protocol', 'udp')
      .requiredOption('--port <n>', 'the internal port', intOption('--port', 1, 65535))
      .option('--via <protocol>', 'auto, pcp, natpmp or upnp', 'auto')
      .option('--timeout <s>', 'seconds to wait for the gateway', intOption('--timeout', 1, 60), 3)
      .option('--json', 'print the result as JSON')
      .option('--nonce <hex>', 'PCP: the nonce map printed, to renew or delete that mapping');
  common(pm.command('map').description('map a port (or renew its mapping)'))
    .option('--external <n>', 'the external port wanted (default: the internal port)', intOption('--external', 1, 65535))
    .option('--lifetime <s>', 'seconds', intOption('--lifetime', 1, 0xffffffff), 3600)
    .action(async (o: PortmapCliOptions) => run(o, o.lifetime));
  common(pm.command('delete').description('delete the mapping of a port'))
    .option('--external <n>', 'the external port (UPnP deletes by it; default: the internal port)', intOption('--external', 1, 65535))
    .action(async (o: PortmapCliOptions) => run(o, 0));
}
