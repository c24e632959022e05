/**
 * Keeping a TCP or UDP checksum field right while the fields it covers are
 * rewritten in place, whatever the field holds. Three cases:
 *
 * - Full: a complete checksum (RFC 768, RFC 9293), over the pseudo-header
 *   (addresses, protocol, length) and the whole segment. Every change is
 *   folded in incrementally (RFC 1624). For UDP a stored 0 means "no checksum"
 *   and stays 0, and a result of 0 goes out as 0xffff.
 * - Partial: checksum offload (Linux CHECKSUM_PARTIAL, a virtio-net header's
 *   NEEDS_CSUM). The field holds the folded pseudo-header sum, not
 *   complemented, and the NIC or kernel later sums the segment over it. Only
 *   pseudo-header changes go in; a changed port is summed when it is finished.
 * - None: the field is left as it is (no transport header in this fragment,
 *   or the caller recomputes the checksum afterwards).
 *
 * Numbers only, no allocation: these run once or twice per translated packet.
 */
import * as checksumModule from './checksum.js';

// Imported bindings are live: V8 reloads and checks them at every use in a hot
// loop. Local copies, taken once at load, are constants it can fold.
const { updateChecksum32 } = checksumModule;

/** How the transport checksum field of a packet is to be kept right. */
export const L4Checksum = {
  None: 0,
  Full: 1,
  Partial: 2,
} as const;
export type L4Checksum = (typeof L4Checksum)[keyof typeof L4Checksum];

const FULL = L4Checksum.Full;
const PARTIAL = L4Checksum.Partial;

/**
 * A complete checksum after one pseudo-header address changed from oldAddr to
 * newAddr and one covered 16-bit word from oldWord to newWord (equal values
 * for what did not change): RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), for the
 * three words at once, folded twice (seven 16-bit terms carry no further).
 * A leaf on purpose: the NAT reaches it three calls deep, and V8 inlines a
 * leaf there where it would stop before a further call.
 */
export function fullChecksumAfter(checksum: number, oldAddr: number, newAddr: number, oldWord: number, newWord: number): number {
  let s =
    (~checksum & 0xffff) +
    (~oldAddr >>> 16) +
    (~oldAddr & 0xffff) +
    (newAddr >>> 16) +
    (newAddr & 0xffff) +
    (~oldWord & 0xffff) +
    (newWord & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/**
 * A partial (offloaded) checksum after one pseudo-header address changed: the
 * field holds the folded pseudo-header sum itself, so the new address is added
 * and the old one taken away, with nothing complemented.
 */
export function partialChecksumAfter(partial: number, oldAddr: number, newAddr: number): number {
  let s = partial + (~oldAddr >>> 16) + (~oldAddr & 0xffff) + (newAddr >>> 16) + (newAddr & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return s;
}

/**
 * Updates the checksum field at b[at] for one address of the pseudo-header
 * changing from oldAddr to newAddr and one 16-bit word the checksum covers (a
 * port) changing from oldWord to newWord. Pass equal old and new values for
 * what did not change. `udp` selects UDP's rule for 0. (setUdpEndpoint and
 * setTcpEndpoint do the same for a port they write; this is for a checksum
 * field elsewhere, such as in the packet an ICMP error quotes.)
 */
export function updateL4Checksum(
  b: Uint8Array,
  at: number,
  mode: L4Checksum,
  udp: boolean,
  oldAddr: number,
  newAddr: number,
  oldWord: number,
  newWord: number,
): void {
  if (mode === FULL) {
    const c = (b[at] << 8) | b[at + 1];
    if (udp && c === 0) return; // no checksum stays no checksum
    let n = fullChecksumAfter(c, oldAddr, newAddr, oldWord, newWord);
    if (udp && n === 0) n = 0xffff;
    b[at] = n >>> 8;
    b[at + 1] = n;
  } else if (mode === PARTIAL) {
    const n = partialChecksumAfter((b[at] << 8) | b[at + 1], oldAddr, newAddr);
    b[at] = n >>> 8;
    b[at + 1] = n;
  }
}

/**
 * Updates the checksum field at b[at] for a 32-bit covered field (a TCP
 * sequence or acknowledgement number) changing from oldValue to newValue. Only
 * a full checksum covers it; a partial one is finished later over the new value.
 */
export function updateL4Checksum32(b: Uint8Array, at: number, mode: L4Checksum, oldValue: number, newValue: number): void {
  if (mode !== FULL) return;
  const n = updateChecksum32((b[at] << 8) | b[at + 1], oldValue, newValue);
  b[at] = n >>> 8;
  b[at + 1] = n;
}

/**
 * Sets the port at b[at] and keeps the checksum field at b[checksumAt] right
 * for it and for a pseudo-header address that changed from oldAddr to newAddr
 * (pass the same address twice when it did not change). `udp` selects UDP's
 * rule for 0. What setUdpEndpoint and setTcpEndpoint share.
 */
export function setPortKeepingChecksum(
  b: Uint8Array,
  at: number,
  checksumAt: number,
  udp: boolean,
  port: number,
  oldAddr: number,
  newAddr: number,
  mode: L4Checksum,
): void {
  const oldPort = (b[at] << 8) | b[at + 1];
  b[at] = port >>> 8;
  b[at + 1] = port;
  updateL4Checksum(b, checksumAt, mode, udp, oldAddr, newAddr, oldPort, port);
}
