/**
 * The ng protocol's datagram: `<cookie> <bencoded dictionary>`. The cookie is
 * the client's (any bytes up to the first space); the reply carries it back,
 * which is how a client matches replies and how the server recognises a
 * retransmission (rtpengine's own framing, documented with its ng protocol).
 */
import { bdecode, bencode, dict, type BDict, type BInput } from './bencode.js';

/** A cookie longer than this is not a cookie anyone sends. */
export const MAX_COOKIE = 256;

export type NgParse = { ok: true; cookie: string; request: BDict } | { ok: false; reason: string; cookie: string | null };

export function parseNgMessage(b: Uint8Array): NgParse {
  let sp = -1;
  const limit = Math.min(b.length, MAX_COOKIE + 1);
  for (let i = 0; i < limit; i++) {
    if (b[i] === 0x20) {
      sp = i;
      break;
    }
  }
  if (sp <= 0) return { ok: false, reason: 'no cookie', cookie: null };
  let cookie = '';
  for (let i = 0; i < sp; i++) cookie += String.fromCharCode(b[i]);
  const r = bdecode(b, sp + 1);
  if (!r.ok) return { ok: false, reason: r.reason, cookie };
  const request = dict(r.value);
  if (!request) return { ok: false, reason: 'not a dictionary', cookie };
  return { ok: true, cookie, request };
}

export function encodeNgMessage(cookie: string, body: BInput): Uint8Array {
  const payload = bencode(body);
  const out = new Uint8Array(cookie.length + 1 + payload.length);
  for (let i = 0; i < cookie.length; i++) out[i] = cookie.charCodeAt(i) & 0xff;
  out[cookie.length] = 0x20;
  out.set(payload, cookie.length + 1);
  return out;
}
