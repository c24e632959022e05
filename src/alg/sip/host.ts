/**
 * host [":" port] as SIP writes it (RFC 3261 25.1): an IPv4 address, an IPv6
 * reference in brackets, or a hostname. Spans point at the host text (brackets
 * included for IPv6, so a rewrite replaces the whole reference) and the port
 * digits.
 */
import type { Span } from '../text/span.js';
import * as asciiModule from '../text/ascii.js';
import * as decimalModule from '../text/decimal.js';
import * as internModule from '../text/intern.js';
import * as hostTextModule from '../text/host-text.js';

// Local copies of the imports: an imported binding is read from its module
// cell at every use, even in optimized loops; a module-local const is not
// (see "Module bindings" in src/alg/text/README.md).
const { COLON, LBRACKET, RBRACKET } = asciiModule;
const { parseUint } = decimalModule;
const { internLatin1 } = internModule;
const { isIpv4, isIpv6, isHostname } = hostTextModule;

export type HostKind = 'ipv4' | 'ipv6' | 'name';

export interface HostPort {
  host: Span;
  kind: HostKind;
  /** The port digits, or null when no port is written. */
  port: Span | null;
  /** The port number, or null when none is written. */
  portNumber: number | null;
}

/**
 * Parses host[:port] filling all of b[start, end) (no surrounding whitespace).
 * Returns null when it is not a valid hostport.
 */
export function parseHostPort(b: Uint8Array, start: number, end: number): HostPort | null {
  if (start >= end) return null;
  let hostEnd: number;
  let kind: HostKind;
  if (b[start] === LBRACKET) {
    let i = start + 1;
    while (i < end && b[i] !== RBRACKET) i++;
    if (i >= end || !isIpv6(b, start + 1, i)) return null;
    hostEnd = i + 1;
    kind = 'ipv6';
  } else {
    let i = start;
    while (i < end && b[i] !== COLON) i++;
    hostEnd = i;
    if (isIpv4(b, start, hostEnd)) kind = 'ipv4';
    else if (isHostname(b, start, hostEnd)) kind = 'name';
    else return null;
  }
  const host = { start, end: hostEnd };
  if (hostEnd === end) return { host, kind, port: null, portNumber: null };
  if (b[hostEnd] !== COLON) return null;
  const portNumber = parseUint(b, hostEnd + 1, end, 65535);
  if (portNumber < 0) return null;
  return { host, kind, port: { start: hostEnd + 1, end }, portNumber };
}

/** The address as a context sees it: the host text, without IPv6 brackets. */
export function hostAddress(b: Uint8Array, hp: { host: Span; kind: HostKind }): string {
  return hp.kind === 'ipv6' ? internLatin1(b, hp.host.start + 1, hp.host.end - 1) : internLatin1(b, hp.host.start, hp.host.end);
}

/** An address as SIP writes a host: IPv6 in brackets. */
export function formatSipHost(addr: string): string {
  return addr.includes(':') ? `[${addr}]` : addr;
}
