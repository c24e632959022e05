/**
 * Where a request goes, and how the proxy keeps later requests coming back
 * through itself.
 *
 * Record-Route: on a dialog-creating request the proxy adds two entries
 * (RFC 5658 double record-routing): the top one faces the callee, the other
 * the caller, each naming the listener that side reaches. An in-dialog
 * request carries both back, in the order of its sender's route set, so the
 * first one the proxy finds says where the request came from and where it
 * goes. Each entry carries a signed flow token (flow.ts): the callee-facing
 * entry the caller's flow, the caller-facing entry the callee's flow when
 * the callee is a phone registered here. That is how a request reaches a
 * phone behind a NAT whose Contact names a private address, without
 * rewriting the Contact (which RFC 3261 forbids a proxy) and without state.
 *
 * Path (RFC 3327): in front of another registrar the proxy adds a Path
 * entry with the phone's flow; the registrar routes requests for the phone
 * through it, and the proxy sends them down that flow.
 */
import { formatSipHost } from '../../alg/sip/host.js';
import { findParam } from '../../alg/sip/params.js';
import { latin1 } from '../../alg/text/latin1.js';
import type { AddressEntry } from '../../alg/sip/address.js';
import type { Uri } from '../../alg/sip/uri.js';
import type { Flow, FlowTokens, SipTransport } from './flow.js';
import type { RouteEntry, SipInfo } from './message-info.js';
import type { ListenerInfo } from './transport.js';

/** A Record-Route or Path entry of this proxy: which side it faces, and the flow it carries. */
export type RouteRole = 'a' | 'b' | 'p';

export interface PoppedRoutes {
  entries: RouteEntry[];
  /** The role of the first of them, or null when none had one (a plain outbound-proxy Route). */
  role: RouteRole | null;
  /** The flow of the first of them (valid MAC), or null. */
  flow: Flow | null;
  /** A role was present but its token was bad (forged or from another secret). */
  badToken: boolean;
}

export type Target =
  | { kind: 'flow'; flow: Flow }
  | { kind: 'address'; transport: SipTransport; host: string; port: number };

export interface OurAddresses {
  /** Host texts (lower case) that name this proxy: advertised hosts, bind addresses, configured aliases. */
  hosts: ReadonlySet<string>;
  /** Ports of its listeners. */
  ports: ReadonlySet<number>;
}

function uriTransport(b: Uint8Array, uri: Uri): SipTransport {
  const tp = findParam(b, uri.params, 'transport');
  const t = tp?.value ? latin1(b, tp.value.start, tp.value.end).toLowerCase() : '';
  if (t === 'tcp') return 'tcp';
  if (t === 'tls' || uri.scheme === 'sips') return 'tls';
  return 'udp';
}

/** host[:port] of a sip/sips URI as a target (the default port per RFC 3263 when absent), or null. */
export function uriTarget(b: Uint8Array, uri: Uri | null): Target | null {
  if (!uri || !uri.hostPort || (uri.scheme !== 'sip' && uri.scheme !== 'sips')) return null;
  const transport = uriTransport(b, uri);
  const hp = uri.hostPort;
  const host = hp.kind === 'ipv6' ? latin1(b, hp.host.start + 1, hp.host.end - 1) : latin1(b, hp.host.start, hp.host.end);
  // maddr overrides the host (RFC 3261 19.1.1).
  const maddr = findParam(b, uri.params, 'maddr');
  const to = maddr?.value ? latin1(b, maddr.value.start, maddr.value.end) : host;
  return { kind: 'address', transport, host: to, port: hp.portNumber ?? (transport === 'tls' ? 5061 : 5060) };
}

/** Does the URI name this proxy (host and port)? */
export function namesUs(b: Uint8Array, uri: Uri | null, us: OurAddresses): boolean {
  if (!uri || !uri.hostPort || (uri.scheme !== 'sip' && uri.scheme !== 'sips')) return false;
  const hp = uri.hostPort;
  const host = (hp.kind === 'ipv6' ? latin1(b, hp.host.start + 1, hp.host.end - 1) : latin1(b, hp.host.start, hp.host.end)).toLowerCase();
  if (!us.hosts.has(host)) return false;
  const port = hp.portNumber ?? (uriTransport(b, uri) === 'tls' ? 5061 : 5060);
  return us.ports.has(port);
}

function param(b: Uint8Array, e: AddressEntry, name: string): string | null {
  if (!e.uri) return null;
  const p = findParam(b, e.uri.params, name);
  return p?.value ? latin1(b, p.value.start, p.value.end) : null;
}

/** The Route entries at the top that name this proxy (loose routing, RFC 3261 16.4), with what the first of them carries. */
export function popOurRoutes(info: SipInfo, us: OurAddresses, tokens: FlowTokens): PoppedRoutes {
  const b = info.m.bytes;
  const entries: RouteEntry[] = [];
  for (const r of info.routes) {
    if (!namesUs(b, r.entry.uri, us)) break;
    entries.push(r);
  }
  let role: RouteRole | null = null;
  let flow: Flow | null = null;
  let badToken = false;
  if (entries.length > 0) {
    const first = entries[0].entry;
    const r = param(b, first, 'mr');
    if (r === 'a' || r === 'b' || r === 'p') {
      role = r;
      const token = param(b, first, 'mf');
      if (token !== null) {
        flow = tokens.decode(r, token);
        if (flow === null) badToken = true;
      }
    }
  }
  return { entries, role, flow, badToken };
}

function ourUri(l: ListenerInfo, role: RouteRole, token: string | null): string {
  const transport = l.transport === 'udp' ? '' : `;transport=${l.transport}`;
  return `<sip:${formatSipHost(l.host)}:${l.port}${transport};lr;mr=${role}${token ? `;mf=${token}` : ''}>`;
}

/** The two Record-Route entries, callee-facing first. */
export function recordRouteLines(tokens: FlowTokens, towardCallee: ListenerInfo, towardCaller: ListenerInfo, callerFlow: Flow, calleeFlow: Flow | null): string[] {
  return [
    `Record-Route: ${ourUri(towardCallee, 'b', tokens.encode('b', callerFlow))}`,
    `Record-Route: ${ourUri(towardCaller, 'a', calleeFlow ? tokens.encode('a', calleeFlow) : null)}`,
  ];
}

export function pathLine(tokens: FlowTokens, towardRegistrar: ListenerInfo, phone: Flow): string {
  return `Path: ${ourUri(towardRegistrar, 'p', tokens.encode('p', phone))}`;
}

/** Is a Record-Route entry one of this proxy's (by its role parameter and host)? */
export function isOurRecordRoute(b: Uint8Array, e: AddressEntry, us: OurAddresses): boolean {
  return namesUs(b, e.uri, us) && param(b, e, 'mr') !== null;
}

/** Methods that create a dialog: the proxy record-routes them. */
export const DIALOG_METHODS = new Set(['INVITE', 'SUBSCRIBE', 'REFER']);
