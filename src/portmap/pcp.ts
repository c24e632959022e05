/**
 * PCP (RFC 6887) messages: the MAP, PEER and ANNOUNCE opcodes and their
 * options, read from and written to bytes, as plain values. Addresses are the
 * protocol's 16 bytes (IPv4 as ::ffff:a.b.c.d); this gateway is IPv4 only, and
 * the server refuses others with the RFC's result codes.
 *
 *   request:  ver 2 | R=0, opcode | reserved(2) | requested lifetime(4) | client address(16) | opcode data | options
 *   response: ver 2 | R=1, opcode | reserved | result | lifetime(4) | epoch time(4) | reserved(12) | opcode data | options
 *   MAP data:  nonce(12) | protocol | reserved(3) | internal port | suggested/assigned external port | external address(16)
 *   PEER data: MAP's, then remote peer port | reserved(2) | remote peer address(16)
 *   option:    code | reserved | length(2) | data, padded to 4
 */
import { put16, put32, u16, u32 } from './bytes.js';

export const PCP_VERSION = 2;
export const PCP_PORT = 5351;
/** Unsolicited ANNOUNCE responses go to all hosts on the link (RFC 6887 14.1.3). */
export const PCP_ANNOUNCE_GROUP = '224.0.0.1';
export const PCP_CLIENT_PORT = 5350;
export const PCP_MAX_MESSAGE = 1100;

export const PcpOpcode = { announce: 0, map: 1, peer: 2 } as const;
export const PcpOption = { thirdParty: 1, preferFailure: 2, filter: 3 } as const;

export const PcpResult = {
  success: 0,
  unsuppVersion: 1,
  notAuthorized: 2,
  malformedRequest: 3,
  unsuppOpcode: 4,
  unsuppOption: 5,
  malformedOption: 6,
  networkFailure: 7,
  noResources: 8,
  unsuppProtocol: 9,
  userExQuota: 10,
  cannotProvideExternal: 11,
  addressMismatch: 12,
  excessiveRemotePeers: 13,
} as const;
export type PcpResultCode = (typeof PcpResult)[keyof typeof PcpResult];

export const PCP_RESULT_NAMES: Record<number, string> = Object.fromEntries(Object.entries(PcpResult).map(([k, v]) => [v, k]));

export interface PcpOptionValue {
  code: number;
  data: Uint8Array;
}

interface PcpCommon {
  /** Requested (request) or granted (response) lifetime, seconds. */
  lifetime: number;
  options: PcpOptionValue[];
}

export interface PcpMapData {
  nonce: Uint8Array;
  /** IANA protocol number; 0: all protocols. */
  protocol: number;
  internalPort: number;
  /** Suggested (request) or assigned (response) external port. */
  externalPort: number;
  /** Suggested (request) or assigned (response) external address, 16 bytes. */
  externalAddress: Uint8Array;
}

export interface PcpPeerData extends PcpMapData {
  remotePort: number;
  remoteAddress: Uint8Array;
}

export type PcpRequest = PcpCommon & { client: Uint8Array } & (
    | { opcode: 'announce' }
    | ({ opcode: 'map' } & PcpMapData)
    | ({ opcode: 'peer' } & PcpPeerData)
  );

export type PcpResponse = PcpCommon & { result: number; epoch: number } & (
    | { opcode: 'announce' }
    | ({ opcode: 'map' } & PcpMapData)
    | ({ opcode: 'peer' } & PcpPeerData)
  );

export class PcpDecodeError extends Error {
  override name = 'PcpDecodeError';
  /** The result code to answer with, or null: drop silently (RFC 6887 8.3). */
  constructor(
    message: string,
    readonly result: PcpResultCode | null,
  ) {
    super(message);
  }
}

const OPCODE_NAMES = ['announce', 'map', 'peer'] as const;
const MAP_DATA = 36;
const PEER_DATA = 56;


/** ::ffff:a.b.c.d for an IPv4 address (uint32). */
export function mappedIpv4(addr: number): Uint8Array {
  const b = new Uint8Array(16);
  b[10] = 0xff;
  b[11] = 0xff;
  put32(b, 12, addr);
  return b;
}

/** The IPv4 address in an IPv4-mapped address, or null for anything else. */
export function ipv4OfMapped(b: Uint8Array): number | null {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return null;
  if (b[10] !== 0xff || b[11] !== 0xff) return null;
  return u32(b, 12);
}

/** All zeros, or ::ffff:0.0.0.0: "no preference" in a suggested address. */
export function isUnspecified(b: Uint8Array): boolean {
  return b.every((x) => x === 0) || ipv4OfMapped(b) === 0;
}

/** The opcode of a request that may at least be answered (two bytes or more), for error responses. */
export function requestOpcode(b: Uint8Array): number {
  return b.length >= 2 ? b[1] & 0x7f : 0;
}

export function decodePcpRequest(b: Uint8Array): PcpRequest {
  if (b.length < 2) throw new PcpDecodeError(`${b.length} bytes`, null);
  if (b[1] & 0x80) throw new PcpDecodeError('a response, not a request', null);
  if (b[0] !== PCP_VERSION) throw new PcpDecodeError(`version ${b[0]}`, PcpResult.unsuppVersion);
  if (b.length < 24 || b.length > PCP_MAX_MESSAGE || b.length % 4 !== 0) throw new PcpDecodeError(`a request of ${b.length} bytes`, PcpResult.malformedRequest);
  const op = b[1] & 0x7f;
  if (op > 2) throw new PcpDecodeError(`opcode ${op}`, PcpResult.unsuppOpcode);
  const opcode = OPCODE_NAMES[op];
  const lifetime = u32(b, 4);
  const client = b.slice(8, 24);
  const dataLength = op === 0 ? 0 : op === 1 ? MAP_DATA : PEER_DATA;
  if (b.length < 24 + dataLength) throw new PcpDecodeError(`a ${opcode} request of ${b.length} bytes`, PcpResult.malformedRequest);
  const options = decodeOptions(b, 24 + dataLength);
  if (op === 0) return { opcode: 'announce', lifetime, client, options };
  const map: PcpMapData = readMapData(b, 24);
  if (op === 1) return { opcode: 'map', lifetime, client, options, ...map };
  return { opcode: 'peer', lifetime, client, options, ...map, remotePort: u16(b, 24 + 36), remoteAddress: b.slice(24 + 40, 24 + 56) };
}

function readMapData(b: Uint8Array, at: number): PcpMapData {
  return { nonce: b.slice(at, at + 12), protocol: b[at + 12], internalPort: u16(b, at + 16), externalPort: u16(b, at + 18), externalAddress: b.slice(at + 20, at + 36) };
}

function decodeOptions(b: Uint8Array, at: number): PcpOptionValue[] {
  const out: PcpOptionValue[] = [];
  while (at < b.length) {
    if (b.length - at < 4) throw new PcpDecodeError('an option header cut short', PcpResult.malformedOption);
    const code = b[at];
    const length = u16(b, at + 2);
    const padded = (length + 3) & ~3;
    if (at + 4 + padded > b.length) throw new PcpDecodeError(`option ${code} of ${length} bytes past the end`, PcpResult.malformedOption);
    out.push({ code, data: b.slice(at + 4, at + 4 + length) });
    at += 4 + padded;
  }
  return out;
}

function encodeOptions(options: readonly PcpOptionValue[]): Uint8Array {
  const size = options.reduce((n, o) => n + 4 + ((o.data.length + 3) & ~3), 0);
  const b = new Uint8Array(size);
  let at = 0;
  for (const o of options) {
    b[at] = o.code;
    put16(b, at + 2, o.data.length);
    b.set(o.data, at + 4);
    at += 4 + ((o.data.length + 3) & ~3);
  }
  return b;
}

function encodeMapData(m: PcpMapData, peer?: { remotePort: number; remoteAddress: Uint8Array }): Uint8Array {
  const b = new Uint8Array(peer ? PEER_DATA : MAP_DATA);
  b.set(m.nonce.subarray(0, 12), 0);
  b[12] = m.protocol;
  put16(b, 16, m.internalPort);
  put16(b, 18, m.externalPort);
  b.set(m.externalAddress.subarray(0, 16), 20);
  if (peer) {
    put16(b, 36, peer.remotePort);
    b.set(peer.remoteAddress.subarray(0, 16), 40);
  }
  return b;
}

function opcodeData(m: PcpRequest | PcpResponse): Uint8Array {
  if (m.opcode === 'announce') return new Uint8Array(0);
  return encodeMapData(m, m.opcode === 'peer' ? m : undefined);
}

export function encodePcpRequest(r: PcpRequest): Uint8Array {
  const data = opcodeData(r);
  const opts = encodeOptions(r.options);
  const b = new Uint8Array(24 + data.length + opts.length);
  b[0] = PCP_VERSION;
  b[1] = PcpOpcode[r.opcode];
  put32(b, 4, r.lifetime);
  b.set(r.client.subarray(0, 16), 8);
  b.set(data, 24);
  b.set(opts, 24 + data.length);
  return b;
}

export function encodePcpResponse(r: PcpResponse): Uint8Array {
  const data = opcodeData(r);
  const opts = encodeOptions(r.options);
  const b = new Uint8Array(24 + data.length + opts.length);
  b[0] = PCP_VERSION;
  b[1] = 0x80 | PcpOpcode[r.opcode];
  b[3] = r.result;
  put32(b, 4, r.lifetime);
  put32(b, 8, r.epoch);
  b.set(data, 24);
  b.set(opts, 24 + data.length);
  return b;
}

/**
 * An error response to a request that could not be decoded or served: the
 * request's opcode and its opcode data copied (so the client matches the
 * nonce), RFC 6887 7.2 and 8.3. `lifetime`: how long the error holds.
 */
export function encodePcpError(request: Uint8Array, result: PcpResultCode, lifetime: number, epoch: number): Uint8Array {
  const op = requestOpcode(request);
  const dataLength = op === 1 ? MAP_DATA : op === 2 ? PEER_DATA : 0;
  const copy = request.length >= 24 + dataLength && request[0] === PCP_VERSION ? request.subarray(24, 24 + dataLength) : new Uint8Array(0);
  const b = new Uint8Array(24 + copy.length);
  b[0] = PCP_VERSION;
  b[1] = 0x80 | op;
  b[3] = result;
  put32(b, 4, lifetime);
  put32(b, 8, epoch);
  b.set(copy, 24);
  return b;
}

export function decodePcpResponse(b: Uint8Array): PcpResponse {
  if (b.length < 24 || b[0] !== PCP_VERSION || !(b[1] & 0x80) || b.length % 4 !== 0 || b.length > PCP_MAX_MESSAGE) throw new PcpDecodeError('not a PCP response', null);
  const op = b[1] & 0x7f;
  if (op > 2) throw new PcpDecodeError(`opcode ${op}`, null);
  const opcode = OPCODE_NAMES[op];
  const result = b[3];
  const lifetime = u32(b, 4);
  const epoch = u32(b, 8);
  const dataLength = op === 0 ? 0 : op === 1 ? MAP_DATA : PEER_DATA;
  if (b.length < 24 + dataLength) {
    // An error response to a request the server could not read carries no opcode data.
    if (result !== 0 && b.length === 24 && op !== 0) {
      const empty: PcpMapData = { nonce: new Uint8Array(12), protocol: 0, internalPort: 0, externalPort: 0, externalAddress: new Uint8Array(16) };
      return op === 1
        ? { opcode: 'map', result, lifetime, epoch, options: [], ...empty }
        : { opcode: 'peer', result, lifetime, epoch, options: [], ...empty, remotePort: 0, remoteAddress: new Uint8Array(16) };
    }
    throw new PcpDecodeError(`a ${opcode} response of ${b.length} bytes`, null);
  }
  const options = decodeOptions(b, 24 + dataLength);
  if (op === 0) return { opcode: 'announce', result, lifetime, epoch, options };
  const map = readMapData(b, 24);
  if (op === 1) return { opcode: 'map', result, lifetime, epoch, options, ...map };
  return { opcode: 'peer', result, lifetime, epoch, options, ...map, remotePort: u16(b, 24 + 36), remoteAddress: b.slice(24 + 40, 24 + 56) };
}
