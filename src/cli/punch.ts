/**
 * `masq punch`: join a rendezvous session, connect to every peer, print the
 * path to each (direct public, direct local, predicted, birthday, relayed) and
 * the time it took from the introduction.
 *
 * It waits for --peers peers (or --timeout), then up to --wait-direct for every
 * relayed path to turn direct, prints, and keeps answering for --linger
 * seconds so the peers finish too (or forever with --stay, printing changes).
 *
 * --portmap (default auto): ask the default gateway to map the punch socket's
 * port with PCP, NAT-PMP or UPnP IGD and offer the mapping to the peers.
 */
import { networkInterfaces } from 'node:os';
import type { Command } from 'commander';
import { endpointToString, type Endpoint } from '../net/udp.js';
import { tryParseIpv4 } from '../wire/address.js';
import type { PortmapVia } from '../portmap/client.js';
import { PunchClient } from '../rendezvous/client/punch-client.js';
import type { PortmapOptions } from '../rendezvous/client/port-mapper.js';
import { describeNat } from '../rendezvous/client/nat-kind.js';
import type { PeerStatus, PunchEvent } from '../rendezvous/client/types.js';
import { CliError } from './errors.js';
import { clientAddressFor, defaultGateway } from './local-network.js';
import { udpIoOption, type UdpIoCliOptions } from './udp-io-option.js';
import { cryptoNetEnv, intOption, ipEndpoint, resolveEndpoint } from './rendezvous-common.js';

interface PunchOptions extends UdpIoCliOptions {
  server: string;
  session: string;
  secret?: string;
  name?: string;
  json?: boolean;
  peers: number;
  timeout: number;
  waitDirect: number;
  linger: number;
  stay?: boolean;
  relay?: string | false;
  bind?: string;
  local?: string;
  keepalive: number;
  verbose?: boolean;
  portmap: string;
  portmapGateway?: string;
}

const PORTMAP_MODES = ['auto', 'pcp', 'natpmp', 'upnp', 'off'];

/** What to ask of which gateway, or null (off, or no gateway to ask). */
function portmapRequest(o: PunchOptions, bind: Endpoint | undefined): PortmapOptions | null {
  if (!PORTMAP_MODES.includes(o.portmap)) throw new CliError(`--portmap must be one of ${PORTMAP_MODES.join(', ')}`);
  if (o.portmap === 'off') return null;
  const gateway = o.portmapGateway ?? defaultGateway();
  if (gateway === null) return null;
  if (tryParseIpv4(gateway) === null) throw new CliError(`--portmap-gateway: an IPv4 address, not ${JSON.stringify(gateway)}`);
  const client = bind && bind.address !== '0.0.0.0' ? bind.address : clientAddressFor(gateway);
  if (!client) return null;
  return { gateway, client, via: o.portmap as PortmapVia | 'auto' };
}

/** How a path is named in the output. */
function pathLabel(p: PeerStatus): string {
  if (!p.path) return 'none';
  if (!p.path.direct) return 'relayed';
  return `direct ${p.path.kind}`;
}

function localAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) out.push(a.address);
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function punch(o: PunchOptions): Promise<void> {
  const server = await resolveEndpoint(o.server, '--server', 7000);
  const bind = o.bind ? ipEndpoint(o.bind, '--bind', 0) : undefined;
  let relay: Endpoint | null | undefined;
  if (o.relay === false) relay = null;
  else if (o.relay) relay = await resolveEndpoint(o.relay, '--relay', 7100);
  const portmap = portmapRequest(o, bind);
  const locals = o.local ? o.local.split(',').map((s) => s.trim()).filter(Boolean) : bind && bind.address !== '0.0.0.0' ? [bind.address] : localAddresses();
  const say = (line: string) => {
    if (!o.json) process.stdout.write(`${line}\n`);
  };
  const started = Date.now();
  let client: PunchClient;
  try {
    client = await PunchClient.start(cryptoNetEnv(o.udpIo), {
      server,
      session: o.session,
      ...(o.secret !== undefined ? { secret: o.secret } : {}),
      ...(o.name !== undefined ? { name: o.name } : {}),
      ...(bind ? { bind } : {}),
      localAddresses: locals,
      ...(relay !== undefined ? { relay } : {}),
      keepaliveMs: o.keepalive * 1000,
      portmap,
      wallClock: Date.now,
      ...(o.verbose ? { log: (e, f) => process.stderr.write(`${e} ${JSON.stringify(f ?? {})}\n`) } : {}),
    });
  } catch (err) {
    throw new CliError(`cannot join ${o.session} at ${endpointToString(server)}: ${(err as Error).message}`, 1);
  }
  say(`joined session ${JSON.stringify(o.session)} as ${client.id}: public ${endpointToString(client.publicEndpoint!)}, ${describeNat(client.natKind)}`);
  const mapping = () => client.portMapping;
  const describeMapping = () => {
    const m = mapping();
    if (m) return `port mapping ${endpointToString(m.external)} (${m.via}, ${m.lifetime} s)`;
    return portmap ? `no port mapping from ${portmap.gateway}` : 'no port mapping (--portmap off or no default gateway)';
  };
  say(describeMapping());
  const describe = (p: PeerStatus) => {
    const t = p.path ? p.path.since - p.introducedAt : null;
    return `peer ${p.id}${p.name ? ` (${p.name})` : ''}: ${pathLabel(p)}${p.path ? ` ${endpointToString(p.path.remote)}` : ''}${t !== null ? ` in ${t.toFixed(0)} ms` : ''}${p.path?.rttMs != null ? `, rtt ${p.path.rttMs.toFixed(1)} ms` : ''}`;
  };
  if (o.verbose || o.stay) {
    client.on((e: PunchEvent) => {
      if (e.type === 'path') say(`${describe(e.peer)}${e.previous ? ` (was ${e.previous.direct ? 'direct' : 'relayed'})` : ''}`);
      else if (e.type === 'path-lost') say(`peer ${e.peer.id}: path lost, punching again`);
      else if (e.type === 'peer-left') say(`peer ${e.peerId} left`);
      else if (e.type === 'server-lost') say(`rendezvous server unreachable: ${e.error}`);
      else if (e.type === 'portmap') say(describeMapping());
    });
  }
  // Phase 1: enough peers with some path; phase 2: give relayed paths time to turn direct.
  const deadline = started + o.timeout * 1000;
  // A peer counts once the server introduced it too: a hello can come first, and the output
  // needs what the introduction says (its name, its endpoints).
  const withPath = () => client.peers().filter((p) => p.path !== null && p.state !== 'gone' && p.info !== null);
  while (Date.now() < deadline && withPath().length < o.peers) await sleep(50);
  const directDeadline = Math.min(deadline + o.waitDirect * 1000, Date.now() + o.waitDirect * 1000);
  while (Date.now() < directDeadline && withPath().some((p) => !p.path!.direct)) await sleep(50);
  const peers = client.peers().filter((p) => p.state !== 'gone');
  const connected = peers.filter((p) => p.path !== null);
  if (o.json) {
    process.stdout.write(
      `${JSON.stringify({
        session: o.session,
        id: client.id,
        public: client.publicEndpoint,
        nat: client.natKind,
        portmap: mapping() ? { via: mapping()!.via, external: endpointToString(mapping()!.external), lifetime: mapping()!.lifetime } : null,
        peers: peers.map((p) => ({
          id: p.id,
          name: p.name ?? null,
          path: pathLabel(p),
          kind: p.path?.kind ?? null,
          direct: p.path?.direct ?? false,
          remote: p.path ? endpointToString(p.path.remote) : null,
          timeMs: p.path ? Math.round(p.path.since - p.introducedAt) : null,
          firstPathMs: p.firstPathAt !== null ? Math.round(p.firstPathAt - p.introducedAt) : null,
          rttMs: p.path?.rttMs ?? null,
          history: p.history.map((h) => ({ atMs: Math.round(h.at - p.introducedAt), kind: h.kind, remote: endpointToString(h.remote) })),
          birthdayProbes: p.birthdayProbes,
          birthdaySockets: p.birthdaySockets,
        })),
      })}\n`,
    );
  } else {
    if (peers.length === 0) say('no peers');
    for (const p of peers) say(describe(p));
  }
  if (o.stay) await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  else await sleep(o.linger * 1000);
  await client.close();
  if (connected.length < o.peers) process.exitCode = 1;
}

export function registerPunchCommands(program: Command): void {
  program
    .command('punch')
    .description('join a rendezvous session, punch through to every peer, print each path and the time it took')
    .requiredOption('--server <host:port>', 'the rendezvous server (port default 7000)')
    .requiredOption('--session <name>', 'the session to join')
    .option('--secret <secret>', 'the session secret (default empty: open sessions)')
    .option('--name <name>', 'a name the other peers see')
    .option('--json', 'print the result as one JSON object')
    .option('--peers <n>', 'wait for this many peers', intOption('--peers', 0, 1000), 1)
    .option('--timeout <s>', 'give up waiting for the peers after this long', intOption('--timeout', 1, 86400), 30)
    .option('--wait-direct <s>', 'then wait up to this long for relayed paths to turn direct', intOption('--wait-direct', 0, 3600), 15)
    .option('--linger <s>', 'after printing, keep answering the peers this long before leaving', intOption('--linger', 0, 3600), 3)
    .option('--stay', 'stay in the session until interrupted, printing path changes')
    .option('--relay <host:port>', 'relay to fall back to (default: the one the server advertises)')
    .option('--no-relay', 'never relay')
    .option('--bind <ip:port>', 'local address and port (default: every address, an ephemeral port)')
    .option('--local <ips>', 'comma-separated local addresses to announce (default: this host\'s non-loopback IPv4 addresses)')
    .option('--keepalive <s>', 'keepalive interval on a path', intOption('--keepalive', 1, 3600), 15)
    .option('--verbose', 'print path changes and protocol events as they happen')
    .option('--portmap <mode>', 'ask the gateway to map the punch port and offer the mapping to peers: auto (PCP, then NAT-PMP, then UPnP IGD), pcp, natpmp, upnp or off', 'auto')
    .option('--portmap-gateway <ip>', 'the gateway to ask (default: the default route\'s)')
    .addOption(udpIoOption())
    .action(async (o: PunchOptions) => punch(o));
}
