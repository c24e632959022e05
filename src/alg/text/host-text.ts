/**
 * Host texts in a message's bytes, checked in place: a dotted-quad IPv4
 * address, the text of an IPv6 address, a hostname. They say whether a span
 * is one; reading the value (to a number or a string) is the caller's.
 */
import * as asciiModule from './ascii.js';
import * as charClassModule from './char-class.js';

// Local copies of the imports (see "Module bindings" in README.md).
const { DOT, COLON } = asciiModule;
const { isDigit, isHexDigit, isAlpha } = charClassModule;

/** Four dot-separated octets of one to three digits, each at most 255, filling the span. */
export function isIpv4(b: Uint8Array, start: number, end: number): boolean {
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

/** The text of an IPv6 address (between the brackets of an IPv6 reference): hex, ":" and an optional dotted IPv4 tail. */
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
