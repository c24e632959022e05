/**
 * The virtio-net header (struct virtio_net_hdr, 10 bytes, little-endian) that
 * precedes every packet read from or written to a TUN device opened with
 * offload (IFF_VNET_HDR). It says whether the transport checksum is still to
 * be finished (NEEDS_CSUM: the field holds the pseudo-header sum, the rest is
 * summed from csum_start on and stored at csum_start + csum_offset) and
 * whether the packet is a GSO super-packet the kernel will cut into gso_size
 * segments. Offsets count from the start of the IP header (TUN has no link
 * layer).
 *
 * The hot path only tests bytes (flags is byte 0, gso_type byte 1); the repr
 * below is for tests and diagnostics.
 */

export const VNET_HEADER_SIZE = 10;

/** flags */
export const VNET_F_NEEDS_CSUM = 1;
/** flags: the checksum was already checked (set by the kernel on what it reads out; ignored on write). */
export const VNET_F_DATA_VALID = 2;

/** gso_type */
export const VNET_GSO_NONE = 0;
export const VNET_GSO_TCPV4 = 1;
export const VNET_GSO_UDP = 3;
export const VNET_GSO_TCPV6 = 4;
export const VNET_GSO_UDP_L4 = 5;
/** gso_type bit: the TCP segments carry ECN (CWR on the first only). */
export const VNET_GSO_ECN = 0x80;

/** TUNSETOFFLOAD bits (TUN_F_*), as the device reports them in `offloads`. */
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_F_TSO_ECN = 0x08;
export const TUN_F_USO4 = 0x20;
export const TUN_F_USO6 = 0x40;

export interface VnetHeader {
  flags: number;
  gsoType: number;
  /** Length of the headers (IP + transport) of a GSO packet; a hint for the kernel's linear part. */
  hdrLen: number;
  /** Payload bytes per segment of a GSO packet. */
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

export class VnetHeaderError extends Error {
  override readonly name = 'VnetHeaderError';
}

/** Reads the header at buf[at, at + 10). */
export function readVnetHeader(buf: Uint8Array, at: number): VnetHeader {
  if (!Number.isInteger(at) || at < 0 || at + VNET_HEADER_SIZE > buf.length) {
    throw new VnetHeaderError(`no ${VNET_HEADER_SIZE}-byte virtio-net header at ${at} of a ${buf.length}-byte buffer`);
  }
  const u16 = (o: number) => buf[at + o] | (buf[at + o + 1] << 8);
  return { flags: buf[at], gsoType: buf[at + 1], hdrLen: u16(2), gsoSize: u16(4), csumStart: u16(6), csumOffset: u16(8) };
}

/** Writes the header into buf[at, at + 10). */
export function writeVnetHeader(buf: Uint8Array, at: number, h: VnetHeader): void {
  if (!Number.isInteger(at) || at < 0 || at + VNET_HEADER_SIZE > buf.length) {
    throw new VnetHeaderError(`no room for a virtio-net header at ${at} of a ${buf.length}-byte buffer`);
  }
  const fields = [h.hdrLen, h.gsoSize, h.csumStart, h.csumOffset];
  if ([h.flags, h.gsoType].some((v) => !Number.isInteger(v) || v < 0 || v > 0xff) || fields.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffff)) {
    throw new VnetHeaderError(`virtio-net header field out of range: ${JSON.stringify(h)}`);
  }
  buf[at] = h.flags;
  buf[at + 1] = h.gsoType;
  fields.forEach((v, i) => {
    buf[at + 2 + 2 * i] = v & 0xff;
    buf[at + 3 + 2 * i] = v >>> 8;
  });
}

/** A header saying: checksums complete, not GSO. */
export function clearVnetHeader(buf: Uint8Array, at: number): void {
  buf.fill(0, at, at + VNET_HEADER_SIZE);
}

/** The gso_type without the ECN bit. */
export function gsoKind(gsoType: number): number {
  return gsoType & ~VNET_GSO_ECN;
}
