/**
 * `masq conntrack`: the live flows of a running gateway, read from its status
 * endpoint and printed like conntrack-tools' `conntrack -L` (or as JSON).
 */
import type { Command } from 'commander';
import { formatExpectation, formatFlow, formatPortMapping, sortFlows } from '../control/conntrack-format.js';
import type { ExpectationsResponse, FlowsResponse, PortMappingsResponse } from '../control/status-model.js';
import { CliError } from './errors.js';

const DEFAULT_STATUS_URL = 'http://127.0.0.1:8787';

interface ConntrackOptions {
  status: string;
  json?: boolean;
  expect?: boolean;
  limit: string;
}

async function getJson<T>(base: string, path: string): Promise<T> {
  let url: URL;
  try {
    url = new URL(path, base.endsWith('/') ? base : `${base}/`);
  } catch {
    throw new CliError(`--status ${JSON.stringify(base)} is not a URL such as ${DEFAULT_STATUS_URL}`);
  }
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new CliError(`cannot reach the gateway status endpoint at ${url.origin} (${cause}): is masq gateway running, with status enabled?`, 1);
  }
  if (!res.ok) throw new CliError(`${url.href}: HTTP ${res.status} ${await res.text()}`, 1);
  return (await res.json()) as T;
}

async function run(opts: ConntrackOptions): Promise<void> {
  const limit = Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 0) throw new CliError('--limit must be a non-negative integer');
  if (opts.expect) {
    const r = await getJson<ExpectationsResponse>(opts.status, 'expectations');
    if (opts.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    else {
      for (const e of r.expectations) process.stdout.write(`${formatExpectation(e)}\n`);
      process.stderr.write(`masq conntrack: ${r.total} expectation entries have been shown.\n`);
    }
    return;
  }
  const r = await getJson<FlowsResponse>(opts.status, `flows?limit=${limit}`);
  // Port mappings (PCP, NAT-PMP, UPnP) are listed with the flows; a gateway without them answers 404.
  const pm = await getJson<PortMappingsResponse>(opts.status, 'portmappings').catch(() => ({ total: 0, portMappings: [] }));
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ ...r, portMappings: pm.portMappings }, null, 2)}\n`);
    return;
  }
  for (const f of sortFlows(r.flows)) process.stdout.write(`${formatFlow(f)}\n`);
  for (const m of pm.portMappings) process.stdout.write(`${formatPortMapping(m)}\n`);
  const more = r.truncated ? ` (of ${r.total}; raise --limit for more)` : '';
  const maps = pm.portMappings.length ? `, ${pm.portMappings.length} port mapping entries` : '';
  process.stderr.write(`masq conntrack: ${r.flows.length} flow entries${maps} have been shown${more}.\n`);
}

export function registerConntrackCommands(program: Command): void {
  program
    .command('conntrack')
    .description('list the live flows (or expectations) of a running masq gateway, like conntrack -L')
    .option('--status <url>', 'the gateway status endpoint', DEFAULT_STATUS_URL)
    .option('--json', 'print the JSON the endpoint serves')
    .option('--expect', 'list expectations (pinholes opened by ALGs) instead of flows')
    .option('--limit <n>', 'most flows to fetch', '10000')
    .action(async (opts: ConntrackOptions) => {
      await run(opts);
    });
}
