/**
 * masq's rendezvous and hole punching: the server that introduces peers, its
 * registry stores (memory, Redis), the punching client with port prediction,
 * birthday probing and relay fallback. docs/rendezvous.md has the protocol,
 * docs/punching.md the results.
 */
export { RendezvousServer, type RendezvousServerOptions, type RendezvousCounters } from './server/server.js';
export { MemoryRegistry, type MemoryRegistryOptions } from './server/memory-store.js';
export type { PeerRecord, RegistryEvent, RegistryStore } from './server/registry.js';
export { RedisRegistry, type RedisRegistryOptions } from './redis/redis-store.js';
export { RedisConnection, redactRedisUrl, type RedisConnectionOptions } from './redis/connection.js';
export { PunchClient, type PunchCounters } from './client/punch-client.js';
export type { PathInfo, PathKind, PeerState, PeerStatus, PunchClientOptions, PunchEvent } from './client/types.js';
export { classifyNat, describeNat, predictEndpoints, birthdayRole, type NatKind } from './client/nat-kind.js';
export { DEFAULT_BIRTHDAY, type BirthdayOptions } from './client/birthday.js';
export { SessionKeys, deriveSessionKey, sessionSecretFromMaster, type SessionKeysOptions } from './protocol/keys.js';
export { encodeMessage, readMessage, MessageType, ErrorCode, type Message, type PeerInfo } from './protocol/messages.js';
export { parsePacket, RendezvousDecodeError, looksLikeMasqPacket } from './protocol/wire.js';
