/**
 * Is the batched UDP addon (native/udp.cc, built by node-gyp at install) there?
 * It is optional: an install without a compiler, or a system other than Linux,
 * has none, and masq then uses node:dgram. This module only finds and loads
 * it; batched-udp.ts is the socket built on it.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Must match kAbiVersion in native/udp.cc: a stale build is refused by name. */
export const UDP_ADDON_ABI = 2;
/** Must match kCounterCount in native/udp.cc. */
export const UDP_COUNTER_COUNT = 14;

export interface NativeUdpHandle {
  readonly fd: number;
  readonly family: 4 | 6;
  readonly localAddress: string;
  readonly localPort: number;
  readonly batchSize: number;
  readonly slotSize: number;
  readonly sendSlots: number;
  /** The kernel took UDP_SEGMENT / UDP_GRO for this socket. */
  readonly gso: boolean;
  readonly gro: boolean;
  /** Datagram i of a wake in slot i (i x slotSize). */
  readonly readBuffer: ArrayBuffer;
  /** batchSize x metaStride uint32: see META in batched-udp.ts. */
  readonly readMeta: ArrayBuffer;
  readonly sendBuffer: ArrayBuffer;
  readonly sendMeta: ArrayBuffer;
  readonly counters: ArrayBuffer;
  start(onBatch: (count: number) => void, onWritable: () => void, onError: (negErrno: number, syscall: string) => void): void;
  stop(): void;
  /** Sends queued entries 0..count-1; returns how many were consumed (fewer only when the socket buffer is full). */
  send(count: number): number;
  waitWritable(): void;
  close(): void;
}

/** Many sockets behind one wake (native/udp-set.cc); udp-set.ts is its API. */
export interface NativeUdpSet {
  readonly batchSize: number;
  readonly sendSlots: number;
  readonly readBuffer: ArrayBuffer;
  readonly readMeta: ArrayBuffer;
  /** Per datagram of a wake: the index of the socket it arrived on. */
  readonly readSocket: ArrayBuffer;
  readonly sendBuffer: ArrayBuffer;
  readonly sendMeta: ArrayBuffer;
  /** Per queued entry: the index of the socket it leaves from. */
  readonly sendSocket: ArrayBuffer;
  readonly counters: ArrayBuffer;
  /** Binds one more socket; returns its index, its port and its address. */
  open(family: 4 | 6, address: string, port: number, flags: number, recvBufferSize: number, sendBufferSize: number): [number, number, string];
  closeSocket(index: number): void;
  start(onBatch: (count: number) => void, onError: (negErrno: number, syscall: string) => void): void;
  stop(): void;
  /** Sends queued entries 0..count-1 (all consumed: a full socket buffer drops, counted). */
  send(count: number): void;
  close(): void;
}

export interface UdpAddon {
  UdpSet: new (batchSize: number, slotSize: number, sendSlots: number, sendBytes: number, maxSockets: number) => NativeUdpSet;
  setCounterCount: number;
  UdpHandle: new (
    family: 4 | 6,
    address: string,
    port: number,
    batchSize: number,
    slotSize: number,
    sendSlots: number,
    sendBytes: number,
    flags: number,
    recvBufferSize: number,
    sendBufferSize: number,
  ) => NativeUdpHandle;
  ifName(index: number): string | undefined;
  ifIndex(name: string): number;
  abiVersion: number;
  counterCount: number;
  metaStride: number;
  flagReusePort: number;
  flagGro: number;
  flagGso: number;
  flagRecvErr: number;
  flagV6Only: number;
}

export type UdpAddonStatus = { available: true; addon: UdpAddon } | { available: false; reason: string };

const ADDON_FILE = 'masq_udp.node';

/** Where node-gyp puts the addon, from this file in src/ (tsx) or dist/ (compiled): both 2 levels deep. */
export function defaultUdpAddonPaths(): string[] {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  return [join(root, 'build', 'Release', ADDON_FILE), join(root, 'build', 'Debug', ADDON_FILE)];
}

let cached: UdpAddonStatus | undefined;

/** Finds and loads the addon (once; the answer is kept). Never throws: the reason says why not. */
export function udpAddonStatus(candidates?: readonly string[], platform: string = process.platform): UdpAddonStatus {
  if (candidates === undefined && cached !== undefined) return cached;
  const status = load(candidates ?? defaultUdpAddonPaths(), platform);
  if (candidates === undefined) cached = status;
  return status;
}

function load(paths: readonly string[], platform: string): UdpAddonStatus {
  if (platform !== 'linux') return { available: false, reason: `batched UDP needs Linux (this system is ${platform})` };
  const path = paths.find((p) => existsSync(p));
  if (path === undefined) {
    return {
      available: false,
      reason: `the batched UDP addon is not built (looked for ${paths.join(' and ')}); "npm run build:native" builds it (needs a C++ compiler, make and python3)`,
    };
  }
  let loaded: unknown;
  try {
    loaded = createRequire(import.meta.url)(path);
  } catch (e) {
    return { available: false, reason: `the batched UDP addon at ${path} could not be loaded (${(e as Error).message}); rebuild it with "npm run build:native"` };
  }
  const addon = loaded as Partial<UdpAddon>;
  if (typeof addon.UdpHandle !== 'function' || addon.abiVersion !== UDP_ADDON_ABI || addon.counterCount !== UDP_COUNTER_COUNT) {
    return { available: false, reason: `${path} is not this version's batched UDP addon (built from older sources?); rebuild it with "npm run build:native"` };
  }
  return { available: true, addon: addon as UdpAddon };
}
