/**
 * Rewriting addresses and ports in place, keeping every checksum valid by
 * incremental update (RFC 1624): the IPv4 header checksum, and the UDP, TCP or
 * ICMP checksum that covers the changed fields. A UDP checksum of 0 (none) stays 0.
 */
import * as checksumModule from '../wire/checksum.js';
import * as ipv4Module from '../wire/ipv4.js';

// Imported bindings are live: V8 reloads and checks them on every use in a hot
// loop. Local copies, taken once at load, are constants it can fold.
const { internetChecksum, updateChecksum16, updateChecksum32 } = checksumModule;
const { PROTO_ICMP, PROTO_TCP, PROTO_UDP } = ipv4Module;

function set16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}

function set32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/** How the transport header's checksum is to be kept right. */
export const enum L4 {
  /** No transport header here (a fragment after the first): the address only. */
  None = 0,
  /** A complete checksum: updated for the address and the port. */
  Full = 1,
  /**
   * A partial checksum left for the NIC or kernel to finish (checksum offload:
   * the field holds the pseudo-header sum, not complemented). Only the
   * address is in it; the port is summed later with the rest of the header.
   */
  Partial = 2,
}

/**
 * Replaces the address at `addrAt` (12: source, 16: destination) of the IPv4
 * packet at ip, and the port at `portAt` of its transport header at l4 (0: source
 * port, 2: destination port; for ICMP queries the identifier is at 4 whichever
 * direction), keeping the IPv4 header checksum and the transport checksum right.
 */
export function rewriteEndpoint(
  b: Uint8Array,
  ip: number,
  l4: number,
  l4Length: number,
  proto: number,
  addrAt: 12 | 16,
  portAt: 0 | 2,
  oldAddr: number,
  newAddr: number,
  oldPort: number,
  newPort: number,
  checksum: L4,
): void {
  if (oldAddr !== newAddr) {
    set32(b, ip + addrAt, newAddr);
    set16(b, ip + 10, updateChecksum32((b[ip + 10] << 8) | b[ip + 11], oldAddr, newAddr));
  }
  if (checksum === L4.None) return;
  if (proto === PROTO_UDP || proto === PROTO_TCP) {
    set16(b, l4 + portAt, newPort);
    const at = l4 + (proto === PROTO_UDP ? 6 : 16);
    if (proto === PROTO_TCP && l4Length < 18) return;
    const c = (b[at] << 8) | b[at + 1];
    if (checksum === L4.Partial) {
      // The stored value is the pseudo-header sum itself: add new, take old.
      set16(b, at, ~updateChecksum32(~c & 0xffff, oldAddr, newAddr) & 0xffff);
      return;
    }
    if (proto === PROTO_UDP && c === 0) return; // no checksum stays no checksum
    let n = updateChecksum32(c, oldAddr, newAddr);
    n = updateChecksum16(n, oldPort, newPort);
    set16(b, at, proto === PROTO_UDP && n === 0 ? 0xffff : n);
  } else if (proto === PROTO_ICMP) {
    // Query identifier; ICMPv4 has no pseudo-header, so the address does not count.
    if (oldPort !== newPort) {
      set16(b, l4 + 4, newPort);
      set16(b, l4 + 2, updateChecksum16((b[l4 + 2] << 8) | b[l4 + 3], oldPort, newPort));
    }
  }
}

/**
 * In an ICMP error, rewrites the quoted packet's address (12: source, 16:
 * destination) and the matching port, fixing the quoted IPv4 header checksum
 * and, when the quote reaches it, the quoted UDP/TCP/ICMP checksum. The outer
 * ICMP checksum is the caller's to recompute (fillIcmpChecksumAt).
 */
export function rewriteQuoted(
  pkt: Uint8Array,
  inner: number,
  ihl: number,
  total: number,
  iproto: number,
  addrAt: 12 | 16,
  oldAddr: number,
  newAddr: number,
  oldPort: number,
  newPort: number,
): void {
  set32(pkt, inner + addrAt, newAddr);
  set16(pkt, inner + 10, updateChecksum32((pkt[inner + 10] << 8) | pkt[inner + 11], oldAddr, newAddr));
  const il4 = inner + ihl;
  const quotedLen = total - il4;
  if (iproto === PROTO_ICMP) {
    set16(pkt, il4 + 4, newPort);
    if (quotedLen >= 4) set16(pkt, il4 + 2, updateChecksum16((pkt[il4 + 2] << 8) | pkt[il4 + 3], oldPort, newPort));
    return;
  }
  set16(pkt, il4 + (addrAt === 12 ? 0 : 2), newPort);
  const csumAt = iproto === PROTO_UDP ? il4 + 6 : iproto === PROTO_TCP ? il4 + 16 : -1;
  if (csumAt < 0 || csumAt + 2 > total) return;
  const c = (pkt[csumAt] << 8) | pkt[csumAt + 1];
  if (iproto === PROTO_UDP && c === 0) return;
  let n = updateChecksum32(c, oldAddr, newAddr);
  n = updateChecksum16(n, oldPort, newPort);
  set16(pkt, csumAt, iproto === PROTO_UDP && n === 0 ? 0xffff : n);
}

/** Recomputes the checksum of the ICMP message at pkt[icmp, total). */
export function fillIcmpChecksumAt(pkt: Uint8Array, icmp: number, total: number): void {
  pkt[icmp + 2] = 0;
  pkt[icmp + 3] = 0;
  set16(pkt, icmp + 2, internetChecksum(pkt, icmp, total));
}
