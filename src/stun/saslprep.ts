/**
 * Password preparation for STUN credentials.
 *
 * SASLprep (RFC 4013, a stringprep profile) is what RFC 5389 keys use and what
 * RFC 5769's long-term vector needs (its password "The<U+00AD>M<U+00AA>tr<U+2168>"
 * becomes "TheMatrIX"). OpaqueString (RFC 8265) is what RFC 8489 moved to.
 *
 * Limits, deliberately: unassigned code points (stringprep table A.1) are let
 * through, as for a "query" string; the bidi rule uses script ranges for
 * RandALCat instead of the full Unicode 3.2 bidi table.
 */

/** Table B.1: mapped to nothing. */
const MAPPED_TO_NOTHING = /[\u00AD\u034F\u1806\u180B-\u180D\u200B-\u200D\u2060\uFE00-\uFE0F\uFEFF]/gu;
/** Table C.1.2: non-ASCII space, mapped to U+0020. */
const NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]/gu;
/** Tables C.2.1 to C.9 (prohibited output). */
const PROHIBITED =
  /[\u0000-\u001F\u007F\u0080-\u009F\u06DD\u070F\u180E\u200C\u200D\u2028\u2029\u2060-\u2063\u206A-\u206F\uFEFF\uFFF9-\uFFFC\u{1D173}-\u{1D17A}\uE000-\uF8FF\u{F0000}-\u{FFFFD}\u{100000}-\u{10FFFD}\uFDD0-\uFDEF\uFFFE\uFFFF\u{1FFFE}\u{1FFFF}\u{2FFFE}\u{2FFFF}\u{3FFFE}\u{3FFFF}\u{4FFFE}\u{4FFFF}\u{5FFFE}\u{5FFFF}\u{6FFFE}\u{6FFFF}\u{7FFFE}\u{7FFFF}\u{8FFFE}\u{8FFFF}\u{9FFFE}\u{9FFFF}\u{AFFFE}\u{AFFFF}\u{BFFFE}\u{BFFFF}\u{CFFFE}\u{CFFFF}\u{DFFFE}\u{DFFFF}\u{EFFFE}\u{EFFFF}\u{FFFFE}\u{FFFFF}\u{10FFFE}\u{10FFFF}\uFFFD\u2FF0-\u2FFB\u0340\u0341\u200E\u200F\u202A-\u202E\u{E0001}\u{E0020}-\u{E007F}]/u;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Right-to-left letters (Hebrew, Arabic, Syriac, Thaana, NKo and their presentation forms). */
const RAND_AL = /[\u05BE\u05C0\u05C3\u05D0-\u05F4\u0600-\u07FF\u0800-\u08FF\uFB1D-\uFDFF\uFE70-\uFEFC]/u;
const LETTER = /\p{L}/u;

export class StringPrepError extends Error {
  override readonly name = 'StringPrepError';
}

export function saslprep(input: string): string {
  const mapped = input.replace(MAPPED_TO_NOTHING, '').replace(NON_ASCII_SPACE, ' ');
  const s = mapped.normalize('NFKC');
  if (LONE_SURROGATE.test(s)) throw new StringPrepError('unpaired surrogate');
  if (PROHIBITED.test(s)) throw new StringPrepError('prohibited character');
  const chars = [...s];
  if (chars.some((c) => RAND_AL.test(c))) {
    const hasL = chars.some((c) => LETTER.test(c) && !RAND_AL.test(c));
    if (hasL) throw new StringPrepError('mixes right-to-left and left-to-right letters');
    if (!RAND_AL.test(chars[0]) || !RAND_AL.test(chars[chars.length - 1])) {
      throw new StringPrepError('right-to-left string must start and end with a right-to-left character');
    }
  }
  return s;
}

/** RFC 8265 OpaqueString: non-ASCII spaces to U+0020, NFC, no control characters, not empty. */
export function opaqueString(input: string): string {
  const s = input.replace(/\p{Zs}/gu, ' ').normalize('NFC');
  if (s.length === 0) throw new StringPrepError('empty password');
  if (/\p{Cc}/u.test(s)) throw new StringPrepError('control character');
  if (LONE_SURROGATE.test(s)) throw new StringPrepError('unpaired surrogate');
  return s;
}
