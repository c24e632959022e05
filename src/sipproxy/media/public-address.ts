/**
 * Whether an address in an SDP can be sent to as written. A phone behind a
 * NAT writes its private address; RFC 1918, shared address space (carrier
 * NAT, RFC 6598), loopback, link-local and unspecified addresses are never
 * reachable from the relay, so for those the relay uses the address the
 * phone's signalling came from instead (with the SDP's port).
 */
import { tryParseIpv4 } from '../../wire/address.js';

export function isPublicIpv4(text: string): boolean {
  const a = tryParseIpv4(text);
  if (a === null) return false;
  const o1 = a >>> 24;
  const o2 = (a >>> 16) & 0xff;
  if (o1 === 0 || o1 === 10 || o1 === 127 || o1 >= 224) return false;
  if (o1 === 172 && o2 >= 16 && o2 <= 31) return false;
  if (o1 === 192 && o2 === 168) return false;
  if (o1 === 169 && o2 === 254) return false;
  if (o1 === 100 && o2 >= 64 && o2 <= 127) return false;
  return true;
}
