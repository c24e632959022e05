/**
 * The unit that per-source limits count: one IPv4 address, or one IPv6 /64
 * (a single host is commonly handed a whole /64, so counting addresses would
 * let it multiply its share by 2^64). IPv4-mapped IPv6 addresses count as
 * their IPv4 address. The port never matters: a host has 64k of them.
 */
import { formatIPv4, parseIp } from '../../stun/ip-address.js';

export function sourceKey(address: string): string {
  const ip = parseIp(address);
  if (!ip) return address;
  const b = ip.bytes;
  if (ip.family === 4) return formatIPv4(b);
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return formatIPv4(b, 12);
  const words: string[] = [];
  for (let i = 0; i < 4; i++) words.push(((b[2 * i] << 8) | b[2 * i + 1]).toString(16));
  return `${words.join(':')}::/64`;
}
