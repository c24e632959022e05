/** masq's STUN: codec (RFC 8489, RFC 5780, RFC 3489 classic), server, and NAT behaviour discovery. */
export * from './constants.js';
export * from './errors.js';
export * from './attributes.js';
export * from './message.js';
export * from './integrity.js';
export { saslprep, opaqueString, StringPrepError } from './saslprep.js';
export { StunStreamSplitter, StunStreamError } from './framing.js';
export { crc32 } from './crc32.js';
export {
  handleStunPacket,
  socketEndpoint,
  socketKeys,
  type BindingHandlerConfig,
  type HandleOutcome,
  type HandleResult,
  type ServerAddresses,
  type SocketKey,
  type StunReply,
  type Transport,
} from './server/binding-handler.js';
export { TokenBucketLimiter, type RateLimitConfig } from './server/rate-limiter.js';
export { StunServerCore, DEFAULT_RATE_LIMIT, emptyCounters, type CoreEvent, type StunCounters, type StunServerCoreConfig } from './server/server-core.js';
export { StunUdpServer, type StunUdpServerOptions } from './server/udp-server.js';
export {
  StunClientSocket,
  StunTimeoutError,
  RFC8489_RETRANSMIT,
  transactionTimeoutMs,
  type RetransmitPolicy,
  type RequestOptions,
  type StunAnswer,
} from './client/transaction.js';
export {
  probeNatBehaviour,
  type BehaviourVerdict,
  type MappingLifetime,
  type NatBehaviour,
  type NatBehaviourResult,
  type ProbeOptions,
  type ProbeTestRecord,
} from './client/probe.js';
export { formatNatReport, classicNatName } from './client/report.js';
