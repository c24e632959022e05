/**
 * Header field names: compact forms (RFC 3261 7.3.3 and the IANA registry) are
 * mapped to their full names, and every name is compared case-insensitively.
 * Known names are matched without allocating (a table read, then a byte
 * compare), which matters at hundreds of thousands of messages a second; an
 * unknown name costs one short lowercase string.
 */
import { lowerAscii, lowerLatin1 } from './bytes.js';

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

interface Known {
  bytes: Uint8Array;
  canonical: string;
}

/**
 * Known names indexed by (length, lowercased first byte): after the tokenizer
 * has scanned a name, one array read gives the one or two candidates to
 * compare, with no hashing pass over the name.
 */
const MAX_KNOWN_LENGTH = 32;
const candidates: (Known[] | undefined)[] = [];

function slot(length: number, first: number): number {
  return length * 128 + (first & 0x7f);
}

function addKnown(name: string, canonical: string): void {
  const bytes = new Uint8Array(name.length);
  for (let i = 0; i < name.length; i++) bytes[i] = name.charCodeAt(i);
  (candidates[slot(name.length, bytes[0])] ??= []).push({ bytes, canonical });
}

for (const name of FULL_NAMES) addKnown(name, name);
for (const [short, full] of Object.entries(COMPACT_FORMS)) addKnown(short, full);

/** The lowercase full name for the header name in b[start, end). */
export function canonicalHeaderName(b: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n > 0 && n <= MAX_KNOWN_LENGTH) {
    const list = candidates[slot(n, lowerAscii(b[start]))];
    if (list !== undefined) {
      outer: for (let k = 0; k < list.length; k++) {
        const known = list[k].bytes;
        for (let i = 1; i < n; i++) if (lowerAscii(b[start + i]) !== known[i]) continue outer;
        return list[k].canonical;
      }
    }
  }
  return lowerLatin1(b, start, end);
}
