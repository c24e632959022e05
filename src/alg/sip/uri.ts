/**
 * URIs as they appear in a Request-URI, Contact, From, To, Route and
 * Record-Route (RFC 3261 19.1, RFC 3966 for tel:). sip: and sips: are parsed to
 * user, password, host, port, uri-parameters and headers with spans; tel: to its
 * number and parameters; any other scheme is kept opaque (never rewritten).
 */
import type { Span } from '../text/span.js';
import * as asciiModule from '../text/ascii.js';
import * as charClassModule from '../text/char-class.js';
import * as caseModule from '../text/case.js';
import type { HostPort } from './host.js';
import * as hostModule from './host.js';
import type { Param } from './params.js';
import * as paramsModule from './params.js';

// Local copies of the imports: an imported binding is read from its module
// cell at every use, even in optimized loops; a module-local const is not
// (see "Module bindings" in src/alg/text/README.md).
const { COLON, AT, SEMI, QUESTION } = asciiModule;
const { isAlpha, isDigit } = charClassModule;
const { spanEqualsLower } = caseModule;
const { parseHostPort } = hostModule;
const { parseUriParams } = paramsModule;

export type UriScheme = 'sip' | 'sips' | 'tel' | 'other';

export interface Uri {
  span: Span;
  scheme: UriScheme;
  schemeSpan: Span;
  /** sip/sips: the user part (escapes kept); tel: the subscriber number. */
  user: Span | null;
  password: Span | null;
  /** sip/sips only. */
  hostPort: HostPort | null;
  params: Param[];
  /** The text after "?", or null. */
  headers: Span | null;
}

/** Bytes that may appear in a URI: visible ASCII except "<", ">" and DQUOTE. */
const URI_BYTE = new Uint8Array(256);
for (let c = 0x21; c < 0x7f; c++) URI_BYTE[c] = c === 0x3c || c === 0x3e || c === 0x22 ? 0 : 1;

/** Scheme characters after the first: ALPHA / DIGIT / "+" / "-" / "." */
const SCHEME_CHAR = new Uint8Array(256);
for (let c = 0; c < 256; c++) SCHEME_CHAR[c] = isAlpha(c) || isDigit(c) || c === 0x2b || c === 0x2d || c === 0x2e ? 1 : 0;

/** Parses the URI filling b[start, end) exactly; null when it is not a URI. */
export function parseUri(b: Uint8Array, start: number, end: number): Uri | null {
  let i = start;
  if (i >= end || !isAlpha(b[i])) return null;
  while (i < end && SCHEME_CHAR[b[i]] === 1) i++;
  if (i >= end || b[i] !== COLON) return null;
  const schemeSpan = { start, end: i };
  const span = { start, end };
  const rest = i + 1;
  // One pass: every byte a URI byte, and where the (single) "@" is. "@"
  // cannot appear unescaped in the host, parameters or headers, so it ends the
  // userinfo (RFC 4475 intmeth: "?", ";" and ":" before it).
  let at = -1;
  let ats = 0;
  for (let k = rest; k < end; k++) {
    const c = b[k];
    if (URI_BYTE[c] !== 1) return null;
    if (c === AT && ats++ === 0) at = k;
  }

  const schemeLength = i - start;
  const isSip =
    (schemeLength === 3 || (schemeLength === 4 && (b[start + 3] | 0x20) === 0x73)) &&
    (b[start] | 0x20) === 0x73 && (b[start + 1] | 0x20) === 0x69 && (b[start + 2] | 0x20) === 0x70;
  if (isSip) {
    const scheme: UriScheme = schemeLength === 3 ? 'sip' : 'sips';
    if (ats > 1) return null;
    let user: Span | null = null;
    let password: Span | null = null;
    let hs = rest;
    if (at >= 0) {
      let colon = -1;
      for (let k = rest; k < at; k++) {
        if (b[k] === COLON) {
          colon = k;
          break;
        }
      }
      const userEnd = colon >= 0 ? colon : at;
      if (userEnd === rest) return null;
      user = { start: rest, end: userEnd };
      if (colon >= 0) password = { start: colon + 1, end: at };
      hs = at + 1;
    }
    let he = hs;
    while (he < end && b[he] !== SEMI && b[he] !== QUESTION) he++;
    const hostPort = parseHostPort(b, hs, he);
    if (!hostPort) return null;
    const params: Param[] = [];
    const pe = parseUriParams(b, he, end, params);
    if (pe < 0) return null;
    let headers: Span | null = null;
    if (pe < end) {
      if (b[pe] !== QUESTION) return null;
      headers = { start: pe + 1, end };
    }
    return { span, scheme, schemeSpan, user, password, hostPort, params, headers };
  }

  if (spanEqualsLower(b, start, i, 'tel')) {
    let ne = rest;
    while (ne < end && b[ne] !== SEMI) ne++;
    if (ne === rest) return null;
    const params: Param[] = [];
    const pe = parseUriParams(b, ne, end, params);
    if (pe !== end) return null;
    return { span, scheme: 'tel', schemeSpan, user: { start: rest, end: ne }, password: null, hostPort: null, params, headers: null };
  }

  if (rest === end) return null;
  return { span, scheme: 'other', schemeSpan, user: null, password: null, hostPort: null, params: [], headers: null };
}

/** The port a sip/sips URI means when none is written (RFC 3263: 5060, or 5061 for sips or TLS). */
export function defaultSipPort(scheme: UriScheme, transport: string | null): number {
  return scheme === 'sips' || transport === 'tls' ? 5061 : 5060;
}
