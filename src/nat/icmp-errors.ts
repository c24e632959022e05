/**
 * ICMP errors (RFC 5508): an error about a packet of a known flow is
 * translated with it: the outer address on our side, the quoted packet's
 * address and port on our side, the quoted IPv4 header checksum, the quoted
 * transport checksum when quoted, and the ICMP checksum. One path for both
 * directions: from outside, the quoted packet is one we sent out (its source
 * is our public endpoint, restored to the inside host's); from inside, it is
 * one an inside host received (its destination is the inside endpoint, which
 * becomes the public one). Errors never refresh or delete a flow.
 */
import { internetChecksum } from '../wire/checksum.js';
import { ICMP, ICMP_HEADER } from '../wire/icmp.js';
import { IPV4, ipv4, IPV4_MIN_HEADER, PROTO_ICMP, read16, read32 } from '../wire/ipv4.js';
import { UDP } from '../wire/udp.js';
import { DropReason } from './counters.js';
import { NO_FLOW } from './flow-table.js';
import type { NatParts } from './parts.js';
import { fillIcmpChecksumAt, L4Checksum, rewriteEndpoint, rewriteQuoted } from './rewrite.js';
import { Side, Verdict } from './verdict.js';

const { SRC, DST } = IPV4;

export class IcmpErrors {
  constructor(private readonly p: NatParts) {}

  /** Translates an ICMP error arriving on `side`; the IPv4 header is `hl` bytes, the packet `total`. */
  translate(pkt: Uint8Array, hl: number, total: number, side: Side, now: number): Verdict {
    const { flows, refusals, counters, addresses, config } = this.p;
    const fromOutside = side === Side.Outside;
    const q = quotedPacket(pkt, hl, total);
    if (q === QUOTE_BAD_CHECKSUM) return refusals.drop(DropReason.badChecksum);
    if (q === QUOTE_MALFORMED) return refusals.malformed(side);
    const inner = hl + ICMP.QUOTED;
    const ihl = ipv4.headerLength(pkt, inner);
    const iproto = ipv4.protocol(pkt, inner);
    const il4 = inner + ihl;
    // "Our" side of the quoted packet is the endpoint this NAT translated.
    const ourAt = fromOutside ? SRC : DST;
    const theirAt = fromOutside ? DST : SRC;
    const ourAddr = read32(pkt, inner + ourAt);
    const theirAddr = read32(pkt, inner + theirAt);
    let ourPort: number;
    let theirPort: number;
    if (iproto === PROTO_ICMP) {
      ourPort = read16(pkt, il4 + ICMP.ID); // the query identifier plays the port
      theirPort = 0;
    } else {
      // UDP and TCP keep their ports at the same offsets.
      ourPort = read16(pkt, il4 + (ourAt === SRC ? UDP.SRC_PORT : UDP.DST_PORT));
      theirPort = read16(pkt, il4 + (ourAt === SRC ? UDP.DST_PORT : UDP.SRC_PORT));
    }
    const outerOurs = read32(pkt, ourAt === SRC ? DST : SRC);
    // From outside, the error must be addressed to the endpoint the quote names.
    if (fromOutside && outerOurs !== ourAddr) return refusals.drop(DropReason.icmpNoFlow);
    const id = fromOutside
      ? flows.findInbound(iproto, theirAddr, theirPort, ourAddr, ourPort)
      : flows.findOutbound(iproto, ourAddr, ourPort, theirAddr, theirPort);
    if (id === NO_FLOW || flows.isExpired(id, now)) return refusals.drop(DropReason.icmpNoFlow);
    const newAddr = fromOutside ? flows.inAddr[id] : flows.pubAddr[id];
    const newPort = fromOutside ? flows.inPort[id] : flows.pubPort[id];
    // From inside, the sender may be an inside router rather than the host
    // itself: either way the error leaves from the flow's public address.
    rewriteEndpoint(pkt, 0, hl, total - hl, PROTO_ICMP, fromOutside ? DST : SRC, 0, outerOurs, newAddr, 0, L4Checksum.None);
    rewriteQuoted(pkt, inner, ihl, total, iproto, ourAt, ourAddr, newAddr, ourPort, newPort);
    fillIcmpChecksumAt(pkt, hl, total);
    counters.icmpErrorsTranslated++;
    if (fromOutside) return Verdict.ToInside;
    // About hairpinned traffic: the error goes to another inside host's public
    // endpoint, so it turns around like the traffic did (RFC 5508 REQ-7).
    if (addresses.isPublic(read32(pkt, DST))) {
      if (!config.hairpin) return refusals.drop(DropReason.hairpinDisabled);
      counters.hairpinned++;
      return this.translate(pkt, hl, total, Side.Outside, now) === Verdict.Drop ? Verdict.Drop : Verdict.ToInside;
    }
    return Verdict.ToOutside;
  }
}

const QUOTE_MALFORMED = -1;
const QUOTE_BAD_CHECKSUM = -2;

/**
 * Checks an ICMP error before translating it (RFC 5508 REQ-3): the quoted
 * packet has a header and ports, the ICMP checksum and the quoted header's
 * checksum verify. The quoted transport checksum is not checked (REQ-3c).
 * Returns the quoted packet's offset, or QUOTE_MALFORMED / QUOTE_BAD_CHECKSUM.
 */
function quotedPacket(pkt: Uint8Array, hl: number, total: number): number {
  const inner = hl + ICMP.QUOTED;
  if (total - inner < IPV4_MIN_HEADER || ipv4.version(pkt, inner) !== 4) return QUOTE_MALFORMED;
  const ihl = ipv4.headerLength(pkt, inner);
  // The quote must reach the ports (eight bytes of the transport header, RFC 792).
  if (ihl < IPV4_MIN_HEADER || inner + ihl + ICMP_HEADER > total) return QUOTE_MALFORMED;
  // A quoted non-first fragment has no ports to match.
  if (ipv4.fragmentOffset(pkt, inner) !== 0) return QUOTE_MALFORMED;
  if (internetChecksum(pkt, hl, total) !== 0 || internetChecksum(pkt, inner, inner + ihl) !== 0) return QUOTE_BAD_CHECKSUM;
  return inner;
}
