/**
 * UdpSocket over the batched UDP addon (native/udp.cc): one recvmmsg() and one
 * call into JavaScript per wake of the event loop, one sendmmsg() for every
 * datagram sent in that wake (and in each turn of the event loop outside
 * one), UDP GSO and GRO where the kernel has them. The same UdpSocket as
 * node-udp.ts, so any code written against NetEnv runs on either; servers
 * that can answer a wake's datagrams at once use onBatch (UdpBatchSocket).
 *
 * Sends are queued in memory shared with the addon: during a wake's handler
 * they go out together when it returns; outside one, at the end of the
 * current turn (a microtask). A socket buffer that is full (EAGAIN) keeps the
 * queue until the socket is writable again; a queue that is full too drops
 * the datagram and counts it, as the network would.
 */
import dns from 'node:dns';
import { systemScheduler } from '../util/clock.js';
import { addressWords, metaSourceText, type AddressWords } from './address-words.js';
import { udpAddonStatus, type NativeUdpHandle, type UdpAddon } from './udp-addon.js';
import type { Endpoint, NetEnv, UdpBatchSocket, UdpBindOptions, UdpDatagramBatch } from './udp.js';

// Words of a meta entry (enum Meta in native/udp.cc).
const OFFSET = 0;
const LENGTH = 1;
const PORT = 2;
const FAMILY = 3;
const SEGMENT = 4;
const SCOPE = 5;
const A0 = 6;
const A1 = 7;
const A2 = 8;
const A3 = 9;

const DEFAULT_BATCH = 64;
const DEFAULT_SEND_SLOTS = 1024;
const DEFAULT_SEND_BYTES = 512 * 1024;
/** The largest UDP payload: a slot this size never truncates, as node:dgram never does. */
const MAX_DATAGRAM = 65536;
/** Address text kept per socket (IPv4 sources as text, destinations as words); past it the cache starts over. */
const TEXT_CACHE = 4096;

export interface BatchedUdpBindOptions extends UdpBindOptions {
  /** SO_RCVBUF in bytes (capped by net.core.rmem_max). */
  recvBufferSize?: number;
  /** SO_SNDBUF in bytes (capped by net.core.wmem_max). */
  sendBufferSize?: number;
  /**
   * SO_REUSEPORT: sockets of this user (other worker processes) may bind the
   * same address and port, and the kernel spreads datagrams over them by their
   * source address and port.
   */
  reusePort?: boolean;
  /** Datagrams read per wake, 1..1024. Default 64. */
  batchSize?: number;
  /** Longer datagrams are dropped (and counted as truncated). Default 65536: none is. */
  maxDatagramSize?: number;
  /** Equal-sized datagrams to one peer leave as one UDP GSO message where the kernel can. Default true. */
  gso?: boolean;
  /** Take UDP GRO super-datagrams (split here) where the kernel has it; needs maxDatagramSize 65535 or more. Default true. */
  gro?: boolean;
  /** IP_RECVERR: ICMP errors about sent datagrams are read and counted (icmpErrors). Default false. */
  recvErrors?: boolean;
  /** Reading stopped on an error the socket cannot go past (never seen in practice). Default: a process warning. */
  onError?: (e: Error) => void;
}

export interface BatchedUdpCounters {
  wakes: number;
  datagramsIn: number;
  groBuffers: number;
  truncated: number;
  recvErrors: number;
  lastRecvErrno: number;
  icmpErrors: number;
  datagramsOut: number;
  sendCalls: number;
  gsoMessages: number;
  sendQueueFull: number;
  sendErrors: number;
  lastSendErrno: number;
  gsoFallbacks: number;
  /** Dropped here: the send queue was full while the socket buffer was, or the datagram larger than any UDP datagram. */
  sendDropped: number;
}

const NATIVE_COUNTERS: readonly (keyof BatchedUdpCounters)[] = [
  'wakes',
  'datagramsIn',
  'groBuffers',
  'truncated',
  'recvErrors',
  'lastRecvErrno',
  'icmpErrors',
  'datagramsOut',
  'sendCalls',
  'gsoMessages',
  'sendQueueFull',
  'sendErrors',
  'lastSendErrno',
  'gsoFallbacks',
];

/** One wake's datagrams, GRO super-datagrams split at their segment size. Reused for every wake of a socket. */
class WakeBatch implements UdpDatagramBatch {
  count = 0;
  /** Per datagram: its offset, its length, and where its source is in the meta words. */
  private off: Uint32Array;
  private len: Uint32Array;
  private src: Uint32Array;

  constructor(
    private readonly owner: BatchedUdpSocket,
    readonly bytes: Uint8Array,
    readonly sendBytes: Uint8Array,
    private readonly meta: Uint32Array,
    private readonly stride: number,
    capacity: number,
  ) {
    this.off = new Uint32Array(capacity);
    this.len = new Uint32Array(capacity);
    this.src = new Uint32Array(capacity);
  }

  /** Reads the meta of `messages` messages; returns the datagram count. */
  load(messages: number): number {
    const meta = this.meta;
    const stride = this.stride;
    let n = 0;
    for (let i = 0; i < messages; i++) {
      const m = i * stride;
      const off = meta[m + OFFSET];
      const len = meta[m + LENGTH];
      const seg = meta[m + SEGMENT];
      if (seg === 0) {
        if (n === this.off.length) this.grow();
        this.off[n] = off;
        this.len[n] = len;
        this.src[n++] = m;
        continue;
      }
      for (let at = off, end = off + len; at < end; at += seg) {
        if (n === this.off.length) this.grow();
        this.off[n] = at;
        this.len[n] = Math.min(seg, end - at);
        this.src[n++] = m;
      }
    }
    this.count = n;
    return n;
  }

  private grow(): void {
    const bigger = (a: Uint32Array) => {
      const b = new Uint32Array(a.length * 2);
      b.set(a);
      return b;
    };
    this.off = bigger(this.off);
    this.len = bigger(this.len);
    this.src = bigger(this.src);
  }

  offset(i: number): number {
    return this.off[i];
  }

  length(i: number): number {
    return this.len[i];
  }

  sourceIpv4(i: number): number {
    const m = this.src[i];
    return this.meta[m + FAMILY] === 4 ? this.meta[m + A0] : -1;
  }

  sourcePort(i: number): number {
    return this.meta[this.src[i] + PORT];
  }

  from(i: number): Endpoint {
    const m = this.src[i];
    return { address: this.owner.sourceText(this.meta, m), port: this.meta[m + PORT] };
  }

  reply(i: number, data: Uint8Array): void {
    const at = this.replyAt(i, data.length);
    if (at >= 0) this.sendBytes.set(data, at);
  }

  replyAt(i: number, length: number): number {
    const m = this.src[i];
    const meta = this.meta;
    return this.owner.reserve(length, meta[m + PORT], meta[m + FAMILY], meta[m + A0], meta[m + A1], meta[m + A2], meta[m + A3], meta[m + SCOPE]);
  }
}

function socketClosedError(): Error {
  return Object.assign(new Error('Not running: the UDP socket is closed'), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
}

export class BatchedUdpSocket implements UdpBatchSocket {
  readonly local: Endpoint;
  private readonly sbytes: Uint8Array;
  private readonly smeta: Uint32Array;
  private readonly counterWords: Float64Array;
  private readonly stride: number;
  private readonly batch: WakeBatch;
  private messageHandler: (data: Uint8Array, from: Endpoint) => void = () => {};
  private batchHandler: ((batch: UdpDatagramBatch) => void) | null = null;
  private queued = 0;
  private cursor = 0;
  private dispatching = false;
  private flushPending = false;
  private waitingWritable = false;
  private closed = false;
  private dropped = 0;
  private readonly v4Text = new Map<number, string>();
  private readonly destinations = new Map<string, AddressWords>();

  constructor(
    private readonly handle: NativeUdpHandle,
    private readonly addon: UdpAddon,
    private readonly onError: (e: Error) => void,
  ) {
    this.local = { address: handle.localAddress, port: handle.localPort };
    this.stride = addon.metaStride;
    this.sbytes = new Uint8Array(handle.sendBuffer);
    this.smeta = new Uint32Array(handle.sendMeta);
    this.counterWords = new Float64Array(handle.counters);
    this.batch = new WakeBatch(this, new Uint8Array(handle.readBuffer), this.sbytes, new Uint32Array(handle.readMeta), this.stride, handle.batchSize * 2);
    handle.start(
      (count) => this.wake(count),
      () => this.writable(),
      (negErrno, syscall) => this.failed(negErrno, syscall),
    );
  }

  /** The kernel took UDP GSO / GRO for this socket. */
  get gso(): boolean {
    return this.handle.gso;
  }

  get gro(): boolean {
    return this.handle.gro;
  }

  get counters(): BatchedUdpCounters {
    const out = { sendDropped: this.dropped } as BatchedUdpCounters;
    NATIVE_COUNTERS.forEach((name, i) => (out[name] = this.counterWords[i]));
    return out;
  }

  send(data: Uint8Array, to: Endpoint): void {
    if (this.closed) throw socketClosedError();
    const port = to.port;
    if (!(Number.isInteger(port) && port > 0 && port < 65536)) {
      throw Object.assign(new RangeError(`Port should be > 0 and < 65536. Received ${String(port)}.`), { code: 'ERR_SOCKET_BAD_PORT' });
    }
    let d = this.destinations.get(to.address);
    if (d === undefined) {
      const words = addressWords(to.address, this.addon.ifIndex);
      if (words === null) return this.sendToName(data, to);
      if (this.destinations.size >= TEXT_CACHE) this.destinations.clear();
      this.destinations.set(to.address, words);
      d = words;
    }
    this.enqueue(data, port, d.family, d.w0, d.w1, d.w2, d.w3, d.scope);
  }

  onMessage(handler: (data: Uint8Array, from: Endpoint) => void): void {
    this.messageHandler = handler;
    this.batchHandler = null;
  }

  onBatch(handler: (batch: UdpDatagramBatch) => void): void {
    this.batchHandler = handler;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.handle.close();
  }

  /** Queues one datagram (the queue goes out when the wake's handler returns, or at the end of this turn). */
  enqueue(data: Uint8Array, port: number, family: number, a0: number, a1: number, a2: number, a3: number, scope: number): void {
    const at = this.reserve(data.length, port, family, a0, a1, a2, a3, scope);
    if (at >= 0) this.sbytes.set(data, at);
  }

  /** Queues `length` bytes to the destination and returns where in sbytes to write them, or -1 (dropped, counted). */
  reserve(length: number, port: number, family: number, a0: number, a1: number, a2: number, a3: number, scope: number): number {
    if (this.closed) throw socketClosedError();
    const room = this.sbytes.length;
    if (this.queued === this.handle.sendSlots || this.cursor + length > room) {
      this.flush();
      if (this.queued === this.handle.sendSlots || this.cursor + length > room) {
        this.dropped++;
        return -1;
      }
    }
    const at = this.cursor;
    const m = this.queued * this.stride;
    const meta = this.smeta;
    meta[m + OFFSET] = at;
    meta[m + LENGTH] = length;
    meta[m + PORT] = port;
    meta[m + FAMILY] = family;
    meta[m + SCOPE] = scope;
    meta[m + A0] = a0;
    meta[m + A1] = a1;
    meta[m + A2] = a2;
    meta[m + A3] = a3;
    this.queued++;
    // 8-byte aligned, as an allocator would place them.
    this.cursor = (at + length + 7) & ~7;
    if (!this.dispatching && !this.flushPending) {
      this.flushPending = true;
      queueMicrotask(this.flushTask);
    }
    return at;
  }

  /** The text of a source address in the read meta (what node:dgram would say). */
  sourceText(meta: Uint32Array, m: number): string {
    return metaSourceText(meta, m, this.v4Text, TEXT_CACHE, this.addon);
  }

  private readonly flushTask = (): void => {
    this.flushPending = false;
    this.flush();
  };

  /** Hands the queue to the kernel; what it cannot take now waits for the socket to be writable. */
  private flush(): void {
    if (this.queued === 0 || this.waitingWritable || this.closed) return;
    const consumed = this.handle.send(this.queued);
    if (consumed === this.queued) {
      this.queued = 0;
      this.cursor = 0;
      return;
    }
    this.compact(consumed);
    this.waitingWritable = true;
    this.handle.waitWritable();
  }

  /** Moves entries consumed.. to the front of the queue. */
  private compact(consumed: number): void {
    const stride = this.stride;
    const meta = this.smeta;
    const start = meta[consumed * stride + OFFSET];
    this.sbytes.copyWithin(0, start, this.cursor);
    for (let j = 0; j + consumed < this.queued; j++) {
      meta.copyWithin(j * stride, (j + consumed) * stride, (j + consumed + 1) * stride);
      meta[j * stride + OFFSET] -= start;
    }
    this.queued -= consumed;
    this.cursor -= start;
  }

  private writable(): void {
    this.waitingWritable = false;
    this.flush();
  }

  private wake(messages: number): void {
    this.dispatching = true;
    try {
      const batch = this.batch;
      const count = batch.load(messages);
      if (this.batchHandler !== null) {
        this.batchHandler(batch);
        return;
      }
      const bytes = batch.bytes;
      for (let i = 0; i < count && !this.closed; i++) {
        const off = batch.offset(i);
        // A copy: a handler may keep it past the next wake, which reads into the same memory.
        this.messageHandler(bytes.slice(off, off + batch.length(i)), batch.from(i));
      }
    } finally {
      this.dispatching = false;
      this.flush();
    }
  }

  private sendToName(data: Uint8Array, to: Endpoint): void {
    const copy = data.slice();
    dns.lookup(to.address, { family: this.handle.family === 4 ? 4 : 0 }, (err, address) => {
      if (err || this.closed) return;
      const d = addressWords(address, this.addon.ifIndex);
      if (d !== null) this.enqueue(copy, to.port, d.family, d.w0, d.w1, d.w2, d.w3, d.scope);
    });
  }

  private failed(negErrno: number, syscall: string): void {
    this.onError(Object.assign(new Error(`batched UDP socket ${this.local.address}:${this.local.port}: ${syscall} failed (errno ${-negErrno}); it no longer reads`), { errno: negErrno, syscall }));
  }
}

function addonOrThrow(): UdpAddon {
  const status = udpAddonStatus();
  if (!status.available) throw Object.assign(new Error(`batched UDP sockets are not available: ${status.reason}`), { code: 'ERR_UDP_ADDON_MISSING' });
  return status.addon;
}

export async function bindBatchedUdp(options: BatchedUdpBindOptions = {}): Promise<BatchedUdpSocket> {
  const addon = addonOrThrow();
  const address = options.address ?? '0.0.0.0';
  const family = address.includes(':') ? 6 : 4;
  const maxDatagram = options.maxDatagramSize ?? MAX_DATAGRAM;
  const flags =
    (options.reusePort ? addon.flagReusePort : 0) |
    (options.gso !== false ? addon.flagGso : 0) |
    (options.gro !== false ? addon.flagGro : 0) |
    (options.recvErrors ? addon.flagRecvErr : 0);
  const handle = new addon.UdpHandle(
    family,
    address,
    options.port ?? 0,
    options.batchSize ?? DEFAULT_BATCH,
    Math.min(MAX_DATAGRAM, maxDatagram),
    DEFAULT_SEND_SLOTS,
    DEFAULT_SEND_BYTES,
    flags,
    options.recvBufferSize ?? 0,
    options.sendBufferSize ?? 0,
  );
  const onError = options.onError ?? ((e: Error) => process.emitWarning(e.message, 'MasqUdpWarning'));
  return new BatchedUdpSocket(handle, addon, onError);
}

/** Batched sockets; `defaults` apply to every bind. */
export function batchedNetEnvWith(defaults: Omit<BatchedUdpBindOptions, 'address' | 'port'>): NetEnv {
  return {
    scheduler: systemScheduler,
    bindUdp: (options = {}) => bindBatchedUdp({ ...defaults, ...options }),
    random: Math.random,
  };
}
