/**
 * What must hold of a packet that leaves the engine: an IPv4 header whose
 * checksum is right, and a transport checksum that is right whenever the
 * packet came in with a right one (the engine must not break it; it may pass
 * a broken one on, as a router does).
 */
import { ipv4, ipv4HeaderChecksumValid, PROTO_ICMP, PROTO_TCP, PROTO_UDP } from '../../../src/wire/ipv4.js';
import { udpChecksumValid } from '../../../src/wire/udp.js';
import { tcpChecksumValid } from '../../../src/wire/tcp.js';
import { icmpChecksumValid } from '../../../src/wire/icmp.js';
import { invariant } from '../target.js';

/** An IPv4 packet whose header the engine would accept: version, lengths. */
export function wellFormedIpv4(p: Uint8Array): boolean {
  if (p.length < 20 || p[0] >> 4 !== 4) return false;
  const hl = (p[0] & 15) * 4;
  const total = (p[2] << 8) | p[3];
  return hl >= 20 && total >= hl && total <= p.length;
}

function unfragmented(p: Uint8Array): boolean {
  return ipv4.fragmentOffset(p, 0) === 0 && !ipv4.moreFragments(p, 0);
}

function transportRoom(p: Uint8Array): boolean {
  const hl = ipv4.headerLength(p, 0);
  const l4 = ipv4.totalLength(p, 0) - hl;
  const proto = ipv4.protocol(p, 0);
  if (proto === PROTO_UDP) return l4 >= 8 && ((p[hl + 4] << 8) | p[hl + 5]) >= 8 && ((p[hl + 4] << 8) | p[hl + 5]) <= l4;
  if (proto === PROTO_TCP) return l4 >= 20 && (p[hl + 12] >> 4) * 4 >= 20 && (p[hl + 12] >> 4) * 4 <= l4;
  return proto === PROTO_ICMP && l4 >= 8;
}

/** The transport checksum of an unfragmented UDP, TCP or ICMP packet; null when there is none to check. */
export function transportChecksumOk(p: Uint8Array): boolean | null {
  if (!wellFormedIpv4(p) || !unfragmented(p) || !transportRoom(p)) return null;
  const hl = ipv4.headerLength(p, 0);
  switch (ipv4.protocol(p, 0)) {
    case PROTO_UDP:
      if (p[hl + 6] === 0 && p[hl + 7] === 0) return null; // no checksum (IPv4 allows it)
      return udpChecksumValid(p, 0);
    case PROTO_TCP:
      return tcpChecksumValid(p, 0);
    case PROTO_ICMP:
      return icmpChecksumValid(p, 0);
    default:
      return null;
  }
}

export interface InputChecksums {
  header: boolean;
  transport: boolean | null;
}

export function checksumsOf(p: Uint8Array): InputChecksums {
  const header = wellFormedIpv4(p) && ipv4HeaderChecksumValid(p, 0);
  return { header, transport: header ? transportChecksumOk(p) : null };
}

/** A packet the engine sends on: whatever was right when it came in is still right. */
export function assertForwardedChecksums(out: Uint8Array, before: InputChecksums, what: string): void {
  if (!wellFormedIpv4(out)) return; // IPv6, or passed as malformed by policy
  if (before.header) invariant(ipv4HeaderChecksumValid(out, 0), `${what}: IPv4 header checksum broken by the engine`);
  if (before.transport === true) invariant(transportChecksumOk(out) !== false, `${what}: transport checksum broken by the engine`);
}

/** A packet the engine made itself (an ICMP error, a released fragment, an extra segment) is right throughout. */
export function assertOriginatedChecksums(out: Uint8Array, what: string): void {
  invariant(wellFormedIpv4(out), `${what}: not a well-formed IPv4 packet`);
  invariant(ipv4HeaderChecksumValid(out, 0), `${what}: IPv4 header checksum wrong`);
}
