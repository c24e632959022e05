/**
 * The port mapping client: asks the gateway for a mapping with PCP, NAT-PMP
 * or UPnP IGD, whichever it speaks, and says what it got. Written against
 * NetEnv (src/net/udp.ts) for the UDP protocols, so the same code runs on a
 * real network and in the simulator; UPnP's HTTP goes through `fetch`.
 *
 *   const m = await mapPort(env, { gateway: '10.0.1.1', client: '10.0.1.2', proto: 'udp', internalPort: 4000, lifetime: 3600 });
 *   // { via: 'pcp', external: { address: '203.0.113.1', port: 4000 }, lifetime: 3600, epoch: 12 }
 *
 * `auto` tries PCP and NAT-PMP at once (one port, 5351, two versions) and
 * UPnP beside them, and takes the first that maps. Retransmission as the
 * RFCs have it, bounded by the caller's timeout.
 */
import type { Endpoint, NetEnv, UdpSocket } from '../net/udp.js';
import { ipv4ToString, tryParseIpv4 } from '../wire/address.js';
import { decodeNatPmpResponse, encodeNatPmpRequest, NATPMP_PORT, type NatPmpResponse } from './natpmp.js';
import { decodePcpResponse, encodePcpRequest, ipv4OfMapped, mappedIpv4, PCP_CLIENT_PORT, PCP_PORT, PCP_RESULT_NAMES, PcpResult, type PcpResponse } from './pcp.js';
import { IGD_DEVICE, WANIP_SERVICE } from './upnp/description.js';
import { soapRequest } from './upnp/soap.js';
import { mSearch, responseLocation, SSDP_GROUP, SSDP_PORT } from './upnp/ssdp.js';
import { childTexts, elementText } from './upnp/xml.js';

export type PortmapVia = 'pcp' | 'natpmp' | 'upnp';

export interface MapPortOptions {
  /** The gateway's inside address (PCP and NAT-PMP go there; UPnP finds its own by SSDP). */
  gateway: string;
  /** This host's address as the gateway sees it (PCP puts it in its requests). */
  client: string;
  proto: 'udp' | 'tcp';
  internalPort: number;
  /** The external port wanted; default the internal port. */
  externalPort?: number;
  /** Seconds; 0 deletes. */
  lifetime: number;
  via?: PortmapVia | 'auto';
  /** Give up after this long (ms); default 3000. */
  timeoutMs?: number;
  description?: string;
  /** For UPnP's HTTP; default the global fetch. */
  fetch?: typeof fetch;
  /**
   * PCP: the mapping nonce (12 bytes) of an earlier request, to renew or
   * delete that mapping (RFC 6887 11.3: another nonce is not authorized);
   * default a new random one.
   */
  nonce?: Uint8Array;
}

export interface PortMappingResult {
  via: PortmapVia;
  external: Endpoint;
  /** Seconds granted (0 after a deletion). */
  lifetime: number;
  /** PCP's or NAT-PMP's epoch time (seconds), null for UPnP. */
  epoch: number | null;
  /** PCP: the mapping's nonce (hex), which a later renewal or deletion must carry. */
  nonce?: string;
}

export class PortmapError extends Error {
  override name = 'PortmapError';
}

/** Resolves with the first response `accept` takes, resending on the schedule (ms from the start); rejects after timeoutMs. */
function exchange<T>(env: NetEnv, socket: UdpSocket, to: Endpoint, request: Uint8Array, schedule: readonly number[], timeoutMs: number, accept: (d: Uint8Array, from: Endpoint) => T | null): Promise<T> {
  return new Promise((resolve, reject) => {
    const timers: object[] = [];
    const done = (f: () => void) => {
      for (const t of timers) env.scheduler.clearTimeout(t as never);
      socket.onMessage(() => {});
      f();
    };
    socket.onMessage((d, from) => {
      let v: T | null = null;
      try {
        v = accept(d, from);
      } catch {
        v = null; // not an answer: wait for one
      }
      if (v !== null) done(() => resolve(v as T));
    });
    for (const at of schedule) if (at < timeoutMs) timers.push(env.scheduler.setTimeout(() => socket.send(request, to), at));
    timers.push(env.scheduler.setTimeout(() => done(() => reject(new PortmapError(`no answer from ${to.address}:${to.port} within ${timeoutMs} ms`))), timeoutMs));
  });
}

/** PCP (RFC 6887) retransmits from 3 s doubling; NAT-PMP (RFC 6886) from 250 ms doubling. A first quick repeat helps lossy links. */
const PCP_SCHEDULE = [0, 250, 3000, 9000, 21000];
const NATPMP_SCHEDULE = [0, 250, 750, 1750, 3750, 7750];

const NATPMP_ONLY = 'natpmp-only' as const;

export async function pcpMap(env: NetEnv, o: MapPortOptions): Promise<PortMappingResult> {
  const client = tryParseIpv4(o.client);
  if (client === null) throw new PortmapError(`PCP needs this host's IPv4 address, not ${JSON.stringify(o.client)}`);
  const nonce = o.nonce ?? Uint8Array.from({ length: 12 }, () => Math.floor(env.random() * 256));
  if (nonce.length !== 12) throw new PortmapError('a PCP nonce is 12 bytes');
  const request = encodePcpRequest({
    opcode: 'map',
    lifetime: o.lifetime,
    client: mappedIpv4(client),
    nonce,
    protocol: o.proto === 'udp' ? 17 : 6,
    internalPort: o.internalPort,
    externalPort: o.externalPort ?? o.internalPort,
    externalAddress: new Uint8Array(16),
    options: [],
  });
  const socket = await env.bindUdp({});
  try {
    const r = await exchange<PcpResponse | typeof NATPMP_ONLY>(env, socket, { address: o.gateway, port: PCP_PORT }, request, PCP_SCHEDULE, o.timeoutMs ?? 3000, (d, from) => {
      if (from.address !== o.gateway) return null;
      // A NAT-PMP-only gateway answers "unsupported version": fall back now, not after the timeout (RFC 6887 9).
      if (d.length >= 4 && d[0] === 0 && d[1] >= 128 && ((d[2] << 8) | d[3]) === 1) return NATPMP_ONLY;
      const res = decodePcpResponse(d);
      // The nonce ties the answer to this request (RFC 6887 11.4); an error answer may carry none.
      if (res.opcode !== 'map' || (res.result === 0 && !sameBytes(res.nonce, nonce))) return null;
      return res;
    });
    if (r === NATPMP_ONLY) throw new PortmapError('PCP: unsupported version (the gateway speaks NAT-PMP only)');
    if (r.opcode !== 'map') throw new PortmapError('PCP: not a MAP answer');
    if (r.result !== 0) throw new PortmapError(`PCP: ${PCP_RESULT_NAMES[r.result] ?? `result ${r.result}`}`);
    const addr = ipv4OfMapped(r.externalAddress);
    return { via: 'pcp', external: { address: addr === null ? '' : ipv4ToString(addr), port: r.externalPort }, lifetime: r.lifetime, epoch: r.epoch, nonce: hex(nonce) };
  } finally {
    socket.close();
  }
}

/**
 * Listens for the gateway's unsolicited PCP ANNOUNCE (RFC 6887 14.1.3): a
 * server that restarted multicasts it to 224.0.0.1:5350 (or sends it to the
 * client's port 5350), so its clients can check the epoch and make again the
 * mappings it lost. Only a successful ANNOUNCE from the gateway's address and
 * PCP port counts. Null when port 5350 cannot be bound (another client holds
 * it): the renewals at half the lifetime still catch the restart, later.
 */
export async function listenPcpAnnounce(env: NetEnv, gateway: string, onAnnounce: (epoch: number) => void): Promise<UdpSocket | null> {
  let socket: UdpSocket;
  try {
    socket = await env.bindUdp({ port: PCP_CLIENT_PORT });
  } catch {
    return null;
  }
  socket.onMessage((d, from) => {
    if (from.address !== gateway || from.port !== PCP_PORT) return;
    let r: PcpResponse;
    try {
      r = decodePcpResponse(d);
    } catch {
      return; // NAT-PMP's announcement on the same port, or noise
    }
    if (r.opcode === 'announce' && r.result === PcpResult.success) onAnnounce(r.epoch);
  });
  return socket;
}

const NATPMP_RESULTS = ['success', 'unsupported version', 'not authorized', 'network failure', 'out of resources', 'unsupported opcode'];

export async function natpmpMap(env: NetEnv, o: MapPortOptions): Promise<PortMappingResult> {
  const socket = await env.bindUdp({});
  const to = { address: o.gateway, port: NATPMP_PORT };
  const ask = <T extends NatPmpResponse['op']>(op: T, request: Uint8Array) =>
    exchange(env, socket, to, request, NATPMP_SCHEDULE, o.timeoutMs ?? 3000, (d, from) => {
      if (from.address !== o.gateway) return null;
      const r = decodeNatPmpResponse(d);
      return r.op === op ? (r as Extract<NatPmpResponse, { op: T }>) : null;
    });
  try {
    const address = await ask('external-address', encodeNatPmpRequest({ op: 'external-address' }));
    if (address.result !== 0) throw new PortmapError(`NAT-PMP: ${NATPMP_RESULTS[address.result] ?? `result ${address.result}`}`);
    const r = await ask('map', encodeNatPmpRequest({ op: 'map', proto: o.proto, internalPort: o.internalPort, suggestedPort: o.externalPort ?? o.internalPort, lifetime: o.lifetime }));
    if (r.result !== 0) throw new PortmapError(`NAT-PMP: ${NATPMP_RESULTS[r.result] ?? `result ${r.result}`}`);
    return { via: 'natpmp', external: { address: ipv4ToString(address.address), port: r.externalPort }, lifetime: r.lifetime, epoch: r.epoch };
  } finally {
    socket.close();
  }
}

/** The WANIPConnection control URL of the first IGD that answers an M-SEARCH. */
async function discoverIgd(env: NetEnv, o: MapPortOptions, get: typeof fetch): Promise<string> {
  const socket = await env.bindUdp({});
  let location: string;
  try {
    location = await exchange(env, socket, { address: SSDP_GROUP, port: SSDP_PORT }, mSearch(IGD_DEVICE, 1), [0, 500, 1000], o.timeoutMs ?? 3000, (d) => responseLocation(d));
  } finally {
    socket.close();
  }
  const desc = await (await get(location, { signal: AbortSignal.timeout(o.timeoutMs ?? 3000) })).text();
  // The service element naming WANIPConnection: its controlURL, against URLBase or the description's own URL.
  const services = desc.split(/<service>/i).slice(1);
  const wanip = services.find((s) => (elementText(s, 'serviceType') ?? '').startsWith('urn:schemas-upnp-org:service:WANIPConnection:'));
  const control = wanip ? elementText(wanip, 'controlURL') : null;
  if (!control) throw new PortmapError(`UPnP: ${location} describes no WANIPConnection service`);
  return new URL(control, elementText(desc, 'URLBase') || location).href;
}

async function soap(get: typeof fetch, url: string, action: string, args: ReadonlyArray<[string, string | number]>, timeoutMs: number): Promise<Map<string, string>> {
  const res = await get(url, {
    method: 'POST',
    headers: { 'content-type': 'text/xml; charset="utf-8"', soapaction: `"${WANIP_SERVICE}#${action}"` },
    body: soapRequest(WANIP_SERVICE, action, args),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = await res.text();
  if (!res.ok) throw new PortmapError(`UPnP ${action}: error ${elementText(body, 'errorCode') ?? res.status} ${elementText(body, 'errorDescription') ?? ''}`.trim());
  return childTexts(body, `${action}Response`) ?? new Map();
}

export async function upnpMap(env: NetEnv, o: MapPortOptions): Promise<PortMappingResult> {
  const get = o.fetch ?? fetch;
  const timeout = o.timeoutMs ?? 3000;
  const control = await discoverIgd(env, o, get);
  const external = (await soap(get, control, 'GetExternalIPAddress', [], timeout)).get('NewExternalIPAddress') ?? '';
  const port = o.externalPort ?? o.internalPort;
  if (o.lifetime === 0) {
    await soap(get, control, 'DeletePortMapping', [['NewRemoteHost', ''], ['NewExternalPort', port], ['NewProtocol', o.proto.toUpperCase()]], timeout);
    return { via: 'upnp', external: { address: external, port }, lifetime: 0, epoch: null };
  }
  await soap(
    get,
    control,
    'AddPortMapping',
    [
      ['NewRemoteHost', ''],
      ['NewExternalPort', port],
      ['NewProtocol', o.proto.toUpperCase()],
      ['NewInternalPort', o.internalPort],
      ['NewInternalClient', o.client],
      ['NewEnabled', 1],
      ['NewPortMappingDescription', o.description ?? 'masq'],
      ['NewLeaseDuration', o.lifetime],
    ],
    timeout,
  );
  return { via: 'upnp', external: { address: external, port }, lifetime: o.lifetime, epoch: null };
}

/**
 * Maps (or with lifetime 0, deletes) a port through whichever protocol the
 * gateway speaks: PCP, then NAT-PMP, then UPnP, each given a second (a
 * gateway that speaks one answers at once), so only one of them maps.
 */
export async function mapPort(env: NetEnv, o: MapPortOptions): Promise<PortMappingResult> {
  const via = o.via ?? 'auto';
  if (via === 'pcp') return pcpMap(env, o);
  if (via === 'natpmp') return natpmpMap(env, o);
  if (via === 'upnp') return upnpMap(env, o);
  const each = Math.min(1000, o.timeoutMs ?? 3000);
  const reasons: string[] = [];
  for (const attempt of [pcpMap, natpmpMap, upnpMap]) {
    try {
      return await attempt(env, { ...o, timeoutMs: attempt === upnpMap ? Math.max(each, (o.timeoutMs ?? 3000) - 2 * each) : each });
    } catch (err) {
      reasons.push((err as Error).message);
    }
  }
  throw new PortmapError(`no port mapping protocol answered: ${reasons.join('; ')}`);
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
