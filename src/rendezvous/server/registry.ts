/**
 * The registry behind the rendezvous server: who is in which session, and a
 * message bus between servers. One server uses the in-memory store; several
 * servers sharing a Redis use the Redis store, and a server that admits a
 * newcomer reaches the participants attached to other servers through the bus
 * (each server listens on its own channel and owns the sockets toward its peers).
 */
import { z } from 'zod';
import type { PeerInfo } from '../protocol/messages.js';

/** A participant as stored: what the others learn, plus which server holds its socket. */
export interface PeerRecord extends PeerInfo {
  /** The id of the rendezvous server the peer joined through. */
  server: string;
}

export type RegistryEvent =
  | { type: 'introduce'; session: string; to: string; peer: PeerInfo }
  | { type: 'peer-left'; session: string; to: string; peerId: string };

export interface RegistryStore {
  /**
   * Adds or replaces a participant, live for ttlMs, and returns the other live
   * participants of its session.
   */
  upsert(session: string, record: PeerRecord, ttlMs: number): Promise<PeerRecord[]>;
  /** Extends a participant's life; false when it is not (or no longer) there. */
  touch(session: string, peerId: string, ttlMs: number): Promise<boolean>;
  /** Removes a participant; returns the others still there (to tell them). */
  remove(session: string, peerId: string): Promise<PeerRecord[]>;
  list(session: string): Promise<PeerRecord[]>;
  /** Delivers an event to the server with id `serverId`. */
  publish(serverId: string, event: RegistryEvent): Promise<void>;
  /** Receives the events addressed to `serverId`; returns an unsubscribe function. */
  subscribe(serverId: string, handler: (event: RegistryEvent) => void): Promise<() => Promise<void>>;
  /** Resolves when the registry answers (a store that cannot fail need not have it). */
  ping?(): Promise<void>;
  close(): Promise<void>;
}

const endpointSchema = z.object({ address: z.string().min(1).max(64), port: z.number().int().min(0).max(65535) });

const peerInfoSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{16}$/),
  name: z.string().max(64).optional(),
  public: endpointSchema,
  locals: z.array(endpointSchema).max(8),
  observed: endpointSchema.optional(),
  spare: endpointSchema.optional(),
  mapped: endpointSchema.optional(),
});

export const peerRecordSchema = peerInfoSchema.extend({ server: z.string().min(1).max(64) });

export const registryEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('introduce'), session: z.string().min(1).max(128), to: z.string(), peer: peerInfoSchema }),
  z.object({ type: z.literal('peer-left'), session: z.string().min(1).max(128), to: z.string(), peerId: z.string() }),
]);

/** The PeerInfo part of a record (what goes on the wire). */
export function infoOf(r: PeerRecord): PeerInfo {
  return {
    id: r.id,
    ...(r.name !== undefined ? { name: r.name } : {}),
    public: r.public,
    locals: r.locals,
    ...(r.observed ? { observed: r.observed } : {}),
    ...(r.spare ? { spare: r.spare } : {}),
    ...(r.mapped ? { mapped: r.mapped } : {}),
  };
}
