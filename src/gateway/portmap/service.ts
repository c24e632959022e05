/**
 * What PCP, NAT-PMP and UPnP IGD have in common on the gateway: an inside
 * host asks for a port mapping for itself; the policy (src/portmap/policy.ts)
 * says whether and for how long; the engine makes it (NatEngine.mapPort);
 * every mapping made, renewed, deleted or expired is logged. The protocol
 * servers translate their messages into these calls and the answers back.
 *
 * The epoch (PCP's and NAT-PMP's "seconds since the mappings were last
 * lost") is kept with the gateway's state: when the state comes back after
 * a restart, the epoch goes on; when it does not, it starts again at 0, and
 * clients know to map again (RFC 6887 8.5, RFC 6886 3.6).
 */
import type { AlgInstance } from '../../alg/definition.js';
import type { Logger } from '../../control/logging.js';
import type { NatEngine } from '../../nat/engine.js';
import type { PortMapping, PortMappingRefusal } from '../../nat/port-mappings.js';
import { PortmapPolicy, type PolicyRefusal, type PortmapRuleInput } from '../../portmap/policy.js';
import type { Clock } from '../../util/clock.js';
import { ipv4ToString } from '../../wire/address.js';

export type PortmapProtocol = 'pcp' | 'natpmp' | 'upnp';

export interface MapRequest {
  protocol: PortmapProtocol;
  host: number;
  proto: 'udp' | 'tcp';
  internalPort: number;
  /** 0: any. */
  externalPort: number;
  /** Only this external port will do (UPnP); otherwise a suggestion. */
  exact: boolean;
  /** Seconds, > 0. */
  lifetime: number;
  description?: string;
  /** PCP: the external address the client suggests (uint32), if any. */
  externalAddr?: number;
}

export type MapOutcome =
  | { ok: true; mapping: PortMapping; lifetime: number; renewed: boolean }
  | { ok: false; why: PolicyRefusal | PortMappingRefusal; detail: string };

const protoNumber = (p: 'udp' | 'tcp') => (p === 'udp' ? 17 : 6);
const protoText = (n: number) => (n === 17 ? 'udp' : 'tcp');

export class PortmapService {
  readonly policy: PortmapPolicy;
  /** Wall-clock ms when the epoch began. */
  #epochOrigin: number;
  #restoredEpoch = false;
  /** Requests the policy or the engine refused. */
  #refused = 0;
  readonly #known = new Map<number, PortMapping>();
  /** PCP's mapping nonces by mapping id (a refresh or delete must carry the same, RFC 6887 11.3). */
  readonly #nonces = new Map<number, string>();

  constructor(
    private readonly engine: NatEngine,
    rules: readonly PortmapRuleInput[],
    private readonly log: Logger,
    private readonly clock: Clock,
    private readonly wall: () => number = Date.now,
  ) {
    this.policy = new PortmapPolicy(rules);
    this.#epochOrigin = wall();
  }

  /** Seconds since the epoch began (PCP "epoch time", NAT-PMP "seconds since start of epoch"). */
  epoch(): number {
    return Math.max(0, Math.floor((this.wall() - this.#epochOrigin) / 1000)) >>> 0;
  }

  /** Whether the epoch went on from saved state (false: it began at this start, mappings were lost). */
  get epochContinued(): boolean {
    return this.#restoredEpoch;
  }

  /** The engine's public address for a host (the one its mappings get). */
  externalAddressFor(_host: number): number {
    return this.engine.config.publicAddrs[0];
  }

  /** Live port mappings, of one host or all. */
  list(host?: number): PortMapping[] {
    const all = this.engine.listPortMappings(this.clock.now());
    return host === undefined ? all : all.filter((m) => m.insideAddr === host);
  }

  /** Seconds a mapping has left. */
  remainingSeconds(m: PortMapping): number {
    return Math.max(0, Math.floor((m.expiresAt - this.clock.now()) / 1000));
  }

  find(host: number, proto: 'udp' | 'tcp', internalPort: number): PortMapping | undefined {
    const m = this.engine.portMappings.ofInside(protoNumber(proto), host, internalPort);
    return m && m.expiresAt > this.clock.now() ? m : undefined;
  }

  findExternal(proto: 'udp' | 'tcp', externalPort: number): PortMapping | undefined {
    return this.list().find((m) => m.proto === protoNumber(proto) && m.publicPort === externalPort);
  }

  map(r: MapRequest): MapOutcome {
    const now = this.clock.now();
    const existing = this.find(r.host, r.proto, r.internalPort);
    const held = this.list(r.host).length - (existing ? 1 : 0);
    const answer = this.policy.decide({ host: r.host, proto: r.proto, internalPort: r.internalPort, externalPort: r.externalPort, lifetime: r.lifetime, held });
    if (!answer.ok) return this.refused(r, answer.why, answer.detail);
    if (r.exact && r.externalPort !== 0 && answer.externalPort === 0) return this.refused(r, 'external-port', `external port ${r.externalPort} is outside the allowed range`);
    const m = this.engine.mapPort(
      {
        proto: protoNumber(r.proto),
        insideAddr: r.host,
        insidePort: r.internalPort,
        publicPort: answer.externalPort,
        exactPort: r.exact,
        ...(r.externalAddr !== undefined ? { publicAddr: r.externalAddr } : {}),
        lifetimeMs: answer.lifetime * 1000,
        owner: r.protocol,
        description: r.description ?? `${r.protocol} ${ipv4ToString(r.host)}`,
      },
      now,
    );
    if (typeof m === 'string') return this.refused(r, m, refusalText(m));
    const [lo, hi] = answer.externalRange;
    if (m.publicPort < lo || m.publicPort > hi) {
      if (!existing) this.engine.unmapPort(m.id);
      return this.refused(r, 'external-port', `no free external port in ${lo}-${hi}`);
    }
    this.#known.set(m.id, m);
    this.log.info(
      {
        event: 'portmap',
        action: existing ? 'renewed' : 'created',
        protocol: r.protocol,
        proto: r.proto,
        inside: `${ipv4ToString(r.host)}:${r.internalPort}`,
        public: `${ipv4ToString(m.publicAddr)}:${m.publicPort}`,
        lifetime: answer.lifetime,
        id: m.id,
      },
      `port mapping ${existing ? 'renewed' : 'created'}`,
    );
    return { ok: true, mapping: m, lifetime: answer.lifetime, renewed: existing !== undefined };
  }

  /** Deletes a host's own mapping; false when it has none there. */
  unmap(protocol: PortmapProtocol, host: number, proto: 'udp' | 'tcp', internalPort: number): boolean {
    const m = this.find(host, proto, internalPort);
    if (!m) return false;
    return this.remove(protocol, m);
  }

  remove(protocol: PortmapProtocol, m: PortMapping): boolean {
    if (!this.engine.unmapPort(m.id)) return false;
    this.#known.delete(m.id);
    this.#nonces.delete(m.id);
    this.log.info(
      { event: 'portmap', action: 'deleted', protocol, proto: protoText(m.proto), inside: `${ipv4ToString(m.insideAddr)}:${m.insidePort}`, public: `${ipv4ToString(m.publicAddr)}:${m.publicPort}`, id: m.id },
      'port mapping deleted',
    );
    return true;
  }

  /** Whether a PCP request's nonce may act on a mapping: its own, or one with none known (made by another protocol, or before a restart). */
  nonceMatches(id: number, nonce: Uint8Array): boolean {
    const known = this.#nonces.get(id);
    return known === undefined || known === Buffer.from(nonce).toString('hex');
  }

  rememberNonce(id: number, nonce: Uint8Array): void {
    this.#nonces.set(id, Buffer.from(nonce).toString('hex'));
  }

  /**
   * The external endpoint an inside endpoint's flow to a peer uses, and how
   * long it lives without traffic (PCP PEER); null when there is no such flow.
   */
  peerEndpoint(proto: 'udp' | 'tcp', host: number, internalPort: number, remoteAddr: number, remotePort: number): { addr: number; port: number; lifetime: number } | null {
    const ep = this.engine.flowPublicEndpoint(protoNumber(proto), host, internalPort, remoteAddr, remotePort);
    if (!ep) return null;
    const idleMs = proto === 'udp' ? this.engine.config.udpMs : this.engine.config.tcpEstablishedMs;
    return { addr: ep[0], port: ep[1], lifetime: Math.floor(idleMs / 1000) };
  }

  /** Logs the mappings whose lifetime ended (the engine removed them); the servers call this on their timer. */
  noteExpired(): void {
    const live = new Set(this.engine.portMappings.list().map((m) => m.id));
    for (const [id, m] of this.#known) {
      if (live.has(id)) continue;
      this.#known.delete(id);
      this.#nonces.delete(id);
      this.log.info(
        { event: 'portmap', action: 'expired', protocol: m.owner, proto: protoText(m.proto), inside: `${ipv4ToString(m.insideAddr)}:${m.insidePort}`, public: `${ipv4ToString(m.publicAddr)}:${m.publicPort}`, id },
        'port mapping expired',
      );
    }
  }

  /** The epoch, for the gateway's state (the keeper treats this like an ALG's state). */
  readonly stateful: AlgInstance = {
    name: 'portmap',
    keepsState: true,
    stateChanged: false,
    counters: () => ({ mappings: this.list().length, refused: this.#refused }),
    exportState: () => ({ epochOrigin: this.#epochOrigin }),
    importState: (state: unknown) => {
      const origin = (state as { epochOrigin?: unknown } | null)?.epochOrigin;
      if (typeof origin !== 'number' || !Number.isFinite(origin) || origin > this.wall()) return 'portmap state refused: no epoch origin';
      this.#epochOrigin = origin;
      this.#restoredEpoch = true;
      for (const m of this.engine.portMappings.list()) this.#known.set(m.id, m);
      return null;
    },
  };

  private refused(r: MapRequest, why: PolicyRefusal | PortMappingRefusal, detail: string): MapOutcome {
    this.#refused++;
    this.log.info(
      { event: 'portmap', action: 'refused', protocol: r.protocol, proto: r.proto, inside: `${ipv4ToString(r.host)}:${r.internalPort}`, externalPort: r.externalPort, why, detail },
      'port mapping refused',
    );
    return { ok: false, why, detail };
  }
}

function refusalText(r: PortMappingRefusal): string {
  switch (r) {
    case 'port-taken':
      return 'the external port is taken';
    case 'no-port':
      return 'no free external port';
    case 'limit':
      return 'the port mapping table is full';
    case 'not-inside':
      return 'not an inside address';
    case 'bad-port':
      return 'bad port';
    case 'bad-protocol':
      return 'only UDP and TCP can be mapped';
  }
}
