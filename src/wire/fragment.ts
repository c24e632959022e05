/**
 * IPv4 fragmentation (RFC 791): splits a packet into fragments that fit `mtu`.
 * Options are copied into later fragments only when their copy bit is set.
 */
import { WireError } from './error.js';
import { fillIpv4HeaderChecksum, ipv4, write16 } from './ipv4.js';

export function fragmentIpv4(packet: Uint8Array, mtu: number): Uint8Array[] {
  const hl = ipv4.headerLength(packet, 0);
  const total = ipv4.totalLength(packet, 0);
  if (total <= mtu) return [packet];
  if (ipv4.dontFragment(packet, 0)) throw new WireError('ipv4', 'DF set: may not fragment');
  const laterHeader = laterFragmentHeader(packet.subarray(0, hl));
  const firstRoom = (mtu - hl) & ~7;
  const laterRoom = (mtu - laterHeader.length) & ~7;
  if (firstRoom <= 0 || laterRoom <= 0) throw new WireError('ipv4', `MTU ${mtu} too small to fragment`);
  const payload = packet.subarray(hl, total);
  const baseOffset = ipv4.fragmentOffset(packet, 0) * 8;
  const originallyMore = ipv4.moreFragments(packet, 0);
  const out: Uint8Array[] = [];
  for (let at = 0; at < payload.length; ) {
    const header = at === 0 ? packet.subarray(0, hl) : laterHeader;
    const room = at === 0 ? firstRoom : laterRoom;
    const chunk = payload.subarray(at, Math.min(payload.length, at + room));
    const more = at + chunk.length < payload.length || originallyMore;
    const f = new Uint8Array(header.length + chunk.length);
    f.set(header, 0);
    f[0] = 0x40 | (header.length >> 2);
    f.set(chunk, header.length);
    write16(f, 2, f.length);
    const offsetUnits = (baseOffset + at) >> 3;
    write16(f, 6, (more ? 0x2000 : 0) | offsetUnits);
    fillIpv4HeaderChecksum(f, 0);
    out.push(f);
    at += chunk.length;
  }
  return out;
}

/** The header for fragments after the first: only options with the copied bit. */
function laterFragmentHeader(header: Uint8Array): Uint8Array {
  const opts: number[] = [];
  for (let i = 20; i < header.length; ) {
    const kind = header[i];
    if (kind === 0) break;
    if (kind === 1) {
      i++;
      continue;
    }
    const len = header[i + 1];
    if (len < 2 || i + len > header.length) break;
    if (kind & 0x80) for (let j = 0; j < len; j++) opts.push(header[i + j]);
    i += len;
  }
  while (opts.length % 4) opts.push(0);
  const h = new Uint8Array(20 + opts.length);
  h.set(header.subarray(0, 20));
  h.set(opts, 20);
  return h;
}
