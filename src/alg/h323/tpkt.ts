/**
 * TPKT (RFC 1006) framing, as H.225.0 call signalling and H.245 use it on
 * TCP: a version byte 3, a reserved byte 0, a 16-bit length that counts the
 * 4-byte header, then the message. The framework reassembles each direction
 * of the stream and asks here where the message at a boundary ends, so a
 * message split at any byte (NetMeeting sends the header alone in its own
 * segment) is framed whole (its header going on at once: it never changes),
 * and several messages in one segment are framed
 * one by one. An empty TPKT (`03 00 00 04`, a keep-alive of GnuGk and
 * H.460.18 endpoints) is a whole message with nothing in it: it is passed on
 * as it is, not held as the start of one.
 *
 * Each call reads at most the 4 header bytes: linear in the stream.
 */
import type { FrameOutcome } from '../helper.js';

export const TPKT_VERSION = 3;
export const TPKT_HEADER = 4;

const NEED_MORE: FrameOutcome = { kind: 'need-more' };
/**
 * A header whose message is incomplete: the header goes on at once. Every
 * rewrite of H.225.0 and H.245 is in place (no length changes), so the
 * header is final; a sender waiting for it to be acknowledged (NetMeeting's
 * header alone, then a retransmission timeout) would otherwise never send
 * the body.
 */
const NEED_BODY: FrameOutcome = { kind: 'need-more', settled: TPKT_HEADER };

export function frameTpkt(b: Uint8Array, start: number, end: number): FrameOutcome {
  const have = end - start;
  if (have < 1) return NEED_MORE;
  if (b[start] !== TPKT_VERSION) return { kind: 'error', reason: `not TPKT: version byte ${b[start]}` };
  if (have < 2) return NEED_MORE;
  if (b[start + 1] !== 0) return { kind: 'error', reason: `not TPKT: reserved byte ${b[start + 1]}` };
  if (have < TPKT_HEADER) return NEED_MORE;
  const length = (b[start + 2] << 8) | b[start + 3];
  if (length < TPKT_HEADER) return { kind: 'error', reason: `TPKT length ${length} is shorter than its header` };
  if (length === TPKT_HEADER) return { kind: 'skip', length };
  return have < length ? NEED_BODY : { kind: 'message', length };
}
