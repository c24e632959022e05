/**
 * How the NAT Slipstreaming attacks put a message where an ALG looks for one:
 * an HTTP POST whose body is padded so that the message starts exactly at a
 * TCP segment boundary (the attacker's server advertises a small MSS), and a
 * TURN request whose USERNAME carries the message (browsers let a page name
 * any TURN server and username, on ports they refuse for HTTP).
 */
import { encodeStunMessage } from '../../../src/stun/message.js';

const enc = new TextEncoder();

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Segment ends every `mss` bytes: what a sender does after the peer's SYN-ACK advertised that MSS. */
export function mssCuts(length: number, mss: number): number[] {
  const cuts: number[] = [];
  for (let at = mss; at < length; at += mss) cuts.push(at);
  return cuts;
}

/**
 * `POST / HTTP/1.1` to `host` whose body is padding then `payload`, the
 * padding sized so `payload` begins on a multiple of `mss` (a segment start);
 * the padding ends with `padEnd` (a line end, for helpers that want the
 * segment before to end one).
 */
export function httpPostAligned(host: string, payload: Uint8Array, mss: number, padEnd = ''): Uint8Array {
  for (let pad = padEnd.length; pad < mss * 2; pad++) {
    const head = enc.encode(`POST /upload HTTP/1.1\r\nHost: ${host}\r\nContent-Type: text/plain\r\nContent-Length: ${pad + payload.length}\r\n\r\n`);
    if ((head.length + pad) % mss === 0) return concat(head, enc.encode('A'.repeat(pad - padEnd.length) + padEnd), payload);
  }
  throw new Error('no padding aligns the payload');
}

const TURN_ALLOCATE = 0x003;
const REQUESTED_TRANSPORT = 0x0019;
const USERNAME_HEADER = 20 + 8 + 4; // STUN header, REQUESTED-TRANSPORT, USERNAME's type and length

/**
 * A TURN Allocate request whose USERNAME is padding then `payload`, the
 * padding sized so `payload` begins on a multiple of `mss` from the start of
 * the request (over TCP: a segment start; `mss` 0: no padding).
 */
export function turnAllocateCarrying(payload: Uint8Array, mss = 0): Uint8Array {
  let pad = 0;
  if (mss > 0) while ((USERNAME_HEADER + pad) % mss !== 0) pad++;
  const username = new TextDecoder('latin1').decode(concat(enc.encode('u'.repeat(pad)), payload));
  return encodeStunMessage({
    cls: 'request',
    method: TURN_ALLOCATE,
    transactionId: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]),
    attributes: [
      { type: 'raw', code: REQUESTED_TRANSPORT, value: Uint8Array.of(17, 0, 0, 0) },
      { type: 'USERNAME', value: username },
    ],
  });
}

export function text(s: string): Uint8Array {
  return enc.encode(s);
}
