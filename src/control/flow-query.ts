/**
 * Flow filters as people write them (conntrack's options, the dashboard's
 * boxes, the status endpoint's query string) turned into the engine's
 * numeric FlowFilter. One vocabulary for all three:
 *
 *   proto    tcp | udp | icmp | a number
 *   src dst  original direction addresses;  sport dport  its ports
 *   reply-src reply-dst   reply direction addresses
 *   address  any endpoint's address;        port  any endpoint's port
 *   state    TCP states, comma-separated (ESTABLISHED,TIME_WAIT), or
 *            ASSURED / UNREPLIED for traffic both ways or not
 *   alg      the ALG attached (sip), or "none"
 */
import type { FlowFilter } from '../nat/flow-filter.js';
import { tryParseIpv4 } from '../wire/address.js';

export const FLOW_QUERY_KEYS = ['proto', 'src', 'dst', 'sport', 'dport', 'reply-src', 'reply-dst', 'address', 'port', 'state', 'alg'] as const;
export type FlowQueryKey = (typeof FLOW_QUERY_KEYS)[number];
export type FlowQuery = Partial<Record<FlowQueryKey, string>>;

export const TCP_STATES = ['NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'TIME_WAIT', 'CLOSE'] as const;

export class FlowQueryError extends Error {
  override name = 'FlowQueryError';
}

const PROTOCOLS: Record<string, number> = { tcp: 6, udp: 17, icmp: 1 };

function address(key: string, text: string): number {
  const a = tryParseIpv4(text);
  if (a === null) throw new FlowQueryError(`${key}: ${JSON.stringify(text)} is not an IPv4 address`);
  return a;
}

function port(key: string, text: string): number {
  const n = Number(text);
  if (!/^\d{1,5}$/.test(text) || n > 65535) throw new FlowQueryError(`${key}: ${JSON.stringify(text)} is not a port (0-65535)`);
  return n;
}

/** The query's filter; `algIds` gives an ALG's engine helper ids (empty when unknown). */
export function flowFilterOf(q: FlowQuery, algIds: (name: string) => ReadonlySet<number>): FlowFilter {
  const f: FlowFilter = {};
  const text = (k: FlowQueryKey) => {
    const v = q[k]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const proto = text('proto');
  if (proto !== undefined) {
    const n = PROTOCOLS[proto.toLowerCase()] ?? (/^\d{1,3}$/.test(proto) ? Number(proto) : NaN);
    if (!(n >= 0 && n <= 255)) throw new FlowQueryError(`proto: ${JSON.stringify(proto)} is not tcp, udp, icmp or a protocol number`);
    f.proto = n;
  }
  const addr = (k: FlowQueryKey, set: (a: number) => void) => {
    const v = text(k);
    if (v !== undefined) set(address(k, v));
  };
  const prt = (k: FlowQueryKey, set: (p: number) => void) => {
    const v = text(k);
    if (v !== undefined) set(port(k, v));
  };
  addr('src', (a) => (f.src = a));
  addr('dst', (a) => (f.dst = a));
  addr('reply-src', (a) => (f.replySrc = a));
  addr('reply-dst', (a) => (f.replyDst = a));
  addr('address', (a) => (f.address = a));
  prt('sport', (p) => (f.sport = p));
  prt('dport', (p) => (f.dport = p));
  prt('port', (p) => (f.port = p));
  const state = text('state');
  if (state !== undefined) {
    const tcp = new Set<string>();
    for (const s of state.toUpperCase().split(',').map((x) => x.trim()).filter(Boolean)) {
      if (s === 'ASSURED') f.replied = true;
      else if (s === 'UNREPLIED') f.replied = false;
      else if ((TCP_STATES as readonly string[]).includes(s)) tcp.add(s);
      else throw new FlowQueryError(`state: ${JSON.stringify(s)} is not one of ${[...TCP_STATES, 'ASSURED', 'UNREPLIED'].join(', ')}`);
    }
    if (tcp.size > 0) f.tcpStates = tcp;
  }
  const alg = text('alg');
  if (alg !== undefined) {
    if (alg === 'none') f.helpers = new Set([0]);
    else {
      const ids = algIds(alg);
      if (ids.size === 0) throw new FlowQueryError(`alg: no ALG named ${JSON.stringify(alg)} runs here`);
      f.helpers = ids;
    }
  }
  return f;
}

/** The query's keys from a URL's search parameters (unknown keys are an error: a typo must not list everything). */
export function flowQueryOf(params: URLSearchParams, ignore: readonly string[] = []): FlowQuery {
  const q: FlowQuery = {};
  for (const [k, v] of params) {
    if (ignore.includes(k)) continue;
    if (!(FLOW_QUERY_KEYS as readonly string[]).includes(k)) throw new FlowQueryError(`unknown filter ${JSON.stringify(k)}; filters: ${FLOW_QUERY_KEYS.join(', ')}`);
    q[k as FlowQueryKey] = v;
  }
  return q;
}
