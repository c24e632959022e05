/**
 * The commonest request a STUN server sees, by far, is a Binding request with
 * no attributes at all (what browsers and most clients send). Its answer
 * depends only on the configuration, the socket it leaves from, the sender's
 * address family and the sender itself. So the general path encodes it once
 * per (configuration, socket) as a template, and each answer is a copy of the
 * template with the transaction id and the sender's address written in: the
 * same bytes as the general path (test/stun/server/plain-binding.test.ts checks
 * that), without decoding or building attribute objects per request.
 *
 * IPv4 senders only; everything else takes the general path.
 */
import type { Endpoint } from '../../net/udp.js';
import { tryParseIpv4 } from '../../wire/address.js';
import { AttrType, HEADER_LENGTH, MAGIC_COOKIE } from '../constants.js';

/** A Binding request, magic cookie, no attributes, nothing after the header. */
export function isPlainBindingRequest(data: Uint8Array): boolean {
  return data.length === HEADER_LENGTH && isPlainBindingHeaderAt(data, 0);
}

/** isPlainBindingRequest for the `length` bytes at `at` in `bytes` (a batch of datagrams read into one buffer). */
export function isPlainBindingRequestAt(bytes: Uint8Array, at: number, length: number): boolean {
  return length === HEADER_LENGTH && isPlainBindingHeaderAt(bytes, at);
}

function isPlainBindingHeaderAt(b: Uint8Array, at: number): boolean {
  return (
    b[at] === 0x00 &&
    b[at + 1] === 0x01 &&
    b[at + 2] === 0 &&
    b[at + 3] === 0 &&
    b[at + 4] === 0x21 &&
    b[at + 5] === 0x12 &&
    b[at + 6] === 0xa4 &&
    b[at + 7] === 0x42
  );
}

/** An encoded answer with holes: where the XOR-MAPPED-ADDRESS and MAPPED-ADDRESS values sit. */
export interface PlainAnswerTemplate {
  bytes: Uint8Array;
  /** Offset of the XOR-MAPPED-ADDRESS value. */
  xorMapped: number;
  /** Offset of the MAPPED-ADDRESS value; -1 when the answer has none. */
  mapped: number;
}

/** Finds the address holes in an answer the general path encoded for an IPv4 sender. */
export function templateFrom(encoded: Uint8Array): PlainAnswerTemplate {
  let xorMapped = -1;
  let mapped = -1;
  let off = HEADER_LENGTH;
  while (off + 4 <= encoded.length) {
    const code = (encoded[off] << 8) | encoded[off + 1];
    const len = (encoded[off + 2] << 8) | encoded[off + 3];
    if (code === AttrType.XOR_MAPPED_ADDRESS && len === 8 && xorMapped < 0) xorMapped = off + 4;
    else if (code === AttrType.MAPPED_ADDRESS && len === 8 && mapped < 0) mapped = off + 4;
    off += 4 + ((len + 3) & ~3);
  }
  if (xorMapped < 0) throw new Error('a Binding success without XOR-MAPPED-ADDRESS cannot be a template');
  return { bytes: encoded, xorMapped, mapped };
}

/**
 * The answer to a plain request from `from`, or null when `from` is not IPv4.
 * `request` is the 20-byte request (its transaction id is copied).
 */
export function fillPlainAnswer(template: PlainAnswerTemplate, request: Uint8Array, from: Endpoint): Uint8Array | null {
  const address = tryParseIpv4(from.address);
  if (address === null) return null;
  const out = takeFromSlab(template.bytes.length);
  writePlainAnswer(out, 0, template, request, 0, address, from.port);
  return out;
}

/**
 * Writes the answer to the plain request at `requestAt` in `request`, from the
 * IPv4 `address` and `port`, at `at` in `out`: template.bytes.length bytes.
 * (A batched socket's shell writes it straight into its send queue.)
 */
export function writePlainAnswer(out: Uint8Array, at: number, template: PlainAnswerTemplate, request: Uint8Array, requestAt: number, address: number, port: number): void {
  out.set(template.bytes, at);
  for (let i = 8; i < HEADER_LENGTH; i++) out[at + i] = request[requestAt + i];
  // XOR-MAPPED-ADDRESS (RFC 8489 section 14.2): port XOR the cookie's top 16 bits, address XOR the cookie.
  const xa = (address ^ MAGIC_COOKIE) >>> 0;
  const xport = port ^ (MAGIC_COOKIE >>> 16);
  let o = at + template.xorMapped;
  out[o + 2] = xport >>> 8;
  out[o + 3] = xport & 0xff;
  out[o + 4] = xa >>> 24;
  out[o + 5] = (xa >>> 16) & 0xff;
  out[o + 6] = (xa >>> 8) & 0xff;
  out[o + 7] = xa & 0xff;
  if (template.mapped >= 0) {
    o = at + template.mapped;
    out[o + 2] = port >>> 8;
    out[o + 3] = port & 0xff;
    out[o + 4] = address >>> 24;
    out[o + 5] = (address >>> 16) & 0xff;
    out[o + 6] = (address >>> 8) & 0xff;
    out[o + 7] = address & 0xff;
  }
}

/**
 * Answers are carved out of 64 KiB slabs rather than allocated one by one. A
 * small Uint8Array lives inside V8's heap, and dgram's send first has to move
 * it out into a backing store of its own: an allocation and a copy per answer.
 * A view on a slab is already outside. Regions are never reused (a send the
 * kernel could not take at once still holds its view), so a full slab is simply
 * left to the garbage collector once nothing refers to it.
 */
const SLAB_BYTES = 64 * 1024;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;

function takeFromSlab(n: number): Uint8Array {
  if (slabUsed + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const view = new Uint8Array(slab, slabUsed, n);
  // Keep each answer 8-byte aligned, as an allocator would.
  slabUsed += (n + 7) & ~7;
  return view;
}
