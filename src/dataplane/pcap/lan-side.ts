/**
 * Captures are usually taken on one side of a host, not on both sides of a NAT:
 * on the LAN, a server's reply is addressed to the private host. At the gateway
 * it would arrive addressed to the public endpoint of the flow the host opened,
 * so before the engine sees such a packet it is readdressed to that endpoint.
 * ICMP errors get the same treatment for their outer destination and the
 * packet they quote. Without a flow, the packet goes to the first public
 * address on the same port: what an unsolicited packet would look like.
 */
import type { NatEngine } from '../../nat/engine.js';
import { fillIcmpChecksumAt, L4Checksum, rewriteEndpoint, rewriteQuoted } from '../../nat/rewrite.js';
import { isIcmpError } from '../../wire/icmp.js';
import { IPV4, ipv4, PROTO_ICMP, PROTO_TCP, PROTO_UDP, read16 } from '../../wire/ipv4.js';

/** True when the packet was addressed to an inside host and has been readdressed. */
export function presentAtPublicSide(engine: NatEngine, pkt: Uint8Array): boolean {
  if (pkt.length < 20 || pkt[0] >> 4 !== 4) return false;
  const dst = ipv4.dst(pkt, 0);
  if (!engine.isInside(dst)) return false;
  const hl = ipv4.headerLength(pkt, 0);
  const total = ipv4.totalLength(pkt, 0);
  if (total > pkt.length || total - hl < 8) return false;
  const proto = ipv4.protocol(pkt, 0);
  const src = ipv4.src(pkt, 0);
  const firstFragment = (read16(pkt, 6) & 0x1fff) === 0;
  if (proto === PROTO_ICMP && isIcmpError(pkt[hl])) return presentIcmpError(engine, pkt, hl, total, dst);
  let sport: number;
  let dport: number;
  if (proto === PROTO_UDP || proto === PROTO_TCP) {
    if (!firstFragment) return readdress(pkt, hl, total, proto, dst, engine.config.publicAddrs[0], 0, false);
    sport = read16(pkt, hl);
    dport = read16(pkt, hl + 2);
  } else if (proto === PROTO_ICMP && (pkt[hl] === 0 || pkt[hl] === 14)) {
    sport = 0;
    dport = read16(pkt, hl + 4); // echo/timestamp reply: the identifier
  } else {
    return readdress(pkt, hl, total, proto, dst, engine.config.publicAddrs[0], 0, false);
  }
  const [pubAddr, pubPort] = engine.flowPublicEndpoint(proto, dst, dport, src, sport) ?? [engine.config.publicAddrs[0], dport];
  return readdress(pkt, hl, total, proto, dst, pubAddr, pubPort, true);
}

function readdress(
  pkt: Uint8Array,
  hl: number,
  total: number,
  proto: number,
  oldAddr: number,
  newAddr: number,
  newPort: number,
  transport: boolean,
): boolean {
  rewriteEndpoint(pkt, 0, hl, total - hl, proto, IPV4.DST, proto === PROTO_ICMP ? 0 : 2, oldAddr, newAddr, newPort, transport ? L4Checksum.Full : L4Checksum.None);
  return true;
}

function presentIcmpError(engine: NatEngine, pkt: Uint8Array, hl: number, total: number, dst: number): boolean {
  const inner = hl + 8;
  if (total - inner < 28 || pkt[inner] >> 4 !== 4) return false;
  const ihl = (pkt[inner] & 0x0f) << 2;
  if (ihl < 20 || inner + ihl + 8 > total) return false;
  const iproto = pkt[inner + 9];
  const isrc = ipv4.src(pkt, inner);
  const idst = ipv4.dst(pkt, inner);
  const il4 = inner + ihl;
  const isport = iproto === PROTO_ICMP ? read16(pkt, il4 + 4) : read16(pkt, il4);
  const idport = iproto === PROTO_ICMP ? 0 : read16(pkt, il4 + 2);
  const endpoint = engine.flowPublicEndpoint(iproto, isrc, isport, idst, idport);
  if (endpoint === null) return false;
  const [pubAddr, pubPort] = endpoint;
  rewriteEndpoint(pkt, 0, hl, total - hl, PROTO_ICMP, IPV4.DST, 0, dst, pubAddr, 0, L4Checksum.None);
  rewriteQuoted(pkt, inner, ihl, total, iproto, IPV4.SRC, isrc, pubAddr, isport, pubPort);
  fillIcmpChecksumAt(pkt, hl, total);
  return true;
}
