// A Linux TUN device for the gateway dataplane: packets come in batches from
// the main event loop, go back out in batches, with one JS<->native crossing
// per batch either way. Addresses, routes and `ip link set up` are the
// caller's business (ip commands); opening is the only step that needs
// CAP_NET_ADMIN.
import { Buffer } from 'node:buffer';
import { markAsUntransferable } from 'node:worker_threads';
import {
  NativeCounter,
  TunError,
  assertTunPlatform,
  loadTunAddon,
  systemErrorNameOf,
  tunErrorFromIo,
  tunErrorFromOpen,
} from './native.js';
import type { NativeTunHandle } from './native.js';

export { TunError } from './native.js';
export type { TunErrorCode } from './native.js';

export const TUN_DEVICE_PATH = '/dev/net/tun';
export const DEFAULT_BATCH_SIZE = 64;
export const MAX_BATCH_SIZE = 1024;
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
   * Sets the interface MTU (68..65535) and sizes the read slots to it, which keeps the read buffer small.
   * Default: the interface keeps the kernel's MTU (1500) and slots hold any packet up to 65535 bytes.
   * Raising the MTU later with `ip link` makes longer packets arrive: they are dropped and counted as
   * readTruncated.
   */
  mtu?: number;
  /** The most packets read per wake (1..1024). Default 64. */
  batchSize?: number;
}

/**
 * Receives the packets of one wake: packet i is buf.subarray(offsets[i], offsets[i] + lengths[i]).
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
  /** Packets longer than maxPacketSize, dropped whole. */
  readTruncated: number;
  packetsWritten: number;
  /** Packets the kernel refused (EINVAL for a non-IP packet, EIO while the link is down, ...). */
  writeRejected: number;
  /** Times a write found the device queue full (EAGAIN). */
  writeQueueFull: number;
  /** System error name of the last refused packet. */
  lastWriteError: string | undefined;
}

export class TunDevice {
  /** The interface name the kernel gave the device. */
  readonly name: string;
  /** Largest packet a read can deliver. */
  readonly maxPacketSize: number;
  readonly batchSize: number;
  readonly #handle: NativeTunHandle;
  readonly #slotSize: number;
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
    this.#slotSize = handle.slotSize;
    this.maxPacketSize = handle.slotSize - 1;
    // The addon writes into this memory on every wake: it must never move to another thread.
    for (const shared of [handle.readBuffer, handle.readLengths, handle.counters]) markAsUntransferable(shared);
    this.#buffer = new Uint8Array(handle.readBuffer);
    this.#lengths = new Uint32Array(handle.readLengths);
    this.#counters = new Float64Array(handle.counters);
    this.#offsets = new Uint32Array(handle.batchSize);
  }

  get closed(): boolean {
    return this.#closed;
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
   * Throws a RangeError, writing nothing, if any packet lies outside buf.
   */
  writeBatch(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
    this.#assertOpen('writeBatch');
    return this.#handle.writeBatch(buf, offsets, lengths, count);
  }

  /** Writes one packet; false when it was not written (queue full, or refused: see stats()). */
  write(packet: Uint8Array): boolean {
    this.#assertOpen('write');
    return this.#handle.write(packet) === 1;
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
    const offsets = this.#offsets;
    const slot = this.#slotSize;
    for (let i = 0; i < count; i++) offsets[i] = i * slot;
    this.#onPackets?.(this.#buffer, offsets, this.#lengths, count);
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

/** Opens a TUN device (IFF_TUN | IFF_NO_PI, non-blocking). Needs root or CAP_NET_ADMIN. */
export function openTun(options: TunOptions = {}): TunDevice {
  assertTunPlatform();
  const name = validateName(options.name);
  const mtu = validateMtu(options.mtu);
  const batchSize = validateBatchSize(options.batchSize);
  const addon = loadTunAddon();
  let handle: NativeTunHandle;
  try {
    handle = new addon.TunHandle(TUN_DEVICE_PATH, name, options.multiQueue === true, mtu ?? 0, batchSize);
  } catch (err) {
    throw tunErrorFromOpen(err, { name, devicePath: TUN_DEVICE_PATH, mtu });
  }
  return new TunDevice(handle);
}

function invalid(message: string): TunError {
  return new TunError('TUN_INVALID_OPTIONS', message);
}

/** The kernel's rules for interface names (dev_valid_name), checked here for a clearer message. */
export function validateName(name: string | undefined): string {
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
