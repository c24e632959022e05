/**
 * host [":" port] as SIP writes it (RFC 3261 25.1): an IPv4 address, an IPv6
 * reference in brackets, or a hostname. Spans point at the host text (brackets
 * included for IPv6, so a rewrite replaces the whole reference) and the port
 * digits.
 */
import type { Span } from './bytes.js';
import * as bytesModule from './bytes.js';

// Local copies of the imports: an imported binding is read from its module
// cell at every use, even in optimized loops; a module-local const is not
// (see "Module bindings" in bytes.ts).
const { DOT, COLON, LBRACKET, RBRACKET, isDigit, isHexDigit, isAlpha, parseUint, internLatin1 } = bytesModule;

export type HostKind = 'ipv4' | 'ipv6' | 'name';

export interface HostPort {
  host: Span;
  kind: HostKind;
  /** The port digits, or null when no port is written. */
  port: Span | null;
  /** The port number, or null when none is written. */
  portNumber: number | null;
}

export function isIpv4(b: Uint8Array, start: number, end: number): boolean {
  // Four dot-separated octets of one to three digits, each at most 255, filling the span.
  let octets = 0;
  let digits = 0;
  let value = 0;
  for (let i = start; i < end; i++) {
    const c = b[i];
    if (c >= 0x30 && c <= 0x39) {
      if (++digits > 3) return false;
      value = value * 10 + (c - 0x30);
      if (value > 255) return false;
    } else if (c === DOT && digits > 0 && octets < 3) {
      octets++;
      digits = 0;
      value = 0;
    } else {
      return false;
    }
  }
  return octets === 3 && digits > 0;
}

/** The text between the brackets of an IPv6 reference: hex, ":" and an optional dotted IPv4 tail. */
export function isIpv6(b: Uint8Array, start: number, end: number): boolean {
  if (end - start < 2 || end - start > 45) return false;
  let colons = 0;
  let lastColon = start - 1;
  for (let i = start; i < end; i++) {
    const c = b[i];
    if (c === COLON) {
      colons++;
      lastColon = i;
    } else if (c === DOT) {
      // Embedded IPv4 (::ffff:192.0.2.1): the rest after the last colon must be a dotted quad.
      return colons >= 2 && isIpv4(b, lastColon + 1, end);
    } else if (!isHexDigit(c)) {
      return false;
    }
  }
  return colons >= 2 && colons <= 7;
}

/** hostname = *( domainlabel "." ) toplabel [ "." ], labels of alphanum and "-". */
export function isHostname(b: Uint8Array, start: number, end: number): boolean {
  if (start >= end || end - start > 255) return false;
  let labelStart = start;
  for (let i = start; i <= end; i++) {
    if (i === end || b[i] === DOT) {
      if (i === labelStart) return i === end && i > start; // a single trailing dot is allowed
      if (b[labelStart] === 0x2d || b[i - 1] === 0x2d) return false;
      labelStart = i + 1;
      continue;
    }
    const c = b[i];
    if (!isAlpha(c) && !isDigit(c) && c !== 0x2d) return false;
  }
  return true;
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
