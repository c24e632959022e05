/** The public shapes of the punching client: options, paths, peers, events. */
import type { Endpoint } from '../../net/udp.js';
import type { PeerInfo } from '../protocol/messages.js';
import type { PortMappingResult } from '../../portmap/client.js';
import type { BirthdayOptions } from './birthday.js';
import type { NatKind } from './nat-kind.js';
import type { PortmapOptions } from './port-mapper.js';

/**
 * How a path was found:
 * - `local`: the peer's local endpoint (same LAN);
 * - `mapped`: the port mapping the peer's gateway made for it (PCP, NAT-PMP, UPnP IGD);
 * - `public`: the peer's public endpoint as the rendezvous server saw it;
 * - `predicted`: a port predicted for the peer's sequential NAT;
 * - `peer-reflexive`: an address we had not been told, from which the peer's hello came;
 * - `birthday`: found by birthday probing;
 * - `relay`: through the relay (not direct).
 */
export type PathKind = 'local' | 'mapped' | 'public' | 'predicted' | 'peer-reflexive' | 'birthday' | 'relay';

export interface PathInfo {
  kind: PathKind;
  direct: boolean;
  /** Where we send: the peer's address, or the relay's. */
  remote: Endpoint;
  /** Our socket's local endpoint. */
  local: Endpoint;
  /** Scheduler time it was adopted. */
  since: number;
  /** Last measured hello round trip on this path. */
  rttMs: number | null;
}

export type PeerState = 'punching' | 'connected' | 'relayed' | 'gone';

export interface PeerStatus {
  id: string;
  name?: string;
  /** What the server told us (absent while we know the peer only from its hello). */
  info: PeerInfo | null;
  nat: NatKind;
  state: PeerState;
  path: PathInfo | null;
  /** Scheduler times. */
  introducedAt: number;
  firstPathAt: number | null;
  firstDirectAt: number | null;
  /** Every path taken, in order. */
  history: Array<{ at: number; kind: PathKind; remote: Endpoint }>;
  /** Birthday probes sent (easy side) or sockets opened (hard side). */
  birthdayProbes: number;
  birthdaySockets: number;
  /** Times the path was lost and punching started again. */
  repunches: number;
}

export type PunchEvent =
  | { type: 'joined'; public: Endpoint; nat: NatKind }
  | { type: 'peer'; peer: PeerStatus }
  | { type: 'path'; peer: PeerStatus; path: PathInfo; previous: PathInfo | null }
  | { type: 'path-lost'; peer: PeerStatus }
  | { type: 'peer-left'; peerId: string }
  | { type: 'data'; peerId: string; data: Uint8Array }
  | { type: 'server-lost'; error: string }
  /** Our own port mapping was made, moved or lost (null). */
  | { type: 'portmap'; mapping: PortMappingResult | null };

export interface PunchClientOptions {
  /** The rendezvous server. */
  server: Endpoint;
  /** Its observation socket; default the next port; null: do not observe. */
  observe?: Endpoint | null;
  session: string;
  /** The session secret; default empty (open sessions). */
  secret?: string;
  /** A display name others see. */
  name?: string;
  /** Our id; default random. 16 hex digits. */
  peerId?: string;
  /** Where to bind the main socket; default an ephemeral port on every address. */
  bind?: { address?: string; port?: number };
  /**
   * Addresses announced as local endpoints (with the main socket's port).
   * Default: the socket's own address when it is not a wildcard.
   */
  localAddresses?: string[];
  /** Keepalive interval on an established path: default 15 s, inside 20-30 s NAT timeouts. */
  keepaliveMs?: number;
  /** A keepalive unanswered after this many retries (1 s, 2 s, 4 s ...) means the path died. Default 3. */
  keepaliveRetries?: number;
  /** The relay; default what the server advertises; null: never relay. */
  relay?: Endpoint | null;
  /** Fall back to the relay when no direct path exists this long after punching began. Default 1500 ms. */
  relayAfterMs?: number;
  /** First hello retransmission timeout; doubles up to helloMaxIntervalMs. Default 200 ms. */
  helloRtoMs?: number;
  helloMaxIntervalMs?: number;
  /** Fast punching lasts this long; after it, direct attempts continue every upgradeIntervalMs. */
  punchPhaseMs?: number;
  upgradeIntervalMs?: number;
  /** Ports predicted for a sequential NAT. Default 8. */
  predictionWindow?: number;
  birthday?: Partial<BirthdayOptions>;
  /**
   * Ask this gateway to map the main socket's port and offer the mapping as
   * a candidate; default none (`masq punch` fills it from the default route).
   */
  portmap?: PortmapOptions | null;
  /** Wall-clock ms for request timestamps; default the scheduler (right in sim; pass Date.now on real networks). */
  wallClock?: () => number;
  log?: (event: string, fields?: Record<string, unknown>) => void;
}

export interface ResolvedPunchOptions {
  keepaliveMs: number;
  keepaliveRetries: number;
  relayAfterMs: number;
  helloRtoMs: number;
  helloMaxIntervalMs: number;
  punchPhaseMs: number;
  upgradeIntervalMs: number;
  predictionWindow: number;
  birthday: BirthdayOptions;
}
