/**
 * What a peer's NAT does with new destinations, read from two observations of
 * the same socket (the rendezvous server's two ports) and its local endpoints,
 * and the ports it will most likely use next.
 *
 * - `none`: the public endpoint is one of the local ones (no NAT).
 * - `eim`: both observations agree: one mapping for every destination.
 * - `sequential`: a new mapping per destination, a small constant step apart
 *   (sequential allocators, and port-preserving ones that take the next free
 *   port). The next destination will most likely get `observed + delta`.
 * - `preserving`: a new mapping per destination, but the first mapping of a
 *   socket keeps its local port (later ones are random, RFC 7857 2.11). The
 *   peer keeps a spare socket that has never sent anything and announces its
 *   port: the first destination that spare socket sends to gets that port.
 * - `random`: a new mapping per destination, far apart: only birthday probing
 *   finds one of them.
 * - `unknown`: no second observation.
 */
import type { Endpoint } from '../../net/udp.js';
import { sameEndpoint } from '../../net/udp.js';

export type NatKind =
  | { mapping: 'none' }
  | { mapping: 'eim' }
  | { mapping: 'sequential'; delta: number }
  | { mapping: 'preserving' }
  | { mapping: 'random' }
  | { mapping: 'unknown' };

/** Steps larger than this are treated as random allocation. */
export const MAX_SEQUENTIAL_DELTA = 64;

export interface Observations {
  public: Endpoint;
  observed?: Endpoint;
  locals: Endpoint[];
  /** The observed socket's local port (tells a port-preserving NAT apart). */
  localPort?: number;
  /** A peer's announced spare endpoint: the peer found its NAT preserving. */
  spare?: Endpoint;
}

export function classifyNat(o: Observations): NatKind {
  if (o.locals.some((l) => sameEndpoint(l, o.public))) return { mapping: 'none' };
  if (o.spare) return { mapping: 'preserving' };
  if (!o.observed) return { mapping: 'unknown' };
  if (sameEndpoint(o.observed, o.public)) return { mapping: 'eim' };
  const delta = o.observed.port - o.public.port;
  if (o.observed.address === o.public.address && delta !== 0 && Math.abs(delta) <= MAX_SEQUENTIAL_DELTA) {
    return { mapping: 'sequential', delta };
  }
  if (o.localPort !== undefined && o.public.port === o.localPort) return { mapping: 'preserving' };
  return { mapping: 'random' };
}

/** Endpoint-dependent mapping: a new public port per destination. */
export function isEndpointDependent(k: NatKind): boolean {
  return k.mapping === 'sequential' || k.mapping === 'preserving' || k.mapping === 'random';
}

export function describeNat(k: NatKind): string {
  switch (k.mapping) {
    case 'none':
      return 'no NAT';
    case 'eim':
      return 'endpoint-independent mapping';
    case 'sequential':
      return `endpoint-dependent mapping, sequential ports (step ${k.delta})`;
    case 'preserving':
      return "endpoint-dependent mapping, a socket's first port preserved";
    case 'random':
      return 'endpoint-dependent mapping, random ports';
    case 'unknown':
      return 'unknown (no second observation)';
  }
}

/**
 * The ports a sequential NAT will most likely give the next `window` new
 * destinations of the observed socket, in the order it will give them. Both
 * peers send to each other's predictions first and in this order, so that the
 * i-th mapping on one side meets the i-th on the other.
 */
export function predictEndpoints(o: Observations, kind: NatKind, window: number): Endpoint[] {
  if (kind.mapping !== 'sequential' || !o.observed) return [];
  const out: Endpoint[] = [];
  for (let k = 1; k <= window; k++) {
    const port = o.observed.port + kind.delta * k;
    if (port < 1 || port > 65535) break;
    out.push({ address: o.observed.address, port });
  }
  return out;
}

/** Which side of a birthday attack this peer plays against that one, if any. */
export function birthdayRole(self: NatKind, peer: NatKind): 'hard' | 'easy' | null {
  const easy = (k: NatKind) => k.mapping === 'eim' || k.mapping === 'unknown';
  if (isEndpointDependent(self) && easy(peer)) return 'hard';
  if (isEndpointDependent(peer) && easy(self)) return 'easy';
  return null;
}
