/**
 * masq as a library. The command line (`masq`) is built on the same pieces:
 *
 * - the NAT engine and its configuration (what every dataplane runs);
 * - the ALG framework and registry (SIP is built in);
 * - STUN: codec, server, RFC 5780 behaviour discovery;
 * - rendezvous, hole punching and relay;
 * - the UDP socket abstraction that protocol code is written against, so it
 *   runs on real sockets and in the simulator alike.
 *
 * The simulator is its own entry point: `import { Simulator } from 'masq/sim'`.
 */
export { NatEngine, Side, Verdict, type NatEngineOptions, type FlowInfo, type EmittedPacket, type HelperHook } from './nat/engine.js';
export { natConfigSchema, resolveNatConfig, NatConfigError, type NatConfig, type NatConfigInput, type ResolvedNatConfig } from './nat/config.js';
export { DropReason, PassReason, type NatCountersSnapshot } from './nat/counters.js';
export type { NatEvent, NatEventSink } from './nat/events.js';
export type { Expectation, ExpectationClass, ExpectationRequest } from './nat/expectations.js';
export { ipv4ToString, parseIpv4, tryParseIpv4 } from './wire/address.js';

export { attachHandler, type AlgCounters } from './alg/attach.js';
export type { AlgFlow, AlgHandler, AlgServices, ExpectRequest, FrameOutcome, HandleResult, PinholeRefusal } from './alg/helper.js';
export type { FrameResume } from './alg/tcp-stream.js';
export type { ExpectationClassPolicy, ExpectationPolicy } from './alg/definition.js';
export { algNames, attachAlg, defineAlg, findAlg, registerAlg, parseAlgPort, type AlgDefinition, type AlgInstance, type AlgPortRule } from './alg/registry.js';

export * as stun from './stun/index.js';
export * as rendezvous from './rendezvous/index.js';
export { RelayServer } from './relay/index.js';

export type { Endpoint, NetEnv, UdpSocket, UdpBindOptions, UdpBatchSocket, UdpDatagramBatch } from './net/udp.js';
export { parseEndpoint, endpointToString, isBatchSocket } from './net/udp.js';
export { bindNodeUdp, nodeNetEnv } from './net/node-udp.js';
export { bindBatchedUdp, batchedNetEnvWith, type BatchedUdpBindOptions, type BatchedUdpCounters } from './net/batched-udp.js';
export { netEnvFor, resolveUdpIo, type UdpIo } from './net/udp-io.js';
export { udpAddonStatus } from './net/udp-addon.js';
export { ManualClock, systemClock, systemScheduler, type Clock, type Scheduler } from './util/clock.js';

export { translateCapture, type PcapTranslateOptions, type PcapTranslateSummary } from './dataplane/pcap/translate.js';
export { readCapture, writePcap, writePcapng, type CaptureRecord } from './wire/capture.js';
