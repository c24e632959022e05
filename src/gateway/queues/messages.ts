/** What the main thread and a queue's worker thread say to each other (queues/gateway.ts, queues/worker.ts). */
import type { EngineSlice } from '../../dataplane/tun/steering.js';

export interface QueueWorkerData {
  queue: number;
  /** The configuration file's text as the main thread read it, so every queue runs the same one. */
  configText: string;
  source: string;
  slice: EngineSlice;
}

/** A question the main thread asks a queue; the answer comes back with the same id. */
export type QueueQuestion = { type: 'report' } | { type: 'flows'; limit: number } | { type: 'expectations' };

export type QueueRequest = (QueueQuestion & { id: number }) | { type: 'stop' };

export type QueueReply =
  | { type: 'opened'; insideFd: number; outsideFd: number; uso: boolean; offload: boolean }
  | { type: 'failed'; message: string }
  | { type: 'device-error'; device: string; message: string }
  | { type: 'reply'; id: number; data: unknown }
  | { type: 'stopped'; data: unknown };
