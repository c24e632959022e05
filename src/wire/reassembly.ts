/**
 * IPv4 reassembly (RFC 791, RFC 815): collects fragments of a datagram and
 * returns the whole packet once every byte from 0 to the last fragment's end
 * has arrived. Bounded in datagrams and time; overlapping fragments keep the
 * first copy of each byte. Pure: time is passed in.
 */
import { fillIpv4HeaderChecksum, ipv4, write16 } from './ipv4.js';

interface Partial {
  header: Uint8Array | null; // the first fragment's header
  pieces: Array<{ offset: number; data: Uint8Array }>;
  totalLength: number; // payload length, known once the last fragment arrived; -1 before
  expiresAt: number;
}

export class Reassembler {
  private readonly partial = new Map<string, Partial>();
  dropped = 0;

  constructor(
    private readonly maxDatagrams = 64,
    private readonly timeoutMs = 30_000,
  ) {}

  /** Returns the packet itself when not a fragment, the whole datagram when complete, else null. */
  accept(packet: Uint8Array, now: number): Uint8Array | null {
    const more = ipv4.moreFragments(packet, 0);
    const offset = ipv4.fragmentOffset(packet, 0) * 8;
    if (!more && offset === 0) return packet;
    this.expire(now);
    const hl = ipv4.headerLength(packet, 0);
    const key = `${ipv4.src(packet, 0)}:${ipv4.dst(packet, 0)}:${ipv4.protocol(packet, 0)}:${ipv4.identification(packet, 0)}`;
    let p = this.partial.get(key);
    if (!p) {
      if (this.partial.size >= this.maxDatagrams) {
        this.dropped++;
        return null;
      }
      p = { header: null, pieces: [], totalLength: -1, expiresAt: now + this.timeoutMs };
      this.partial.set(key, p);
    }
    const data = packet.slice(hl, ipv4.totalLength(packet, 0));
    if (offset === 0) p.header = packet.slice(0, hl);
    if (!more) p.totalLength = offset + data.length;
    p.pieces.push({ offset, data });
    if (p.header === null || p.totalLength < 0) return null;
    // Complete when the pieces cover [0, totalLength) without a gap.
    const sorted = [...p.pieces].sort((a, b) => a.offset - b.offset);
    let covered = 0;
    for (const s of sorted) {
      if (s.offset > covered) return null;
      covered = Math.max(covered, s.offset + s.data.length);
    }
    if (covered < p.totalLength) return null;
    this.partial.delete(key);
    const hlen = p.header.length;
    const out = new Uint8Array(hlen + p.totalLength);
    out.set(p.header, 0);
    // Earlier-arrived bytes win on overlap: write later arrivals first.
    for (let i = p.pieces.length - 1; i >= 0; i--) {
      const s = p.pieces[i];
      out.set(s.data.subarray(0, Math.max(0, p.totalLength - s.offset)), hlen + s.offset);
    }
    write16(out, 2, out.length);
    write16(out, 6, ipv4.dontFragment(out, 0) ? 0x4000 : 0);
    fillIpv4HeaderChecksum(out, 0);
    return out;
  }

  private expire(now: number): void {
    for (const [k, p] of this.partial) {
      if (p.expiresAt <= now) {
        this.partial.delete(k);
        this.dropped++;
      }
    }
  }
}
