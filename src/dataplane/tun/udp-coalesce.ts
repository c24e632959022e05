/**
 * UDP coalescing on write ("GRO in user space"): consecutive translated
 * datagrams of one flow are written to the TUN device as one UDP GSO
 * super-packet (VIRTIO_NET_HDR_GSO_UDP_L4), which the kernel routes and
 * forwards once and cuts back into the same datagrams where it must (at the
 * egress device, or at the receiving socket). Most of masq's per-packet cost
 * is the kernel forwarding each written packet; this pays it once per run.
 *
 * Only runs the kernel reproduces exactly are merged: same IPv4 header but
 * for identification (consecutive, as segmentation numbers them), total
 * length and checksum; no options, no fragments; same ports; equal payload
 * sizes but for a shorter last one; and a checksum that is still partial or
 * was verified by the kernel (a datagram with a bad or absent checksum must
 * not come out with a good one).
 */
import * as checksumModule from '../../wire/checksum.js';
import * as ipv4Module from '../../wire/ipv4.js';
import * as udpModule from '../../wire/udp.js';
import { VNET_F_DATA_VALID, VNET_F_NEEDS_CSUM, VNET_GSO_NONE, VNET_GSO_UDP_L4, VNET_HEADER_SIZE } from './vnet-header.js';

// Module-local copies: this runs per packet written, and an imported binding is
// read from its module cell at every use where a local constant is folded.
const { fold, pseudoHeaderSum } = checksumModule;
const { IPV4, IPV4_MIN_HEADER, PROTO_UDP, read16, read32, write16 } = ipv4Module;
const { UDP, UDP_HEADER } = udpModule;
const { TOS, TOTAL_LEN, IDENT, FLAGS_FRAG, PROTO, CHECKSUM, SRC, DST } = IPV4;
/** Packets here have no IP options: the UDP header follows at 20. */
const UDP_AT = IPV4_MIN_HEADER;
const IP_UDP = IPV4_MIN_HEADER + UDP_HEADER;
const UDP_LENGTH = UDP_AT + UDP.LENGTH;
const UDP_CHECKSUM = UDP_AT + UDP.CHECKSUM;
/** The kernel refuses a UDP GSO packet of more segments (UDP_MAX_SEGMENTS). */
export const MAX_SEGMENTS = 128;

/**
 * Whether packet b[off, off + len) (its virtio header at off - 10) can start
 * or join a run: a plain UDP/IPv4 datagram, no options, not a fragment, not
 * GSO, with a payload, its checksum partial or verified.
 */
function eligible(b: Uint8Array, off: number, len: number): boolean {
  const flags = b[off - VNET_HEADER_SIZE];
  if (b[off - VNET_HEADER_SIZE + 1] !== VNET_GSO_NONE) return false;
  if ((flags & (VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID)) === 0) return false;
  if (len <= IP_UDP || b[off] !== 0x45 || b[off + PROTO] !== PROTO_UDP) return false; // 0x45: IPv4, no options
  if (read16(b, off + TOTAL_LEN) !== len) return false;
  if ((read16(b, off + FLAGS_FRAG) & 0x3fff) !== 0) return false; // MF or a fragment offset
  if (read16(b, off + UDP_LENGTH) !== len - UDP_AT) return false; // UDP length agrees
  // A verified complete checksum of 0 means "none": keep such datagrams as they are.
  if ((flags & VNET_F_NEEDS_CSUM) === 0 && read16(b, off + UDP_CHECKSUM) === 0) return false;
  return true;
}

/** Whether packet (o2, l2) continues a run whose previous packet is (o1, l1) and whose segment payload is size. */
function continues(b: Uint8Array, o1: number, o2: number, l2: number, size: number): boolean {
  if (l2 - IP_UDP > size) return false;
  if ((b[o1 - VNET_HEADER_SIZE] & VNET_F_NEEDS_CSUM) !== (b[o2 - VNET_HEADER_SIZE] & VNET_F_NEEDS_CSUM)) return false;
  // Version/IHL (both 0x45); TOS; flags and fragment offset, TTL, protocol; addresses and ports.
  if (b[o1 + TOS] !== b[o2 + TOS]) return false;
  for (let k = FLAGS_FRAG; k < CHECKSUM; k++) if (b[o1 + k] !== b[o2 + k]) return false;
  for (let k = SRC; k < UDP_LENGTH; k++) if (b[o1 + k] !== b[o2 + k]) return false;
  return read16(b, o2 + IDENT) === ((read16(b, o1 + IDENT) + 1) & 0xffff);
}

/**
 * The number of packets, from index i of the batch, that make one run (1 when
 * packet i merges with nothing).
 */
export function runLength(b: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, i: number, n: number): number {
  const off = offsets[i];
  const len = lengths[i];
  if (!eligible(b, off, len)) return 1;
  const size = len - IP_UDP;
  let total = len;
  let j = i + 1;
  while (j < n && j - i < MAX_SEGMENTS) {
    const o = offsets[j];
    const l = lengths[j];
    if (total + l - IP_UDP > 0xffff || !eligible(b, o, l) || !continues(b, offsets[j - 1], o, l, size)) break;
    total += l - IP_UDP;
    j++;
    if (l - IP_UDP < size) break; // a shorter datagram can only be the last segment
  }
  return j - i;
}

/**
 * Builds the super-packet of packets [i, i + count) into out (virtio header at
 * 0, the IP packet at 10); returns the IP packet's length. out must hold
 * 10 + 65535 bytes.
 */
export function buildSuperPacket(b: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, i: number, count: number, out: Uint8Array): number {
  const first = offsets[i];
  const size = lengths[i] - IP_UDP;
  const ip = VNET_HEADER_SIZE;
  out.set(b.subarray(first, first + IP_UDP), ip);
  let at = ip + IP_UDP;
  for (let k = i; k < i + count; k++) {
    const o = offsets[k];
    out.set(b.subarray(o + IP_UDP, o + lengths[k]), at);
    at += lengths[k] - IP_UDP;
  }
  const total = at - ip;
  write16(out, ip + TOTAL_LEN, total);
  write16(out, ip + CHECKSUM, 0);
  let s = 0;
  for (let k = 0; k < IPV4_MIN_HEADER; k += 2) s += read16(out, ip + k);
  write16(out, ip + CHECKSUM, ~fold(s) & 0xffff);
  const udpLength = total - UDP_AT;
  write16(out, ip + UDP_LENGTH, udpLength);
  // Partial checksum: the pseudo-header sum over the whole UDP length, which the kernel adjusts per segment.
  const pseudo = fold(pseudoHeaderSum(read32(out, ip + SRC), read32(out, ip + DST), PROTO_UDP, udpLength));
  write16(out, ip + UDP_CHECKSUM, pseudo);
  // virtio_net_hdr, little-endian: NEEDS_CSUM, UDP_L4, hdr_len 28, gso_size, csum_start 20, csum_offset 6.
  out[0] = VNET_F_NEEDS_CSUM;
  out[1] = VNET_GSO_UDP_L4;
  out[2] = IP_UDP;
  out[3] = 0;
  out[4] = size & 0xff;
  out[5] = size >>> 8;
  out[6] = UDP_AT;
  out[7] = 0;
  out[8] = UDP.CHECKSUM;
  out[9] = 0;
  return total;
}
