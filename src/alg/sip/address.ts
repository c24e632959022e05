/**
 * The address headers: Contact, From, To, Route, Record-Route (and any other
 * name-addr list). Each value is `name-addr / addr-spec` followed by header
 * parameters; Contact, Route and Record-Route allow several values separated
 * by commas, and Contact allows "*" (RFC 3261 20.10, 25.1).
 *
 * In addr-spec form (no angle brackets) the URI ends at ";", "," or LWS and the
 * parameters after it belong to the header; a "?" there is invalid (RFC 4475
 * regbadct). Inside angle brackets the URI runs to ">" and may contain any URI
 * character (RFC 4475 intmeth). Spaces inside the brackets make the URI
 * invalid (badaspec).
 */
import type { Span } from '../text/span.js';
import * as asciiModule from '../text/ascii.js';
import * as charClassModule from '../text/char-class.js';
import * as whitespaceModule from '../text/whitespace.js';
import * as byteSearchModule from '../text/byte-search.js';
import type { Param } from './params.js';
import * as paramsModule from './params.js';
import type { Uri } from './uri.js';
import * as uriModule from './uri.js';

// Local copies of the imports: an imported binding is read from its module
// cell at every use, even in optimized loops; a module-local const is not
// (see "Module bindings" in src/alg/text/README.md).
const { DQUOTE, LAQUOT, RAQUOT, SEMI, COMMA, STAR, QUESTION } = asciiModule;
const { isTokenChar } = charClassModule;
const { isLws, skipLws, trimLwsEnd } = whitespaceModule;
const { findByte } = byteSearchModule;
const { parseHeaderParams, quotedStringEnd } = paramsModule;
const { parseUri } = uriModule;

export interface AddressEntry {
  /** The whole entry, from the display name (or URI) to the end of its parameters. */
  span: Span;
  /** The display name as written (quotes included), or null. */
  displayName: Span | null;
  /** True when the URI is enclosed in "<" ">". */
  angle: boolean;
  /** The URI text (inside the brackets when angle). */
  uriSpan: Span;
  /** The parsed URI; null when the text is not a URI we can read (or parseUris was false). */
  uri: Uri | null;
  /** Header parameters after the URI (tag, expires, q, ...). */
  params: Param[];
}

export type AddressListResult =
  | { ok: true; star: boolean; entries: AddressEntry[] }
  | { ok: false; reason: string };

/** The bytes that end the plain run before a name-addr's "<": DQUOTE, "<", "," and ";". */
const ENTRY_STOP = new Uint8Array(256);
ENTRY_STOP[DQUOTE] = ENTRY_STOP[LAQUOT] = ENTRY_STOP[COMMA] = ENTRY_STOP[SEMI] = 1;

function fail(reason: string): AddressListResult {
  return { ok: false, reason };
}

/** Where the last readAddress stopped: the end of the entry's parameters (a "," or the end). */
let addressStop = 0;

/** One list element from i (LWS before it allowed): the entry, or why it is malformed. Sets addressStop. */
function readAddress(b: Uint8Array, i: number, end: number, parseUris: boolean): AddressEntry | string {
  i = skipLws(b, i, end);
  if (i >= end) return 'empty list element';
  const entryStart = i;
  // Find whether this entry is name-addr (a "<" before any "," or ";" outside quotes).
  let k = i;
  let laquot = -1;
  while (k < end) {
    const c = b[k];
    if (ENTRY_STOP[c] === 0) {
      k++;
      continue;
    }
    if (c === DQUOTE) {
      k = quotedStringEnd(b, k, end);
      if (k < 0) return 'unterminated quoted string';
      continue;
    }
    if (c === LAQUOT) {
      laquot = k;
      break;
    }
    if (c === COMMA || c === SEMI) break;
    k++;
  }
  let displayName: Span | null = null;
  let uriSpan: Span;
  let angle: boolean;
  if (laquot >= 0) {
    const dnEnd = trimLwsEnd(b, entryStart, laquot);
    if (dnEnd > entryStart) {
      if (!isDisplayName(b, entryStart, dnEnd)) return 'malformed display name';
      displayName = { start: entryStart, end: dnEnd };
    }
    const r = findByte(b, RAQUOT, laquot + 1, end);
    if (r < 0) return 'missing ">"';
    uriSpan = { start: laquot + 1, end: r };
    angle = true;
    i = r + 1;
  } else {
    let e = i;
    while (e < end && b[e] !== SEMI && b[e] !== COMMA && !isLws(b[e])) {
      if (b[e] === QUESTION || b[e] === DQUOTE || b[e] === RAQUOT) return 'URI with "?" or quotes must be in "<>"';
      e++;
    }
    uriSpan = { start: i, end: e };
    angle = false;
    i = e;
  }
  const params: Param[] = [];
  const pe = parseHeaderParams(b, i, end, params);
  if (pe < 0) return 'malformed parameters';
  addressStop = pe;
  return {
    span: { start: entryStart, end: trimLwsEnd(b, entryStart, pe) },
    displayName,
    angle,
    uriSpan,
    uri: parseUris ? parseUri(b, uriSpan.start, uriSpan.end) : null,
    params,
  };
}

/**
 * Parses the comma-separated list in b[start, end). `allowStar` accepts the
 * Contact wildcard. An entry whose URI is unreadable is still returned (uri
 * null) when its structure is sound, so callers decide how strict to be.
 * `parseUris` false skips reading the URIs (a caller that only wants the tag).
 */
export function parseAddressList(b: Uint8Array, start: number, end: number, allowStar = false, parseUris = true): AddressListResult {
  let i = skipLws(b, start, end);
  if (i >= end) return fail('empty address');
  if (allowStar && b[i] === STAR) {
    if (skipLws(b, i + 1, end) !== end) return fail('junk after "*"');
    return { ok: true, star: true, entries: [] };
  }
  const entries: AddressEntry[] = [];
  for (;;) {
    const e = readAddress(b, i, end, parseUris);
    if (typeof e === 'string') return fail(e);
    entries.push(e);
    const pe = addressStop;
    if (pe >= end) break;
    i = pe + 1; // past ","
  }
  return { ok: true, star: false, entries };
}

/**
 * The value of a header that holds one address (From, To): its entry when
 * the value is exactly one well-formed entry, otherwise what
 * parseAddressList says about the value (a failure, or several entries).
 * The usual case costs no list.
 */
export function parseSingleAddress(b: Uint8Array, start: number, end: number, parseUris = true): AddressEntry | AddressListResult {
  const i = skipLws(b, start, end);
  if (i < end) {
    const e = readAddress(b, i, end, parseUris);
    if (typeof e !== 'string' && addressStop >= end) return e;
  }
  return parseAddressList(b, start, end, false, parseUris);
}

/** display-name = *(token LWS) / quoted-string (RFC 4475 lwsdisp allows no LWS before "<"). */
function isDisplayName(b: Uint8Array, start: number, end: number): boolean {
  if (b[start] === DQUOTE) return quotedStringEnd(b, start, end) === end;
  for (let i = start; i < end; i++) {
    if (!isTokenChar(b[i]) && !isLws(b[i])) return false;
  }
  return true;
}
