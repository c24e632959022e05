/** UdpSocket and NetEnv over real sockets (node:dgram). */
import dgram from 'node:dgram';
import dns from 'node:dns';
import { isIPv6 } from 'node:net';
import { systemScheduler } from '../util/clock.js';
import { tryParseIpv4 } from '../wire/address.js';
import type { Endpoint, NetEnv, UdpBindOptions, UdpSocket } from './udp.js';

export interface NodeUdpBindOptions extends UdpBindOptions {
  /** SO_RCVBUF in bytes (the kernel caps it at net.core.rmem_max); default: the system's. */
  recvBufferSize?: number;
  /** SO_SNDBUF in bytes (capped at net.core.wmem_max); default: the system's. */
  sendBufferSize?: number;
  /**
   * In a node:cluster worker: share the primary's socket for this address and
   * port with every other worker that binds it (dgram's `exclusive: false`).
   * Outside a cluster worker it changes nothing.
   */
  clusterShared?: boolean;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;
/** Node 20's dgram passes the family as a number (4 or 6); the typings say an options object. */
type LookupHints = number | dns.LookupOneOptions;

/**
 * dgram resolves the destination of every send through its lookup function, and
 * the default (dns.lookup) answers even an IP literal on the next tick: one
 * extra trip through the tick queue per datagram. Our peers are almost always
 * literals (the address a packet came from), so answer those at once and leave
 * names to dns.lookup.
 */
function literalFirstLookup(address: string, hints: LookupHints, callback: LookupCallback): void {
  // A leading zero ("010") is not a literal to net.isIPv4 nor to tryParseIpv4: dns.lookup gets it.
  const literal = tryParseIpv4(address) !== null ? 4 : address.includes(':') && isIPv6(address) ? 6 : 0;
  if (literal !== 0) callback(null, address, literal);
  else if (typeof hints === 'number') dns.lookup(address, hints, callback);
  else dns.lookup(address, hints, callback);
}

/** A bound node:dgram socket, not yet wrapped (worker processes pass these between them). */
export async function bindNodeDgram(options: NodeUdpBindOptions = {}): Promise<dgram.Socket> {
  const address = options.address ?? '0.0.0.0';
  const sock = dgram.createSocket({
    type: isIPv6(address) ? 'udp6' : 'udp4',
    reuseAddr: false,
    lookup: literalFirstLookup,
    ...(options.recvBufferSize ? { recvBufferSize: options.recvBufferSize } : {}),
    ...(options.sendBufferSize ? { sendBufferSize: options.sendBufferSize } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind({ address, port: options.port ?? 0, exclusive: !options.clusterShared }, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  return sock;
}

/** The UdpSocket view of a bound dgram socket (one bound here, or one received from another process). */
function wrapNodeDgram(sock: dgram.Socket): UdpSocket {
  // A send to an unreachable peer surfaces as an 'error' event on some systems;
  // UDP has no connection to fail, so it is not fatal to the socket.
  sock.on('error', () => {});
  const bound = sock.address();
  let handler: (data: Uint8Array, from: Endpoint) => void = () => {};
  sock.on('message', (msg, rinfo) => handler(msg, { address: rinfo.address, port: rinfo.port }));
  return {
    local: { address: bound.address, port: bound.port },
    send(data, to) {
      sock.send(data, to.port, to.address);
    },
    onMessage(h) {
      handler = h;
    },
    close() {
      try {
        sock.close();
      } catch {
        /* already closed */
      }
    },
  };
}

export async function bindNodeUdp(options: NodeUdpBindOptions = {}): Promise<UdpSocket> {
  return wrapNodeDgram(await bindNodeDgram(options));
}

/** Real sockets; `defaults` (socket buffer sizes, cluster sharing) apply to every bind. */
export function nodeNetEnvWith(defaults: Omit<NodeUdpBindOptions, 'address' | 'port'>): NetEnv {
  return {
    scheduler: systemScheduler,
    bindUdp: (options = {}) => bindNodeUdp({ ...defaults, ...options }),
    random: Math.random,
  };
}

export const nodeNetEnv: NetEnv = {
  scheduler: systemScheduler,
  bindUdp: bindNodeUdp,
  random: Math.random,
};
