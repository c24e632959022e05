/**
 * `masq sip-proxy` assembled from a loaded configuration: the stores
 * (memory or Redis), the media relay with its nftables table (pinholes, and
 * the kernel's NAT maps when it forwards media), the SIP listeners and the
 * proxy, the ng control port, and the status endpoint. stop() undoes it in
 * reverse order; the nftables table is always removed.
 */
import { randomBytes } from 'node:crypto';
import dns from 'node:dns/promises';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { pino, type Logger } from 'pino';
import { systemScheduler } from '../util/clock.js';
import { cryptoUniform } from '../util/random.js';
import type { LoadedSipProxyConfig } from './config/load.js';
import { defaultPort } from './config/load.js';
import type { SipProxyConfig } from './config/schema.js';
import { MediaRelay, type KernelForwarding, type PinholeControl } from './media/relay.js';
import { netRelayBinder } from './media/net-binder.js';
import type { RelaySocketBinder } from './media/endpoint.js';
import { NftSession } from '../net/nft-session.js';
import { createTable, deleteTable, tableId } from './kernel/table.js';
import { NftPinholes, pinholeControl } from './kernel/pinholes.js';
import { NftKernelForwarding } from './kernel/forwarding.js';
import { MemoryCallStore, MemoryLocationStore } from './store/memory.js';
import { RedisStores } from './store/redis.js';
import { ResilientLocationStore, type StoreHealth } from './store/resilient.js';
import type { CallStore, LocationStore } from './store/stores.js';
import { SipProxy, type AddressTarget } from './sip/proxy.js';
import { Transports } from './transport/transports.js';
import { NgServer } from './ng/server.js';
import { callView, type CallsResponse } from './status/calls-model.js';
import { startStatus, type RunningStatus } from './status/server.js';

export interface StartOptions {
  /** --no-kernel: never hand streams to the kernel, whatever the file says. */
  noKernel?: boolean;
  /** Where logs go (default stdout). */
  logger?: Logger;
}

/** sip:host[:port][;transport=x] (validated by the schema) as a target. */
export function parseTargetUri(uri: string): AddressTarget {
  const m = /^(sips?):([A-Za-z0-9.-]+)(?::(\d+))?(?:;transport=(udp|tcp|tls))?$/i.exec(uri);
  if (!m) throw new Error(`not a SIP URI: ${uri}`);
  const transport = (m[4]?.toLowerCase() ?? (m[1].toLowerCase() === 'sips' ? 'tls' : 'udp')) as AddressTarget['transport'];
  return { transport, host: m[2], port: m[3] ? Number(m[3]) : defaultPort(transport) };
}

function isRoot(): boolean {
  return process.platform === 'linux' && process.getuid?.() === 0;
}

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';

export class SipProxyServer {
  private readonly stops: Array<() => Promise<void> | void> = [];
  proxy!: SipProxy;
  relay!: MediaRelay;
  transports!: Transports;
  /** The shared store's health (Redis), when there is one. */
  storeHealth: (() => StoreHealth) | null = null;
  ng: NgServer | null = null;
  status: RunningStatus | null = null;
  pinholes: NftPinholes | null = null;
  kernel: NftKernelForwarding | null = null;
  private relayBinder: RelaySocketBinder | null = null;
  nft: NftSession | null = null;
  readonly log: Logger;
  readonly id: string;

  private constructor(
    readonly loaded: LoadedSipProxyConfig,
    o: StartOptions,
  ) {
    this.log = o.logger ?? pino({ level: loaded.config.log.level, base: { service: 'masq-sip-proxy' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 1, sync: true }));
    this.id = loaded.config.id ?? `${hostname()}-${process.pid}`;
  }

  static async start(loaded: LoadedSipProxyConfig, o: StartOptions = {}): Promise<SipProxyServer> {
    const s = new SipProxyServer(loaded, o);
    try {
      await s.startAll(o);
    } catch (err) {
      await s.stop('start-failed');
      throw err;
    }
    return s;
  }

  private logFn = (event: string, fields: Record<string, unknown>): void => {
    const level = event.endsWith('error') || event.endsWith('failed') ? 'warn' : 'debug';
    this.log[level]({ event, ...fields }, event);
  };

  private async startAll(o: StartOptions): Promise<void> {
    const c: SipProxyConfig = this.loaded.config;
    const root = isRoot();
    const firewall = c.media.firewall === 'on' || (c.media.firewall === 'auto' && root);
    const kernel = !o.noKernel && (c.media.kernel === 'on' || (c.media.kernel === 'auto' && root));
    const table = tableId(c.media.table);
    const log = this.logFn;

    if (firewall || kernel) {
      createTable({ name: c.media.table, relayAddress: c.media.address, minPort: c.media.ports.min, maxPort: c.media.ports.max, pinholes: firewall, kernel });
      this.stops.push(() => {
        this.nft?.close();
        deleteTable(c.media.table);
      });
      this.nft = new NftSession({ table, log });
      if (firewall) this.pinholes = new NftPinholes(this.nft, table);
      if (kernel) {
        this.kernel = new NftKernelForwarding({ session: this.nft, table, log });
        const before = readFileSync(IP_FORWARD, 'utf8').trim();
        if (before !== '1') {
          writeFileSync(IP_FORWARD, '1');
          this.log.warn({ event: 'ip-forward' }, 'enabled net.ipv4.ip_forward for in-kernel media forwarding (restored at exit)');
          this.stops.push(() => writeFileSync(IP_FORWARD, before));
        }
      }
    }

    const wallClock = Date.now;
    let location: LocationStore;
    let calls: CallStore;
    if (c.store) {
      let resilient: ResilientLocationStore | null = null;
      const redisLog = (event: string, fields: Record<string, unknown> = {}) => {
        log(event, fields);
        if (event === 'redis-error' || event === 'redis-reconnecting') resilient?.connectionLost(String(fields.reason ?? event));
        else if (event === 'redis-connected') void resilient?.connectionBack();
      };
      const redis = await RedisStores.connect({ url: c.store.redis, prefix: c.store.prefix, wallClock, log: redisLog });
      resilient = new ResilientLocationStore(redis, { wallClock, isUp: () => redis.connected, log: (level, event, fields) => this.log[level]({ event, ...fields }, event) });
      this.storeHealth = () => resilient.status;
      this.stops.push(() => resilient.close());
      location = resilient;
      calls = redis;
    } else {
      location = new MemoryLocationStore(wallClock);
      calls = new MemoryCallStore(wallClock);
    }

    const pinholes: PinholeControl | undefined = this.pinholes ? pinholeControl(this.pinholes) : undefined;
    const kernelForwarding: KernelForwarding | undefined = this.kernel ?? undefined;
    const binder = netRelayBinder(c.media.address, c.media.udpIo, undefined, c.media.relaySockets);
    this.relayBinder = binder;
    this.relay = new MediaRelay({
      address: c.media.address,
      ports: c.media.ports,
      latch: c.media.latching,
      removeIce: c.media.ice === 'remove',
      timeouts: { mediaMs: c.media.timeouts.media * 1000, heldMs: c.media.timeouts.held * 1000, offerMs: c.media.timeouts.offer * 1000, maxCallMs: c.media.timeouts.call * 1000 },
      binder,
      scheduler: systemScheduler,
      random: cryptoUniform(),
      ...(pinholes ? { pinholes } : {}),
      ...(kernelForwarding ? { kernel: kernelForwarding } : {}),
      log,
    });
    this.stops.push(() => this.relay.close());

    const secret = c.secretFile ? readFileSync(c.secretFile) : randomBytes(32);
    let proxy: SipProxy | null = null;
    this.transports = await Transports.start({
      listeners: c.listen.map((l) => ({ ...l, port: l.port ?? defaultPort(l.transport) })),
      maxConnections: c.connections.max,
      maxMessageBytes: c.connections.maxMessageBytes,
      idleMs: c.connections.idleTimeout * 1000,
      tlsVerify: c.tls.verify,
      ...(c.tls.ca ? { tlsCa: c.tls.ca } : {}),
      receive: (bytes, flow, stream) => proxy?.receive(bytes, flow, stream),
      closed: (connId) => proxy?.connectionClosed(connId),
      log,
    });
    this.stops.push(() => this.transports.close());
    proxy = new SipProxy({
      id: this.id,
      domains: c.domains,
      aliases: [...c.aliases, ...c.listen.map((l) => l.address).filter((a) => a !== '0.0.0.0')],
      mode: c.mode,
      upstream: c.registrar ? parseTargetUri(c.registrar) : null,
      nextHop: c.nextHop ? parseTargetUri(c.nextHop) : null,
      registrar: c.registrations,
      keepalive: { intervalMs: c.keepalive.interval * 1000, method: c.keepalive.method, dropAfter: c.keepalive.dropAfter },
      malformed: c.malformed,
      transport: this.transports,
      relay: this.relay,
      location,
      calls,
      scheduler: systemScheduler,
      wallClock,
      secret,
      resolve: async (host) => {
        if (isIP(host)) return host;
        try {
          return (await dns.lookup(host, { family: 4 })).address;
        } catch {
          return null;
        }
      },
      log,
    });
    this.proxy = proxy;
    proxy.start();
    this.stops.push(() => proxy!.close());

    if (c.ng) {
      const [address, port] = c.ng.listen.split(':');
      this.ng = await NgServer.start({ address, port: Number(port), relay: this.relay, now: () => systemScheduler.now(), log });
      this.stops.push(() => this.ng?.close());
    }
    if (c.status !== false) {
      this.status = await startStatus(c.status.listen, {
        '/calls': () => this.callsResponse(),
        '/counters': () => this.countersResponse(),
        '/pinholes': () => ({ table, ports: this.pinholes ? [...this.pinholes.ports].sort((a, b) => a - b) : null }),
      });
      this.stops.push(() => this.status?.close());
    }
    this.log.info(
      {
        event: 'started',
        id: this.id,
        listen: this.transports.listeners.map((l) => `${l.transport}:${l.host}:${l.port}`),
        relay: `${c.media.address}:${c.media.ports.min}-${c.media.ports.max}`,
        firewall,
        kernel,
        store: c.store ? 'redis' : 'memory',
        ng: c.ng?.listen ?? null,
        status: this.status?.url ?? null,
      },
      'sip-proxy started',
    );
  }

  callsResponse(): CallsResponse {
    const now = systemScheduler.now();
    return { proxy: this.id, calls: [...this.relay.allCalls()].map((call) => callView(call, now)) };
  }

  countersResponse(): unknown {
    return {
      proxy: this.proxy.counters,
      transactions: { server: this.proxy.txns.serverCount, client: this.proxy.txns.clientCount },
      dialogs: this.proxy.dialogs.size,
      keepalives: { bindings: this.proxy.keepalives.size, pings: this.proxy.keepalives.pings, answers: this.proxy.keepalives.answers, dropped: this.proxy.keepalives.dropped },
      transport: { ...this.transports.counters, connections: this.transports.connectionCount },
      relay: { ...this.relay.counters, calls: this.relay.callCount, portPairsInUse: this.relay.allocator.inUse, portPairsFree: this.relay.allocator.available, sockets: this.relayBinder?.counters?.() ?? null },
      ng: this.ng?.counters ?? null,
      store: this.storeHealth?.() ?? { kind: 'memory', state: 'ok' },
      nft: this.nft ? { commands: this.nft.commands, errors: this.nft.errors, pinholesOpen: this.pinholes?.ports.size ?? 0, conntrackDeletes: this.kernel?.conntrackDeletes ?? 0 } : null,
    };
  }

  async stop(reason: string): Promise<void> {
    this.log.info({ event: 'stopping', reason }, 'sip-proxy stopping');
    while (this.stops.length > 0) {
      const f = this.stops.pop()!;
      try {
        await f();
      } catch (err) {
        this.log.warn({ event: 'stop-error', reason: (err as Error).message }, 'error while stopping');
      }
    }
    this.log.info({ event: 'stopped' }, 'sip-proxy stopped');
  }
}
