/**
 * Header field names: compact forms (RFC 3261 7.3.3 and the IANA registry) are
 * mapped to their full names, and every name is compared case-insensitively.
 * Known names are matched without allocating (a table read, then a byte
 * compare), which matters at hundreds of thousands of messages a second; an
 * unknown name costs one short lowercase string.
 */
import * as caseModule from '../text/case.js';
import * as latin1Module from '../text/latin1.js';

// Local copies of the imports: an imported binding is read from its module
// cell at every use, even in optimized loops; a module-local const is not
// (see "Module bindings" in src/alg/text/README.md).
const { lowerAscii } = caseModule;
const { lowerLatin1 } = latin1Module;

/** The compact forms and the full names they stand for. */
export const COMPACT_FORMS: Readonly<Record<string, string>> = {
  a: 'accept-contact',
  b: 'referred-by',
  c: 'content-type',
  d: 'request-disposition',
  e: 'content-encoding',
  f: 'from',
  i: 'call-id',
  j: 'reject-contact',
  k: 'supported',
  l: 'content-length',
  m: 'contact',
  o: 'event',
  r: 'refer-to',
  s: 'subject',
  t: 'to',
  u: 'allow-events',
  v: 'via',
  x: 'session-expires',
  y: 'identity',
};

const FULL_NAMES = [
  'accept', 'accept-contact', 'accept-encoding', 'accept-language', 'alert-info', 'allow',
  'allow-events', 'authentication-info', 'authorization', 'call-id', 'call-info', 'contact',
  'content-disposition', 'content-encoding', 'content-language', 'content-length', 'content-type',
  'cseq', 'date', 'error-info', 'event', 'expires', 'from', 'identity', 'in-reply-to',
  'max-forwards', 'mime-version', 'min-expires', 'min-se', 'organization', 'p-asserted-identity',
  'p-preferred-identity', 'path', 'priority', 'privacy', 'proxy-authenticate',
  'proxy-authorization', 'proxy-require', 'rack', 'reason', 'record-route', 'refer-to',
  'referred-by', 'reject-contact', 'replaces', 'reply-to', 'request-disposition', 'require',
  'retry-after', 'route', 'rseq', 'server', 'service-route', 'session-expires', 'sip-etag',
  'sip-if-match', 'subject', 'subscription-state', 'supported', 'timestamp', 'to', 'unsupported',
  'user-agent', 'via', 'warning', 'www-authenticate',
];

/**
 * Every known name as a small integer: the index of its full name in
 * HEADER_NAMES. The tokenizer records ids, so finding the headers a rewrite
 * needs is an integer compare, and no name string is built per header.
 */
export const HEADER_NAMES: readonly string[] = FULL_NAMES;

function idOf(name: string): number {
  const id = FULL_NAMES.indexOf(name);
  if (id < 0) throw new Error(`unknown header name ${name}`);
  return id;
}

export const HeaderId = {
  via: idOf('via'),
  cseq: idOf('cseq'),
  callId: idOf('call-id'),
  from: idOf('from'),
  to: idOf('to'),
  contact: idOf('contact'),
  route: idOf('route'),
  recordRoute: idOf('record-route'),
  expires: idOf('expires'),
  contentType: idOf('content-type'),
  contentLength: idOf('content-length'),
} as const;

/** The id of a canonical (lowercase full) name, or -1 when it is not a known name. */
const idByCanonical = new Map<string, number>(FULL_NAMES.map((name, id) => [name, id]));
export function headerIdOf(canonical: string): number {
  return idByCanonical.get(canonical) ?? -1;
}

interface Known {
  bytes: Uint8Array;
  id: number;
}

/**
 * Known names indexed by (length, lowercased first byte): after the tokenizer
 * has scanned a name, one array read gives the one or two candidates to
 * compare, with no hashing pass over the name.
 */
const MAX_KNOWN_LENGTH = 32;
// Filled to its full size first: an array written at scattered indices would fall back to a hash table.
const candidates: (Known[] | undefined)[] = new Array<Known[] | undefined>((MAX_KNOWN_LENGTH + 1) * 128).fill(undefined);

function slot(length: number, first: number): number {
  return length * 128 + (first & 0x7f);
}

function addKnown(name: string, canonical: string): void {
  const bytes = new Uint8Array(name.length);
  for (let i = 0; i < name.length; i++) bytes[i] = name.charCodeAt(i);
  (candidates[slot(name.length, bytes[0])] ??= []).push({ bytes, id: idOf(canonical) });
}

for (const name of FULL_NAMES) addKnown(name, name);
for (const [short, full] of Object.entries(COMPACT_FORMS)) addKnown(short, full);

/** The id (index in HEADER_NAMES) of the header name in b[start, end), or -1 for a name not in the table. */
export function headerNameId(b: Uint8Array, start: number, end: number): number {
  const n = end - start;
  if (n > 0 && n <= MAX_KNOWN_LENGTH) {
    const list = candidates[slot(n, lowerAscii(b[start]))];
    if (list !== undefined) {
      outer: for (let k = 0; k < list.length; k++) {
        const known = list[k].bytes;
        for (let i = 1; i < n; i++) if (lowerAscii(b[start + i]) !== known[i]) continue outer;
        return list[k].id;
      }
    }
  }
  return -1;
}

/**
 * headerNameId for a name the tokenizer has already checked to be token
 * characters. For those, OR-ing 0x20 lowercases exactly the letters (and
 * turns "_" into 0x7f, which no known name contains), so it agrees with
 * lowerAscii on every possible match while costing one operation per byte.
 */
export function tokenNameId(b: Uint8Array, start: number, end: number): number {
  const n = end - start;
  if (n > 0 && n <= MAX_KNOWN_LENGTH) {
    const list = candidates[slot(n, b[start] | 0x20)];
    if (list !== undefined) {
      outer: for (let k = 0; k < list.length; k++) {
        const known = list[k].bytes;
        for (let i = 1; i < n; i++) if ((b[start + i] | 0x20) !== known[i]) continue outer;
        return list[k].id;
      }
    }
  }
  return -1;
}

/** The lowercase full name for the header name in b[start, end). */
export function canonicalHeaderName(b: Uint8Array, start: number, end: number): string {
  const id = headerNameId(b, start, end);
  return id >= 0 ? FULL_NAMES[id] : lowerLatin1(b, start, end);
}
