/**
 * Which real UDP sockets a server or client runs on, by configuration
 * (`--udp-io auto|batched|dgram` on the command line):
 *   batched  the addon's sockets (batched-udp.ts): recvmmsg/sendmmsg, GSO, GRO
 *   dgram    node:dgram (node-udp.ts): everywhere Node runs
 *   auto     batched when the addon is there (Linux, built at install), else dgram
 */
import { batchedNetEnvWith } from './batched-udp.js';
import { nodeNetEnvWith } from './node-udp.js';
import { udpAddonStatus } from './udp-addon.js';
import type { NetEnv } from './udp.js';

export const UDP_IO_CHOICES = ['auto', 'batched', 'dgram'] as const;
export type UdpIo = (typeof UDP_IO_CHOICES)[number];
export type ResolvedUdpIo = Exclude<UdpIo, 'auto'>;

export function isUdpIo(text: string): text is UdpIo {
  return (UDP_IO_CHOICES as readonly string[]).includes(text);
}

/** What `want` means on this system; `batched` where the addon is missing is an error that says why. */
export function resolveUdpIo(want: UdpIo = 'auto'): ResolvedUdpIo {
  if (want === 'dgram') return 'dgram';
  const status = udpAddonStatus();
  if (status.available) return 'batched';
  if (want === 'auto') return 'dgram';
  throw Object.assign(new Error(`--udp-io batched: ${status.reason}`), { code: 'ERR_UDP_ADDON_MISSING' });
}

export interface UdpIoOptions {
  /** SO_RCVBUF / SO_SNDBUF in bytes (the kernel caps them). */
  recvBufferSize?: number;
  sendBufferSize?: number;
}

/** Real sockets of the kind `io` names; the options apply to every bind. */
export function netEnvFor(io: UdpIo, options: UdpIoOptions = {}): NetEnv {
  return resolveUdpIo(io) === 'batched' ? batchedNetEnvWith(options) : nodeNetEnvWith(options);
}
