/**
 * MESSAGE-INTEGRITY (HMAC-SHA1), MESSAGE-INTEGRITY-SHA256 and FINGERPRINT
 * (RFC 8489 sections 14.5, 14.6, 14.7), and the credential keys (section 9).
 *
 * Each covers the message up to (not including) its own attribute, with the
 * header's length field rewritten to end right after that attribute. That is
 * why verification works on the received bytes, not on a re-encoding.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { AttrType, FINGERPRINT_XOR, HEADER_LENGTH } from './constants.js';
import type { StunAttribute } from './attributes.js';
import { crc32 } from './crc32.js';
import { opaqueString, saslprep } from './saslprep.js';

/**
 * What a check needs of a received message (a DecodedStunMessage is one):
 * the bytes as received and where each attribute sat in them.
 */
export interface ReceivedMessage {
  readonly bytes: Uint8Array;
  readonly attributes: readonly StunAttribute[];
  readonly attributeOffsets: readonly number[];
}

export type IntegrityAlgorithm = 'sha1' | 'sha256';

/** HMAC over `prefix` (header whose length field is already set, plus attributes before the MI). */
export function computeIntegrity(alg: IntegrityAlgorithm, key: Uint8Array, prefix: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac(alg, key).update(prefix).digest());
}

/** CRC-32 XOR 0x5354554e over `prefix` (length field already set). */
export function computeFingerprint(prefix: Uint8Array): number {
  return (crc32(prefix) ^ FINGERPRINT_XOR) >>> 0;
}

/** Copy of the bytes before `attrOffset`, with the length field ending after an attribute of `valueLength`. */
function coveredPrefix(bytes: Uint8Array, attrOffset: number, valueLength: number): Uint8Array {
  const prefix = bytes.slice(0, attrOffset);
  const len = attrOffset + 4 + valueLength - HEADER_LENGTH;
  prefix[2] = len >> 8;
  prefix[3] = len & 0xff;
  return prefix;
}

export type CheckResult = 'ok' | 'mismatch' | 'absent';

/** FINGERPRINT of a received message: 'absent' when it carries none, 'mismatch' when it is wrong or not last. */
export function checkFingerprint(msg: ReceivedMessage): CheckResult {
  const i = msg.attributes.findIndex((a) => a.type === 'FINGERPRINT' || (a.type === 'raw' && a.code === AttrType.FINGERPRINT));
  if (i < 0) return 'absent';
  const a = msg.attributes[i];
  if (a.type !== 'FINGERPRINT' || i !== msg.attributes.length - 1) return 'mismatch';
  const want = computeFingerprint(coveredPrefix(msg.bytes, msg.attributeOffsets[i], 4));
  return want === a.crc ? 'ok' : 'mismatch';
}

/** MESSAGE-INTEGRITY (sha1) or MESSAGE-INTEGRITY-SHA256 of a received message against a key. */
export function checkIntegrity(msg: ReceivedMessage, key: Uint8Array, alg: IntegrityAlgorithm = 'sha1'): CheckResult {
  const type = alg === 'sha1' ? 'MESSAGE-INTEGRITY' : 'MESSAGE-INTEGRITY-SHA256';
  const code = alg === 'sha1' ? AttrType.MESSAGE_INTEGRITY : AttrType.MESSAGE_INTEGRITY_SHA256;
  const i = msg.attributes.findIndex((a) => a.type === type || (a.type === 'raw' && a.code === code));
  if (i < 0) return 'absent';
  const a = msg.attributes[i];
  if (a.type !== 'MESSAGE-INTEGRITY' && a.type !== 'MESSAGE-INTEGRITY-SHA256') return 'mismatch';
  const got = a.hmac!;
  const mac = computeIntegrity(alg, key, coveredPrefix(msg.bytes, msg.attributeOffsets[i], got.length));
  return timingSafeEqual(mac.subarray(0, got.length), got) ? 'ok' : 'mismatch';
}

/** Short-term credential key: the password after OpaqueString (RFC 8489 section 9.1.1). */
export function shortTermKey(password: string): Uint8Array {
  return new TextEncoder().encode(opaqueString(password));
}

export interface LongTermKeyOptions {
  /** MD5 (the default, and all that RFC 5389 knew) or SHA-256 (RFC 8489 PASSWORD-ALGORITHM 0x0002). */
  algorithm?: 'md5' | 'sha256';
  /**
   * How the password is prepared: 'saslprep' (RFC 5389, RFC 4013; what RFC 5769's
   * vector uses) or 'opaque-string' (RFC 8489, RFC 8265). Default 'saslprep'.
   */
  prep?: 'saslprep' | 'opaque-string';
}

/** Long-term credential key: H(username ":" realm ":" password) (RFC 8489 section 9.2.2). */
export function longTermKey(username: string, realm: string, password: string, options: LongTermKeyOptions = {}): Uint8Array {
  const prepped = (options.prep ?? 'saslprep') === 'saslprep' ? saslprep(password) : opaqueString(password);
  return new Uint8Array(createHash(options.algorithm ?? 'md5').update(`${username}:${realm}:${prepped}`, 'utf8').digest());
}
