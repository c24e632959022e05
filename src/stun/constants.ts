/** Numbers from RFC 8489 (STUN), RFC 5780 (behaviour discovery), RFC 3489 (classic STUN). */

export const MAGIC_COOKIE = 0x2112a442;
export const HEADER_LENGTH = 20;
export const TRANSACTION_ID_LENGTH = 12;
/** XORed into the CRC-32 of FINGERPRINT ("STUN" in ASCII). */
export const FINGERPRINT_XOR = 0x5354554e;

export type StunClass = 'request' | 'indication' | 'success' | 'error';

export const StunMethod = {
  Binding: 0x001,
  // TURN (RFC 8656): named only so logs and captures read well; masq's STUN server answers Binding.
  Allocate: 0x003,
  Refresh: 0x004,
  Send: 0x006,
  Data: 0x007,
  CreatePermission: 0x008,
  ChannelBind: 0x009,
} as const;

/** Attribute type codes. Below 0x8000: comprehension-required; from 0x8000: optional. */
export const AttrType = {
  MAPPED_ADDRESS: 0x0001,
  /** RFC 3489 only; a reflection vector, never honoured. */
  RESPONSE_ADDRESS: 0x0002,
  CHANGE_REQUEST: 0x0003,
  /** RFC 3489 name of what RFC 5780 calls RESPONSE-ORIGIN. */
  SOURCE_ADDRESS: 0x0004,
  /** RFC 3489 name of what RFC 5780 calls OTHER-ADDRESS. */
  CHANGED_ADDRESS: 0x0005,
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  UNKNOWN_ATTRIBUTES: 0x000a,
  XOR_PEER_ADDRESS: 0x0012,
  REALM: 0x0014,
  NONCE: 0x0015,
  XOR_RELAYED_ADDRESS: 0x0016,
  MESSAGE_INTEGRITY_SHA256: 0x001c,
  XOR_MAPPED_ADDRESS: 0x0020,
  PRIORITY: 0x0024,
  USE_CANDIDATE: 0x0025,
  PADDING: 0x0026,
  RESPONSE_PORT: 0x0027,
  SOFTWARE: 0x8022,
  ALTERNATE_SERVER: 0x8023,
  FINGERPRINT: 0x8028,
  ICE_CONTROLLED: 0x8029,
  ICE_CONTROLLING: 0x802a,
  RESPONSE_ORIGIN: 0x802b,
  OTHER_ADDRESS: 0x802c,
} as const;

export function isComprehensionRequired(type: number): boolean {
  return type < 0x8000;
}

/** Message type field: method bits M0-M11 interleaved with class bits C0 (bit 4) and C1 (bit 8). */
export function encodeMessageType(method: number, cls: StunClass): number {
  const c = cls === 'request' ? 0 : cls === 'indication' ? 1 : cls === 'success' ? 2 : 3;
  const m = method & 0xfff;
  return ((m & 0xf80) << 2) | ((m & 0x070) << 1) | (m & 0x00f) | ((c & 2) << 7) | ((c & 1) << 4);
}

export function decodeMessageType(type: number): { method: number; cls: StunClass } {
  const method = ((type & 0x3e00) >> 2) | ((type & 0x00e0) >> 1) | (type & 0x000f);
  const c = ((type >> 7) & 2) | ((type >> 4) & 1);
  const cls: StunClass = c === 0 ? 'request' : c === 1 ? 'indication' : c === 2 ? 'success' : 'error';
  return { method, cls };
}

/** Reason phrases the server uses (RFC 8489 section 14.8). */
export const ErrorReason: Record<number, string> = {
  300: 'Try Alternate',
  400: 'Bad Request',
  401: 'Unauthenticated',
  420: 'Unknown Attribute',
  438: 'Stale Nonce',
  500: 'Server Error',
};
