/**
 * Records in a state file, each framed so that damage is found and bounded:
 * a magic number, the payload's length, its CRC-32, the payload. Reading
 * stops at the first frame that does not check out (a write cut short by a
 * crash, a flipped bit) and says how many bytes from there were lost; the
 * frames before it are good.
 */
import { crc32 } from 'node:zlib';

const MAGIC = 0x4d514a31; // "MQJ1"
const FRAME_HEADER = 12;
/** No gateway writes a larger record (a snapshot of millions of flows is a few hundred MB). */
export const MAX_FRAME_PAYLOAD = 1 << 30;

/** The header that goes before `payload`: written apart, so a large record is not copied to be framed. */
export function frameHeader(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER);
  const v = new DataView(out.buffer);
  v.setUint32(0, MAGIC);
  v.setUint32(4, payload.length);
  v.setUint32(8, crc32(payload));
  return out;
}

/** Header and payload in one buffer. */
export function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER + payload.length);
  out.set(frameHeader(payload));
  out.set(payload, FRAME_HEADER);
  return out;
}

export interface Frames {
  payloads: Uint8Array[];
  /** Bytes of good frames from the start. */
  goodBytes: number;
  /** Why reading stopped before the end, or null when every byte was a good frame. */
  problem: string | null;
}

export function readFrames(bytes: Uint8Array): Frames {
  const payloads: Uint8Array[] = [];
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at < bytes.length) {
    const stop = (why: string): Frames => ({ payloads, goodBytes: at, problem: `${why} at byte ${at} (${bytes.length - at} bytes from there lost)` });
    if (bytes.length - at < FRAME_HEADER) return stop('a frame header cut short');
    if (v.getUint32(at) !== MAGIC) return stop('no frame start');
    const length = v.getUint32(at + 4);
    if (length > MAX_FRAME_PAYLOAD) return stop(`a frame of ${length} bytes`);
    if (at + FRAME_HEADER + length > bytes.length) return stop(`a frame of ${length} bytes cut short`);
    const payload = bytes.subarray(at + FRAME_HEADER, at + FRAME_HEADER + length);
    if (crc32(payload) !== v.getUint32(at + 8)) return stop('a frame whose checksum is wrong');
    payloads.push(payload);
    at += FRAME_HEADER + length;
  }
  return { payloads, goodBytes: at, problem: null };
}
