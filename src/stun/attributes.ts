/**
 * STUN attributes as plain values, and their value encodings.
 *
 * Decoding is exact or nothing: a known attribute becomes its typed form only
 * when re-encoding that form gives back the very same bytes. Anything else (a
 * bad family, invalid UTF-8, a reserved bit set) stays a `raw` attribute that
 * carries its code, its bytes and why it was not understood, so a message always
 * re-encodes byte for byte and the server can still tell "malformed" (400) from
 * "unknown" (420).
 */
import type { Endpoint } from '../net/udp.js';
import { AttrType, MAGIC_COOKIE } from './constants.js';
import { formatIPv4, formatIPv6, parseIp } from './ip-address.js';
import { StunEncodeError } from './errors.js';

export type AddressAttributeType =
  | 'MAPPED-ADDRESS'
  | 'XOR-MAPPED-ADDRESS'
  | 'RESPONSE-ORIGIN'
  | 'OTHER-ADDRESS'
  | 'SOURCE-ADDRESS'
  | 'CHANGED-ADDRESS'
  | 'ALTERNATE-SERVER'
  | 'XOR-PEER-ADDRESS'
  | 'XOR-RELAYED-ADDRESS';

export type TextAttributeType = 'USERNAME' | 'REALM' | 'NONCE' | 'SOFTWARE';

/** Present only on decoded attributes whose padding bytes were not zero, so they re-encode exactly. */
interface PaddingBytes {
  padding?: Uint8Array;
}

export type StunAttribute = PaddingBytes &
  (
    | { type: AddressAttributeType; address: Endpoint }
    | { type: TextAttributeType; value: string }
    | { type: 'ERROR-CODE'; code: number; reason: string }
    | { type: 'UNKNOWN-ATTRIBUTES'; types: number[] }
    /** `hmac` absent: the encoder computes it with the key it is given. */
    | { type: 'MESSAGE-INTEGRITY'; hmac?: Uint8Array }
    /** `hmac` absent: computed; `length` (16..32, multiple of 4) truncates it, default 32. */
    | { type: 'MESSAGE-INTEGRITY-SHA256'; hmac?: Uint8Array; length?: number }
    /** `crc` absent: computed by the encoder. */
    | { type: 'FINGERPRINT'; crc?: number }
    | { type: 'CHANGE-REQUEST'; changeIp: boolean; changePort: boolean }
    | { type: 'RESPONSE-PORT'; port: number }
    /** Content is meaningless; kept so a decoded message re-encodes exactly. */
    | { type: 'PADDING'; value: Uint8Array }
    /** An attribute this codec does not model, or a known one whose value it could not read. */
    | { type: 'raw'; code: number; value: Uint8Array; invalid?: string }
  );

/** The member of StunAttribute whose `type` can be T (address and text members share one shape). */
type MemberOf<A, T> = A extends { type: infer K } ? (T extends K ? A & { type: T } : never) : never;
export type StunAttributeOf<T extends StunAttribute['type']> = MemberOf<StunAttribute, T>;

const ADDRESS_CODES: ReadonlyArray<[AddressAttributeType, number, boolean]> = [
  ['MAPPED-ADDRESS', AttrType.MAPPED_ADDRESS, false],
  ['XOR-MAPPED-ADDRESS', AttrType.XOR_MAPPED_ADDRESS, true],
  ['RESPONSE-ORIGIN', AttrType.RESPONSE_ORIGIN, false],
  ['OTHER-ADDRESS', AttrType.OTHER_ADDRESS, false],
  ['SOURCE-ADDRESS', AttrType.SOURCE_ADDRESS, false],
  ['CHANGED-ADDRESS', AttrType.CHANGED_ADDRESS, false],
  ['ALTERNATE-SERVER', AttrType.ALTERNATE_SERVER, false],
  ['XOR-PEER-ADDRESS', AttrType.XOR_PEER_ADDRESS, true],
  ['XOR-RELAYED-ADDRESS', AttrType.XOR_RELAYED_ADDRESS, true],
];

const TEXT_CODES: ReadonlyArray<[TextAttributeType, number]> = [
  ['USERNAME', AttrType.USERNAME],
  ['REALM', AttrType.REALM],
  ['NONCE', AttrType.NONCE],
  ['SOFTWARE', AttrType.SOFTWARE],
];

const CODE_BY_NAME = new Map<string, number>([
  ...ADDRESS_CODES.map(([n, c]) => [n, c] as [string, number]),
  ...TEXT_CODES.map(([n, c]) => [n, c] as [string, number]),
  ['ERROR-CODE', AttrType.ERROR_CODE],
  ['UNKNOWN-ATTRIBUTES', AttrType.UNKNOWN_ATTRIBUTES],
  ['MESSAGE-INTEGRITY', AttrType.MESSAGE_INTEGRITY],
  ['MESSAGE-INTEGRITY-SHA256', AttrType.MESSAGE_INTEGRITY_SHA256],
  ['FINGERPRINT', AttrType.FINGERPRINT],
  ['CHANGE-REQUEST', AttrType.CHANGE_REQUEST],
  ['RESPONSE-PORT', AttrType.RESPONSE_PORT],
  ['PADDING', AttrType.PADDING],
]);

const ADDRESS_BY_CODE = new Map(ADDRESS_CODES.map(([n, c, x]) => [c, { name: n, xor: x }]));
const TEXT_BY_CODE = new Map(TEXT_CODES.map(([n, c]) => [c, n]));

/** Codes this codec turns into typed attributes. */
export const KNOWN_ATTRIBUTE_CODES: ReadonlySet<number> = new Set(CODE_BY_NAME.values());

export function attributeCode(a: StunAttribute): number {
  if (a.type === 'raw') return a.code;
  const c = CODE_BY_NAME.get(a.type);
  if (c === undefined) throw new StunEncodeError(`no code for attribute ${a.type}`);
  return c;
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Bytes of a value, given the message's transaction id (for the XOR forms). */
export function encodeAttributeValue(a: StunAttribute, transactionId: Uint8Array): Uint8Array {
  switch (a.type) {
    case 'MAPPED-ADDRESS':
    case 'XOR-MAPPED-ADDRESS':
    case 'RESPONSE-ORIGIN':
    case 'OTHER-ADDRESS':
    case 'SOURCE-ADDRESS':
    case 'CHANGED-ADDRESS':
    case 'ALTERNATE-SERVER':
    case 'XOR-PEER-ADDRESS':
    case 'XOR-RELAYED-ADDRESS':
      return encodeAddress(a.address, ADDRESS_BY_CODE.get(attributeCode(a))!.xor, transactionId);
    case 'USERNAME':
    case 'REALM':
    case 'NONCE':
    case 'SOFTWARE':
      return utf8.encode(a.value);
    case 'ERROR-CODE': {
      if (!Number.isInteger(a.code) || a.code < 300 || a.code > 699) {
        throw new StunEncodeError(`ERROR-CODE ${a.code} outside 300..699`);
      }
      const reason = utf8.encode(a.reason);
      const v = new Uint8Array(4 + reason.length);
      v[2] = Math.floor(a.code / 100);
      v[3] = a.code % 100;
      v.set(reason, 4);
      return v;
    }
    case 'UNKNOWN-ATTRIBUTES': {
      const v = new Uint8Array(2 * a.types.length);
      a.types.forEach((t, i) => {
        v[2 * i] = (t >> 8) & 0xff;
        v[2 * i + 1] = t & 0xff;
      });
      return v;
    }
    case 'MESSAGE-INTEGRITY':
      if (!a.hmac) return new Uint8Array(20);
      if (a.hmac.length !== 20) throw new StunEncodeError('MESSAGE-INTEGRITY must be 20 bytes');
      return a.hmac;
    case 'MESSAGE-INTEGRITY-SHA256': {
      const len = a.hmac ? a.hmac.length : (a.length ?? 32);
      if (len < 16 || len > 32 || len % 4 !== 0) {
        throw new StunEncodeError('MESSAGE-INTEGRITY-SHA256 must be 16..32 bytes, a multiple of 4');
      }
      return a.hmac ?? new Uint8Array(len);
    }
    case 'FINGERPRINT': {
      const v = new Uint8Array(4);
      new DataView(v.buffer).setUint32(0, (a.crc ?? 0) >>> 0);
      return v;
    }
    case 'CHANGE-REQUEST': {
      const v = new Uint8Array(4);
      v[3] = (a.changeIp ? 4 : 0) | (a.changePort ? 2 : 0);
      return v;
    }
    case 'RESPONSE-PORT': {
      if (!Number.isInteger(a.port) || a.port < 0 || a.port > 0xffff) {
        throw new StunEncodeError(`RESPONSE-PORT ${a.port} is not a port`);
      }
      return new Uint8Array([a.port >> 8, a.port & 0xff, 0, 0]);
    }
    case 'PADDING':
      return a.value;
    case 'raw':
      return a.value;
  }
}

function encodeAddress(e: Endpoint, xor: boolean, transactionId: Uint8Array): Uint8Array {
  const ip = parseIp(e.address);
  if (!ip) throw new StunEncodeError(`not an IP address: ${JSON.stringify(e.address)}`);
  if (!Number.isInteger(e.port) || e.port < 0 || e.port > 0xffff) {
    throw new StunEncodeError(`not a port: ${e.port}`);
  }
  const v = new Uint8Array(4 + ip.bytes.length);
  v[1] = ip.family === 4 ? 1 : 2;
  const port = xor ? e.port ^ (MAGIC_COOKIE >>> 16) : e.port;
  v[2] = port >> 8;
  v[3] = port & 0xff;
  v.set(ip.bytes, 4);
  if (xor) xorAddress(v, transactionId);
  return v;
}

/** XORs the address bytes (from offset 4) with the magic cookie, then the transaction id (RFC 8489 section 14.2). */
function xorAddress(v: Uint8Array, transactionId: Uint8Array): void {
  v[4] ^= MAGIC_COOKIE >>> 24;
  v[5] ^= (MAGIC_COOKIE >>> 16) & 0xff;
  v[6] ^= (MAGIC_COOKIE >>> 8) & 0xff;
  v[7] ^= MAGIC_COOKIE & 0xff;
  for (let i = 8; i < v.length; i++) v[i] ^= transactionId[i - 8];
}

/**
 * Typed form of one attribute value (already cut out of the message, without
 * padding). Never throws: what it cannot model exactly comes back `raw`.
 */
export function decodeAttributeValue(code: number, value: Uint8Array, transactionId: Uint8Array): StunAttribute {
  const addr = ADDRESS_BY_CODE.get(code);
  if (addr) {
    const r = decodeAddress(value, addr.xor, transactionId);
    return typeof r === 'string' ? rawAttribute(code, value, r) : { type: addr.name, address: r };
  }
  const text = TEXT_BY_CODE.get(code);
  if (text) {
    try {
      const s = utf8Strict.decode(value);
      // A BOM or an unpaired surrogate could decode yet not re-encode to the same bytes.
      if (!bytesEqual(utf8.encode(s), value)) return rawAttribute(code, value, 'not canonical UTF-8');
      return { type: text, value: s };
    } catch {
      return rawAttribute(code, value, 'invalid UTF-8');
    }
  }
  switch (code) {
    case AttrType.ERROR_CODE: {
      if (value.length < 4) return rawAttribute(code, value, 'ERROR-CODE shorter than 4 bytes');
      if (value[0] !== 0 || value[1] !== 0 || (value[2] & 0xf8) !== 0) return rawAttribute(code, value, 'ERROR-CODE reserved bits set');
      const cls = value[2] & 7;
      const num = value[3];
      if (cls < 3 || cls > 6 || num > 99) return rawAttribute(code, value, `ERROR-CODE class ${cls} number ${num} out of range`);
      try {
        const reason = utf8Strict.decode(value.subarray(4));
        if (!bytesEqual(utf8.encode(reason), value.subarray(4))) return rawAttribute(code, value, 'ERROR-CODE reason not canonical UTF-8');
        return { type: 'ERROR-CODE', code: cls * 100 + num, reason };
      } catch {
        return rawAttribute(code, value, 'ERROR-CODE reason is not UTF-8');
      }
    }
    case AttrType.UNKNOWN_ATTRIBUTES: {
      if (value.length % 2 !== 0) return rawAttribute(code, value, 'UNKNOWN-ATTRIBUTES has an odd length');
      const types: number[] = [];
      for (let i = 0; i < value.length; i += 2) types.push((value[i] << 8) | value[i + 1]);
      return { type: 'UNKNOWN-ATTRIBUTES', types };
    }
    case AttrType.MESSAGE_INTEGRITY:
      if (value.length !== 20) return rawAttribute(code, value, 'MESSAGE-INTEGRITY is not 20 bytes');
      return { type: 'MESSAGE-INTEGRITY', hmac: value };
    case AttrType.MESSAGE_INTEGRITY_SHA256:
      if (value.length < 16 || value.length > 32 || value.length % 4 !== 0) {
        return rawAttribute(code, value, 'MESSAGE-INTEGRITY-SHA256 length not 16..32 in steps of 4');
      }
      return { type: 'MESSAGE-INTEGRITY-SHA256', hmac: value };
    case AttrType.FINGERPRINT:
      if (value.length !== 4) return rawAttribute(code, value, 'FINGERPRINT is not 4 bytes');
      return { type: 'FINGERPRINT', crc: ((value[0] << 24) | (value[1] << 16) | (value[2] << 8) | value[3]) >>> 0 };
    case AttrType.CHANGE_REQUEST:
      if (value.length !== 4) return rawAttribute(code, value, 'CHANGE-REQUEST is not 4 bytes');
      if (value[0] !== 0 || value[1] !== 0 || value[2] !== 0 || (value[3] & ~0x06) !== 0) {
        return rawAttribute(code, value, 'CHANGE-REQUEST has bits other than change-IP and change-port');
      }
      return { type: 'CHANGE-REQUEST', changeIp: (value[3] & 4) !== 0, changePort: (value[3] & 2) !== 0 };
    case AttrType.RESPONSE_PORT:
      if (value.length !== 4) return rawAttribute(code, value, 'RESPONSE-PORT is not 4 bytes');
      if (value[2] !== 0 || value[3] !== 0) return rawAttribute(code, value, 'RESPONSE-PORT padding not zero');
      return { type: 'RESPONSE-PORT', port: (value[0] << 8) | value[1] };
    case AttrType.PADDING:
      return { type: 'PADDING', value };
    default:
      return rawAttribute(code, value);
  }
}

function rawAttribute(code: number, value: Uint8Array, invalid?: string): StunAttribute {
  return invalid === undefined ? { type: 'raw', code, value } : { type: 'raw', code, value, invalid };
}

function decodeAddress(value: Uint8Array, xor: boolean, transactionId: Uint8Array): Endpoint | string {
  if (value.length < 4) return 'address attribute shorter than 4 bytes';
  if (value[0] !== 0) return 'address attribute reserved byte not zero';
  const family = value[1];
  const want = family === 1 ? 8 : family === 2 ? 20 : -1;
  if (want < 0) return `unknown address family ${family}`;
  if (value.length !== want) return `address of family ${family} is ${value.length} bytes, not ${want}`;
  let port = (value[2] << 8) | value[3];
  const v = value.slice();
  if (xor) {
    port ^= MAGIC_COOKIE >>> 16;
    xorAddress(v, transactionId);
  }
  return { address: family === 1 ? formatIPv4(v, 4) : formatIPv6(v, 4), port };
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
