/**
 * STUN messages (RFC 8489 section 5): a 20-byte header, then attributes in TLV
 * form padded to 4 bytes. Classic RFC 3489 messages (no magic cookie) decode
 * too: their 128-bit transaction id is kept as cookie + 12 bytes, so they
 * re-encode unchanged.
 */
import {
  AttrType,
  decodeMessageType,
  encodeMessageType,
  HEADER_LENGTH,
  MAGIC_COOKIE,
  type StunClass,
  TRANSACTION_ID_LENGTH,
} from './constants.js';
import {
  attributeCode,
  decodeAttributeValue,
  encodeAttributeValue,
  type StunAttribute,
  type StunAttributeOf,
} from './attributes.js';
import { StunDecodeError, StunEncodeError } from './errors.js';
import { computeFingerprint, computeIntegrity, type IntegrityAlgorithm } from './integrity.js';

export interface StunMessage {
  cls: StunClass;
  method: number;
  /** 12 bytes. */
  transactionId: Uint8Array;
  /** The second header word: MAGIC_COOKIE unless this is a classic RFC 3489 message. Default MAGIC_COOKIE. */
  cookie?: number;
  attributes: StunAttribute[];
}

/** A message as read off the wire, with where each attribute sat (for integrity checks). */
export interface DecodedStunMessage extends StunMessage {
  cookie: number;
  /** Exactly the message's bytes (header and attributes). */
  bytes: Uint8Array;
  /** Byte offset in `bytes` of each attribute's header, parallel to `attributes`. */
  attributeOffsets: number[];
}

export interface EncodeOptions {
  /** Key for MESSAGE-INTEGRITY / -SHA256 attributes that carry no hmac yet. */
  integrityKey?: Uint8Array;
  /** Byte written into padding (RFC 8489 says any value; RFC 5769's vectors use 0x20). Default 0. */
  paddingByte?: number;
}

export function isClassic(m: { cookie?: number }): boolean {
  return (m.cookie ?? MAGIC_COOKIE) !== MAGIC_COOKIE;
}

const pad4 = (n: number): number => (n + 3) & ~3;

export function encodeStunMessage(msg: StunMessage, options: EncodeOptions = {}): Uint8Array {
  if (msg.transactionId.length !== TRANSACTION_ID_LENGTH) {
    throw new StunEncodeError(`transaction id must be ${TRANSACTION_ID_LENGTH} bytes`);
  }
  const attrs = msg.attributes;
  const values: Uint8Array[] = new Array(attrs.length);
  let total = HEADER_LENGTH;
  for (let i = 0; i < attrs.length; i++) {
    values[i] = encodeAttributeValue(attrs[i], msg.transactionId);
    total += 4 + pad4(values[i].length);
  }
  if (total - HEADER_LENGTH > 0xffff) throw new StunEncodeError('message longer than 65535 bytes of attributes');
  const buf = new Uint8Array(total);
  put16(buf, 0, encodeMessageType(msg.method, msg.cls));
  put32(buf, 4, msg.cookie ?? MAGIC_COOKIE);
  buf.set(msg.transactionId, 8);
  const padByte = options.paddingByte ?? 0;
  let off = HEADER_LENGTH;
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs[i];
    const v = values[i];
    put16(buf, off, attributeCode(a));
    put16(buf, off + 2, v.length);
    const end = off + 4 + v.length;
    const padded = off + 4 + pad4(v.length);
    // Integrity and fingerprint cover the header with its length field saying
    // "the message ends right after me", and everything before the attribute.
    if (a.type === 'MESSAGE-INTEGRITY' && !a.hmac) {
      put16(buf, 2, padded - HEADER_LENGTH);
      buf.set(integrityFor('sha1', buf, off, options, 20), off + 4);
    } else if (a.type === 'MESSAGE-INTEGRITY-SHA256' && !a.hmac) {
      put16(buf, 2, padded - HEADER_LENGTH);
      buf.set(integrityFor('sha256', buf, off, options, v.length), off + 4);
    } else if (a.type === 'FINGERPRINT' && a.crc === undefined) {
      put16(buf, 2, padded - HEADER_LENGTH);
      put32(buf, off + 4, computeFingerprint(buf.subarray(0, off)));
    } else if (v.length > 0) {
      buf.set(v, off + 4);
    }
    if (padded > end) {
      if (a.padding && a.padding.length === padded - end) buf.set(a.padding, end);
      else if (padByte !== 0) buf.fill(padByte, end, padded);
    }
    off = padded;
  }
  put16(buf, 2, total - HEADER_LENGTH);
  return buf;
}

function put16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 8) & 0xff;
  b[off + 1] = v & 0xff;
}

function put32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 0xff;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

function integrityFor(
  alg: IntegrityAlgorithm,
  buf: Uint8Array,
  attrOffset: number,
  options: EncodeOptions,
  length: number,
): Uint8Array {
  if (!options.integrityKey) throw new StunEncodeError('MESSAGE-INTEGRITY without a key');
  return computeIntegrity(alg, options.integrityKey, buf.subarray(0, attrOffset)).subarray(0, length);
}

export interface DecodeOptions {
  /** Accept bytes after the message (a stream buffer); default: the message must fill `data` exactly. */
  allowTrailing?: boolean;
  /** Accept RFC 3489 messages (no magic cookie). Default true. */
  allowClassic?: boolean;
}

/** Cheap test: could these bytes start a STUN message? (top bits 00, and the magic cookie unless classic is allowed). */
export function looksLikeStun(data: Uint8Array, allowClassic = false): boolean {
  if (data.length < HEADER_LENGTH || (data[0] & 0xc0) !== 0) return false;
  const len = (data[2] << 8) | data[3];
  if (len % 4 !== 0) return false;
  const cookie = ((data[4] << 24) | (data[5] << 16) | (data[6] << 8) | data[7]) >>> 0;
  return cookie === MAGIC_COOKIE || allowClassic;
}

export function decodeStunMessage(data: Uint8Array, options: DecodeOptions = {}): DecodedStunMessage {
  if (data.length < HEADER_LENGTH) {
    throw new StunDecodeError('truncated', `${data.length} bytes is shorter than a STUN header`);
  }
  if ((data[0] & 0xc0) !== 0) throw new StunDecodeError('not-stun', 'the two top bits are not zero');
  const type = (data[0] << 8) | data[1];
  const length = (data[2] << 8) | data[3];
  const cookie = ((data[4] << 24) | (data[5] << 16) | (data[6] << 8) | data[7]) >>> 0;
  if (cookie !== MAGIC_COOKIE && options.allowClassic === false) {
    throw new StunDecodeError('not-stun', 'no magic cookie');
  }
  if (length % 4 !== 0) throw new StunDecodeError('bad-length', `message length ${length} is not a multiple of 4`);
  const end = HEADER_LENGTH + length;
  if (end > data.length) {
    throw new StunDecodeError('truncated', `header announces ${end} bytes, only ${data.length} present`);
  }
  if (end < data.length && !options.allowTrailing) {
    throw new StunDecodeError('trailing-bytes', `${data.length - end} bytes after the message`);
  }
  const bytes = end === data.length ? data : data.subarray(0, end);
  const transactionId = bytes.slice(8, 20);
  const attributes: StunAttribute[] = [];
  const attributeOffsets: number[] = [];
  let off = HEADER_LENGTH;
  while (off < end) {
    if (end - off < 4) throw new StunDecodeError('bad-attribute-length', `attribute header cut at offset ${off}`);
    const code = (bytes[off] << 8) | bytes[off + 1];
    const len = (bytes[off + 2] << 8) | bytes[off + 3];
    const valueEnd = off + 4 + len;
    const padded = off + 4 + pad4(len);
    if (padded > end) {
      throw new StunDecodeError(
        'bad-attribute-length',
        `attribute 0x${code.toString(16)} at ${off} runs ${padded - end} bytes past the message`,
      );
    }
    const attr = decodeAttributeValue(code, bytes.slice(off + 4, valueEnd), transactionId);
    for (let i = valueEnd; i < padded; i++) {
      if (bytes[i] !== 0) {
        attr.padding = bytes.slice(valueEnd, padded);
        break;
      }
    }
    attributes.push(attr);
    attributeOffsets.push(off);
    off = padded;
  }
  const { method, cls } = decodeMessageType(type);
  return { cls, method, transactionId, cookie, attributes, bytes, attributeOffsets };
}

/**
 * The attributes a receiver acts on: everything up to MESSAGE-INTEGRITY, then
 * only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT (RFC 8489 section 14.5); nothing
 * after FINGERPRINT (which must be last).
 */
export function effectiveAttributes(msg: StunMessage): StunAttribute[] {
  const out: StunAttribute[] = [];
  // 0: before any integrity; 1: after MESSAGE-INTEGRITY; 2: after MESSAGE-INTEGRITY-SHA256.
  let stage = 0;
  for (const a of msg.attributes) {
    const code = a.type === 'raw' ? a.code : -1;
    const isSha1 = a.type === 'MESSAGE-INTEGRITY' || code === AttrType.MESSAGE_INTEGRITY;
    const isSha256 = a.type === 'MESSAGE-INTEGRITY-SHA256' || code === AttrType.MESSAGE_INTEGRITY_SHA256;
    const isFingerprint = a.type === 'FINGERPRINT' || code === AttrType.FINGERPRINT;
    if (isFingerprint) {
      out.push(a);
      break;
    }
    if (stage === 2 || (stage === 1 && !isSha256)) continue;
    out.push(a);
    if (isSha256) stage = 2;
    else if (isSha1) stage = 1;
  }
  return out;
}

/** First effective attribute of a type, typed. */
export function getAttribute<T extends StunAttribute['type']>(
  msg: StunMessage,
  type: T,
): StunAttributeOf<T> | undefined {
  for (const a of effectiveAttributes(msg)) if (a.type === type) return a as StunAttributeOf<T>;
  return undefined;
}
