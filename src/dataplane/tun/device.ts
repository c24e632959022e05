// A Linux TUN device for the gateway dataplane: packets come in batches from
// the main event loop, go back out in batches, with one JS<->native crossing
// per batch either way. Addresses, routes and `ip link set up` are the
// caller's business (ip commands); opening is the only step that needs
// CAP_NET_ADMIN.
import { Buffer } from 'node:buffer';
import { markAsUntransferable } from 'node:worker_threads';
import {
  NativeCounter,
  NativeOpenFlag,
  TunError,
  assertTunPlatform,
  loadTunAddon,
  systemErrorNameOf,
  tunErrorFromIo,
  tunErrorFromOpen,
} from './native.js';
import type { NativeTunHandle } from './native.js';
import { TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_TSO_ECN, TUN_F_USO4, TUN_F_USO6 } from './vnet-header.js';

export { TunError } from './native.js';
export type { TunErrorCode } from './native.js';

const TUN_DEVICE_PATH = '/dev/net/tun';
const DEFAULT_BATCH_SIZE = 64;
const MAX_BATCH_SIZE = 1024;
const IFNAMSIZ = 16;

export interface TunOptions {
  /** Interface name, at most 15 bytes; may hold one "%d" for the kernel to number. Default: kernel-chosen (tunN). */
  name?: string;
  /**
   * Open one queue of a multi-queue device. Each openTun() with the same name adds a queue with its own
   * fd; the kernel spreads flows across queues (one queue per worker thread, typically).
   */
  multiQueue?: boolean;
  /**
   * Sets the interface MTU (68..65535) and, without offload, sizes reads to it, which keeps the read
   * buffer small. Default: the interface keeps the kernel's MTU (1500) and reads take any packet up to
   * 65535 bytes. Raising the MTU later with `ip link` makes longer packets arrive: without offload they
   * are dropped and counted as readTruncated.
   */
  mtu?: number;
  /** The most packets read per wake (1..1024). Default 64. */
  batchSize?: number;
  /**
   * Offload mode: IFF_VNET_HDR with checksum offload and TSO (and USO where the kernel has it, Linux 6.2+).
   * The kernel then hands over TCP super-packets of up to 64 KiB (GSO) with partial checksums instead of
   * segmenting them first, and takes them back the same way. Every packet read or written carries a
   * 10-byte virtio-net header (vnet-header.ts): on reads it is the 10 bytes before each packet's offset;
   * writeBatch() writes the 10 bytes before each offset with the packet; write() takes it as an argument.
   * Reads are up to 65535 bytes whatever the MTU. All queues of a multi-queue device must agree on it
   * (the kernel keeps one setting per interface, the last queue's). Default false.
   */
  offload?: boolean;
}

/**
 * Receives the packets of one wake: packet i is buf.subarray(offsets[i], offsets[i] + lengths[i]), an IP
 * packet; in offload mode its virtio-net header is buf[offsets[i] - vnetHeaderSize, offsets[i]).
 *
 * The buffer and both arrays belong to the device and are overwritten on the next wake: finish with the
 * packets (or copy them) before returning. Rewriting packets in place and passing the same arrays to
 * writeBatch() from inside the handler is the intended hot path; the handler may also edit offsets and
 * lengths (e.g. to leave packets out), as they are reset before every call.
 */
export type TunPacketHandler = (buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number) => void;

export interface TunStats {
  /** Readable wakes handled. packetsRead / wakes is the mean batch size. */
  wakes: number;
  packetsRead: number;
  /** Packets longer than maxPacketSize (headers aside), dropped whole. */
  readTruncated: number;
  packetsWritten: number;
  /** Packets the kernel refused (EINVAL for a non-IP packet, EIO while the link is down, ...). */
  writeRejected: number;
  /** Times a write found the device queue full (EAGAIN). */
  writeQueueFull: number;
  /** System error name of the last refused packet. */
  lastWriteError: string | undefined;
  /** readNow() calls that found packets (busy polling). */
  busyPollHits: number;
}

/** The offloads in effect on a device opened with offload (TUNSETOFFLOAD). */
export interface TunOffloads {
  checksum: boolean;
  tso4: boolean;
  tso6: boolean;
  tsoEcn: boolean;
  /** UDP segmentation offload (Linux 6.2+). */
  uso: boolean;
}

export class TunDevice {
  /** The interface name the kernel gave the device. */
  readonly name: string;
  /** Largest IP packet a read can deliver (65535 in offload mode, where GSO packets exceed the MTU). */
  readonly maxPacketSize: number;
  readonly batchSize: number;
  /** Bytes of virtio-net header before every packet: 10 in offload mode, 0 otherwise. */
  readonly vnetHeaderSize: number;
  /** What the kernel accepted with TUNSETOFFLOAD; undefined without offload. */
  readonly offloads: TunOffloads | undefined;
  readonly #handle: NativeTunHandle;
  readonly #buffer: Uint8Array;
  readonly #offsets: Uint32Array;
  readonly #lengths: Uint32Array;
  readonly #counters: Float64Array;
  #onPackets: TunPacketHandler | undefined;
  #onError: ((err: TunError) => void) | undefined;
  #closed = false;

  /** Use openTun(). */
  constructor(handle: NativeTunHandle) {
    this.#handle = handle;
    this.name = handle.name;
    this.batchSize = handle.batchSize;
    this.maxPacketSize = handle.maxPacketSize;
    this.vnetHeaderSize = handle.vnetHeaderSize;
    const f = handle.offloads;
    this.offloads =
      handle.vnetHeaderSize === 0
        ? undefined
        : {
            checksum: (f & TUN_F_CSUM) !== 0,
            tso4: (f & TUN_F_TSO4) !== 0,
            tso6: (f & TUN_F_TSO6) !== 0,
            tsoEcn: (f & TUN_F_TSO_ECN) !== 0,
            uso: (f & (TUN_F_USO4 | TUN_F_USO6)) === (TUN_F_USO4 | TUN_F_USO6),
          };
    // The addon writes into this memory on every wake: it must never move to another thread.
    for (const shared of [handle.readBuffer, handle.readOffsets, handle.readLengths, handle.counters]) markAsUntransferable(shared);
    this.#buffer = new Uint8Array(handle.readBuffer);
    this.#offsets = new Uint32Array(handle.readOffsets);
    this.#lengths = new Uint32Array(handle.readLengths);
    this.#counters = new Float64Array(handle.counters);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The queue's file descriptor (to attach a steering program to its multi-queue device: steering-native.ts). */
  get fd(): number {
    return this.#handle.fd;
  }

  /** Sets the packet handler; the first call starts reading. */
  onPackets(handler: TunPacketHandler): this {
    this.#assertOpen('onPackets');
    this.#onPackets = handler;
    this.#handle.start(this.#dispatch, this.#fail);
    return this;
  }

  /**
   * Sets the handler for read failures (e.g. the interface was deleted under us). Reading has stopped
   * when it is called. Without a handler the error is thrown as an uncaught exception.
   */
  onError(handler: (err: TunError) => void): this {
    this.#onError = handler;
    return this;
  }

  /**
   * Writes packets [0, count) of buf, each a separate write(). Returns how many were consumed: when that
   * is less than count the device queue was full (EAGAIN) and packets [n, count) were not written; the
   * caller may drop them. Packets the kernel refuses are skipped, counted in stats().writeRejected.
   * In offload mode each packet is written with the vnetHeaderSize bytes before its offset as its header
   * (where a read left it). Throws a RangeError, writing nothing, if any packet (or its header) lies
   * outside buf.
   */
  writeBatch(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
    this.#assertOpen('writeBatch');
    return this.#handle.writeBatch(buf, offsets, lengths, count);
  }

  /**
   * Writes one packet; false when it was not written (queue full, or refused: see stats()). In offload
   * mode `header` is its virtio-net header (vnetHeaderSize bytes); without one it goes out with an
   * all-zero header (checksums complete, not GSO). Without offload there is no header to give.
   */
  write(packet: Uint8Array, header?: Uint8Array): boolean {
    this.#assertOpen('write');
    return this.#handle.write(packet, header) === 1;
  }

  /**
   * Reads the packets waiting now (at most batchSize) without waiting for the event loop, and hands them
   * to the onPackets handler as a wake would; returns how many (0 when none were waiting, or no handler
   * is set). For busy polling: calling it again right after a batch saves the epoll round trip when
   * the next packet is already on its way. Not from inside the handler: the batch it is reading from
   * would be overwritten. A read error stops reading and goes to the onError handler, as on a wake.
   */
  readNow(): number {
    this.#assertOpen('readNow');
    if (this.#onPackets === undefined) return 0;
    let count: number;
    try {
      count = this.#handle.readNow();
    } catch (err) {
      this.#handle.stop();
      const e = err as { errno?: number; syscall?: string };
      this.#fail(typeof e.errno === 'number' ? e.errno : -5, e.syscall ?? 'read');
      return 0;
    }
    if (count > 0) this.#dispatch(count);
    return count;
  }

  stats(): TunStats {
    const c = this.#counters;
    const lastErrno = c[NativeCounter.LastWriteErrno];
    return {
      wakes: c[NativeCounter.Wakes],
      packetsRead: c[NativeCounter.PacketsRead],
      readTruncated: c[NativeCounter.ReadTruncated],
      packetsWritten: c[NativeCounter.PacketsWritten],
      writeRejected: c[NativeCounter.WriteRejected],
      writeQueueFull: c[NativeCounter.WriteQueueFull],
      lastWriteError: lastErrno === 0 ? undefined : systemErrorNameOf(-lastErrno),
      busyPollHits: c[NativeCounter.BusyPollHits],
    };
  }

  /** Stops reading and closes the fd; the kernel then deletes the interface (the last queue's, if multi-queue). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handle.close();
    this.#onPackets = undefined;
    this.#onError = undefined;
  }

  readonly #dispatch = (count: number): void => {
    this.#onPackets?.(this.#buffer, this.#offsets, this.#lengths, count);
  };

  readonly #fail = (negErrno: number, syscall: string): void => {
    const err = tunErrorFromIo(negErrno, syscall, this.name);
    if (this.#onError === undefined) throw err;
    this.#onError(err);
  };

  #assertOpen(operation: string): void {
    if (this.#closed) throw new TunError('TUN_CLOSED', `${operation}() on TUN device "${this.name}", which is closed.`);
  }
}

/** Opens a TUN device (IFF_TUN | IFF_NO_PI, non-blocking; IFF_VNET_HDR with offload). Needs root or CAP_NET_ADMIN. */
export function openTun(options: TunOptions = {}): TunDevice {
  assertTunPlatform();
  const name = validateName(options.name);
  const mtu = validateMtu(options.mtu);
  const batchSize = validateBatchSize(options.batchSize);
  if (options.offload !== undefined && typeof options.offload !== 'boolean') throw invalid(`TUN offload must be true or false.`);
  const offload = options.offload === true;
  const addon = loadTunAddon();
  let handle: NativeTunHandle;
  try {
    const flags = offload ? NativeOpenFlag.Offload : 0;
    handle = new addon.TunHandle(TUN_DEVICE_PATH, name, options.multiQueue === true, mtu ?? 0, batchSize, flags);
  } catch (err) {
    throw tunErrorFromOpen(err, { name, devicePath: TUN_DEVICE_PATH, mtu, offload });
  }
  return new TunDevice(handle);
}

function invalid(message: string): TunError {
  return new TunError('TUN_INVALID_OPTIONS', message);
}

/** The kernel's rules for interface names (dev_valid_name), checked here for a clearer message. */
function validateName(name: string | undefined): string {
  if (name === undefined) return '';
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..') {
    throw invalid(`TUN device name ${JSON.stringify(name)} is not a valid interface name.`);
  }
  if (Buffer.byteLength(name) >= IFNAMSIZ) {
    throw invalid(`TUN device name "${name}" is too long: interface names are at most ${IFNAMSIZ - 1} bytes.`);
  }
  if (/[/:\s\0]/.test(name)) {
    throw invalid(`TUN device name "${name}" may not contain "/", ":", whitespace or NUL.`);
  }
  return name;
}

function validateMtu(mtu: number | undefined): number | undefined {
  if (mtu === undefined) return undefined;
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    throw invalid(`TUN MTU ${mtu} is out of range: use 68..65535 (1280 or more if the interface carries IPv6).`);
  }
  return mtu;
}

function validateBatchSize(batchSize: number | undefined): number {
  if (batchSize === undefined) return DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
    throw invalid(`TUN batchSize ${batchSize} is out of range: use 1..${MAX_BATCH_SIZE}.`);
  }
  return batchSize;
}
