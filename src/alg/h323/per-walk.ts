/**
 * Entry points of the PER walkers: an H.225.0 H323-UserInformation (the
 * User-User IE of a Q.931 message), a RAS message (a UDP datagram), and
 * H.245 messages (a TPKT on the H.245 connection, or one tunnelled). Each
 * walks a byte range of a buffer and leaves its events in the reader; a
 * malformed encoding is a `false` with the reader's reason, never a throw.
 */
import { walkH323UserInformation, walkRasMessage } from './per-h225.gen.js';
import { walkMultimediaSystemControlMessage } from './per-h245.gen.js';
import { PER_FAIL, type PerReader, type WalkFn } from './per-reader.js';

function run(r: PerReader, fn: WalkFn, buf: Uint8Array, start: number, end: number, mayStop: boolean): boolean {
  r.reset(buf, start, end, mayStop);
  try {
    fn(r, 0);
    return true;
  } catch (e) {
    if (e !== PER_FAIL) throw e;
    return false;
  }
}

/** The H323-UserInformation in buf[start, end). */
export function walkUserInformation(r: PerReader, buf: Uint8Array, start: number, end: number): boolean {
  return run(r, walkH323UserInformation, buf, start, end, false);
}

/** A RAS message, the whole of buf[start, end). */
export function walkRas(r: PerReader, buf: Uint8Array, start: number, end: number): boolean {
  return run(r, walkRasMessage, buf, start, end, true);
}

/**
 * The H.245 messages of one TPKT on an H.245 connection: usually one, but a
 * sender may put several PDUs back to back, each padded to an octet. Each
 * is walked whole, so that the next is found.
 */
export function walkH245Messages(r: PerReader, buf: Uint8Array, start: number, end: number): boolean {
  r.reset(buf, start, end, false);
  try {
    while (r.pos < r.end) {
      walkMultimediaSystemControlMessage(r, 0);
      r.align();
      r.spend(1);
    }
    return true;
  } catch (e) {
    if (e !== PER_FAIL) throw e;
    return false;
  }
}
