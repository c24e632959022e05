// The boundary to the native TUN addon (native/tun.cc): finding and loading
// it, its raw shape, and turning what it throws into a TunError an operator
// can act on.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getSystemErrorName } from 'node:util';

export type TunErrorCode =
  | 'TUN_UNSUPPORTED_PLATFORM'
  | 'TUN_ADDON_MISSING'
  | 'TUN_ADDON_INCOMPATIBLE'
  | 'TUN_DEVICE_NODE_MISSING'
  | 'TUN_PERMISSION_DENIED'
  | 'TUN_NAME_IN_USE'
  | 'TUN_INVALID_OPTIONS'
  | 'TUN_INTERFACE_GONE'
  | 'TUN_CLOSED'
  | 'TUN_IO_ERROR';

export class TunError extends Error {
  override readonly name = 'TunError';
  readonly code: TunErrorCode;
  /** The system error name behind it (EPERM, ENOENT, ...), when there is one. */
  readonly errno: string | undefined;

  constructor(code: TunErrorCode, message: string, options: { errno?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.errno = options.errno;
  }
}

/** Indexes into NativeTunHandle.counters (as a Float64Array); the order is fixed by native/tun.cc. */
export const NativeCounter = {
  Wakes: 0,
  PacketsRead: 1,
  ReadTruncated: 2,
  PacketsWritten: 3,
  WriteRejected: 4,
  WriteQueueFull: 5,
  LastWriteErrno: 6,
  BusyPollHits: 7,
} as const;
const COUNTER_COUNT = 8;
/** The addon's interface version (kAbiVersion in native/tun.cc): a build from older sources is refused. */
const ABI_VERSION = 4;

/** Bits of the `flags` argument of the TunHandle constructor (enum OpenFlag in native/tun.cc). */
export const NativeOpenFlag = {
  /** IFF_VNET_HDR, TUNSETVNETHDRSZ 10, checksum offload and TSO (USO when the kernel has it). */
  Offload: 1,
} as const;

export interface NativeTunHandle {
  readonly name: string;
  readonly fd: number;
  /** Largest IP packet a read delivers; longer ones are dropped as truncated. */
  readonly maxPacketSize: number;
  /** 10 in offload mode (struct virtio_net_hdr before every packet), else 0. */
  readonly vnetHeaderSize: number;
  /** The TUN_F_* bits set with TUNSETOFFLOAD (0 without offload). */
  readonly offloads: number;
  readonly batchSize: number;
  /** Packets of a wake, packed: packet i at readOffsets[i], readLengths[i] bytes, its virtio header just before it. */
  readonly readBuffer: ArrayBuffer;
  readonly readOffsets: ArrayBuffer;
  readonly readLengths: ArrayBuffer;
  readonly counters: ArrayBuffer;
  /** onError gets a negative errno and the failing call; polling has stopped by then. */
  start(onPackets: (count: number) => void, onError: (negErrno: number, syscall: string) => void): void;
  stop(): void;
  /**
   * Returns how many packets were consumed (written or rejected) before the queue was full. In offload mode
   * each packet goes out with the vnetHeaderSize bytes before its offset as its header.
   */
  writeBatch(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number;
  /** 1 written, 0 queue full (EAGAIN), -errno rejected by the kernel. `header` (offload mode only) defaults to zeros. */
  write(packet: Uint8Array, header?: Uint8Array): number;
  /** Reads the packets waiting now into readBuffer (as a wake would) and returns how many; throws on a read error. */
  readNow(): number;
  close(): void;
}

export interface TunAddon {
  TunHandle: new (path: string, name: string, multiQueue: boolean, mtu: number, batchSize: number, flags: number) => NativeTunHandle;
  /** Queue steering (native/tun_steering.cc): attaches a program to the device of tunFd; the map's fd when byPort, else -1. */
  steeringAttach(tunFd: number, byPort: boolean): number;
  steeringDetach(tunFd: number): void;
  steeringSet(mapFd: number, keys: Uint32Array, values: Uint32Array, count: number): number;
  steeringClose(mapFd: number): void;
  abiVersion: number;
  counterCount: number;
}

const ADDON_FILE = 'masq_tun.node';
const BUILD_HINT =
  'Run "npm ci" in the masq directory, which builds it with node-gyp, or "npm run build:native" to ' +
  'rebuild only the addon; building needs a C++ compiler, make, python3 and the Node.js headers.';

/** Where node-gyp puts the addon, from this file in src/ (tsx) or dist/ (compiled): both are 3 levels deep. */
export function defaultAddonPaths(): string[] {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  return [join(root, 'build', 'Release', ADDON_FILE), join(root, 'build', 'Debug', ADDON_FILE)];
}

export function assertTunPlatform(platform: string = process.platform): void {
  if (platform !== 'linux') {
    throw new TunError(
      'TUN_UNSUPPORTED_PLATFORM',
      `TUN devices are supported on Linux only (this system is ${platform}). ` +
        'Use the pcap or sim dataplane here, or run the gateway on a Linux host.',
    );
  }
}

let cached: TunAddon | undefined;

/** Loads the addon from the first candidate path that exists; the default lookup is cached. */
export function loadTunAddon(candidates?: readonly string[]): TunAddon {
  if (candidates === undefined && cached !== undefined) return cached;
  const paths = candidates ?? defaultAddonPaths();
  const path = paths.find((p) => existsSync(p));
  if (path === undefined) {
    throw new TunError(
      'TUN_ADDON_MISSING',
      `The native TUN addon is not built (looked for ${paths.join(' and ')}). ${BUILD_HINT}`,
    );
  }
  let loaded: unknown;
  try {
    loaded = createRequire(import.meta.url)(path);
  } catch (cause) {
    throw new TunError(
      'TUN_ADDON_INCOMPATIBLE',
      `The native TUN addon at ${path} could not be loaded (${(cause as Error).message}). ` +
        `It was probably built for another Node.js version or system. ${BUILD_HINT}`,
      { cause },
    );
  }
  if (!isTunAddon(loaded)) {
    throw new TunError(
      'TUN_ADDON_INCOMPATIBLE',
      `${path} loaded but is not this version's masq TUN addon (built from older sources?). ${BUILD_HINT}`,
    );
  }
  if (candidates === undefined) cached = loaded;
  return loaded;
}

function isTunAddon(value: unknown): value is TunAddon {
  if (typeof value !== 'object' || value === null) return false;
  const addon = value as Partial<TunAddon>;
  return typeof addon.TunHandle === 'function' && addon.abiVersion === ABI_VERSION && addon.counterCount === COUNTER_COUNT;
}

export interface OpenContext {
  /** The requested name, or '' for a kernel-chosen one. */
  name: string;
  devicePath: string;
  mtu: number | undefined;
  offload?: boolean;
}

/** The system error name of a thrown native error (its `code`), if it has one. */
function systemErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Maps an error thrown by `new TunHandle(...)` to a TunError that says what to do about it. */
export function tunErrorFromOpen(err: unknown, ctx: OpenContext): TunError {
  const errno = systemErrorCode(err);
  const syscall = (err as { syscall?: unknown } | null)?.syscall;
  const device = ctx.name === '' ? 'a TUN device' : `TUN device "${ctx.name}"`;
  const detail = err instanceof Error ? err.message : String(err);
  const opts = { errno, cause: err };
  if (syscall === 'open') {
    switch (errno) {
      case 'ENOENT':
        return new TunError(
          'TUN_DEVICE_NODE_MISSING',
          `${ctx.devicePath} does not exist, so ${device} cannot be created: the kernel TUN driver is not ` +
            'available here. Load it with "modprobe tun"; in a container, pass the device in ' +
            '(e.g. docker run --device /dev/net/tun --cap-add NET_ADMIN).',
          opts,
        );
      case 'ENODEV':
      case 'ENXIO':
        return new TunError(
          'TUN_DEVICE_NODE_MISSING',
          `${ctx.devicePath} exists but no TUN driver answers it. Load the driver with "modprobe tun".`,
          opts,
        );
      case 'EACCES':
      case 'EPERM':
        return new TunError(
          'TUN_PERMISSION_DENIED',
          `Permission denied opening ${ctx.devicePath}. Run masq as root, or give its user read/write access ` +
            'to /dev/net/tun together with the CAP_NET_ADMIN capability.',
          opts,
        );
    }
  }
  if (syscall === 'ioctl(TUNSETIFF)') {
    switch (errno) {
      case 'EPERM':
        return new TunError(
          'TUN_PERMISSION_DENIED',
          `Permission denied creating ${device}: this needs root or the CAP_NET_ADMIN capability. ` +
            'Run masq as root, or grant the capability (AmbientCapabilities=CAP_NET_ADMIN in a systemd unit, ' +
            '--cap-add NET_ADMIN for a container).',
          opts,
        );
      case 'EBUSY':
        return new TunError(
          'TUN_NAME_IN_USE',
          `${device} is already open (by this or another process) and is not multi-queue. ` +
            'Choose another name or stop the other user of the interface.',
          opts,
        );
      case 'EINVAL':
        return new TunError(
          'TUN_NAME_IN_USE',
          `Cannot attach to ${device}: an interface with that name exists but is not a TUN device of the ` +
            'same kind (it may be a TAP, another interface type, or differ in multi-queue mode).',
          opts,
        );
    }
  }
  if (typeof syscall === 'string' && /^ioctl\(TUNSET(VNETHDRSZ|VNETLE|OFFLOAD)\)$/.test(syscall)) {
    return new TunError(
      'TUN_IO_ERROR',
      `The kernel refused the offload settings of ${device} (${detail}): this kernel's TUN driver lacks ` +
        'virtio-net headers or TSO. Open it without offload (tun.offload: false in the gateway config).',
      opts,
    );
  }
  if (syscall === 'ioctl(SIOCSIFMTU)') {
    return new TunError(
      errno === 'EINVAL' ? 'TUN_INVALID_OPTIONS' : 'TUN_IO_ERROR',
      `The kernel refused MTU ${ctx.mtu} on ${device} (${detail}).`,
      opts,
    );
  }
  return new TunError('TUN_IO_ERROR', `Could not open ${device}: ${detail}`, opts);
}

/** Maps an error the addon reports while polling or reading (negative errno) to a TunError. */
export function tunErrorFromIo(negErrno: number, syscall: string, name: string): TunError {
  const errno = systemErrorNameOf(negErrno);
  if (errno === 'EBADF' || errno === 'EBADFD' || errno === 'ENODEV') {
    return new TunError(
      'TUN_INTERFACE_GONE',
      `TUN device "${name}" stopped working (${syscall}: ${errno}): the interface was most likely deleted ` +
        '(ip link del) while masq had it open. Reading has stopped; close and reopen the device.',
      { errno },
    );
  }
  return new TunError('TUN_IO_ERROR', `Reading from TUN device "${name}" failed (${syscall}: ${errno}); reading has stopped.`, {
    errno,
  });
}

export function systemErrorNameOf(negErrno: number): string {
  try {
    return getSystemErrorName(negErrno);
  } catch {
    return `errno ${-negErrno}`;
  }
}
