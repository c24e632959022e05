/**
 * Via header values (RFC 3261 20.42, 25.1; RFC 3581 rport):
 *   via-parm = sent-protocol LWS sent-by *( SEMI via-params )
 * with LWS allowed around the "/" of the sent-protocol and the ":" of sent-by
 * (RFC 4475 wsinv), several values per header separated by commas.
 */
import type { Span } from '../text/span.js';
import * as asciiModule from '../text/ascii.js';
import * as charClassModule from '../text/char-class.js';
import * as whitespaceModule from '../text/whitespace.js';
import * as caseModule from '../text/case.js';
import * as decimalModule from '../text/decimal.js';
import * as internModule from '../text/intern.js';
import * as hostTextModule from '../text/host-text.js';
import type { HostKind } from './host.js';
import type { Param } from './params.js';
import * as paramsModule from './params.js';

// Local copies of the imports: an imported binding is read from its module
// cell at every use, even in optimized loops; a module-local const is not
// (see "Module bindings" in src/alg/text/README.md).
const { SLASH, COLON, LBRACKET, RBRACKET } = asciiModule;
const { isTokenChar, isDigit, HOST_CHAR } = charClassModule;
const { isLws, skipLws, trimLwsEnd } = whitespaceModule;
const { spanEqualsLower } = caseModule;
const { parseUint } = decimalModule;
const { internLatin1 } = internModule;
const { isIpv4, isIpv6, isHostname } = hostTextModule;
const { parseHeaderParams } = paramsModule;

export interface ViaEntry {
  span: Span;
  protocolName: Span;
  protocolVersion: Span;
  transport: Span;
  /** The transport in lower case: "udp", "tcp", "tls", "sctp", ... */
  transportName: string;
  host: Span;
  hostKind: HostKind;
  port: Span | null;
  portNumber: number | null;
  params: Param[];
  branch: Param | null;
  received: Param | null;
  /** rport, with or without a value (RFC 3581). */
  rport: Param | null;
  maddr: Param | null;
}

export type ViaListResult = { ok: true; entries: ViaEntry[] } | { ok: false; reason: string };

function fail(reason: string): ViaListResult {
  return { ok: false, reason };
}

function token(b: Uint8Array, i: number, end: number): number {
  while (i < end && isTokenChar(b[i])) i++;
  return i;
}

/** Where the last readVia stopped: the end of its parameters (a "," or the end of the value). */
let viaStop = 0;

/** One via-parm from i: the entry, or why it is malformed. Sets viaStop. */
function readVia(b: Uint8Array, i: number, end: number): ViaEntry | string {
  i = skipLws(b, i, end);
  const es = i;
  const pn = { start: i, end: (i = token(b, i, end)) };
  i = skipLws(b, i, end);
  if (pn.end === pn.start || i >= end || b[i] !== SLASH) return 'malformed sent-protocol';
  i = skipLws(b, i + 1, end);
  const pv = { start: i, end: (i = token(b, i, end)) };
  i = skipLws(b, i, end);
  if (pv.end === pv.start || i >= end || b[i] !== SLASH) return 'malformed sent-protocol';
  i = skipLws(b, i + 1, end);
  const tr = { start: i, end: (i = token(b, i, end)) };
  if (tr.end === tr.start || i >= end || !isLws(b[i])) return 'malformed sent-protocol';
  i = skipLws(b, i, end);

  // sent-by host
  const hs = i;
  let hostKind: HostKind;
  if (i < end && b[i] === LBRACKET) {
    while (i < end && b[i] !== RBRACKET) i++;
    if (i >= end || !isIpv6(b, hs + 1, i)) return 'malformed sent-by';
    i++;
    hostKind = 'ipv6';
  } else {
    while (i < end && HOST_CHAR[b[i]] === 1) i++;
    if (isIpv4(b, hs, i)) hostKind = 'ipv4';
    else if (isHostname(b, hs, i)) hostKind = 'name';
    else return 'malformed sent-by';
  }
  const host = { start: hs, end: i };
  let port: Span | null = null;
  let portNumber: number | null = null;
  const afterHost = i;
  i = skipLws(b, i, end);
  if (i < end && b[i] === COLON) {
    i = skipLws(b, i + 1, end);
    const ps = i;
    while (i < end && isDigit(b[i])) i++;
    portNumber = parseUint(b, ps, i, 65535);
    if (portNumber < 0) return 'malformed sent-by port';
    port = { start: ps, end: i };
  } else {
    i = afterHost;
  }
  const params: Param[] = [];
  const pe = parseHeaderParams(b, i, end, params);
  if (pe < 0) return 'malformed Via parameters';
  // The first of each parameter the rewriter reads, in one pass over the list.
  let branch: Param | null = null;
  let received: Param | null = null;
  let rport: Param | null = null;
  let maddr: Param | null = null;
  for (let k = 0; k < params.length; k++) {
    const p = params[k];
    const s = p.name.start;
    switch (p.name.end - s) {
      case 6:
        if (branch === null && spanEqualsLower(b, s, s + 6, 'branch')) branch = p;
        break;
      case 8:
        if (received === null && spanEqualsLower(b, s, s + 8, 'received')) received = p;
        break;
      case 5:
        if (rport === null && spanEqualsLower(b, s, s + 5, 'rport')) rport = p;
        else if (maddr === null && spanEqualsLower(b, s, s + 5, 'maddr')) maddr = p;
        break;
      default:
        break;
    }
  }
  viaStop = pe;
  return {
    span: { start: es, end: trimLwsEnd(b, es, pe) },
    protocolName: pn,
    protocolVersion: pv,
    transport: tr,
    transportName: internLatin1(b, tr.start, tr.end, true),
    host,
    hostKind,
    port,
    portNumber,
    params,
    branch,
    received,
    rport,
    maddr,
  };
}

/** Parses the via-parms in b[start, end): all of them, or the first `limit`. */
export function parseViaList(b: Uint8Array, start: number, end: number, limit = Infinity): ViaListResult {
  const entries: ViaEntry[] = [];
  let i = start;
  for (;;) {
    const v = readVia(b, i, end);
    if (typeof v === 'string') return fail(v);
    entries.push(v);
    const pe = viaStop;
    if (pe >= end || entries.length >= limit) break;
    i = pe + 1;
  }
  return { ok: true, entries };
}

/**
 * Only the first via-parm of a header value: what a NAT rewrites and the
 * summary reports. The values after it are not read (a broken later value
 * is not this hop's concern).
 */
export function parseTopVia(b: Uint8Array, start: number, end: number): ViaEntry | null {
  const v = readVia(b, start, end);
  return typeof v === 'string' ? null : v;
}
