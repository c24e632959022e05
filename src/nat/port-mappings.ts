/**
 * Dynamic port mappings: the ones inside hosts ask for themselves (PCP MAP,
 * NAT-PMP, UPnP IGD AddPortMapping), as opposed to the static forwards of the
 * configuration. A port mapping binds an inside endpoint to a public port for
 * a lifetime, endpoint-independently (RFC 6887 11.1, RFC 6886 3.3):
 *
 * - inbound, anyone may reach the inside endpoint through the public port
 *   (it sits in the forward table, so every filtering behaviour admits it);
 * - outbound, the inside endpoint's new flows leave from that public port
 *   whatever the mapping behaviour (admission finds the mapping by its
 *   endpoint-independent key), so a peer that learnt the mapped endpoint sees
 *   the same one in what the host sends.
 *
 * The mapping-table entry behind it holds one reference for the port mapping,
 * so it lives without flows until the port mapping expires or is deleted; its
 * flows then keep it as long as they live. Which host may map what is the
 * shell's policy (src/gateway/portmap); the engine checks only what keeps its
 * tables sound: the inside address is inside, the public port free or already
 * this endpoint's, a bounded table.
 */
import { PROTO_TCP, PROTO_UDP } from '../wire/ipv4.js';
import type { ForwardTable } from './forwards.js';
import type { HostTable } from './hosts.js';
import { type MappingTable, NO_MAPPING } from './mapping-table.js';
import type { PortPools } from './port-pools.js';

export interface PortMappingRequest {
  proto: number;
  insideAddr: number;
  insidePort: number;
  /** The public port wanted; 0: any. */
  publicPort: number;
  /** Only the wanted port will do (UPnP AddPortMapping); otherwise it is a suggestion (PCP, NAT-PMP). */
  exactPort?: boolean;
  /** The public address wanted (PCP's suggested external address); default the host's paired one. */
  publicAddr?: number;
  lifetimeMs: number;
  /** Which protocol made it: "pcp", "natpmp", "upnp", or a library user's name. */
  owner: string;
  /** Shown in listings (UPnP's NewPortMappingDescription). */
  description?: string;
}

export interface PortMapping {
  readonly id: number;
  readonly proto: number;
  readonly insideAddr: number;
  readonly insidePort: number;
  readonly publicAddr: number;
  readonly publicPort: number;
  owner: string;
  description: string;
  readonly created: number;
  expiresAt: number;
}

/**
 * Why a port mapping was refused: the protocol (UDP, TCP only), the inside
 * address (not inside), the port (taken by someone else, or none free), the
 * table (full).
 */
export type PortMappingRefusal = 'bad-protocol' | 'not-inside' | 'bad-port' | 'port-taken' | 'no-port' | 'limit';

/** The most port mappings the engine keeps; the shell's policy caps them per host well below. */
export const DEFAULT_PORT_MAPPING_LIMIT = 16_384;

const insideKey = (proto: number, addr: number, port: number) => (proto * 2 ** 32 + addr) * 65536 + port;
const publicKey = (proto: number, addr: number, port: number) => (proto * 2 ** 32 + addr) * 65536 + port;

export interface PortMappingParts {
  readonly mappings: MappingTable;
  readonly hosts: HostTable;
  readonly pools: PortPools;
  readonly forwards: ForwardTable;
  readonly isInside: (addr: number) => boolean;
  readonly isPublic: (addr: number) => boolean;
  /** Told of every port mapping added, changed or removed (the change feed). */
  readonly changed: (id: number) => void;
}

export class PortMappingTable {
  private readonly byId = new Map<number, PortMapping>();
  private readonly byInside = new Map<number, PortMapping>();
  private readonly byPublic = new Map<number, PortMapping>();
  private nextId = 1;

  constructor(
    private readonly p: PortMappingParts,
    readonly limit = DEFAULT_PORT_MAPPING_LIMIT,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  get(id: number): PortMapping | undefined {
    return this.byId.get(id);
  }

  /** The port mapping of an inside endpoint, or undefined. */
  ofInside(proto: number, insideAddr: number, insidePort: number): PortMapping | undefined {
    return this.byInside.get(insideKey(proto, insideAddr, insidePort));
  }

  /** The port mapping on a public endpoint, or undefined. */
  onPublic(proto: number, publicAddr: number, publicPort: number): PortMapping | undefined {
    return this.byPublic.get(publicKey(proto, publicAddr, publicPort));
  }

  /**
   * The mapping-table entry outbound traffic from an inside endpoint must use
   * because a port mapping holds it, or NO_MAPPING. Admission asks this only
   * when the behaviour's own key found nothing.
   */
  mappingFor(proto: number, insideAddr: number, insidePort: number): number {
    if (this.byId.size === 0 || this.byInside.get(insideKey(proto, insideAddr, insidePort)) === undefined) return NO_MAPPING;
    return this.p.mappings.findInside(proto, insideAddr, insidePort, 0, 0);
  }

  list(): PortMapping[] {
    return [...this.byId.values()];
  }

  /**
   * Creates a port mapping, or renews the inside endpoint's existing one (a
   * new lifetime, the same public port: RFC 6887 11.3, RFC 6886 3.3). With
   * `id`, restores one with that id (state restore; the port must be free or
   * already the endpoint's).
   */
  add(req: PortMappingRequest, now: number, id?: number): PortMapping | PortMappingRefusal {
    const { proto, insideAddr, insidePort } = req;
    if (proto !== PROTO_UDP && proto !== PROTO_TCP) return 'bad-protocol';
    if (!this.p.isInside(insideAddr)) return 'not-inside';
    if (insidePort < 1 || insidePort > 65535 || req.publicPort < 0 || req.publicPort > 65535) return 'bad-port';
    const existing = this.byInside.get(insideKey(proto, insideAddr, insidePort));
    if (existing) {
      if (req.exactPort && req.publicPort !== 0 && req.publicPort !== existing.publicPort) return 'port-taken';
      existing.expiresAt = now + req.lifetimeMs;
      existing.owner = req.owner;
      existing.description = req.description ?? existing.description;
      this.p.changed(existing.id);
      return existing;
    }
    if (this.byId.size >= this.limit) return 'limit';
    const { mappings, hosts, pools } = this.p;
    const host = hosts.obtain(insideAddr);
    let m = mappings.findInside(proto, insideAddr, insidePort, 0, 0);
    let publicAddr: number;
    let publicPort: number;
    if (m !== NO_MAPPING) {
      // The endpoint already has an endpoint-independent mapping: the port mapping is that one.
      publicAddr = mappings.pubAddr[m];
      publicPort = mappings.pubPort[m];
      if (req.exactPort && req.publicPort !== 0 && req.publicPort !== publicPort) {
        hosts.release(insideAddr, host);
        return 'port-taken';
      }
    } else {
      publicAddr = req.publicAddr !== undefined && this.p.isPublic(req.publicAddr) ? req.publicAddr : hosts.publicAddrFor(host);
      const pool = pools.of(publicAddr, proto);
      const wanted = req.publicPort;
      if (wanted !== 0 && !pool.inUse(wanted)) {
        pool.hold(wanted);
        publicPort = wanted;
      } else if (req.exactPort && wanted !== 0) {
        hosts.release(insideAddr, host);
        return 'port-taken';
      } else {
        // Not the wanted port: one chosen as for any mapping (RFC 6887 11.3: the server may choose).
        publicPort = pool.allocate(wanted !== 0 ? wanted : insidePort, false);
        if (publicPort < 0) {
          hosts.release(insideAddr, host);
          return 'no-port';
        }
      }
      m = mappings.add(proto, insideAddr, insidePort, 0, 0, publicAddr, publicPort);
      host.mappings++;
    }
    mappings.refs[m]++;
    const pm: PortMapping = {
      id: id ?? this.nextId,
      proto,
      insideAddr,
      insidePort,
      publicAddr,
      publicPort,
      owner: req.owner,
      description: req.description ?? '',
      created: now,
      expiresAt: now + req.lifetimeMs,
    };
    this.nextId = Math.max(this.nextId, pm.id + 1);
    this.byId.set(pm.id, pm);
    this.byInside.set(insideKey(proto, insideAddr, insidePort), pm);
    this.byPublic.set(publicKey(proto, publicAddr, publicPort), pm);
    this.p.forwards.addDynamic(proto, publicAddr, publicPort, insideAddr, insidePort);
    this.p.changed(pm.id);
    return pm;
  }

  /** Deletes a port mapping; its mapping-table entry stays while flows use it. */
  remove(id: number): PortMapping | undefined {
    const pm = this.byId.get(id);
    if (!pm) return undefined;
    this.byId.delete(id);
    this.byInside.delete(insideKey(pm.proto, pm.insideAddr, pm.insidePort));
    this.byPublic.delete(publicKey(pm.proto, pm.publicAddr, pm.publicPort));
    this.p.forwards.removeDynamic(pm.proto, pm.publicAddr, pm.publicPort);
    const { mappings, hosts, pools } = this.p;
    const m = mappings.findInside(pm.proto, pm.insideAddr, pm.insidePort, 0, 0);
    if (m !== NO_MAPPING && --mappings.refs[m] === 0) {
      pools.of(mappings.pubAddr[m], mappings.proto[m]).release(mappings.pubPort[m]);
      mappings.remove(m);
      const host = hosts.get(pm.insideAddr);
      if (host) {
        host.mappings--;
        hosts.release(pm.insideAddr, host);
      }
    }
    this.p.changed(id);
    return pm;
  }

  /** Removes and returns the port mappings whose lifetime is over. */
  expire(now: number): PortMapping[] {
    const out: PortMapping[] = [];
    for (const pm of this.byId.values()) if (pm.expiresAt <= now) out.push(pm);
    for (const pm of out) this.remove(pm.id);
    return out;
  }
}
