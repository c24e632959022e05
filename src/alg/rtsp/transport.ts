/**
 * The Transport header (RFC 2326 section 12.39): comma-separated transport
 * specs, each "protocol/profile[/lower-transport]" then parameters after
 * semicolons. What the ALG needs of each spec, as spans into the message:
 * whether it is unicast UDP (the lower transport is UDP unless it says TCP,
 * and no `interleaved`), multicast, and its client_port, server_port,
 * destination and source. Quoted strings (mode="PLAY") are skipped whole, so
 * a comma or semicolon inside quotes splits nothing.
 */
import * as caseModule from '../text/case.js';
import * as charClassModule from '../text/char-class.js';
import * as decimalModule from '../text/decimal.js';
import * as latin1Module from '../text/latin1.js';
import * as whitespaceModule from '../text/whitespace.js';
import type { Span } from '../text/span.js';
import { tryParseIpv4 } from '../../wire/address.js';

// Local copies of the imports (see "Module bindings" in src/alg/text/README.md).
const { spanEqualsLower } = caseModule;
const { isDigit } = charClassModule;
const { parseUint } = decimalModule;
const { latin1 } = latin1Module;
const { skipLws, trimLwsEnd } = whitespaceModule;

const COMMA = 0x2c;
const SEMI = 0x3b;
const EQUAL = 0x3d;
const DQUOTE = 0x22;
const SLASH = 0x2f;
const DASH = 0x2d;

/** More specs than a client offers: the rest are left as they are. */
export const MAX_TRANSPORT_SPECS = 8;

/** `name=lo[-hi]`: the ports, and the span of the value. */
export interface PortRange {
  span: Span;
  lo: number;
  /** -1 when only one port is given. */
  hi: number;
}

/** `name=address`: the span of the value, and the address as a number (-1 when not a dotted quad). */
export interface AddressParam {
  span: Span;
  addr: number;
}

export interface TransportSpec {
  span: Span;
  /** The lower transport is TCP, or the spec is interleaved: media rides the RTSP connection. */
  interleaved: boolean;
  multicast: boolean;
  clientPort: PortRange | null;
  serverPort: PortRange | null;
  destination: AddressParam | null;
  source: AddressParam | null;
  /** A parameter the ALG reads appears twice, or a port is not a number: the spec is left alone. */
  malformed: boolean;
}

/** The end of the item at i: the next unquoted `stop` byte (or a comma), or end. */
function itemEnd(b: Uint8Array, i: number, end: number, stop: number): number {
  while (i < end) {
    const c = b[i];
    if (c === DQUOTE) {
      i++;
      while (i < end && b[i] !== DQUOTE) i++;
      i++;
      continue;
    }
    if (c === stop || c === COMMA) return i;
    i++;
  }
  return end;
}

function trim(b: Uint8Array, s: number, e: number): Span {
  // Folds were kept in the value: CR and LF are whitespace here (text/whitespace.ts).
  s = skipLws(b, s, e);
  e = trimLwsEnd(b, s, e);
  return { start: s, end: e };
}

function readPortRange(b: Uint8Array, v: Span): PortRange | null {
  let dash = v.start;
  while (dash < v.end && isDigit(b[dash])) dash++;
  const lo = parseUint(b, v.start, dash, 65535);
  if (lo < 0) return null;
  if (dash === v.end) return { span: v, lo, hi: -1 };
  if (b[dash] !== DASH) return null;
  const hi = parseUint(b, dash + 1, v.end, 65535);
  return hi < 0 ? null : { span: v, lo, hi };
}

function readAddress(b: Uint8Array, v: Span): AddressParam {
  let s = v.start;
  let e = v.end;
  if (e - s >= 2 && b[s] === DQUOTE && b[e - 1] === DQUOTE) {
    s++;
    e--;
  }
  // The one IPv4 text rule (src/wire/address.ts); a host name or IPv6 text reads as -1.
  const addr = e - s <= 15 ? tryParseIpv4(latin1(b, s, e)) : null;
  return { span: { start: s, end: e }, addr: addr ?? -1 };
}

/** The specs of one Transport header value. Never throws. */
export function parseTransport(b: Uint8Array, start: number, end: number): TransportSpec[] {
  const specs: TransportSpec[] = [];
  let i = start;
  while (i < end && specs.length < MAX_TRANSPORT_SPECS) {
    const specEnd = itemEnd(b, i, end, COMMA);
    const spec = trim(b, i, specEnd);
    i = specEnd + 1;
    if (spec.start >= spec.end) continue;
    specs.push(parseSpec(b, spec));
  }
  return specs;
}

function parseSpec(b: Uint8Array, span: Span): TransportSpec {
  const t: TransportSpec = { span, interleaved: false, multicast: false, clientPort: null, serverPort: null, destination: null, source: null, malformed: false };
  // protocol/profile[/lower]: the lower transport is the third slash-separated part.
  const protoEnd = itemEnd(b, span.start, span.end, SEMI);
  let slashes = 0;
  let lower = -1;
  for (let k = span.start; k < protoEnd; k++) {
    if (b[k] === SLASH && ++slashes === 2) lower = k + 1;
  }
  if (lower >= 0 && spanEqualsLower(b, lower, trim(b, lower, protoEnd).end, 'tcp')) t.interleaved = true;
  let i = protoEnd + 1;
  while (i < span.end) {
    const pe = itemEnd(b, i, span.end, SEMI);
    const p = trim(b, i, pe);
    i = pe + 1;
    let eq = p.start;
    while (eq < p.end && b[eq] !== EQUAL) eq++;
    const name = trim(b, p.start, eq);
    const value = eq < p.end ? trim(b, eq + 1, p.end) : null;
    const is = (n: string) => spanEqualsLower(b, name.start, name.end, n);
    if (is('interleaved')) t.interleaved = true;
    else if (is('multicast')) t.multicast = true;
    else if (is('client_port') || is('server_port')) {
      const r = value === null ? null : readPortRange(b, value);
      const client = is('client_port');
      if (r === null || (client ? t.clientPort : t.serverPort) !== null) t.malformed = true;
      else if (client) t.clientPort = r;
      else t.serverPort = r;
    } else if ((is('destination') || is('source')) && value !== null) {
      const a = readAddress(b, value);
      const dest = is('destination');
      if ((dest ? t.destination : t.source) !== null) t.malformed = true;
      else if (dest) t.destination = a;
      else t.source = a;
    }
  }
  return t;
}
