/**
 * TFTP read and write requests (RFC 1350, options RFC 2347): the only TFTP
 * packets the ALG reads. A request is opcode 1 (RRQ) or 2 (WRQ), then the
 * file name and the mode, each ended by a NUL byte, then option name and
 * value pairs, each ended by a NUL. Every read is within the datagram.
 */
import * as caseModule from '../text/case.js';

const { spanEqualsLower } = caseModule;

export const TFTP_RRQ = 1;
export const TFTP_WRQ = 2;
/** More option pairs than any client sends (RFC 2347 keeps a request within 512 bytes). */
export const MAX_OPTIONS = 32;

export interface TftpRequest {
  opcode: typeof TFTP_RRQ | typeof TFTP_WRQ;
  /** Spans of the file name and the mode (without their NUL bytes). */
  filename: { start: number; end: number };
  mode: { start: number; end: number };
  /** Option pairs after the mode. */
  options: number;
}

export type TftpParse = { kind: 'request'; request: TftpRequest } | { kind: 'other'; opcode: number } | { kind: 'malformed'; reason: string };

/** Index of the NUL ending the string at i, or -1. */
function nulFrom(b: Uint8Array, i: number, end: number): number {
  for (; i < end; i++) if (b[i] === 0) return i;
  return -1;
}

/** Reads a datagram's payload as a TFTP request; anything else is `other` (by opcode) or `malformed`. Never throws. */
export function parseTftpRequest(b: Uint8Array, start = 0, end = b.length): TftpParse {
  if (start < 0 || end > b.length || end - start < 2) return { kind: 'malformed', reason: 'shorter than an opcode' };
  const opcode = (b[start] << 8) | b[start + 1];
  if (opcode !== TFTP_RRQ && opcode !== TFTP_WRQ) return { kind: 'other', opcode };
  const nameEnd = nulFrom(b, start + 2, end);
  if (nameEnd < 0) return { kind: 'malformed', reason: 'file name without its NUL' };
  const modeEnd = nulFrom(b, nameEnd + 1, end);
  if (modeEnd < 0) return { kind: 'malformed', reason: 'mode without its NUL' };
  const ms = nameEnd + 1;
  if (!spanEqualsLower(b, ms, modeEnd, 'octet') && !spanEqualsLower(b, ms, modeEnd, 'netascii') && !spanEqualsLower(b, ms, modeEnd, 'mail')) {
    return { kind: 'malformed', reason: 'mode is not netascii, octet or mail' };
  }
  let options = 0;
  let i = modeEnd + 1;
  while (i < end) {
    const nameNul = nulFrom(b, i, end);
    const valueNul = nameNul < 0 ? -1 : nulFrom(b, nameNul + 1, end);
    if (valueNul < 0) return { kind: 'malformed', reason: 'option without a NUL-ended name and value' };
    if (++options > MAX_OPTIONS) return { kind: 'malformed', reason: `more than ${MAX_OPTIONS} options` };
    i = valueNul + 1;
  }
  return { kind: 'request', request: { opcode, filename: { start: start + 2, end: nameEnd }, mode: { start: ms, end: modeEnd }, options } };
}
