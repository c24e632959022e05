/**
 * Whether this process may do what the gateway needs (create TUN devices,
 * change routes and rules): root, or any user holding CAP_NET_ADMIN in its
 * effective set (systemd's AmbientCapabilities=, `setcap`, a container).
 * The capability is what the kernel checks, so it is what we check.
 */
import { readFileSync } from 'node:fs';

const CAP_NET_ADMIN = 12n;

/** The effective capability set from /proc/self/status, or null where there is none (not Linux). */
export function effectiveCapabilities(statusText?: string): bigint | null {
  let text = statusText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/status', 'utf8');
    } catch {
      return null;
    }
  }
  const m = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(text);
  return m ? BigInt(`0x${m[1]}`) : null;
}

export function hasNetAdmin(statusText?: string): boolean {
  const caps = effectiveCapabilities(statusText);
  return caps !== null && ((caps >> CAP_NET_ADMIN) & 1n) === 1n;
}
