/**
 * IPv6 (RFC 8200). masq passes IPv6 untranslated for now, but parses it: the
 * dataplanes count it, the pcap reader labels it, and the walk over extension
 * headers finds the upper-layer protocol without trusting any length blindly.
 */
import { WireError } from './error.js';
import { read16 } from './ipv4.js';

const IPV6_HEADER = 40;

const HOP_BY_HOP = 0;
const ROUTING = 43;
const FRAGMENT = 44;
const AUTH = 51;
const NO_NEXT = 59;
const DEST_OPTS = 60;
const MOBILITY = 135;

export interface Ipv6Repr {
  trafficClass: number;
  flowLabel: number;
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  src: Uint8Array;
  dst: Uint8Array;
  /** The upper-layer protocol after extension headers, or 59 (no next header). */
  upperProtocol: number;
  /** Offset (from the start of the IPv6 header) of the upper-layer header. */
  upperOffset: number;
  /** Extension header types in order. */
  extensions: number[];
  /** From a Fragment header, when present. */
  fragment: { offset: number; more: boolean; id: number } | null;
}

export function parseIpv6(b: Uint8Array, o = 0, available = b.length - o): Ipv6Repr {
  if (available < IPV6_HEADER) throw new WireError('ipv6', 'shorter than an IPv6 header');
  if (b[o] >> 4 !== 6) throw new WireError('ipv6', 'not IPv6');
  const payloadLength = read16(b, o + 4);
  if (IPV6_HEADER + payloadLength > available) throw new WireError('ipv6', 'payload length beyond the data');
  const end = o + IPV6_HEADER + payloadLength;
  const extensions: number[] = [];
  let fragment: Ipv6Repr['fragment'] = null;
  let next = b[o + 6];
  let p = o + IPV6_HEADER;
  // Bounded: each extension header is at least 8 bytes, so at most payloadLength/8 of them.
  for (let guard = 0; guard <= payloadLength / 8; guard++) {
    if (next !== HOP_BY_HOP && next !== ROUTING && next !== FRAGMENT && next !== AUTH && next !== DEST_OPTS && next !== MOBILITY) {
      break;
    }
    if (p + 8 > end) throw new WireError('ipv6', `extension header ${next} truncated`);
    extensions.push(next);
    let len: number;
    if (next === FRAGMENT) {
      len = 8;
      const word = read16(b, p + 2);
      fragment = { offset: word >> 3, more: (word & 1) === 1, id: ((b[p + 4] << 24) | (b[p + 5] << 16) | (b[p + 6] << 8) | b[p + 7]) >>> 0 };
    } else if (next === AUTH) len = (b[p + 1] + 2) * 4;
    else len = (b[p + 1] + 1) * 8;
    if (p + len > end) throw new WireError('ipv6', `extension header ${next} longer than the packet`);
    next = b[p];
    p += len;
    // A non-first fragment carries no upper-layer header.
    if (fragment && fragment.offset !== 0) break;
  }
  return {
    trafficClass: ((b[o] & 0x0f) << 4) | (b[o + 1] >> 4),
    flowLabel: ((b[o + 1] & 0x0f) << 16) | read16(b, o + 2),
    payloadLength,
    nextHeader: b[o + 6],
    hopLimit: b[o + 7],
    src: b.slice(o + 8, o + 24),
    dst: b.slice(o + 24, o + 40),
    upperProtocol: next === NO_NEXT ? NO_NEXT : next,
    upperOffset: p - o,
    extensions,
    fragment,
  };
}
