/**
 * CU-SeeMe packets for the ALG's tests, built field by field from the layout
 * table (not with the ALG's own layout module), and read back the same way.
 */
import { parseIpv4 } from '../../../src/wire/address.js';

export interface CuFields {
  dest?: [string, number];
  own?: [string, number];
  seq?: number;
  dataType?: number;
  /** OpenContinue entries: address, port (as masq reads bytes 4-5), and 6 more bytes. */
  entries?: Array<[string, number]>;
  /** client_count as written (default: the number of entries). */
  count?: number;
  /** Bytes after the header (not OpenContinue). */
  payload?: Uint8Array;
}

export const OPEN_CONTINUE = 101;
export const VIDEO = 1;

export function cuPacket(f: CuFields): Uint8Array {
  const entries = f.entries ?? [];
  const isOc = (f.dataType ?? VIDEO) === OPEN_CONTINUE;
  const body = isOc ? 30 + entries.length * 12 : (f.payload?.length ?? 4);
  const b = new Uint8Array(26 + body);
  const v = new DataView(b.buffer);
  v.setUint16(0, 2);
  v.setUint16(2, f.dest?.[1] ?? 7648);
  v.setUint32(4, parseIpv4(f.dest?.[0] ?? '0.0.0.0'));
  v.setUint16(8, 2);
  v.setUint16(10, f.own?.[1] ?? 7648);
  v.setUint32(12, parseIpv4(f.own?.[0] ?? '0.0.0.0'));
  v.setUint32(16, f.seq ?? 1);
  v.setUint16(20, 0);
  v.setUint16(22, f.dataType ?? VIDEO);
  v.setUint16(24, b.length);
  if (isOc) {
    v.setUint16(26, f.count ?? entries.length);
    v.setUint32(28, 7);
    b.set(new TextEncoder().encode('tester'), 32);
    entries.forEach(([addr, port], i) => {
      const e = 56 + i * 12;
      v.setUint32(e, parseIpv4(addr));
      v.setUint16(e + 4, port);
      v.setUint16(e + 6, 0x8001); // flags, left alone by masq
      v.setUint32(e + 8, 0xdeadbeef);
    });
  } else if (f.payload) {
    b.set(f.payload, 26);
  } else {
    b.set([1, 2, 3, 4], 26);
  }
  return b;
}

const ip = (n: number) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

export interface ReadFields {
  dest: string;
  own: string;
  dataType: number;
  count: number;
  entries: string[];
}

/** The addressee, the sender and (for an OpenContinue) the entries as "a.b.c.d:port". */
export function readCu(b: Uint8Array): ReadFields {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const dataType = v.getUint16(22);
  const count = dataType === OPEN_CONTINUE ? v.getUint16(26) : 0;
  const entries: string[] = [];
  for (let i = 0; i < count && 56 + (i + 1) * 12 <= b.length; i++) entries.push(`${ip(v.getUint32(56 + i * 12))}:${v.getUint16(60 + i * 12)}`);
  return { dest: `${ip(v.getUint32(4))}:${v.getUint16(2)}`, own: `${ip(v.getUint32(12))}:${v.getUint16(10)}`, dataType, count, entries };
}
