/**
 * The STUN server on UDP, written against NetEnv so the same code serves real
 * sockets and the simulator. RFC 5780 needs four sockets: primary IP and port,
 * primary IP with the alternate port, alternate IP with the primary port, and
 * the alternate IP and port.
 */
import { isBatchSocket, type Endpoint, type NetEnv, type UdpDatagramBatch, type UdpSocket } from '../../net/udp.js';
import { socketKeys, type ServerAddresses, type SocketKey } from './binding-handler.js';
import { isPlainBindingRequestAt, writePlainAnswer } from './plain-binding.js';
import { StunServerCore, type CoreEvent, type StunServerCoreConfig } from './server-core.js';

export interface StunUdpServerOptions {
  onEvent?: (e: CoreEvent) => void;
  /** Tries at binding the four sockets when ports are ephemeral (0) and a chosen port is taken. Default 10. */
  bindAttempts?: number;
}

export class StunUdpServer {
  private constructor(
    readonly core: StunServerCore,
    private readonly sockets: Map<SocketKey, UdpSocket>,
    private readonly env: NetEnv,
  ) {
    for (const [key, sock] of sockets) {
      if (isBatchSocket(sock)) sock.onBatch((batch) => this.receiveBatch(key, batch));
      else sock.onMessage((data, from) => this.receive(key, data, from));
    }
  }

  static async start(env: NetEnv, config: StunServerCoreConfig, options: StunUdpServerOptions = {}): Promise<StunUdpServer> {
    const attempts = options.bindAttempts ?? 10;
    let lastError: unknown;
    for (let i = 0; i < attempts; i++) {
      try {
        const { sockets, addresses } = await bindAll(env, config.addresses);
        return new StunUdpServer(new StunServerCore({ ...config, addresses }, options.onEvent), sockets, env);
      } catch (e) {
        lastError = e;
        // Only ephemeral ports can be retried: a fixed port that is taken stays taken.
        if (config.addresses.primary.port !== 0 && (config.addresses.alternate?.port ?? 1) !== 0) break;
      }
    }
    throw lastError;
  }

  /** The addresses actually bound (ephemeral ports resolved). */
  get addresses(): ServerAddresses {
    return this.core.config.addresses;
  }

  get counters() {
    return this.core.counters;
  }

  private receive(key: SocketKey, data: Uint8Array, from: Endpoint): void {
    const replies = this.core.handle(data, from, key, 'udp', this.env.scheduler.now());
    for (const r of replies) this.sockets.get(r.via)?.send(r.data, r.to);
  }

  /**
   * A wake's datagrams, with one clock reading for all. A plain Binding
   * request from an IPv4 source (nearly all of them) is answered straight
   * into the socket's send queue from the pre-encoded template; the rest take
   * the general path, and their answers to the sender skip address parsing.
   */
  private receiveBatch(key: SocketKey, batch: UdpDatagramBatch): void {
    const now = this.env.scheduler.now();
    const bytes = batch.bytes;
    const core = this.core;
    for (let i = 0; i < batch.count; i++) {
      const off = batch.offset(i);
      const length = batch.length(i);
      const address = batch.sourceIpv4(i);
      if (address >= 0 && isPlainBindingRequestAt(bytes, off, length)) {
        const port = batch.sourcePort(i);
        const template = core.handlePlainIpv4(address, port, key, now);
        if (template === null) continue;
        const at = batch.replyAt(i, template.bytes.length);
        if (at >= 0) writePlainAnswer(batch.sendBytes, at, template, bytes, off, address, port);
        continue;
      }
      const from = batch.from(i);
      // A view, not a copy: the core keeps nothing of a request once it has answered.
      const replies = core.handle(bytes.subarray(off, off + length), from, key, 'udp', now);
      for (const r of replies) {
        if (r.via === key && r.to === from) batch.reply(i, r.data);
        else this.sockets.get(r.via)?.send(r.data, r.to);
      }
    }
  }

  close(): void {
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }
}

async function bindAll(env: NetEnv, want: ServerAddresses): Promise<{ sockets: Map<SocketKey, UdpSocket>; addresses: ServerAddresses }> {
  const sockets = new Map<SocketKey, UdpSocket>();
  try {
    const pp = await env.bindUdp({ address: want.primary.address, port: want.primary.port });
    sockets.set('PP', pp);
    const primary = { address: want.primary.address, port: pp.local.port };
    if (!want.alternate) return { sockets, addresses: { primary } };
    const pa = await env.bindUdp({ address: want.primary.address, port: want.alternate.port });
    sockets.set('PA', pa);
    const alternate = { address: want.alternate.address, port: pa.local.port };
    sockets.set('AP', await env.bindUdp({ address: alternate.address, port: primary.port }));
    sockets.set('AA', await env.bindUdp({ address: alternate.address, port: alternate.port }));
    const addresses = { primary, alternate };
    if (socketKeys(addresses).some((k) => !sockets.has(k))) throw new Error('a server socket is missing');
    return { sockets, addresses };
  } catch (e) {
    for (const s of sockets.values()) s.close();
    throw e;
  }
}
