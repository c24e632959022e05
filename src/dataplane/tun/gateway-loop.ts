/**
 * The gateway's packet loop: a batch of packets from a TUN device, translated
 * in place by the engine, written back to the same device in one call with the
 * drops left out. The kernel then routes each packet by its (new) addresses.
 *
 * Two devices, one per side: the device a packet came from is the side the
 * engine is told, so no packet can claim to be inside by its source address.
 *
 * The per-packet path allocates nothing when packet sizes repeat: the engine
 * takes a Uint8Array of exactly one packet, and the view made for a slot is
 * kept and reused while the next packet in that slot has the same length.
 */
import { Side, Verdict, type NatEngine } from '../../nat/engine.js';
import type { Clock } from '../../util/clock.js';
import type { TunPacketHandler } from './device.js';

/** The part of a TunDevice the loop uses (a fake in unit tests). */
export interface PacketDevice {
  readonly name: string;
  onPackets(handler: TunPacketHandler): unknown;
  writeBatch(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number;
  write(packet: Uint8Array): boolean;
}

export interface GatewayLoopOptions {
  /** Add one to the TTL of every packet read (the kernel took one on the way in and takes one on the way out). */
  singleHop: boolean;
  /** The engine threw on a packet (a bug): the packet is dropped, the loop goes on. */
  onEngineError?: (err: unknown, side: Side) => void;
}

export class GatewayLoopCounters {
  wakes = 0;
  packetsRead = 0;
  forwarded = 0;
  dropped = 0;
  /** Packets an ALG replaced with a resized copy (written on their own). */
  resized = 0;
  /** Packets the engine originated (ICMP errors, released fragments). */
  emitted = 0;
  /** Translated packets the device queue had no room for. */
  notWritten = 0;
  engineErrors = 0;

  snapshot() {
    return { ...this };
  }
}

export class GatewayLoop {
  readonly counters = new GatewayLoopCounters();
  #started = false;

  constructor(
    private readonly engine: NatEngine,
    private readonly inside: PacketDevice,
    private readonly outside: PacketDevice,
    private readonly clock: Clock,
    private readonly options: GatewayLoopOptions,
  ) {}

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.inside.onPackets(this.#handler(Side.Inside, this.inside));
    this.outside.onPackets(this.#handler(Side.Outside, this.outside));
  }

  /** Writes what the engine originated (after tick() too: held SYNs become ICMP errors there). */
  sendEmitted(): void {
    const emitted = this.engine.drainEmitted();
    for (let i = 0; i < emitted.length; i++) {
      const e = emitted[i];
      const device = e.side === Side.Inside ? this.inside : this.outside;
      if (device.write(e.packet)) this.counters.emitted++;
      else this.counters.notWritten++;
    }
  }

  #handler(side: Side, device: PacketDevice): TunPacketHandler {
    const views: Uint8Array[] = [];
    return (buf, offsets, lengths, count) => this.#batch(side, device, views, buf, offsets, lengths, count);
  }

  #batch(
    side: Side,
    device: PacketDevice,
    views: Uint8Array[],
    buf: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
  ): void {
    const engine = this.engine;
    const c = this.counters;
    const singleHop = this.options.singleHop;
    const now = this.clock.now();
    c.wakes++;
    c.packetsRead += count;
    let n = 0; // packets [0, n) of offsets/lengths are translated and waiting to be written
    for (let i = 0; i < count; i++) {
      const off = offsets[i];
      const len = lengths[i];
      let view = views[i];
      if (view === undefined || view.length !== len || view.byteOffset !== buf.byteOffset + off || view.buffer !== buf.buffer) {
        view = views[i] = buf.subarray(off, off + len);
      }
      if (singleHop) addOneToTtl(buf, off, len);
      let verdict: Verdict;
      try {
        verdict = engine.process(view, side, now);
      } catch (err) {
        c.engineErrors++;
        this.options.onEngineError?.(err, side);
        verdict = Verdict.Drop;
      }
      if (verdict === Verdict.Drop) {
        c.dropped++;
        continue;
      }
      c.forwarded++;
      const out = engine.output;
      if (out === view) {
        offsets[n] = off;
        lengths[n] = len;
        n++;
      } else {
        // An ALG resized the packet into a new buffer: keep the order by writing what came before it first.
        c.resized++;
        if (n > 0) this.#writeBatch(device, buf, offsets, lengths, n);
        n = 0;
        if (!device.write(out)) c.notWritten++;
      }
    }
    if (n > 0) this.#writeBatch(device, buf, offsets, lengths, n);
    this.sendEmitted();
  }

  #writeBatch(device: PacketDevice, buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, n: number): void {
    const written = device.writeBatch(buf, offsets, lengths, n);
    if (written < n) this.counters.notWritten += n - written;
  }
}

/**
 * TTL + 1 with the header checksum updated incrementally (RFC 1624, eqn. 3:
 * HC' = ~(~HC + ~m + m'); the 16-bit word holding the TTL grew by 0x0100).
 * IPv4 only; a TTL of 255 stays.
 */
export function addOneToTtl(b: Uint8Array, off: number, len: number): void {
  if (len < 20 || b[off] >> 4 !== 4) return;
  const ttl = b[off + 8];
  if (ttl === 255) return;
  b[off + 8] = ttl + 1;
  let s = (~((b[off + 10] << 8) | b[off + 11]) & 0xffff) + 0x0100;
  s = (s & 0xffff) + (s >>> 16);
  const hc = ~s & 0xffff;
  b[off + 10] = hc >>> 8;
  b[off + 11] = hc & 0xff;
}
