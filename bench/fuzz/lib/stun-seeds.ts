/**
 * STUN seeds: the RFC 5769 test vectors, requests built here with every
 * attribute the server reads (and unknown ones), and the STUN messages of the
 * shared captures (browsers, Zoom, WhatsApp, Signal, Teams, classic STUN).
 */
import { encodeStunMessage } from '../../../src/stun/message.js';
import { StunMethod } from '../../../src/stun/constants.js';
import type { StunAttribute } from '../../../src/stun/attributes.js';
import { sampleIPv4Response, sampleIPv6Response, sampleLongTermRequest, sampleRequest } from '../../../test/stun/fixtures/rfc5769.js';
import { capturePayloads, ALL_CAPTURES } from '../captures.js';

const TID = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);

function req(attributes: StunAttribute[], cookie?: number, integrityKey?: Uint8Array): Uint8Array {
  return encodeStunMessage({ cls: 'request', method: StunMethod.Binding, transactionId: TID, attributes, ...(cookie !== undefined ? { cookie } : {}) }, integrityKey ? { integrityKey } : {});
}

export function builtStun(): Uint8Array[] {
  return [
    req([]),
    req([{ type: 'FINGERPRINT' }]),
    req([{ type: 'CHANGE-REQUEST', changeIp: true, changePort: true }, { type: 'FINGERPRINT' }]),
    req([{ type: 'CHANGE-REQUEST', changeIp: false, changePort: true }]),
    req([{ type: 'RESPONSE-PORT', port: 40000 }]),
    req([{ type: 'PADDING', value: new Uint8Array(64) }]),
    req([{ type: 'SOFTWARE', value: 'fuzz' }, { type: 'USERNAME', value: 'u:v' }, { type: 'MESSAGE-INTEGRITY' }, { type: 'FINGERPRINT' }], undefined, new Uint8Array(16)),
    req([{ type: 'raw', code: 0x0003, value: new Uint8Array(4) }]),
    req([{ type: 'raw', code: 0x7fff, value: Uint8Array.of(1, 2, 3) }, { type: 'raw', code: 0xc057, value: new Uint8Array(4) }]),
    req([], 0x01020304),
    encodeStunMessage({ cls: 'indication', method: StunMethod.Binding, transactionId: TID, attributes: [] }),
    encodeStunMessage({ cls: 'request', method: 0x003, transactionId: TID, attributes: [{ type: 'raw', code: 0x0019, value: Uint8Array.of(17, 0, 0, 0) }] }),
  ];
}

export function capturedStun(max = 600): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const c of ALL_CAPTURES.filter((n) => n.startsWith('stun'))) {
    for (const p of [...capturePayloads(c, 17, 400), ...capturePayloads(c, 6, 100)]) {
      if (p.length >= 20 && (p[0] & 0xc0) === 0 && p.length <= 1500) out.push(p);
      if (out.length >= max) return out;
    }
  }
  return out;
}

export function stunSeeds(): Uint8Array[] {
  return [sampleRequest, sampleIPv4Response, sampleIPv6Response, sampleLongTermRequest, ...builtStun(), ...capturedStun()];
}

export const STUN_DICTIONARY = ['\x21\x12\xa4\x42', '\x00\x01', '\x01\x01', '\x01\x11', '\x00\x11', '\x00\x03\x00\x04', '\x00\x27\x00\x02', '\x00\x26', '\x80\x28\x00\x04', '\x00\x08\x00\x14', '\x00\x1c\x00\x20', '\x00\x20\x00\x08', '\x00\x01\x00\x08', '\x80\x22', '\x80\x2b', '\x80\x2c', '\x00\x0a', '\x00\x09\x00\x04', '\x00\x02', '\x00\x00'];
