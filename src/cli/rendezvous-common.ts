/**
 * What `masq rendezvous`, `masq relay` and `masq punch` share: session key
 * options, endpoint arguments, a NetEnv with cryptographic randomness, logging.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { InvalidArgumentError, type Command } from 'commander';
import { parseEndpoint, type Endpoint, type NetEnv } from '../net/udp.js';
import { netEnvFor, type UdpIo } from '../net/udp-io.js';
import { SessionKeys } from '../rendezvous/protocol/keys.js';
import { CliError } from './errors.js';

/** Real sockets of the kind `udpIo` names, with ids and nonces from the system's CSPRNG. */
export function cryptoNetEnv(udpIo: UdpIo): NetEnv {
  return { ...netEnvFor(udpIo), random: () => randomBytes(4).readUInt32BE(0) / 2 ** 32 };
}

export function intOption(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}`);
    return n;
  };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** IP:PORT with a literal address (for listening). */
export function ipEndpoint(text: string, what: string, defaultPort?: number): Endpoint {
  let e: Endpoint;
  try {
    e = parseEndpoint(text, defaultPort);
  } catch (err) {
    throw new CliError(`${what}: ${(err as Error).message}`);
  }
  if (!isIP(e.address)) throw new CliError(`${what} must be IP:PORT with a literal IP address, not ${JSON.stringify(text)}`);
  return e;
}

/** HOST:PORT, the host resolved to an IPv4 address when it is a name. */
export async function resolveEndpoint(text: string, what: string, defaultPort?: number): Promise<Endpoint> {
  let e: Endpoint;
  try {
    e = parseEndpoint(text, defaultPort);
  } catch (err) {
    throw new CliError(`${what}: ${(err as Error).message}`);
  }
  if (isIP(e.address)) return e;
  try {
    const { address } = await lookup(e.address, { family: 4 });
    return { address, port: e.port };
  } catch {
    throw new CliError(`${what}: cannot resolve ${JSON.stringify(e.address)}`);
  }
}

export interface KeyOptions {
  masterKeyFile?: string;
  session?: string[];
  open?: boolean;
}

/** Adds --master-key-file, --session NAME=SECRET (repeatable) and --open. */
export function addKeyOptions(cmd: Command): Command {
  return cmd
    .option('--master-key-file <path>', 'file holding the master key: each session secret is derived from it (see `masq rendezvous secret`); or set MASQ_MASTER_KEY')
    .option('--session <name=secret>', 'a session and its secret (repeatable)', collect)
    .option('--open', 'sessions not otherwise configured have the empty secret: anyone who knows the name may join');
}

export function readMasterKey(file?: string): Uint8Array | undefined {
  let text: string | undefined;
  if (file) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new CliError(`--master-key-file: ${(err as Error).message}`);
    }
  } else if (process.env.MASQ_MASTER_KEY) text = process.env.MASQ_MASTER_KEY;
  if (text === undefined) return undefined;
  const key = Buffer.from(text.trim(), 'utf8');
  if (key.length < 16) throw new CliError('the master key must be at least 16 bytes (e.g. `openssl rand -hex 32`)');
  return new Uint8Array(key);
}

/** The session keys a server uses, and whether it is open (said at start). */
export function sessionKeysFrom(o: KeyOptions): { keys: SessionKeys; mode: string } {
  const master = readMasterKey(o.masterKeyFile);
  const secrets: Record<string, string> = {};
  for (const s of o.session ?? []) {
    const i = s.indexOf('=');
    if (i <= 0) throw new CliError(`--session wants NAME=SECRET, not ${JSON.stringify(s)}`);
    secrets[s.slice(0, i)] = s.slice(i + 1);
  }
  const listed = Object.keys(secrets).length > 0;
  const open = !!o.open || (!master && !listed);
  const mode = [master ? 'master key' : '', listed ? `${Object.keys(secrets).length} listed session(s)` : '', open ? 'open' : ''].filter(Boolean).join(' + ');
  return { keys: new SessionKeys({ ...(master ? { master } : {}), ...(listed ? { secrets } : {}), open: open && !master }), mode };
}

/** The one line a server logs at start when it runs open. */
export function openWarning(o: KeyOptions, what: string): string {
  const why = o.open ? '--open' : 'no --master-key-file, MASQ_MASTER_KEY or --session given';
  return `running OPEN (${why}): anyone who knows a session name can ${what}; give --master-key-file or --session NAME=SECRET to require a secret`;
}

/** Resolves on SIGINT or SIGTERM. */
export function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => () => {
      process.off('SIGINT', int);
      process.off('SIGTERM', term);
      resolve(sig);
    };
    const int = on('SIGINT');
    const term = on('SIGTERM');
    process.once('SIGINT', int);
    process.once('SIGTERM', term);
  });
}
