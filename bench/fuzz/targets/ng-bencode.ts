/**
 * rtpengine ng framing and bencode (src/sipproxy/ng/bencode.ts, message.ts):
 * decoding never throws, whatever the limits (a deep nesting is refused, not
 * a blown stack); a canonical value (keys sorted, none repeated) re-encodes
 * to its own bytes, any other to bytes that decode to the same value; a
 * datagram that parses re-encodes to one that parses the same.
 */
import { bdecode, bencode, type BValue } from '../../../src/sipproxy/ng/bencode.js';
import { encodeNgMessage, parseNgMessage } from '../../../src/sipproxy/ng/message.js';
import { defineFuzzTarget, invariant } from '../target.js';
import { NG_DICTIONARY, ngGenerator, ngSeeds } from '../lib/ng-seeds.js';

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export function sameValue(a: BValue, b: BValue): boolean {
  if (typeof a === 'number' || typeof b === 'number') return a === b;
  if (a instanceof Uint8Array || b instanceof Uint8Array) return a instanceof Uint8Array && b instanceof Uint8Array && same(a, b);
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (w === undefined || !sameValue(v, w)) return false;
  }
  return true;
}

/**
 * Whether the well-formed bencode at b[at] has every dictionary's keys in
 * strictly ascending byte order (what bencode() writes). Returns the end, or
 * -1 when some dictionary is not canonical.
 */
function canonicalEnd(b: Uint8Array, at: number): number {
  const c = b[at];
  if (c === 0x69) return b.indexOf(0x65, at) + 1;
  if (c >= 0x30 && c <= 0x39) {
    const colon = b.indexOf(0x3a, at);
    return colon + 1 + Number(String.fromCharCode(...b.subarray(at, colon)));
  }
  const isDict = c === 0x64;
  let i = at + 1;
  let previous: Uint8Array | null = null;
  while (b[i] !== 0x65) {
    if (isDict) {
      const keyEnd = canonicalEnd(b, i);
      const key = b.subarray(b.indexOf(0x3a, i) + 1, keyEnd);
      if (previous && compare(previous, key) >= 0) return -1;
      previous = key;
      i = keyEnd;
    }
    i = canonicalEnd(b, i);
    if (i < 0) return -1;
  }
  return i + 1;
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Limits as loose as a caller may set them. */
const DEEP = { maxDepth: Infinity, maxElements: Infinity };

export default defineFuzzTarget({
  name: 'ng-bencode',
  description: 'rtpengine ng datagrams and bencode: decode never throws (deep nesting too), canonical values re-encode to their bytes',
  seeds: ngSeeds,
  dictionary: NG_DICTIONARY,
  generator: ngGenerator,
  // Deep enough to overflow a recursive decoder under loose limits (the unit test goes to 65,000 levels, a whole datagram).
  maxLength: 8192,
  ciCount: 1000,
  run(b) {
    const sp = b.indexOf(0x20);
    for (const start of [0, sp + 1]) {
      bdecode(b, start, b.length, DEEP);
      const r = bdecode(b, start);
      if (!r.ok) continue;
      const again = bencode(r.value);
      const decoded = bdecode(again);
      invariant(decoded.ok && decoded.end === again.length && sameValue(decoded.value, r.value), 'a decoded value re-encodes to bytes that decode to another value');
      if (canonicalEnd(b, start) === r.end) invariant(same(again, b.subarray(start, r.end)), 'a canonical value does not re-encode to its own bytes');
    }
    const p = parseNgMessage(b);
    if (p.ok) {
      const q = parseNgMessage(encodeNgMessage(p.cookie, p.request));
      invariant(q.ok && q.cookie === p.cookie && sameValue(q.request, p.request), 'a parsed ng datagram re-encodes to one that parses otherwise');
    }
  },
});
