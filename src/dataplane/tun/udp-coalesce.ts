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
import { fold, pseudoHeaderSum } from '../../wire/checksum.js';
import { VNET_F_DATA_VALID, VNET_F_NEEDS_CSUM, VNET_GSO_NONE, VNET_GSO_UDP_L4, VNET_HEADER_SIZE } from './vnet-header.js';

const IP_UDP = 28;
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
  if (len <= IP_UDP || b[off] !== 0x45 || b[off + 9] !== 17) return false;
  if (((b[off + 2] << 8) | b[off + 3]) !== len) return false;
  if ((b[off + 6] & 0x3f) !== 0 || b[off + 7] !== 0) return false; // MF or a fragment offset
  if (((b[off + 24] << 8) | b[off + 25]) !== len - 20) return false; // UDP length agrees
  // A verified complete checksum of 0 means "none": keep such datagrams as they are.
  if ((flags & VNET_F_NEEDS_CSUM) === 0 && b[off + 26] === 0 && b[off + 27] === 0) return false;
  return true;
}

/** Whether packet (o2, l2) continues a run whose previous packet is (o1, l1) and whose segment payload is size. */
function continues(b: Uint8Array, o1: number, o2: number, l2: number, size: number): boolean {
  if (l2 - IP_UDP > size) return false;
  if ((b[o1 - VNET_HEADER_SIZE] & VNET_F_NEEDS_CSUM) !== (b[o2 - VNET_HEADER_SIZE] & VNET_F_NEEDS_CSUM)) return false;
  // version/IHL, TOS; flags and fragment offset, TTL, protocol; addresses and ports.
  if (b[o1 + 1] !== b[o2 + 1]) return false;
  for (let k = 6; k < 10; k++) if (b[o1 + k] !== b[o2 + k]) return false;
  for (let k = 12; k < 24; k++) if (b[o1 + k] !== b[o2 + k]) return false;
  const id1 = (b[o1 + 4] << 8) | b[o1 + 5];
  const id2 = (b[o2 + 4] << 8) | b[o2 + 5];
  return id2 === ((id1 + 1) & 0xffff);
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
  out[ip + 2] = total >>> 8;
  out[ip + 3] = total & 0xff;
  out[ip + 10] = 0;
  out[ip + 11] = 0;
  let s = 0;
  for (let k = 0; k < 20; k += 2) s += (out[ip + k] << 8) | out[ip + k + 1];
  const hc = ~fold(s) & 0xffff;
  out[ip + 10] = hc >>> 8;
  out[ip + 11] = hc & 0xff;
  const udpLength = total - 20;
  out[ip + 24] = udpLength >>> 8;
  out[ip + 25] = udpLength & 0xff;
  // Partial checksum: the pseudo-header sum over the whole UDP length, which the kernel adjusts per segment.
  const src = ((out[ip + 12] << 24) | (out[ip + 13] << 16) | (out[ip + 14] << 8) | out[ip + 15]) >>> 0;
  const dst = ((out[ip + 16] << 24) | (out[ip + 17] << 16) | (out[ip + 18] << 8) | out[ip + 19]) >>> 0;
  const pseudo = fold(pseudoHeaderSum(src, dst, 17, udpLength));
  out[ip + 26] = pseudo >>> 8;
  out[ip + 27] = pseudo & 0xff;
  // virtio_net_hdr, little-endian: NEEDS_CSUM, UDP_L4, hdr_len 28, gso_size, csum_start 20, csum_offset 6.
  out[0] = VNET_F_NEEDS_CSUM;
  out[1] = VNET_GSO_UDP_L4;
  out[2] = IP_UDP;
  out[3] = 0;
  out[4] = size & 0xff;
  out[5] = size >>> 8;
  out[6] = 20;
  out[7] = 0;
  out[8] = 6;
  out[9] = 0;
  return total;
}
