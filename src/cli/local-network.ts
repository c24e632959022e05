/**
 * What a client of the gateway needs to know about this host's own network:
 * the default gateway (where PCP, NAT-PMP and UPnP requests go) and this
 * host's address toward it. Used by `masq portmap` and `masq punch`.
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { tryParseIpv4 } from '../wire/address.js';

/** The default gateway, from /proc/net/route (Linux), or null. */
export function defaultGateway(): string | null {
  try {
    for (const line of readFileSync('/proc/net/route', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[1] === '00000000' && f[2] && f[2] !== '00000000') {
        const g = Number.parseInt(f[2], 16);
        return [g & 0xff, (g >>> 8) & 0xff, (g >>> 16) & 0xff, g >>> 24].join('.');
      }
    }
  } catch {
    /* not Linux */
  }
  return null;
}

/** This host's IPv4 address that shares the longest prefix with the gateway's. */
export function clientAddressFor(gateway: string): string | null {
  const g = tryParseIpv4(gateway);
  if (g === null) return null;
  let best: string | null = null;
  let bestBits = -1;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family !== 'IPv4' || a.internal) continue;
      const x = (tryParseIpv4(a.address) ?? 0) ^ g;
      const bits = x === 0 ? 32 : Math.clz32(x);
      if (bits > bestBits) [best, bestBits] = [a.address, bits];
    }
  }
  return best;
}
