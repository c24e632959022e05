/**
 * NAT-PMP (RFC 6886) messages: requests and responses as plain values, read
 * from and written to bytes. Version 0 on UDP port 5351, the same port as PCP
 * (a PCP server tells the two apart by the version byte).
 *
 *   request:  ver 0 | op 0 (external address)
 *             ver 0 | op 1 UDP, 2 TCP | reserved(2) | internal port | suggested external port | lifetime(4)
 *   response: ver 0 | 128 + op | result(2) | seconds since start of epoch(4) | ...
 *             op 0: external address(4);  op 1, 2: internal port | mapped external port | lifetime(4)
 */
import { put16, put32, u16, u32 } from './bytes.js';

export const NATPMP_PORT = 5351;
/** Where a gateway announces a new external address or a restart (RFC 6886 3.2.1). */
export const NATPMP_ANNOUNCE_GROUP = '224.0.0.1';
export const NATPMP_CLIENT_PORT = 5350;

export const NatPmpResult = {
  success: 0,
  unsupportedVersion: 1,
  /** Not authorized / refused (the host may not map this). */
  notAuthorized: 2,
  networkFailure: 3,
  outOfResources: 4,
  unsupportedOpcode: 5,
} as const;
export type NatPmpResultCode = (typeof NatPmpResult)[keyof typeof NatPmpResult];

export type NatPmpRequest =
  | { op: 'external-address' }
  | { op: 'map'; proto: 'udp' | 'tcp'; internalPort: number; suggestedPort: number; lifetime: number };

export type NatPmpResponse =
  | { op: 'external-address'; result: number; epoch: number; address: number }
  | { op: 'map'; proto: 'udp' | 'tcp'; result: number; epoch: number; internalPort: number; externalPort: number; lifetime: number };

export class NatPmpDecodeError extends Error {
  override name = 'NatPmpDecodeError';
  /** The result code the server answers with (unsupported version or opcode), or null to stay silent. */
  constructor(
    message: string,
    readonly answer: { op: number; result: NatPmpResultCode } | null = null,
  ) {
    super(message);
  }
}


export function decodeNatPmpRequest(b: Uint8Array): NatPmpRequest {
  if (b.length < 2) throw new NatPmpDecodeError(`${b.length} bytes`);
  const op = b[1];
  // RFC 6886 3.5: a request of another version gets "unsupported version"; opcodes >= 128 are responses, ignored.
  if (b[0] !== 0) throw new NatPmpDecodeError(`version ${b[0]}`, { op, result: NatPmpResult.unsupportedVersion });
  if (op >= 128) throw new NatPmpDecodeError('a response, not a request');
  if (op === 0) return { op: 'external-address' };
  if (op !== 1 && op !== 2) throw new NatPmpDecodeError(`opcode ${op}`, { op, result: NatPmpResult.unsupportedOpcode });
  if (b.length < 12) throw new NatPmpDecodeError(`a mapping request of ${b.length} bytes`);
  return { op: 'map', proto: op === 1 ? 'udp' : 'tcp', internalPort: u16(b, 4), suggestedPort: u16(b, 6), lifetime: u32(b, 8) };
}

export function encodeNatPmpRequest(r: NatPmpRequest): Uint8Array {
  if (r.op === 'external-address') return new Uint8Array([0, 0]);
  const b = new Uint8Array(12);
  b[1] = r.proto === 'udp' ? 1 : 2;
  put16(b, 4, r.internalPort);
  put16(b, 6, r.suggestedPort);
  put32(b, 8, r.lifetime);
  return b;
}

export function encodeNatPmpResponse(r: NatPmpResponse): Uint8Array {
  const b = new Uint8Array(r.op === 'external-address' ? 12 : 16);
  b[1] = 128 + (r.op === 'external-address' ? 0 : r.proto === 'udp' ? 1 : 2);
  put16(b, 2, r.result);
  put32(b, 4, r.epoch);
  if (r.op === 'external-address') put32(b, 8, r.address);
  else {
    put16(b, 8, r.internalPort);
    put16(b, 10, r.externalPort);
    put32(b, 12, r.lifetime);
  }
  return b;
}

/** An error answer to a request that could not be served as asked (the opcode echoed, RFC 6886 3.5). */
export function encodeNatPmpError(op: number, result: NatPmpResultCode, epoch: number): Uint8Array {
  const b = new Uint8Array(op === 1 || op === 2 ? 16 : op === 0 ? 12 : 8);
  b[1] = 128 + (op & 0x7f);
  put16(b, 2, result);
  put32(b, 4, epoch);
  return b;
}

export function decodeNatPmpResponse(b: Uint8Array): NatPmpResponse {
  if (b.length < 8 || b[0] !== 0 || b[1] < 128) throw new NatPmpDecodeError('not a NAT-PMP response');
  const op = b[1] - 128;
  const result = u16(b, 2);
  const epoch = u32(b, 4);
  if (op === 0) {
    if (b.length < 12) throw new NatPmpDecodeError(`an address response of ${b.length} bytes`);
    return { op: 'external-address', result, epoch, address: u32(b, 8) };
  }
  if (op !== 1 && op !== 2) throw new NatPmpDecodeError(`opcode ${op}`);
  if (b.length < 16) {
    // Error answers may be short; a success may not.
    if (result !== 0) return { op: 'map', proto: op === 1 ? 'udp' : 'tcp', result, epoch, internalPort: 0, externalPort: 0, lifetime: 0 };
    throw new NatPmpDecodeError(`a mapping response of ${b.length} bytes`);
  }
  return { op: 'map', proto: op === 1 ? 'udp' : 'tcp', result, epoch, internalPort: u16(b, 8), externalPort: u16(b, 10), lifetime: u32(b, 12) };
}
