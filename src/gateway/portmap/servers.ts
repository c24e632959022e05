/**
 * The port mapping servers on the gateway's inside addresses: PCP and
 * NAT-PMP on UDP 5351, SSDP on UDP 1900 (multicast 239.255.255.250) and the
 * UPnP description and control URLs over HTTP. Only inside hosts are
 * answered; what they may map is the service's policy. At start the PCP
 * server multicasts ANNOUNCE and the NAT-PMP server its external address to
 * 224.0.0.1:5350 (RFC 6887 14.1.3, RFC 6886 3.2.1): with the epoch going on
 * when the state was restored, from 0 when it was not, so clients that lost
 * their mappings map again.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { networkInterfaces } from 'node:os';
import type { Logger } from '../../control/logging.js';
import type { PortmapConfig } from '../../control/config/portmap-schema.js';
import type { NatEngine } from '../../nat/engine.js';
import { encodeNatPmpResponse, NATPMP_ANNOUNCE_GROUP, NATPMP_CLIENT_PORT, NATPMP_PORT, NatPmpResult } from '../../portmap/natpmp.js';
import { encodePcpResponse, PcpResult } from '../../portmap/pcp.js';
import { rootDescription, UPNP_PATHS, UPNP_TYPES, WANCOMMON_SCPD, WANIP_SCPD } from '../../portmap/upnp/description.js';
import { parseSoapAction } from '../../portmap/upnp/soap.js';
import { parseMSearch, searchMatches, searchResponse, SSDP_GROUP, SSDP_PORT, type SsdpDevice, aliveNotify } from '../../portmap/upnp/ssdp.js';
import { tryParseIpv4 } from '../../wire/address.js';
import { answerPortmapRequest } from './pcp-handler.js';
import type { PortmapService } from './service.js';
import { answerUpnpAction } from './upnp-actions.js';

const MAX_HTTP_BODY = 16 * 1024;
/** Announcements at start: at once, then after 1, 2, 4 and 8 seconds. */
const ANNOUNCE_DELAYS_MS = [0, 1000, 2000, 4000, 8000];

/** What arrived at the servers and what became of it (GET /counters, under portmap). */
export interface PortmapServerCounters {
  /** PCP and NAT-PMP datagrams on port 5351. */
  requests: number;
  /** Datagrams and connections from addresses that are not inside: dropped (HTTP: 403). */
  notInside: number;
  /** PCP/NAT-PMP datagrams left unanswered, as the RFCs say for runts, responses and unknown versions. */
  unanswered: number;
  ssdpSearches: number;
  /** SSDP datagrams that were not an M-SEARCH masq answers (NOTIFY, damaged). */
  ssdpIgnored: number;
  httpRequests: number;
  /** HTTP requests refused: unknown path or method, body too large, not a SOAP action. */
  httpRefused: number;
}

export class PortmapServers {
  readonly counters: PortmapServerCounters = { requests: 0, notInside: 0, unanswered: 0, ssdpSearches: 0, ssdpIgnored: 0, httpRequests: 0, httpRefused: 0 };
  readonly #udp: Socket[] = [];
  readonly #http: Server[] = [];
  readonly #timers: NodeJS.Timeout[] = [];
  #closed = false;

  private constructor(
    readonly listen: string[],
    private readonly config: Exclude<PortmapConfig, false>,
    private readonly service: PortmapService,
    private readonly engine: NatEngine,
    private readonly log: Logger,
    private readonly startedAt: number,
    private readonly uuid: string,
  ) {}

  /** Binds every server on every listen address; throws (after closing what was bound) when one cannot bind. */
  static async start(
    config: Exclude<PortmapConfig, false>,
    insideInterfaces: readonly string[],
    service: PortmapService,
    engine: NatEngine,
    log: Logger,
    uuid: string,
  ): Promise<PortmapServers> {
    const listen = config.listen ?? addressesOf(insideInterfaces);
    if (listen.length === 0) throw new Error(`portmap: no IPv4 address on ${insideInterfaces.join(', ')} to listen on (set portmap.listen)`);
    const s = new PortmapServers(listen, config, service, engine, log, Date.now(), uuid);
    try {
      if (config.pcp || config.natpmp) for (const a of listen) await s.bindPortmap(a);
      if (config.upnp) {
        await s.bindSsdp();
        for (const a of listen) await s.bindHttp(a);
      }
    } catch (err) {
      await s.close();
      throw err;
    }
    s.#timers.push(setInterval(() => service.noteExpired(), 1000));
    for (const ms of ANNOUNCE_DELAYS_MS) s.#timers.push(setTimeout(() => s.announce(), ms));
    log.info(
      { event: 'portmap-start', listen, pcp: config.pcp, natpmp: config.natpmp, upnp: config.upnp, epoch: service.epoch(), epochContinued: service.epochContinued },
      'port mapping servers listening',
    );
    return s;
  }

  /** The servers' counters and the service's (mappings held, requests refused). */
  stats(): PortmapServerCounters & Record<string, number> {
    return { ...this.counters, ...this.service.stateful.counters() };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    for (const u of this.#udp) u.close();
    await Promise.all(this.#http.map((h) => new Promise<void>((r) => h.close(() => r()))));
  }

  private bindUdp(address: string, port: number, onMessage: (msg: Buffer, from: { address: string; port: number }, socket: Socket) => void, reuse = false): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const sock = createSocket({ type: 'udp4', reuseAddr: reuse });
      sock.once('error', reject);
      sock.on('message', (msg, rinfo) => {
        try {
          onMessage(msg, rinfo, sock);
        } catch (err) {
          this.log.error({ event: 'portmap-error', err }, 'port mapping request handling failed');
        }
      });
      sock.bind(port, address, () => {
        sock.off('error', reject);
        sock.on('error', (err) => this.log.warn({ event: 'portmap-error', err: err.message }, 'port mapping socket error'));
        this.#udp.push(sock);
        resolve(sock);
      });
    });
  }

  private async bindPortmap(address: string): Promise<void> {
    const sock = await this.bindUdp(address, NATPMP_PORT, (msg, from, s) => {
      this.counters.requests++;
      const source = tryParseIpv4(from.address);
      if (source === null || !this.engine.isInside(source)) {
        this.counters.notInside++;
        return;
      }
      const answer = answerPortmapRequest(this.service, this.config, new Uint8Array(msg), source);
      if (answer) s.send(answer, from.port, from.address);
      else this.counters.unanswered++;
    });
    sock.setMulticastInterface(address);
    sock.setMulticastTTL(1);
  }

  /** PCP ANNOUNCE and the NAT-PMP external address, to every host on the inside links. */
  private announce(): void {
    if (this.#closed) return;
    const epoch = this.service.epoch();
    for (const s of this.#udp) {
      if (s.address().port !== NATPMP_PORT) continue;
      const source = tryParseIpv4(s.address().address) ?? 0;
      if (this.config.pcp) s.send(encodePcpResponse({ opcode: 'announce', result: PcpResult.success, lifetime: 0, epoch, options: [] }), NATPMP_CLIENT_PORT, NATPMP_ANNOUNCE_GROUP);
      if (this.config.natpmp) {
        s.send(encodeNatPmpResponse({ op: 'external-address', result: NatPmpResult.success, epoch, address: this.service.externalAddressFor(source) }), NATPMP_CLIENT_PORT, NATPMP_ANNOUNCE_GROUP);
      }
    }
  }

  private device(listen: string): SsdpDevice {
    return {
      uuid: `uuid:${this.uuid}`,
      location: `http://${listen}:${this.config.upnpHttpPort}${UPNP_PATHS.root}`,
      server: 'Linux UPnP/1.1 masq/0.1',
      types: UPNP_TYPES,
      maxAge: 1800,
    };
  }

  private async bindSsdp(): Promise<void> {
    const sock = await this.bindUdp('0.0.0.0', SSDP_PORT, (msg, from, s) => {
      const source = tryParseIpv4(from.address);
      if (source === null || !this.engine.isInside(source)) {
        this.counters.notInside++;
        return;
      }
      const search = parseMSearch(new Uint8Array(msg));
      if (!search) {
        this.counters.ssdpIgnored++;
        return;
      }
      this.counters.ssdpSearches++;
      const listen = nearest(this.listen, source);
      const d = this.device(listen);
      for (const m of searchMatches(d, search.st)) s.send(searchResponse(d, m, new Date()), from.port, from.address);
    }, true);
    for (const a of this.listen) {
      sock.addMembership(SSDP_GROUP, a);
      sock.setMulticastInterface(a);
      const d = this.device(a);
      for (const m of searchMatches(d, 'ssdp:all')) sock.send(aliveNotify(d, m), SSDP_PORT, SSDP_GROUP);
    }
  }

  private bindHttp(address: string): Promise<void> {
    const server = createServer((req, res) => this.http(address, req, res));
    server.requestTimeout = 5000;
    server.headersTimeout = 5000;
    server.keepAliveTimeout = 2000;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.upnpHttpPort, address, () => {
        server.off('error', reject);
        this.#http.push(server);
        resolve();
      });
    });
  }

  private http(listen: string, req: IncomingMessage, res: ServerResponse): void {
    this.counters.httpRequests++;
    const source = tryParseIpv4((req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''));
    if (source === null || !this.engine.isInside(source)) {
      this.counters.notInside++;
      res.writeHead(403).end();
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    const xml = (body: string, status = 200) => {
      res.writeHead(status, { 'content-type': 'text/xml; charset="utf-8"', 'content-length': Buffer.byteLength(body), server: 'Linux UPnP/1.1 masq/0.1', connection: 'close' });
      res.end(body);
    };
    if (req.method === 'GET') {
      if (path === UPNP_PATHS.root) return xml(rootDescription({ uuid: `uuid:${this.uuid}`, baseUrl: `http://${listen}:${this.config.upnpHttpPort}/`, friendlyName: 'masq gateway' }));
      if (path === UPNP_PATHS.wanipScpd) return xml(WANIP_SCPD);
      if (path === UPNP_PATHS.wancommonScpd) return xml(WANCOMMON_SCPD);
      this.counters.httpRefused++;
      res.writeHead(404).end();
      return;
    }
    if (req.method !== 'POST' || (path !== UPNP_PATHS.wanipControl && path !== UPNP_PATHS.wancommonControl)) {
      this.counters.httpRefused++;
      res.writeHead(req.method === 'SUBSCRIBE' ? 412 : 404).end();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_HTTP_BODY) {
        this.counters.httpRefused++;
        res.writeHead(413).end();
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_HTTP_BODY) return;
      const action = parseSoapAction(req.headers.soapaction as string | undefined, Buffer.concat(chunks).toString('utf8'));
      if (!action) {
        this.counters.httpRefused++;
        return xml('', 400);
      }
      const answer = answerUpnpAction(this.service, action, source, Math.round((Date.now() - this.startedAt) / 1000));
      xml(answer.body, answer.status);
    });
  }
}

/** The IPv4 addresses of the named interfaces. */
function addressesOf(interfaces: readonly string[]): string[] {
  const all = networkInterfaces();
  return interfaces.flatMap((name) => (all[name] ?? []).filter((a) => a.family === 'IPv4').map((a) => a.address));
}

/** The listen address sharing the longest prefix with the host (its own LAN's). */
function nearest(listen: readonly string[], host: number): string {
  let best = listen[0];
  let bestBits = -1;
  for (const a of listen) {
    const x = (tryParseIpv4(a) ?? 0) ^ host;
    const bits = x === 0 ? 32 : Math.clz32(x);
    if (bits > bestBits) [best, bestBits] = [a, bits];
  }
  return best;
}
