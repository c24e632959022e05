/**
 * The gateway's packet loop: a batch of packets from a TUN device, translated
 * in place by the engine, written back to the same device in one call with the
 * drops left out. The kernel then routes each packet by its (new) addresses.
 *
 * Two devices, one per side: the device a packet came from is the side the
 * engine is told, so no packet can claim to be inside by its source address.
 *
 * The per-packet path allocates nothing when packet sizes repeat: the engine
 * takes a Uint8Array of exactly one packet, and the view made for a batch
 * position is kept and reused while the next packet there has the same offset
 * and length.
 *
 * Offload (devices with a virtio-net header before each packet): a packet may
 * be a GSO super-packet of up to 64 KiB with a partial checksum. The engine is
 * told so (partialChecksum) and keeps the checksum partial; it changes only
 * addresses and ports, so the header (csum_start, csum_offset, gso_size,
 * hdr_len) stays true and goes back out as it came in. When an ALG completed
 * the checksum or replaced the packet, the header is rewritten to match
 * (finishedHeader below). With coalesceUdp, runs of one UDP flow in a batch
 * are written as single UDP GSO packets (udp-coalesce.ts).
 */
import { Side, Verdict, type NatEngine } from '../../nat/engine.js';
import * as offloadModule from '../../nat/offload.js';
import type { Clock } from '../../util/clock.js';
import * as ipv4Module from '../../wire/ipv4.js';
import type { TunPacketHandler } from './device.js';
import { buildSuperPacket, runLength } from './udp-coalesce.js';
import { gsoKind, VNET_F_NEEDS_CSUM, VNET_GSO_NONE, VNET_GSO_TCPV4, VNET_GSO_TCPV6, VNET_HEADER_SIZE } from './vnet-header.js';

/** The largest busy-poll window accepted (µs): beyond it the spin costs more than any wake-up it saves. */
export const MAX_BUSY_POLL_US = 1000;

// Module-local copies for the per-packet path (an imported binding is read from its cell at every use).
const { IPV4_MIN_HEADER } = ipv4Module;
const { TTL, CHECKSUM } = ipv4Module.IPV4;
const { FLOW_OFFLOADED } = offloadModule;

/** The part of a TunDevice the loop uses (a fake in unit tests). */
export interface PacketDevice {
  readonly name: string;
  /** Bytes of virtio-net header before each packet read (and written by writeBatch): 0 or 10. */
  readonly vnetHeaderSize: number;
  onPackets(handler: TunPacketHandler): unknown;
  writeBatch(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number;
  /** With a header device, `header` defaults to all zero. */
  write(packet: Uint8Array, header?: Uint8Array): boolean;
  /** Reads what is waiting now and hands it to the handler; how many packets (busy polling only). */
  readNow?(): number;
}

export interface GatewayLoopOptions {
  /** Add one to the TTL of every packet read (the kernel took one on the way in and takes one on the way out). */
  singleHop: boolean;
  /**
   * The devices' MTU. A GSO packet that can no longer go out as GSO (an ALG made it so) and is longer
   * than this is dropped. Default 1500.
   */
  mtu?: number;
  /**
   * Write consecutive datagrams of one UDP flow as one UDP GSO packet (udp-coalesce.ts). Needs devices
   * with offload whose kernel takes UDP GSO (USO, Linux 6.2+). Default false.
   */
  coalesceUdp?: boolean;
  /** The engine threw on a packet (a bug): the packet is dropped, the loop goes on. */
  onEngineError?: (err: unknown, side: Side) => void;
  /**
   * Busy polling: after a batch, keep reading both devices (readNow) for up to this many microseconds
   * for the next packet instead of returning to the event loop, and start the window again whenever
   * one comes; a spin ends after at most max(1 ms, 4 windows), so timers and the control endpoint still
   * run. Saves the epoll wake-up when packets come one at a time (SIP signalling), at the price of up
   * to one window of CPU per batch. 0 (default): off. Needs devices with readNow.
   */
  busyPollUs?: number;
  /** The busy-poll spin's time source, in ms (default performance.now; tests step it). */
  spinClock?: () => number;
  /**
   * The kernel fast path (kernel-offload.ts): told of each translated packet's flow while the flow is
   * not yet offloaded, so it can hand the flow to the kernel once the engine says it may go.
   */
  offload?: { consider(flow: number): void };
}

/** Batch-size buckets: up to 1024 packets a read (the largest batchSize), and one above for safety. */
export const BATCH_BUCKETS = 12;

/** The bucket of a batch of `count` packets: ceil(log2(count)), capped; 0 for one (or none). */
export function batchBucket(count: number): number {
  return count <= 1 ? 0 : Math.min(BATCH_BUCKETS - 1, 32 - Math.clz32(count - 1));
}

export class GatewayLoopCounters {
  wakes = 0;
  packetsRead = 0;
  forwarded = 0;
  dropped = 0;
  /** Packets an ALG replaced with a resized copy (written with the batch, or on their own when the buffer is full). */
  resized = 0;
  /** Packets the engine originated (ICMP errors, released fragments). */
  emitted = 0;
  /** Translated packets the device queue had no room for. */
  notWritten = 0;
  engineErrors = 0;
  /** Bytes of the IP packets read (virtio headers not counted): with packetsRead, the mean read size. */
  bytesRead = 0;
  /** Packets read as GSO super-packets (offload), and their bytes: the mean super-packet size. */
  gsoPackets = 0;
  gsoBytes = 0;
  /** GSO packets an ALG left unable to go out as GSO, longer than the MTU: dropped. */
  gsoDropped = 0;
  /** UDP datagrams written as part of a coalesced GSO packet, and the GSO packets they made. */
  coalesced = 0;
  coalescedWrites = 0;
  /** Busy-poll spins started (one per batch read from the event loop), and reads in them that found packets. */
  busyPolls = 0;
  busyPollHits = 0;
  /**
   * Reads by batch size, bucket b counting batches of (2^(b-1), 2^b] packets
   * (bucket 0: one packet): a histogram for metrics, one increment per wake.
   */
  readonly batchSizes = new Float64Array(BATCH_BUCKETS);

  snapshot() {
    const { batchSizes, ...plain } = this;
    return { ...plain, batchSizes: Array.from(batchSizes) };
  }
}

export class GatewayLoop {
  readonly counters = new GatewayLoopCounters();
  #started = false;
  readonly #mtu: number;
  /** Scratch header for packets written on their own. */
  readonly #header = new Uint8Array(VNET_HEADER_SIZE);
  /** Scratch for a coalesced UDP GSO packet: its header at 0, the packet at 10. */
  #superPacket: Uint8Array | null = null;
  /** The busy-poll window in ms (0: off), and whether a spin is under way (its reads re-enter #batch). */
  readonly #busyPollMs: number;
  #spinning = false;

  constructor(
    private readonly engine: NatEngine,
    private readonly inside: PacketDevice,
    private readonly outside: PacketDevice,
    private readonly clock: Clock,
    private readonly options: GatewayLoopOptions,
  ) {
    this.#mtu = options.mtu ?? 1500;
    const busyPollUs = options.busyPollUs ?? 0;
    if (!Number.isFinite(busyPollUs) || busyPollUs < 0 || busyPollUs > MAX_BUSY_POLL_US) {
      throw new RangeError(`busyPollUs ${busyPollUs} is out of range: use 0..${MAX_BUSY_POLL_US}`);
    }
    if (busyPollUs > 0 && (inside.readNow === undefined || outside.readNow === undefined)) {
      throw new RangeError('busy polling needs devices that can read on demand (readNow)');
    }
    this.#busyPollMs = busyPollUs / 1000;
    for (const d of [inside, outside]) {
      if (d.vnetHeaderSize !== 0 && d.vnetHeaderSize !== VNET_HEADER_SIZE) {
        throw new RangeError(`device ${d.name}: virtio-net header of ${d.vnetHeaderSize} bytes, expected 0 or ${VNET_HEADER_SIZE}`);
      }
    }
  }

  /** Whether runs of UDP datagrams are written as GSO packets. */
  get coalescingUdp(): boolean {
    return this.options.coalesceUdp === true;
  }

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
    const offload = this.options.offload;
    const hdr = device.vnetHeaderSize;
    const now = this.clock.now();
    c.wakes++;
    c.packetsRead += count;
    c.batchSizes[batchBucket(count)]++;
    let n = 0; // packets [0, n) of offsets/lengths are translated and waiting to be written
    // Packets an ALG resized are copied past the last packet read (the buffer holds batchSize reads
    // of the largest packet, so a wake of small packets leaves most of it free) and join the batch:
    // written with the others, and coalesced with them where they form a run of one flow.
    let spill = count > 0 ? alignPacket(offsets[count - 1] + lengths[count - 1]) : 0;
    for (let i = 0; i < count; i++) {
      const off = offsets[i];
      const len = lengths[i];
      let view = views[i];
      if (view === undefined || view.length !== len || view.byteOffset !== buf.byteOffset + off || view.buffer !== buf.buffer) {
        view = views[i] = buf.subarray(off, off + len);
      }
      if (singleHop) addOneToTtl(buf, off, len);
      // flags is the header's first byte, gso_type its second.
      const partial = hdr !== 0 && (buf[off - hdr] & VNET_F_NEEDS_CSUM) !== 0;
      const gso = hdr !== 0 ? buf[off - hdr + 1] : VNET_GSO_NONE;
      c.bytesRead += len;
      if (gso !== VNET_GSO_NONE) {
        c.gsoPackets++;
        c.gsoBytes += len;
      }
      let verdict: Verdict;
      try {
        verdict = engine.process(view, side, now, partial);
      } catch (err) {
        c.engineErrors++;
        this.options.onEngineError?.(err, side);
        verdict = Verdict.Drop;
      }
      if (verdict === Verdict.Drop) {
        c.dropped++;
        continue;
      }
      if (offload !== undefined) {
        const flow = engine.lastFlow;
        if (flow >= 0 && (engine.flows.flags[flow] & FLOW_OFFLOADED) === 0) offload.consider(flow);
      }
      const out = engine.output;
      if (out === view && (!partial || engine.outputPartial)) {
        // The common case: the header still describes the packet.
        c.forwarded++;
        offsets[n] = off;
        lengths[n] = len;
        n++;
        continue;
      }
      if (out === view) {
        // An ALG completed the checksum in place: same bytes, new header.
        if (!this.#finishedHeader(buf, off - hdr, gso, len)) continue;
        c.forwarded++;
        offsets[n] = off;
        lengths[n] = len;
        n++;
        continue;
      }
      // An ALG resized the packet into a new buffer.
      c.resized++;
      const at = spill + hdr;
      if (at + out.length <= buf.length) {
        if (hdr !== 0) {
          // The new packet has the same headers before its payload, so the read header's offsets and
          // GSO fields still hold; only a checksum the ALG completed changes it.
          buf.copyWithin(spill, off - hdr, off);
          if (!engine.outputPartial && !this.#finishedHeader(buf, spill, gso, out.length)) continue;
        }
        buf.set(out, at);
        c.forwarded++;
        offsets[n] = at;
        lengths[n] = out.length;
        n++;
        spill = alignPacket(at + out.length);
        continue;
      }
      // No room left in the buffer: keep the order by writing what came before it first.
      if (n > 0) this.#writeBatch(device, buf, offsets, lengths, n);
      n = 0;
      let written: boolean;
      if (hdr === 0) written = device.write(out);
      else {
        // The new packet has the same headers before its payload, so the read header's offsets and GSO
        // fields still hold; only a checksum the ALG completed changes it.
        const header = this.#header;
        header.set(buf.subarray(off - hdr, off));
        if (!engine.outputPartial && !this.#finishedHeader(header, 0, gso, out.length)) continue;
        written = device.write(out, header);
      }
      c.forwarded++;
      if (!written) c.notWritten++;
    }
    if (n > 0) this.#writeBatch(device, buf, offsets, lengths, n);
    this.sendEmitted();
    if (this.#busyPollMs > 0 && !this.#spinning) this.#busyPoll();
  }

  /** Reads both devices until no packet came for one window (or the spin's cap): see busyPollUs. */
  #busyPoll(): void {
    const window = this.#busyPollMs;
    const inside = this.inside;
    const outside = this.outside;
    const c = this.counters;
    this.#spinning = true;
    c.busyPolls++;
    try {
      const clock = this.options.spinClock ?? performance.now.bind(performance);
      const start = clock();
      const cap = start + Math.max(1, 4 * window);
      let deadline = start + window;
      for (;;) {
        const got = inside.readNow!() + (outside === inside ? 0 : outside.readNow!());
        const now = clock();
        if (got > 0) {
          c.busyPollHits++;
          deadline = Math.min(now + window, cap);
        }
        if (now >= deadline) break;
      }
    } finally {
      this.#spinning = false;
    }
  }

  /**
   * The header for a packet whose transport checksum is now complete (an ALG finished it, or built a new
   * packet), written at buf[at]: no checksum left to do. A TCP GSO packet stays GSO (gso_type, gso_size
   * and hdr_len kept): the kernel accepts TCP GSO without NEEDS_CSUM and recomputes each segment's
   * checksum when it cuts the packet. Any other GSO (UDP) needs NEEDS_CSUM, so it goes out as one plain
   * packet, or is dropped and counted if longer than the MTU. False when dropped.
   */
  #finishedHeader(buf: Uint8Array, at: number, gso: number, length: number): boolean {
    const kind = gsoKind(gso);
    if (kind === VNET_GSO_TCPV4 || kind === VNET_GSO_TCPV6) {
      buf[at] = 0; // flags; gso_type, gso_size and hdr_len stay as read
      return true;
    }
    if (kind !== VNET_GSO_NONE && length > this.#mtu) {
      this.counters.gsoDropped++;
      this.counters.dropped++;
      return false;
    }
    buf.fill(0, at, at + VNET_HEADER_SIZE);
    return true;
  }

  #writeBatch(device: PacketDevice, buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, n: number): void {
    if (this.options.coalesceUdp === true && device.vnetHeaderSize !== 0) {
      this.#writeCoalescing(device, buf, offsets, lengths, n);
      return;
    }
    const written = device.writeBatch(buf, offsets, lengths, n);
    if (written < n) this.counters.notWritten += n - written;
  }

  /** Writes packets [0, n) in order, runs of one UDP flow as single GSO packets. */
  #writeCoalescing(device: PacketDevice, buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, n: number): void {
    const c = this.counters;
    let start = 0; // packets [start, i) wait for a plain batched write
    let i = 0;
    while (i < n) {
      const run = runLength(buf, offsets, lengths, i, n);
      if (run < 2) {
        i++;
        continue;
      }
      if (i > start) {
        const written = device.writeBatch(buf, offsets.subarray(start, i), lengths.subarray(start, i), i - start);
        if (written < i - start) c.notWritten += i - start - written;
      }
      const out = (this.#superPacket ??= new Uint8Array(VNET_HEADER_SIZE + 0xffff));
      const length = buildSuperPacket(buf, offsets, lengths, i, run, out);
      if (device.write(out.subarray(VNET_HEADER_SIZE, VNET_HEADER_SIZE + length), out.subarray(0, VNET_HEADER_SIZE))) {
        c.coalesced += run;
        c.coalescedWrites++;
      } else c.notWritten += run;
      i += run;
      start = i;
    }
    if (n > start) {
      const written = start === 0 ? device.writeBatch(buf, offsets, lengths, n) : device.writeBatch(buf, offsets.subarray(start, n), lengths.subarray(start, n), n - start);
      if (written < n - start) c.notWritten += n - start - written;
    }
  }
}

/** Where the next packet may start after `end`: on a cache line, as the addon packs what it reads. */
function alignPacket(end: number): number {
  return (end + 63) & ~63;
}

/**
 * TTL + 1 with the header checksum updated incrementally (RFC 1624, eqn. 3:
 * HC' = ~(~HC + ~m + m'); the 16-bit word holding the TTL grew by 0x0100).
 * IPv4 only; a TTL of 255 stays.
 */
export function addOneToTtl(b: Uint8Array, off: number, len: number): void {
  if (len < IPV4_MIN_HEADER || b[off] >> 4 !== 4) return;
  const ttl = b[off + TTL];
  if (ttl === 255) return;
  b[off + TTL] = ttl + 1;
  let s = (~((b[off + CHECKSUM] << 8) | b[off + CHECKSUM + 1]) & 0xffff) + 0x0100;
  s = (s & 0xffff) + (s >>> 16);
  const hc = ~s & 0xffff;
  b[off + CHECKSUM] = hc >>> 8;
  b[off + CHECKSUM + 1] = hc & 0xff;
}
