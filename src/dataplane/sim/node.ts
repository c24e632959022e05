/**
 * A node of the simulated network: interfaces, a routing table (longest prefix
 * wins), and IPv4 forwarding with TTL and ICMP Time Exceeded, as a router does.
 * Hosts, routers and NAT boxes are nodes.
 */
import { ipv4ToString, parseIpv4, parseIpv4Prefix } from '../../wire/address.js';
import { buildIcmpError, icmp, ICMP_DEST_UNREACHABLE, ICMP_TIME_EXCEEDED, UNREACH_FRAG_NEEDED } from '../../wire/icmp.js';
import { fragmentIpv4 } from '../../wire/fragment.js';
import { ipv4, ipv4Problem, PROTO_ICMP, setIpv4Ttl } from '../../wire/ipv4.js';
import type { Segment } from './segment.js';

export interface SimInterface {
  readonly node: SimNode;
  readonly name: string;
  /** Addresses on this interface; the first is its primary. */
  readonly addrs: number[];
  readonly prefixLength: number;
  readonly segment: Segment;
}

export interface Route {
  network: number;
  mask: number;
  length: number;
  iface: SimInterface;
  /** Next hop; undefined: the destination is on the segment itself. */
  via?: number;
}

export abstract class SimNode {
  readonly interfaces: SimInterface[] = [];
  readonly routes: Route[] = [];
  /** Routers forward packets not addressed to them; hosts do not. */
  forwarding = false;
  dropped = 0;

  constructor(readonly name: string) {}

  /** Attaches an interface with `address/prefix` to a segment; adds the connected route. */
  attach(segment: Segment, cidr: string, name = `eth${this.interfaces.length}`): SimInterface {
    const [addrText] = cidr.split('/');
    const prefix = parseIpv4Prefix(cidr);
    const iface: SimInterface = { node: this, name, addrs: [parseIpv4(addrText)], prefixLength: prefix.length, segment };
    segment.attach(iface);
    this.interfaces.push(iface);
    this.routes.push({ network: prefix.network, mask: prefix.mask, length: prefix.length, iface });
    return iface;
  }

  /** Adds a route: `prefix` ("0.0.0.0/0" for the default) through `via` on a connected segment. */
  addRoute(prefix: string, via: string): void {
    const p = parseIpv4Prefix(prefix);
    const gw = parseIpv4(via);
    const connected = this.lookup(gw);
    if (!connected || connected.via !== undefined) throw new Error(`${this.name}: next hop ${via} is not on a connected segment`);
    this.routes.push({ network: p.network, mask: p.mask, length: p.length, iface: connected.iface, via: gw });
  }

  /**
   * Adds an on-link route: destinations in `prefix` are delivered directly on the
   * interface's segment. The default route of nodes on a flat "internet" segment.
   */
  addOnLinkRoute(prefix: string, iface: SimInterface = this.interfaces[0]): void {
    const p = parseIpv4Prefix(prefix);
    this.routes.push({ network: p.network, mask: p.mask, length: p.length, iface });
  }

  /** The primary address of the first interface. */
  get address(): string {
    return ipv4ToString(this.interfaces[0].addrs[0]);
  }

  ownsAddress(a: number): boolean {
    for (const i of this.interfaces) if (i.addrs.includes(a)) return true;
    return false;
  }

  lookup(dst: number): Route | undefined {
    let best: Route | undefined;
    for (const r of this.routes) {
      if (((dst & r.mask) >>> 0) === r.network && (!best || r.length > best.length)) best = r;
    }
    return best;
  }

  /**
   * Sends an IPv4 packet by the routing table. Too big for the link: fragmented,
   * or with DF set, refused with "fragmentation needed" and the link's MTU
   * (RFC 1191; RFC 4787 REQ-13).
   */
  send(packet: Uint8Array): boolean {
    const route = this.lookup(ipv4.dst(packet, 0));
    if (!route) {
      this.dropped++;
      return false;
    }
    const { segment } = route.iface;
    const nextHop = route.via ?? ipv4.dst(packet, 0);
    if (packet.length > segment.mtu && ipv4.version(packet, 0) === 4) {
      if (ipv4.dontFragment(packet, 0)) {
        this.dropped++;
        const src = ipv4.src(packet, 0);
        if (!this.ownsAddress(src)) {
          this.send(buildIcmpError(route.iface.addrs[0], ICMP_DEST_UNREACHABLE, UNREACH_FRAG_NEEDED, packet, 8, segment.mtu));
        }
        return false;
      }
      for (const f of fragmentIpv4(packet, segment.mtu)) segment.transmit(route.iface, nextHop, f);
      return true;
    }
    segment.transmit(route.iface, nextHop, packet);
    return true;
  }

  /** A packet arrived on `iface`. */
  receive(packet: Uint8Array, iface: SimInterface): void {
    if (ipv4Problem(packet, 0, packet.length) !== null) {
      this.dropped++;
      return;
    }
    const dst = ipv4.dst(packet, 0);
    if (this.ownsAddress(dst)) this.deliverLocal(packet, iface);
    else if (this.forwarding) this.forward(packet, iface);
    else this.dropped++;
  }

  /** Forwarding: TTL down by one; at zero, Time Exceeded goes back to the source. */
  protected forward(packet: Uint8Array, from: SimInterface): void {
    if (!this.decrementTtl(packet, from)) return;
    this.send(packet);
  }

  /** Returns false (and answers Time Exceeded) when the packet may not be forwarded. */
  protected decrementTtl(packet: Uint8Array, from: SimInterface): boolean {
    const ttl = ipv4.ttl(packet, 0);
    if (ttl <= 1) {
      this.dropped++;
      // Not about a Time Exceeded itself (no ICMP error about an ICMP error, RFC 1122 3.2.2).
      if (ipv4.protocol(packet, 0) !== PROTO_ICMP || icmp.type(packet, ipv4.headerLength(packet, 0)) !== ICMP_TIME_EXCEEDED) {
        this.send(buildIcmpError(from.addrs[0], ICMP_TIME_EXCEEDED, 0, packet, 8));
      }
      return false;
    }
    setIpv4Ttl(packet, 0, ttl - 1);
    return true;
  }

  protected abstract deliverLocal(packet: Uint8Array, iface: SimInterface): void;
}

