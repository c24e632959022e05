/**
 * The STUN server on real UDP sockets, in one process or several: what
 * `masq stun serve` runs. One worker answers in this process (StunUdpServer);
 * more fork a cluster of worker processes that share the sockets
 * (StunUdpWorkerPool). Either way the caller gets the addresses, a core for
 * STUN over TCP in this process, and counters summed over everything.
 */
import { netEnvFor, resolveUdpIo, type ResolvedUdpIo, type UdpIo } from '../../net/udp-io.js';
import type { ServerAddresses } from './binding-handler.js';
import type { CoreEvent, StunCounters, StunServerCore, StunServerCoreConfig } from './server-core.js';
import { StunUdpServer } from './udp-server.js';
import { StunUdpWorkerPool, type WorkerExit } from './udp-worker-pool.js';
import type { SocketBufferOptions } from './worker-messages.js';

export interface StunUdpServiceOptions {
  /** Processes answering UDP. 1: this process alone. More: that many workers, this process supervising. Default 1. */
  workers?: number;
  onEvent?: (e: CoreEvent) => void;
  buffers?: SocketBufferOptions;
  onWorkerExit?: (e: WorkerExit) => void;
  /** See StunUdpServerOptions.bindAttempts. */
  bindAttempts?: number;
  /** Which sockets (net/udp-io.ts). Default auto: batched where the addon is built. */
  udpIo?: UdpIo;
}

export interface StunUdpService {
  readonly addresses: ServerAddresses;
  /** Processes answering UDP now. */
  readonly workers: number;
  /** The sockets they answer on. */
  readonly udpIo: ResolvedUdpIo;
  /**
   * A core in this process for STUN over TCP. With one worker it is the UDP
   * server's own (one rate limiter for both transports); with several, the
   * supervisor's. Its counts are part of counters().
   */
  readonly core: StunServerCore;
  counters(): Promise<StunCounters>;
  /** Stops answering; resolves to the final counters. */
  close(): Promise<StunCounters>;
}

export async function startStunUdpService(config: StunServerCoreConfig, options: StunUdpServiceOptions = {}): Promise<StunUdpService> {
  const workers = options.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1) throw new RangeError('workers must be an integer of at least 1');
  const udpIo = resolveUdpIo(options.udpIo);
  const common = {
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    ...(options.bindAttempts !== undefined ? { bindAttempts: options.bindAttempts } : {}),
  };
  if (workers === 1) {
    const server = await StunUdpServer.start(netEnvFor(udpIo, options.buffers ?? {}), config, common);
    return {
      addresses: server.addresses,
      workers: 1,
      udpIo,
      core: server.core,
      counters: async () => ({ ...server.counters }),
      close: async () => {
        server.close();
        return { ...server.counters };
      },
    };
  }
  const pool = await StunUdpWorkerPool.start(config, {
    workers,
    udpIo,
    ...common,
    ...(options.buffers ? { buffers: options.buffers } : {}),
    ...(options.onWorkerExit ? { onWorkerExit: options.onWorkerExit } : {}),
  });
  return {
    addresses: pool.addresses,
    get workers() {
      return pool.workers;
    },
    udpIo,
    core: pool.core,
    counters: () => pool.counters(),
    close: () => pool.close(),
  };
}
