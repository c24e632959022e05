/**
 * One side of the gateway's dataplane as a device that can be swapped while
 * the packet loop runs: when the TUN interface is deleted under the gateway
 * (ip link del, a network manager cleaning up), the gateway opens a new one
 * with the same name and puts it in here; the loop, and the engine's flows
 * behind it, never notice. Between loss and replacement reads have stopped
 * and writes are dropped (counted as lostWrites).
 *
 * Counters add up across the devices it has held, so the metrics built on
 * them never go backwards at a replacement.
 */
import type { TunOffloads, TunPacketHandler, TunStats } from './device.js';
import type { PacketDevice } from './gateway-loop.js';

/** The parts of a TunDevice this needs (a fake in unit tests). */
export interface SwappableTun extends PacketDevice {
  readonly offloads: TunOffloads | undefined;
  readonly closed: boolean;
  onError(handler: (err: Error) => void): unknown;
  stats(): TunStats;
  close(): void;
}

type NumericStats = Exclude<keyof TunStats, 'lastWriteError'>;
const NUMERIC: readonly NumericStats[] = ['wakes', 'packetsRead', 'readTruncated', 'packetsWritten', 'writeRejected', 'writeQueueFull', 'busyPollHits'];

function zero(): Record<NumericStats, number> {
  return { wakes: 0, packetsRead: 0, readTruncated: 0, packetsWritten: 0, writeRejected: 0, writeQueueFull: 0, busyPollHits: 0 };
}

export class ReplaceableDevice<D extends SwappableTun = SwappableTun> implements PacketDevice {
  readonly name: string;
  readonly vnetHeaderSize: number;
  #current: D;
  #lost: Error | null = null;
  #handler: TunPacketHandler | undefined;
  readonly #onLost: (err: Error) => void;
  /** Counters of the devices replaced so far. */
  readonly #retired = zero();
  #lastStats: TunStats | undefined;

  /** Packets handed to write while no device was working. */
  lostWrites = 0;
  /** Devices put in place of a lost one. */
  replacements = 0;

  /** `onLost` is called once per loss, with reading already stopped. */
  constructor(device: D, onLost: (err: Error) => void) {
    this.name = device.name;
    this.vnetHeaderSize = device.vnetHeaderSize;
    this.#onLost = onLost;
    this.#current = device;
    this.#watch(device);
  }

  /** The device in use (the lost one until a replacement arrives). */
  get device(): D {
    return this.#current;
  }

  /** Why the device stopped working, while it has not been replaced; null when working. */
  get lost(): Error | null {
    return this.#lost;
  }

  get offloads(): TunOffloads | undefined {
    return this.#current.offloads;
  }

  onPackets(handler: TunPacketHandler): this {
    this.#handler = handler;
    if (this.#lost === null) this.#current.onPackets(handler);
    return this;
  }

  writeBatch(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
    if (this.#lost !== null) {
      // Consumed, not queued: the packets cannot wait for a device that may take seconds to return.
      this.lostWrites += count;
      return count;
    }
    return this.#current.writeBatch(buf, offsets, lengths, count);
  }

  write(packet: Uint8Array, header?: Uint8Array): boolean {
    if (this.#lost !== null) {
      this.lostWrites++;
      return false;
    }
    return this.#current.write(packet, header);
  }

  readNow(): number {
    if (this.#lost !== null || this.#current.readNow === undefined) return 0;
    return this.#current.readNow();
  }

  /**
   * Puts `next` in place of the lost device (which is closed) and starts
   * reading from it with the loop's handler. The new device must match the
   * old one's name and header size, or the loop would misread its packets.
   */
  replace(next: D): void {
    if (next.name !== this.name || next.vnetHeaderSize !== this.vnetHeaderSize) {
      next.close();
      throw new Error(`replacement for ${this.name} is ${next.name} with a ${next.vnetHeaderSize}-byte header; expected ${this.name}, ${this.vnetHeaderSize}`);
    }
    if (this.#lost === null) this.#retire(this.#current);
    this.#current = next;
    this.#lost = null;
    this.replacements++;
    this.#watch(next);
    if (this.#handler) next.onPackets(this.#handler);
  }

  stats(): TunStats & { lostWrites: number; replacements: number } {
    // A lost device's counters were added to the retired ones when it was closed.
    const s = this.#lost === null ? this.#current.stats() : { lastWriteError: this.#lastStats?.lastWriteError, ...zero() };
    const sum = { ...s };
    for (const k of NUMERIC) sum[k] = s[k] + this.#retired[k];
    return { ...sum, lostWrites: this.lostWrites, replacements: this.replacements };
  }

  close(): void {
    if (!this.#current.closed) this.#current.close();
  }

  #retire(device: D): void {
    const s = device.stats();
    this.#lastStats = s;
    for (const k of NUMERIC) this.#retired[k] += s[k];
    device.close();
  }

  #watch(device: D): void {
    device.onError((err) => {
      if (device !== this.#current || this.#lost !== null) return;
      this.#lost = err;
      // Its fd is of no more use (the kernel detached it); closing it lets go of the interface name.
      this.#retire(device);
      this.#onLost(err);
    });
  }
}
