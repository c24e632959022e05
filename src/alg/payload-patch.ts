/**
 * A rewritten message of the same length as the one it replaces, written
 * into the packet that carried it: the checksum is updated for the words
 * that changed (RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), summed over every
 * changed word), not recomputed over the packet, and no new packet is made.
 * An ALG that writes addresses in place (H.323) changes a few 6-byte fields
 * of a message of hundreds: this is most of what rebuilding the segment cost.
 * When it also says which spans it changed, only those are compared.
 */
import { fold } from '../wire/checksum.js';

/**
 * Writes `bytes` over pkt[at, at + bytes.length) and keeps the TCP or UDP
 * checksum at pkt[checksumAt] right. `at` must lie an even number of octets
 * after the transport header's start (the checksum's words are counted from
 * there; a TCP header is a multiple of 4 octets, a UDP header 8). `udp`:
 * UDP's rules for 0 (a stored 0 means no checksum and stays 0; a result of
 * 0 is sent as 0xffff). `changed` (with `changedCount` (start, end) pairs,
 * offsets into `bytes`): the only spans where `bytes` may differ from the
 * packet; without it, every octet is compared.
 */
export function patchPayload(
  pkt: Uint8Array,
  checksumAt: number,
  at: number,
  bytes: Uint8Array,
  udp: boolean,
  changed?: Int32Array,
  changedCount = 0,
): void {
  let delta = 0;
  if (changed === undefined) delta = patchWords(pkt, at, bytes, 0, bytes.length);
  else {
    // Each span widened to whole words and kept inside the message. Widened
    // spans may share a word: the second visit finds it written, adds nothing.
    for (let i = 0; i < changedCount; i++) {
      delta += patchWords(pkt, at, bytes, Math.max(0, changed[2 * i] & ~1), Math.min((changed[2 * i + 1] + 1) & ~1, bytes.length));
    }
  }
  if (delta === 0) return;
  const old = (pkt[checksumAt] << 8) | pkt[checksumAt + 1];
  if (udp && old === 0) return;
  let c = ~fold((~old & 0xffff) + delta) & 0xffff;
  if (udp && c === 0) c = 0xffff;
  pkt[checksumAt] = c >>> 8;
  pkt[checksumAt + 1] = c & 0xff;
}

/**
 * Writes bytes[from, to) over the packet at `at` + from (`from` even; `to`
 * even or the message's end) and returns the checksum's sum of changes for
 * the words that changed.
 */
function patchWords(pkt: Uint8Array, at: number, bytes: Uint8Array, from: number, to: number): number {
  let delta = 0;
  let i = from;
  for (; i + 1 < to; i += 2) {
    const p = at + i;
    const was = (pkt[p] << 8) | pkt[p + 1];
    const now = (bytes[i] << 8) | bytes[i + 1];
    if (was !== now) {
      delta += (~was & 0xffff) + now;
      pkt[p] = bytes[i];
      pkt[p + 1] = bytes[i + 1];
    }
  }
  if (i < to && pkt[at + i] !== bytes[i]) {
    // An odd last octet (the message's) is the high half of a word padded with zero.
    delta += (~(pkt[at + i] << 8) & 0xffff) + (bytes[i] << 8);
    pkt[at + i] = bytes[i];
  }
  return delta;
}
