/**
 * IPv4 fragments: only the first fragment carries the ports, so the translation
 * chosen for it is remembered under (proto, src, dst, IP id) and applied to the
 * rest of the datagram's fragments (address only).
 *
 * Fragments may arrive out of order (RFC 4787 REQ-14): a later fragment that
 * comes before the first is held until the first is translated, then released.
 * Holding is bounded in datagrams, fragments per datagram, bytes and time, so a
 * flood of orphan fragments cannot starve ordinary traffic (REQ-14a).
 */

interface Translation {
  /** The address that replaces the original (source outbound, destination inbound). */
  addr: number;
  expiresAt: number;
}

interface Waiting {
  packets: Uint8Array[];
  bytes: number;
  expiresAt: number;
}

const MAX_HELD_PER_DATAGRAM = 64;
const MAX_HELD_BYTES = 1 << 20;

export class FragmentTable {
  private readonly translations = new Map<string, Translation>();
  private readonly waiting = new Map<string, Waiting>();
  private heldBytes = 0;

  constructor(
    private limit: number,
    private ttlMs: number,
  ) {}

  /** New bounds (a reload): what is held stays until its own time is up. */
  setLimits(limit: number, ttlMs: number): void {
    this.limit = limit;
    this.ttlMs = ttlMs;
  }

  get size(): number {
    return this.translations.size;
  }

  get heldCount(): number {
    let n = 0;
    for (const w of this.waiting.values()) n += w.packets.length;
    return n;
  }

  /**
   * Records the first fragment's translation; returns the fragments of the same
   * datagram that were waiting for it (to be translated and sent now), or null
   * when the table is full (the caller counts it).
   */
  remember(outbound: boolean, proto: number, src: number, dst: number, id: number, addr: number, now: number): Uint8Array[] | null {
    const k = key(outbound, proto, src, dst, id);
    if (!this.translations.has(k) && this.translations.size >= this.limit) {
      this.expire(now);
      if (this.translations.size >= this.limit) return null;
    }
    this.translations.set(k, { addr, expiresAt: now + this.ttlMs });
    const w = this.waiting.get(k);
    if (!w) return [];
    this.waiting.delete(k);
    this.heldBytes -= w.bytes;
    return w.packets;
  }

  lookup(outbound: boolean, proto: number, src: number, dst: number, id: number, now: number): number {
    const e = this.translations.get(key(outbound, proto, src, dst, id));
    if (!e || e.expiresAt <= now) return -1;
    return e.addr;
  }

  /** Holds a fragment that arrived before its first fragment; false if over a bound. */
  hold(outbound: boolean, proto: number, src: number, dst: number, id: number, packet: Uint8Array, now: number): boolean {
    const k = key(outbound, proto, src, dst, id);
    let w = this.waiting.get(k);
    if (!w) {
      if (this.waiting.size >= this.limit) return false;
      w = { packets: [], bytes: 0, expiresAt: now + this.ttlMs };
      this.waiting.set(k, w);
    }
    if (w.packets.length >= MAX_HELD_PER_DATAGRAM || this.heldBytes + packet.length > MAX_HELD_BYTES) return false;
    w.packets.push(packet.slice());
    w.bytes += packet.length;
    this.heldBytes += packet.length;
    return true;
  }

  /** Forgets expired translations; returns how many held fragments were given up. */
  expire(now: number): number {
    for (const [k, e] of this.translations) if (e.expiresAt <= now) this.translations.delete(k);
    let dropped = 0;
    for (const [k, w] of this.waiting) {
      if (w.expiresAt <= now) {
        dropped += w.packets.length;
        this.heldBytes -= w.bytes;
        this.waiting.delete(k);
      }
    }
    return dropped;
  }
}

function key(outbound: boolean, proto: number, src: number, dst: number, id: number): string {
  return `${outbound ? 'o' : 'i'}${proto}:${src}:${dst}:${id}`;
}
