/**
 * The UDP socket the traversal code (STUN, rendezvous, punching, relay) is written
 * against. Two implementations: real sockets (node-udp.ts) and the simulator's
 * hosts (src/dataplane/sim). Code written against this runs unchanged on both,
 * which is how `masq lab` and the tests drive real protocol code through
 * simulated NATs.
 */
import type { Scheduler } from '../util/clock.js';

export interface Endpoint {
  /** Dotted IPv4 (or IPv6 text where the implementation supports it). */
  address: string;
  port: number;
}

export interface UdpSocket {
  /** The address and port this socket is bound to. */
  readonly local: Endpoint;
  send(data: Uint8Array, to: Endpoint): void;
  /** One handler; setting another replaces it. */
  onMessage(handler: (data: Uint8Array, from: Endpoint) => void): void;
  close(): void;
}

/**
 * The datagrams one wake of a batched socket read, for servers that answer
 * many at a time without an object per datagram. Valid only while the handler
 * runs: the next wake reads into the same memory.
 */
export interface UdpDatagramBatch {
  readonly count: number;
  /** The memory datagram i lies in, from offset(i), length(i) bytes. */
  readonly bytes: Uint8Array;
  offset(i: number): number;
  length(i: number): number;
  /** Datagram i's source address as a number when it is IPv4, else -1. */
  sourceIpv4(i: number): number;
  sourcePort(i: number): number;
  /** Datagram i's source, as onMessage would give it. */
  from(i: number): Endpoint;
  /** Sends data to datagram i's source from this socket (no address text parsed). */
  reply(i: number, data: Uint8Array): void;
  /**
   * Reserves `length` bytes of the send queue for an answer to datagram i's
   * source and returns where they start in sendBytes, or -1 when the queue
   * has no room (then nothing is sent, and the drop is counted). The caller
   * writes the answer there at once, before sending anything else: it goes
   * out with the rest of the wake's answers, with no copy.
   */
  replyAt(i: number, length: number): number;
  /** The send queue replyAt reserves in. */
  readonly sendBytes: Uint8Array;
}

/** A UdpSocket that can also hand over each wake's datagrams at once (the batched sockets). */
export interface UdpBatchSocket extends UdpSocket {
  /** Replaces the onMessage handler: datagrams arrive a wake at a time. */
  onBatch(handler: (batch: UdpDatagramBatch) => void): void;
}

export function isBatchSocket(s: UdpSocket): s is UdpBatchSocket {
  return typeof (s as Partial<UdpBatchSocket>).onBatch === 'function';
}

export interface UdpBindOptions {
  /** Local address; default: the host's primary address (sim) or 0.0.0.0 (real). */
  address?: string;
  /** Local port; 0 or absent: an ephemeral port. */
  port?: number;
}

/** What a protocol endpoint needs from where it runs. */
export interface NetEnv {
  readonly scheduler: Scheduler;
  bindUdp(options?: UdpBindOptions): Promise<UdpSocket>;
  /** Uniform in [0, 1); seeded in sim so runs repeat. */
  random(): number;
}

export function endpointToString(e: Endpoint): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

export function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.port === b.port && a.address === b.address;
}

/** Parses "host:port" or "[v6]:port"; defaultPort when the port is absent. */
export function parseEndpoint(text: string, defaultPort?: number): Endpoint {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const m = v6 ?? /^([^:]+)(?::(\d+))?$/.exec(text);
  if (!m) throw new Error(`not an address[:port]: ${JSON.stringify(text)}`);
  const port = m[2] !== undefined ? Number(m[2]) : defaultPort;
  if (port === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`missing or invalid port in ${JSON.stringify(text)}`);
  }
  return { address: m[1], port };
}
