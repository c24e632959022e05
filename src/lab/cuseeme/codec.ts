/**
 * CU-SeeMe packets for the test peers (client and reflector), encoded and
 * decoded from the layout table of the protocol on their own: this module
 * shares nothing with the ALG (src/alg/cuseeme), so a misreading of the
 * layout on one side shows up as a failure on the other.
 *
 * Header (26 bytes, network byte order): dest_family, dest_port, dest_addr,
 * family, port, addr, seq, msg, data_type, packet_len. OpenContinue payload:
 * client_count, seq_no, user_name (20), reserved (4), then 12-byte entries.
 * The peers write each entry as address (4), port (2), flags (2), packets
 * received from that participant (4): the 8 bytes after the address have no
 * published layout, and these peers give the first two the meaning masq
 * reads (the participant's port).
 */
import { ipv4ToString, tryParseIpv4 } from '../../wire/address.js';

export const AF_INET = 2;

export const DataType = {
  smallVideo: 1,
  bigVideo: 2,
  audio: 3,
  keepAlive: 100,
  openContinue: 101,
  kick: 104,
  text: 105,
} as const;

export interface CuEndpoint {
  addr: string;
  port: number;
}

export interface CuHeader {
  dest: CuEndpoint;
  /** The sender's own address and port: where it receives. */
  origin: CuEndpoint;
  seq: number;
  msg: number;
  dataType: number;
}

export interface ClientInfo extends CuEndpoint {
  flags: number;
  packets: number;
}

export interface OpenContinue {
  seqNo: number;
  userName: string;
  entries: ClientInfo[];
}

const HEADER = 26;
const OC_HEAD = 30;
const ENTRY = 12;
const NAME = 20;

function addrBits(text: string): number {
  const a = tryParseIpv4(text);
  if (a === null) throw new Error(`not an IPv4 address: ${JSON.stringify(text)}`);
  return a;
}

/** A whole packet: header (packet_len filled in) and payload. */
export function encodePacket(h: CuHeader, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(HEADER + payload.length);
  const v = new DataView(b.buffer);
  v.setUint16(0, AF_INET);
  v.setUint16(2, h.dest.port);
  v.setUint32(4, addrBits(h.dest.addr));
  v.setUint16(8, AF_INET);
  v.setUint16(10, h.origin.port);
  v.setUint32(12, addrBits(h.origin.addr));
  v.setUint32(16, h.seq >>> 0);
  v.setUint16(20, h.msg);
  v.setUint16(22, h.dataType);
  v.setUint16(24, b.length);
  b.set(payload, HEADER);
  return b;
}

/** The header and payload, or null when the datagram is shorter than a header. */
export function decodePacket(b: Uint8Array): { header: CuHeader; payload: Uint8Array } | null {
  if (b.length < HEADER) return null;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    header: {
      dest: { addr: ipv4ToString(v.getUint32(4)), port: v.getUint16(2) },
      origin: { addr: ipv4ToString(v.getUint32(12)), port: v.getUint16(10) },
      seq: v.getUint32(16),
      msg: v.getUint16(20),
      dataType: v.getUint16(22),
    },
    payload: b.subarray(HEADER),
  };
}

/** Replaces the addressee of an encoded packet (a reflector relaying it). */
export function readdress(packet: Uint8Array, dest: CuEndpoint): Uint8Array {
  const out = new Uint8Array(packet); // a copy (a received Buffer's slice() would be a view)
  const v = new DataView(out.buffer);
  v.setUint16(2, dest.port);
  v.setUint32(4, addrBits(dest.addr));
  return out;
}

export function encodeOpenContinue(oc: OpenContinue): Uint8Array {
  const b = new Uint8Array(OC_HEAD + oc.entries.length * ENTRY);
  const v = new DataView(b.buffer);
  v.setUint16(0, oc.entries.length);
  v.setUint32(2, oc.seqNo >>> 0);
  b.set(new TextEncoder().encode(oc.userName).subarray(0, NAME - 1), 6);
  oc.entries.forEach((e, i) => {
    const o = OC_HEAD + i * ENTRY;
    v.setUint32(o, addrBits(e.addr));
    v.setUint16(o + 4, e.port);
    v.setUint16(o + 6, e.flags);
    v.setUint32(o + 8, e.packets >>> 0);
  });
  return b;
}

/** An OpenContinue payload, or null when it is shorter than its header or its count overruns it. */
export function decodeOpenContinue(p: Uint8Array): OpenContinue | null {
  if (p.length < OC_HEAD) return null;
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const count = v.getUint16(0);
  if (OC_HEAD + count * ENTRY > p.length) return null;
  const nameBytes = p.subarray(6, 6 + NAME);
  const nul = nameBytes.indexOf(0);
  const entries: ClientInfo[] = [];
  for (let i = 0; i < count; i++) {
    const o = OC_HEAD + i * ENTRY;
    entries.push({ addr: ipv4ToString(v.getUint32(o)), port: v.getUint16(o + 4), flags: v.getUint16(o + 6), packets: v.getUint32(o + 8) });
  }
  return { seqNo: v.getUint32(2), userName: new TextDecoder().decode(nul < 0 ? nameBytes : nameBytes.subarray(0, nul)), entries };
}

/** The test peers' "video": the sender's name and a frame number, padded to `size` bytes. */
export function encodeFrame(name: string, frame: number, size = 64): Uint8Array {
  const n = new TextEncoder().encode(name).subarray(0, 255);
  const b = new Uint8Array(Math.max(size, 5 + n.length));
  b[0] = n.length;
  b.set(n, 1);
  new DataView(b.buffer).setUint32(1 + n.length, frame >>> 0);
  return b;
}

export function decodeFrame(p: Uint8Array): { name: string; frame: number } | null {
  if (p.length < 1 || p.length < 5 + p[0]) return null;
  const name = new TextDecoder().decode(p.subarray(1, 1 + p[0]));
  return { name, frame: new DataView(p.buffer, p.byteOffset + 1 + p[0], 4).getUint32(0) };
}

export function endpointText(e: CuEndpoint): string {
  return `${e.addr}:${e.port}`;
}
