/**
 * `masq conntrack`: what operators use conntrack-tools' `conntrack` for, on a
 * running masq gateway through its operations endpoint:
 *
 *   -L [expect]   list flows (or expectations), filtered    -C   count
 *   -E [expect]   a live event stream (new, update, destroy)
 *   -D            delete the flows a filter matches (with their calls' pinholes)
 *   -F            flush every flow (asks first unless --yes)
 *
 * Filters as conntrack names them: -p, -s/--src, -d/--dst, --sport, --dport,
 * -r/--reply-src, -q/--reply-dst, --state, and masq's --alg. Output as
 * conntrack prints it, or JSON (-o json / --json).
 */
import { createInterface } from 'node:readline/promises';
import { Option, type Command } from 'commander';
import { formatExpectation, formatExpectationEvent, formatFlowEvent, formatFlowLine, formatPortMapping, sortFlows, type EventAction } from '../control/conntrack-format.js';
import type { FlowQuery } from '../control/flow-query.js';
import type { ExpectationJson, ExpectationsResponse, FlowJson, FlowsResponse, PortMappingsResponse } from '../control/status-model.js';
import { CliError } from './errors.js';
import { DEFAULT_STATUS_URL, serverSentEvents, statusJson, statusRequest, type StatusClientOptions } from './status-client.js';

export interface ConntrackOptions extends StatusClientOptions {
  dump?: string | boolean;
  count?: boolean;
  event?: string | boolean;
  delete?: boolean;
  flush?: string | boolean;
  expect?: boolean;
  proto?: string;
  src?: string;
  dst?: string;
  sport?: string;
  dport?: string;
  replySrc?: string;
  replyDst?: string;
  state?: string;
  alg?: string;
  output?: string;
  json?: boolean;
  limit: string;
  call: boolean;
  yes?: boolean;
  maxEvents?: string;
}

/** Where the command writes: the terminal, or a test's buffer. */
export interface ConntrackIo {
  out(line: string): void;
  err(line: string): void;
  /** Asks a yes/no question; null when nobody can answer (not a terminal). */
  confirm(question: string): Promise<boolean | null>;
  signal?: AbortSignal;
}

type Action = 'list' | 'count' | 'events' | 'delete' | 'flush';

function actionOf(o: ConntrackOptions): { action: Action; expect: boolean } {
  const chosen: Action[] = [];
  if (o.dump !== undefined) chosen.push('list');
  if (o.count) chosen.push('count');
  if (o.event !== undefined) chosen.push('events');
  if (o.delete) chosen.push('delete');
  if (o.flush !== undefined) chosen.push('flush');
  if (chosen.length > 1) throw new CliError('give one of -L, -C, -E, -D, -F');
  const table = [o.dump, o.event, o.flush].find((t) => typeof t === 'string');
  if (table !== undefined && table !== 'expect' && table !== 'conntrack') throw new CliError(`unknown table ${JSON.stringify(table)}: conntrack or expect`);
  return { action: chosen[0] ?? 'list', expect: !!o.expect || table === 'expect' };
}

/** The filter options as the endpoint's query string. */
export function queryOf(o: ConntrackOptions): URLSearchParams {
  const q: FlowQuery = {};
  const keys: Array<[keyof ConntrackOptions, keyof FlowQuery]> = [
    ['proto', 'proto'],
    ['src', 'src'],
    ['dst', 'dst'],
    ['sport', 'sport'],
    ['dport', 'dport'],
    ['replySrc', 'reply-src'],
    ['replyDst', 'reply-dst'],
    ['state', 'state'],
    ['alg', 'alg'],
  ];
  for (const [opt, key] of keys) if (typeof o[opt] === 'string') q[key] = o[opt] as string;
  return new URLSearchParams(q as Record<string, string>);
}

function outputOf(o: ConntrackOptions): { json: boolean; extended: boolean; id: boolean } {
  const kinds = (o.output ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const k of kinds) if (!['json', 'extended', 'id'].includes(k)) throw new CliError(`-o ${k}: masq prints json, extended or id`);
  return { json: !!o.json || kinds.includes('json'), extended: kinds.includes('extended'), id: kinds.includes('id') };
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

export async function conntrack(o: ConntrackOptions, io: ConntrackIo): Promise<void> {
  const { action, expect } = actionOf(o);
  const output = outputOf(o);
  const query = queryOf(o);
  const filtered = [...query.keys()].length > 0;
  const withQuery = (path: string, extra: Record<string, string> = {}) => {
    const q = new URLSearchParams(query);
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    const s = q.toString();
    return s ? `${path}?${s}` : path;
  };
  if (expect && filtered && action !== 'events') throw new CliError('filters apply to flows; list expectations without them (-L expect)');

  switch (action) {
    case 'list': {
      if (expect) {
        const r = await statusJson<ExpectationsResponse>(o, 'expectations');
        if (output.json) io.out(JSON.stringify(r, null, 2));
        else {
          for (const e of r.expectations) io.out(formatExpectation(e));
          io.err(`masq conntrack: ${r.total} expectation entries have been shown.`);
        }
        return;
      }
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 0) throw new CliError(`--limit must be a non-negative integer, not ${JSON.stringify(o.limit)}`);
      const r = await statusJson<FlowsResponse>(o, withQuery('flows', { limit: String(limit) }));
      // Port mappings (PCP, NAT-PMP, UPnP) are listed with the flows when no filter is given;
      // a gateway without them (or a masq before them) answers 404: none.
      const none: PortMappingsResponse = { total: 0, portMappings: [] };
      const pm = filtered ? none : await statusJson<PortMappingsResponse>(o, 'portmappings').catch(() => none);
      if (output.json) {
        io.out(JSON.stringify(pm.total ? { ...r, portMappings: pm.portMappings } : r, null, 2));
        return;
      }
      for (const f of sortFlows(r.flows)) io.out(formatFlowLine(f, output));
      for (const m of pm.portMappings) io.out(formatPortMapping(m));
      const more = r.truncated ? ` (of ${r.total}; raise --limit for more)` : '';
      const maps = pm.portMappings.length ? `, ${pm.portMappings.length} port mapping entries` : '';
      io.err(`masq conntrack: ${r.flows.length} flow entries${maps} have been shown${more}.`);
      return;
    }
    case 'count': {
      if (expect) {
        io.out(String((await statusJson<ExpectationsResponse>(o, 'expectations')).total));
        return;
      }
      io.out(String((await statusJson<{ count: number }>(o, withQuery('flows/count'))).count));
      return;
    }
    case 'delete': {
      if (expect) throw new CliError('-D deletes flows (an expectation goes with the call of the flow that opened it)');
      if (!filtered) throw new CliError('-D needs a filter (-p, -s, -d, --sport, --dport, --state, --alg, ...); to delete everything use -F');
      const r = await statusJson<{ flows: number; expectations: number }>(o, withQuery('flows/delete', o.call ? {} : { call: '0' }), { method: 'POST', control: true });
      if (output.json) io.out(JSON.stringify(r));
      else io.err(`masq conntrack: ${r.flows} flow ${r.flows === 1 ? 'entry has' : 'entries have'} been deleted${r.expectations ? `, with ${plural(r.expectations, 'expectation')} of their calls` : ''}.`);
      return;
    }
    case 'flush': {
      if (expect) throw new CliError('-F expect is not supported: flushing flows (-F) removes their calls\' expectations too');
      if (!o.yes) {
        const n = (await statusJson<{ count: number }>(o, 'flows/count')).count;
        const answer = await io.confirm(`delete all ${plural(n, 'flow')} of the gateway at ${o.status}? [y/N] `);
        if (answer === null) throw new CliError('-F deletes every flow: confirm with --yes (no terminal to ask on)');
        if (!answer) {
          io.err('masq conntrack: nothing flushed.');
          return;
        }
      }
      const r = await statusJson<{ flows: number; expectations: number }>(o, 'flows/flush', { method: 'POST', control: true });
      if (output.json) io.out(JSON.stringify(r));
      else io.err(`masq conntrack: connection tracking table has been emptied (${plural(r.flows, 'flow')}, ${plural(r.expectations, 'expectation')}).`);
      return;
    }
    case 'events':
      await events(o, io, withQuery('events', expect ? { flows: '0' } : {}), output);
      return;
  }
}

async function events(o: ConntrackOptions, io: ConntrackIo, path: string, output: { json: boolean; extended: boolean; id: boolean }): Promise<void> {
  const max = o.maxEvents === undefined ? Infinity : Number(o.maxEvents);
  if (!(max >= 1) || !Number.isInteger(max === Infinity ? 1 : max)) throw new CliError(`--max-events must be a positive integer, not ${JSON.stringify(o.maxEvents)}`);
  const res = await statusRequest(o, path, { stream: true, ...(io.signal ? { signal: io.signal } : {}) });
  let shown = 0;
  try {
    for await (const e of serverSentEvents(res)) {
      if (e.event === 'flow') {
        const m = JSON.parse(e.data) as { action: EventAction; reason?: string; flow: FlowJson };
        io.out(output.json ? JSON.stringify({ type: m.action, ...(m.reason ? { reason: m.reason } : {}), flow: m.flow }) : formatFlowEvent(m.action, m.flow, output));
      } else if (e.event === 'expectation') {
        const m = JSON.parse(e.data) as { action: EventAction; expectation: ExpectationJson };
        io.out(output.json ? JSON.stringify({ type: m.action, expectation: m.expectation }) : formatExpectationEvent(m.action, m.expectation));
      } else continue;
      if (++shown >= max) break;
    }
  } catch (err) {
    if (!io.signal?.aborted) throw err;
  }
  io.err(`masq conntrack: ${shown} flow events have been shown.`);
}

/** The terminal's io: lines to stdout and stderr, questions on the terminal, Ctrl-C ends -E. */
function terminalIo(): ConntrackIo {
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    signal: abort.signal,
    async confirm(question) {
      if (!process.stdin.isTTY) return null;
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return /^y(es)?$/i.test((await rl.question(question)).trim());
      } finally {
        rl.close();
      }
    },
  };
}

export function registerConntrackCommands(program: Command): void {
  program
    .command('conntrack')
    .description('the flows of a running masq gateway, as conntrack does: -L list, -C count, -E events, -D delete, -F flush')
    .option('-L, --dump [table]', 'list flows (the default), or expectations with "expect"')
    .option('-C, --count', 'count the flows a filter matches')
    .option('-E, --event [table]', 'print flow events as they happen (new, update, destroy); "expect" for expectations only')
    .option('-D, --delete', 'delete the flows a filter matches, with the pinholes and flows of their calls')
    .option('-F, --flush [table]', 'delete every flow (asks first; --yes to skip)')
    .option('-p, --proto <proto>', 'tcp, udp, icmp or a protocol number')
    .option('-s, --src <ip>', 'source address, original direction')
    .option('-d, --dst <ip>', 'destination address, original direction')
    .option('--sport <port>', 'source port, original direction')
    .option('--dport <port>', 'destination port, original direction')
    .option('-r, --reply-src <ip>', 'source address, reply direction')
    .option('-q, --reply-dst <ip>', 'destination address, reply direction')
    .option('--state <states>', 'TCP states (ESTABLISHED,TIME_WAIT,...), or ASSURED / UNREPLIED')
    .option('--alg <name>', 'flows an ALG watches (sip), or "none"')
    .option('-o, --output <kinds>', 'json, extended (layer 3 first) or id, comma-separated')
    .option('--json', 'JSON (as -o json)')
    .option('--limit <n>', 'most flows to list', '10000')
    .option('--no-call', '-D: delete only the matching flows, not their calls\' pinholes and flows')
    .option('-y, --yes', '-F: do not ask')
    .option('--max-events <n>', '-E: stop after n events')
    .option('--status <url>', 'the gateway status endpoint', DEFAULT_STATUS_URL)
    .option('--token-file <file>', 'the token the endpoint asks for (else MASQ_STATUS_TOKEN; changes use the control token file the gateway wrote)')
    .addOption(new Option('--expect', 'the same as -L expect').hideHelp())
    .action(async (opts: ConntrackOptions) => {
      await conntrack(opts, terminalIo());
    });
}
