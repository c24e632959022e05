/**
 * `--udp-io auto|batched|dgram`: which real UDP sockets a command runs on
 * (src/net/udp-io.ts). Every command that opens UDP sockets takes it, with
 * the same meaning.
 */
import { Option } from 'commander';
import { UDP_IO_CHOICES, type UdpIo } from '../net/udp-io.js';

export function udpIoOption(): Option {
  return new Option(
    '--udp-io <kind>',
    'UDP sockets: batched (recvmmsg/sendmmsg, GSO/GRO: Linux, with the addon built at install), dgram (node:dgram), or auto: batched where it is available',
  )
    .choices([...UDP_IO_CHOICES])
    .default('auto');
}

export interface UdpIoCliOptions {
  udpIo: UdpIo;
}
