/**
 * What the supervising process and the UDP worker processes of a multi-process
 * STUN server say to each other over the cluster IPC channel.
 */
import type { NodeUdpBindOptions } from '../../net/node-udp.js';
import type { ResolvedUdpIo } from '../../net/udp-io.js';
import type { ServerAddresses } from './binding-handler.js';
import { emptyCounters, type CoreEvent, type StunCounters, type StunServerCoreConfig } from './server-core.js';

export type SocketBufferOptions = Pick<NodeUdpBindOptions, 'recvBufferSize' | 'sendBufferSize'>;

export type ToWorker =
  | {
      type: 'start';
      /** Concrete ports only: every worker must bind the very same addresses to share the sockets. */
      config: StunServerCoreConfig;
      buffers: SocketBufferOptions;
      /** node:dgram sockets shared through the cluster, or batched ones each bound with SO_REUSEPORT. */
      udpIo: ResolvedUdpIo;
      /** Forward events (everything but plain successes) to the supervisor. */
      events: boolean;
    }
  | { type: 'counters'; id: number }
  | { type: 'stop' };

export type FromWorker =
  /** Listening for messages: 'start' may be sent. */
  | { type: 'hello' }
  | { type: 'ready'; addresses: ServerAddresses }
  | { type: 'failed'; error: string; code?: string }
  | { type: 'event'; event: CoreEvent }
  | { type: 'counters'; id: number; counters: StunCounters }
  | { type: 'stopped'; counters: StunCounters };

export function addCounters(into: StunCounters, more: StunCounters): StunCounters {
  for (const k of Object.keys(into) as (keyof StunCounters)[]) into[k] += more[k] ?? 0;
  return into;
}

export function sumCounters(all: StunCounters[]): StunCounters {
  return all.reduce(addCounters, emptyCounters());
}

export function isFromWorker(m: unknown): m is FromWorker {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';
}

export function isToWorker(m: unknown): m is ToWorker {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';
}
