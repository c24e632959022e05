/**
 * The NAT's rewrite of one endpoint of a packet in place: the address in the
 * IPv4 header and the port in the transport header (for ICMP queries, the
 * identifier), with the IPv4 header checksum and the transport checksum kept
 * right by incremental update (RFC 1624), through the wire setters. A UDP
 * checksum of 0 (none) stays 0; a partial (offloaded) checksum stays partial.
 * And the same for the packet an ICMP error quotes.
 */
import * as checksumModule from '../wire/checksum.js';
import * as icmpModule from '../wire/icmp.js';
import * as ipv4Module from '../wire/ipv4.js';
import type { Ipv4AddressField } from '../wire/ipv4.js';
import * as l4Module from '../wire/l4-checksum.js';
import { L4Checksum } from '../wire/l4-checksum.js';
import * as tcpModule from '../wire/tcp.js';
import * as udpModule from '../wire/udp.js';

export { L4Checksum } from '../wire/l4-checksum.js';

// Imported bindings are live: V8 reloads and checks them on every use in a hot
// loop. Local copies, taken once at load, are constants it can fold.
const { updateChecksum32 } = checksumModule;
const { setIpv4Address, PROTO_ICMP, PROTO_TCP, PROTO_UDP, IPV4 } = ipv4Module;
const { UDP } = udpModule;
const { TCP } = tcpModule;
const { setIcmpId, icmpChecksumOf, ICMP } = icmpModule;
const { updateL4Checksum, fullChecksumAfter, partialChecksumAfter } = l4Module;
const NONE = L4Checksum.None;
const FULL = L4Checksum.Full;
const PARTIAL = L4Checksum.Partial;
const SRC = IPV4.SRC;
const IP_CHECKSUM = IPV4.CHECKSUM;
const UDP_CHECKSUM = UDP.CHECKSUM;
const TCP_CHECKSUM = TCP.CHECKSUM;
const ICMP_ID = ICMP.ID;
/** A TCP header shorter than this (a first fragment cut short) has no checksum field to keep. */
const TCP_THROUGH_CHECKSUM = TCP.CHECKSUM + 2;

/**
 * Replaces the address at `addrAt` (IPV4.SRC or IPV4.DST) of the IPv4 packet at
 * `ip`, and the port at `portAt` of its transport header at `l4` (the source
 * port, 0, or the destination port, 2; for ICMP queries the identifier,
 * whichever direction). `checksum` says how the transport checksum is kept
 * (None: there is no transport header here, a later fragment).
 *
 * The same arithmetic as wire's setters (setIpv4Address, setUdpEndpoint,
 * setTcpEndpoint, setIcmpId), written out flat with only leaf calls: this runs
 * for every packet, inside the engine's largest functions, where V8 stops
 * inlining nested calls (measured: composing the setters cost 10-18 %).
 */
export function rewriteEndpoint(
  b: Uint8Array,
  ip: number,
  l4: number,
  l4Length: number,
  proto: number,
  addrAt: Ipv4AddressField,
  portAt: 0 | 2,
  oldAddr: number,
  newAddr: number,
  newPort: number,
  checksum: L4Checksum,
): void {
  if (oldAddr !== newAddr) {
    const a = ip + addrAt;
    b[a] = newAddr >>> 24;
    b[a + 1] = newAddr >>> 16;
    b[a + 2] = newAddr >>> 8;
    b[a + 3] = newAddr;
    const c = ip + IP_CHECKSUM;
    const n = updateChecksum32((b[c] << 8) | b[c + 1], oldAddr, newAddr);
    b[c] = n >>> 8;
    b[c + 1] = n;
  }
  if (checksum === NONE) return;
  const p = l4 + portAt;
  if (proto === PROTO_UDP || proto === PROTO_TCP) {
    const oldPort = (b[p] << 8) | b[p + 1];
    b[p] = newPort >>> 8;
    b[p + 1] = newPort;
    const udp = proto === PROTO_UDP;
    if (!udp && l4Length < TCP_THROUGH_CHECKSUM) return;
    const c = l4 + (udp ? UDP_CHECKSUM : TCP_CHECKSUM);
    const v = (b[c] << 8) | b[c + 1];
    let n: number;
    if (checksum === PARTIAL) n = partialChecksumAfter(v, oldAddr, newAddr);
    else {
      if (udp && v === 0) return; // no checksum stays no checksum
      n = fullChecksumAfter(v, oldAddr, newAddr, oldPort, newPort);
      if (udp && n === 0) n = 0xffff;
    }
    b[c] = n >>> 8;
    b[c + 1] = n;
  } else if (proto === PROTO_ICMP) setIcmpId(b, l4, newPort); // ICMPv4 has no pseudo-header: the address does not count
}

/**
 * In an ICMP error, rewrites the quoted packet's address (IPV4.SRC or
 * IPV4.DST) and the matching port, fixing the quoted IPv4 header checksum
 * and, when the quote reaches it, the quoted UDP/TCP/ICMP checksum. The outer
 * ICMP checksum is the caller's to recompute (fillIcmpChecksumAt).
 */
export function rewriteQuoted(
  pkt: Uint8Array,
  inner: number,
  ihl: number,
  total: number,
  iproto: number,
  addrAt: Ipv4AddressField,
  oldAddr: number,
  newAddr: number,
  oldPort: number,
  newPort: number,
): void {
  setIpv4Address(pkt, inner, addrAt, newAddr);
  const il4 = inner + ihl;
  if (iproto === PROTO_ICMP) {
    // The quote may end before the ICMP checksum: then only the identifier.
    setIcmpId(pkt, il4, newPort, total - il4 >= ICMP_ID);
    return;
  }
  const portAt = il4 + (addrAt === SRC ? 0 : 2);
  pkt[portAt] = newPort >>> 8;
  pkt[portAt + 1] = newPort;
  const csumAt = iproto === PROTO_UDP ? il4 + UDP.CHECKSUM : iproto === PROTO_TCP ? il4 + TCP.CHECKSUM : -1;
  if (csumAt < 0 || csumAt + 2 > total) return;
  updateL4Checksum(pkt, csumAt, FULL, iproto === PROTO_UDP, oldAddr, newAddr, oldPort, newPort);
}

/** Recomputes the checksum of the ICMP message at pkt[icmp, total). */
export function fillIcmpChecksumAt(pkt: Uint8Array, icmp: number, total: number): void {
  const at = icmp + ICMP.CHECKSUM;
  pkt[at] = 0;
  pkt[at + 1] = 0;
  const c = icmpChecksumOf(pkt, icmp, total - icmp);
  pkt[at] = c >>> 8;
  pkt[at + 1] = c;
}
