/**
 * Many UDP sockets behind one wake of the event loop (native/udp-set.cc): the
 * sockets sit in one epoll set, a wake reads every ready one and crosses into
 * JavaScript once, and the datagrams queued while handling it leave in one
 * call. For servers with a socket per port and little traffic on each (a
 * media relay: one packet per port every 20 ms), where a socket of its own
 * would cost a wake and a crossing per datagram.
 *
 * Each member is a UdpSocket (onMessage hands over a copy, as the other
 * implementations do); onDatagram is the allocation-free path whose bytes
 * are valid only while the handler runs. A full socket buffer drops the
 * datagram and counts it (real-time media is not worth holding): unlike the
 * single batched socket, nothing waits for the socket to become writable.
 */
import dns from 'node:dns';
import { systemScheduler } from '../util/clock.js';
import { addressWords, metaSourceText, type AddressWords } from './address-words.js';
import { udpAddonStatus, type NativeUdpSet, type UdpAddon } from './udp-addon.js';
import type { Endpoint, NetEnv, UdpBindOptions, UdpSocket } from './udp.js';

// Words of a meta entry (enum Meta in native/udp-shared.h).
const OFFSET = 0;
const LENGTH = 1;
const PORT = 2;
const FAMILY = 3;
const SCOPE = 5;
const A0 = 6;
const A1 = 7;
const A2 = 8;
const A3 = 9;
/** Address text kept (sources) and words (destinations); past it a cache starts over. */
const TEXT_CACHE = 4096;

export interface UdpSetOptions {
  /** Datagrams read per wake over all sockets. Default 512. */
  batchSize?: number;
  /** Longer datagrams are dropped and counted (truncated). Default 16384. */
  maxDatagramSize?: number;
  /** Datagrams and bytes queued between two flushes. Defaults 4096 and 2 MiB. */
  sendSlots?: number;
  sendBytes?: number;
  /** Sockets the set holds at most. Default 20000. */
  maxSockets?: number;
  /** Reading stopped on an error of the set itself (never seen in practice). Default: a process warning. */
  onError?: (e: Error) => void;
}

export interface UdpSetBindOptions extends UdpBindOptions {
  recvBufferSize?: number;
  sendBufferSize?: number;
}

export interface UdpSetCounters {
  wakes: number;
  /** Socket reads (ready sockets) over all wakes: readySockets / wakes is how many sockets a wake served. */
  readySockets: number;
  datagramsIn: number;
  truncated: number;
  recvErrors: number;
  lastRecvErrno: number;
  datagramsOut: number;
  sendCalls: number;
  /** The socket buffer was full: dropped. */
  sendDropped: number;
  /** Refused by the kernel, or queued for a socket closed before the flush. */
  sendErrors: number;
  lastSendErrno: number;
  socketsFailed: number;
  /** Reads that filled the read buffer: another read followed in the same wake. */
  fullRounds: number;
  /** Dropped before the kernel: larger than the whole send queue. */
  queueDropped: number;
}

const NATIVE_COUNTERS: readonly (keyof UdpSetCounters)[] = [
  'wakes', 'readySockets', 'datagramsIn', 'truncated', 'recvErrors', 'lastRecvErrno',
  'datagramsOut', 'sendCalls', 'sendDropped', 'sendErrors', 'lastSendErrno', 'socketsFailed', 'fullRounds',
];

export type DatagramHandler = (data: Uint8Array, address: string, port: number) => void;

export class UdpSetSocket implements UdpSocket {
  private messageHandler: ((data: Uint8Array, from: Endpoint) => void) | null = null;
  /** Set: datagrams go here, as views valid only during the call. */
  datagramHandler: DatagramHandler | null = null;
  private open = true;

  constructor(
    private readonly set: UdpSocketSet,
    readonly index: number,
    readonly local: Endpoint,
  ) {}

  onMessage(handler: (data: Uint8Array, from: Endpoint) => void): void {
    this.messageHandler = handler;
    this.datagramHandler = null;
  }

  /** Replaces onMessage: each datagram as a view of the set's read buffer, valid only while the handler runs. */
  onDatagram(handler: DatagramHandler): void {
    this.datagramHandler = handler;
    this.messageHandler = null;
  }

  send(data: Uint8Array, to: Endpoint): void {
    this.sendTo(data, to.address, to.port);
  }

  sendTo(data: Uint8Array, address: string, port: number): void {
    if (!this.open) throw Object.assign(new Error('Not running'), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
    if (!(Number.isInteger(port) && port > 0 && port < 65536)) {
      throw Object.assign(new RangeError(`Port should be > 0 and < 65536. Received ${String(port)}.`), { code: 'ERR_SOCKET_BAD_PORT' });
    }
    this.set.enqueue(this.index, data, address, port);
  }

  /** @internal one datagram of a wake. */
  deliver(bytes: Uint8Array, off: number, len: number, address: string, port: number): void {
    if (this.datagramHandler !== null) this.datagramHandler(bytes.subarray(off, off + len), address, port);
    // A copy: a UdpSocket handler may keep it past the next wake, which reads into the same memory.
    else if (this.messageHandler !== null) this.messageHandler(bytes.slice(off, off + len), { address, port });
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.set.release(this);
  }
}

export class UdpSocketSet {
  private readonly members: (UdpSetSocket | undefined)[] = [];
  private readonly bytes: Uint8Array;
  private readonly rmeta: Uint32Array;
  private readonly rsock: Uint32Array;
  private readonly sbytes: Uint8Array;
  private readonly smeta: Uint32Array;
  private readonly ssock: Uint32Array;
  private readonly counterWords: Float64Array;
  private readonly stride: number;
  private readonly v4Text = new Map<number, string>();
  private readonly destinations = new Map<string, AddressWords>();
  private queued = 0;
  private cursor = 0;
  private queueDropped = 0;
  private dispatching = false;
  private flushPending = false;
  private closed = false;
  private count = 0;

  private constructor(
    private readonly native: NativeUdpSet,
    private readonly addon: UdpAddon,
    private readonly onError: (e: Error) => void,
  ) {
    this.stride = addon.metaStride;
    this.bytes = new Uint8Array(native.readBuffer);
    this.rmeta = new Uint32Array(native.readMeta);
    this.rsock = new Uint32Array(native.readSocket);
    this.sbytes = new Uint8Array(native.sendBuffer);
    this.smeta = new Uint32Array(native.sendMeta);
    this.ssock = new Uint32Array(native.sendSocket);
    this.counterWords = new Float64Array(native.counters);
  }

  /** A new, empty set; throws (ERR_UDP_ADDON_MISSING) where the addon is not built. */
  static open(options: UdpSetOptions = {}): UdpSocketSet {
    const status = udpAddonStatus();
    if (!status.available) throw Object.assign(new Error(`UDP socket sets are not available: ${status.reason}`), { code: 'ERR_UDP_ADDON_MISSING' });
    const addon = status.addon;
    const native = new addon.UdpSet(
      options.batchSize ?? 512,
      options.maxDatagramSize ?? 16384,
      options.sendSlots ?? 4096,
      options.sendBytes ?? 2 * 1024 * 1024,
      options.maxSockets ?? 20000,
    );
    return new UdpSocketSet(native, addon, options.onError ?? ((e) => process.emitWarning(e.message, 'MasqUdpWarning')));
  }

  /** Sockets open in the set. */
  get size(): number {
    return this.count;
  }

  get counters(): UdpSetCounters {
    const out = { queueDropped: this.queueDropped } as UdpSetCounters;
    NATIVE_COUNTERS.forEach((name, i) => (out[name] = this.counterWords[i]));
    return out;
  }

  /** Binds one more socket (synchronously; throws as bind(2) fails: EADDRINUSE...). */
  bind(options: UdpSetBindOptions = {}): UdpSetSocket {
    if (this.closed) throw Object.assign(new Error('UDP socket set is closed'), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
    const address = options.address ?? '0.0.0.0';
    const [index, port, text] = this.native.open(address.includes(':') ? 6 : 4, address, options.port ?? 0, 0, options.recvBufferSize ?? 0, options.sendBufferSize ?? 0);
    const member = new UdpSetSocket(this, index, { address: text, port });
    this.members[index] = member;
    if (this.count++ === 0) this.native.start((n) => this.wake(n), (negErrno, syscall) => this.failed(negErrno, syscall));
    return member;
  }

  /** @internal */
  release(member: UdpSetSocket): void {
    if (this.members[member.index] !== member) return;
    this.flush();
    this.members[member.index] = undefined;
    this.native.closeSocket(member.index);
    // No socket left: nothing holds the event loop open.
    if (--this.count === 0) this.native.stop();
  }

  /** @internal queues one datagram from socket `index`. */
  enqueue(index: number, data: Uint8Array, address: string, port: number): void {
    let d = this.destinations.get(address);
    if (d === undefined) {
      const words = addressWords(address, this.addon.ifIndex);
      if (words === null) return this.sendToName(index, data, address, port);
      if (this.destinations.size >= TEXT_CACHE) this.destinations.clear();
      this.destinations.set(address, words);
      d = words;
    }
    const length = data.length;
    if (this.queued === this.ssock.length || this.cursor + length > this.sbytes.length) {
      this.flush();
      if (this.cursor + length > this.sbytes.length) {
        this.queueDropped++;
        return;
      }
    }
    const at = this.cursor;
    const m = this.queued * this.stride;
    const meta = this.smeta;
    meta[m + OFFSET] = at;
    meta[m + LENGTH] = length;
    meta[m + PORT] = port;
    meta[m + FAMILY] = d.family;
    meta[m + SCOPE] = d.scope;
    meta[m + A0] = d.w0;
    meta[m + A1] = d.w1;
    meta[m + A2] = d.w2;
    meta[m + A3] = d.w3;
    this.ssock[this.queued++] = index;
    this.sbytes.set(data, at);
    this.cursor = (at + length + 7) & ~7;
    if (!this.dispatching && !this.flushPending) {
      this.flushPending = true;
      queueMicrotask(this.flushTask);
    }
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    for (const m of this.members) m?.close();
    this.native.close();
  }

  private readonly flushTask = (): void => {
    this.flushPending = false;
    this.flush();
  };

  private flush(): void {
    if (this.queued === 0 || this.closed) return;
    this.native.send(this.queued);
    this.queued = 0;
    this.cursor = 0;
  }

  private wake(count: number): void {
    this.dispatching = true;
    try {
      const meta = this.rmeta;
      const stride = this.stride;
      for (let i = 0; i < count; i++) {
        // A handler may have closed a socket whose datagrams follow in this wake.
        const member = this.members[this.rsock[i]];
        if (member === undefined) continue;
        const m = i * stride;
        member.deliver(this.bytes, meta[m + OFFSET], meta[m + LENGTH], this.sourceText(m), meta[m + PORT]);
      }
    } finally {
      this.dispatching = false;
      this.flush();
    }
  }

  private sourceText(m: number): string {
    return metaSourceText(this.rmeta, m, this.v4Text, TEXT_CACHE, this.addon);
  }

  private sendToName(index: number, data: Uint8Array, name: string, port: number): void {
    const copy = data.slice();
    dns.lookup(name, { family: 4 }, (err, address) => {
      if (err || this.closed || this.members[index] === undefined) return;
      if (addressWords(address, this.addon.ifIndex) !== null) this.enqueue(index, copy, address, port);
    });
  }

  private failed(negErrno: number, syscall: string): void {
    this.onError(Object.assign(new Error(`UDP socket set: ${syscall} failed (errno ${-negErrno}); it no longer reads`), { errno: negErrno, syscall }));
  }
}

/** Sockets that are all members of one set (made on the first bind). */
export function udpSetNetEnv(options: UdpSetOptions & Omit<UdpSetBindOptions, 'address' | 'port'> = {}): NetEnv & { readonly set: () => UdpSocketSet | null } {
  let set: UdpSocketSet | null = null;
  return {
    scheduler: systemScheduler,
    bindUdp: async (o = {}) => {
      set ??= UdpSocketSet.open(options);
      return set.bind({ recvBufferSize: options.recvBufferSize, sendBufferSize: options.sendBufferSize, ...o });
    },
    random: Math.random,
    set: () => set,
  };
}
