/**
 * The oracle vectors (test/fixtures/h323/oracle-vectors.json): messages
 * encoded by Erlang/OTP's ASN.1 runtime from the ITU-T modules, each with the
 * (offset, address, port) of every IPv4 transport address in it as the
 * oracle found them. Tests read them here; the ALG tests also write their
 * own addresses at the oracle's offsets to build the messages they need.
 */
import { readFileSync } from 'node:fs';
import { parseIpv4 } from '../../../src/wire/address.js';

export interface OracleAddress {
  /** Byte offset of the 4 address octets (-1: not known, random values). */
  offset: number;
  addr: string;
  port: number;
}

export interface OracleVector {
  name: string;
  kind: 'q931' | 'ras' | 'h245';
  bytes: Uint8Array;
  addresses: OracleAddress[];
}

export interface OracleRandom {
  type: 'H323-UserInformation' | 'RasMessage' | 'OpenLogicalChannel' | 'MultimediaSystemControlMessage';
  bytes: Uint8Array;
  addresses: OracleAddress[];
}

interface RawEntry {
  name?: string;
  kind?: OracleVector['kind'];
  type?: OracleRandom['type'];
  hex: string;
  addresses: Array<[number, string, number]>;
}

export const VECTORS_PATH = new URL('../../fixtures/h323/oracle-vectors.json', import.meta.url);

function entries(raw: RawEntry[]): Array<RawEntry & { bytes: Uint8Array; list: OracleAddress[] }> {
  return raw.map((e) => ({
    ...e,
    bytes: Uint8Array.from(Buffer.from(e.hex, 'hex')),
    list: e.addresses.map(([offset, addr, port]) => ({ offset, addr, port })),
  }));
}

export function loadOracle(path: URL | string = VECTORS_PATH): { vectors: OracleVector[]; random: OracleRandom[] } {
  const json = JSON.parse(readFileSync(path, 'utf8')) as { vectors: RawEntry[]; random: RawEntry[] };
  return {
    vectors: entries(json.vectors).map((e) => ({ name: e.name!, kind: e.kind!, bytes: e.bytes, addresses: e.list })),
    random: entries(json.random).map((e) => ({ type: e.type!, bytes: e.bytes, addresses: e.list })),
  };
}

let cached: ReturnType<typeof loadOracle> | null = null;

export function oracle(): ReturnType<typeof loadOracle> {
  return (cached ??= loadOracle());
}

export function vector(name: string): OracleVector {
  const v = oracle().vectors.find((x) => x.name === name);
  if (!v) throw new Error(`no oracle vector ${name}`);
  return v;
}

/**
 * A copy of a vector with some of its addresses replaced (by index in the
 * oracle's list): how tests put the inside host, its peer and their ports
 * into real encodings without an encoder of their own.
 */
export function withAddresses(v: OracleVector, replace: Record<number, [string, number]>): Uint8Array {
  const out = v.bytes.slice();
  for (const [k, [addr, port]] of Object.entries(replace)) {
    const a = v.addresses[Number(k)];
    if (!a) throw new Error(`${v.name} has no address ${k}`);
    const n = parseIpv4(addr);
    out.set([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255, port >>> 8, port & 255], a.offset);
  }
  return out;
}
