/**
 * Answers to a source that has not proved it receives (no valid cookie) are
 * never larger than the request that caused them, so forging the source of a
 * request gains a reflector nothing. An error that would not fit loses the
 * tail of its reason (the code is what clients act on); anything else that
 * would not fit is not sent at all.
 */
import { truncateUtf8 } from '../util/ids.js';
import { encodeMessage, MAX_REASON_BYTES, type Message } from './messages.js';

/** The encoded message, at most `limit` bytes, or null when it cannot be made to fit. */
export function encodeWithin(m: Message, key: Uint8Array | null, limit: number): Uint8Array | null {
  const bytes = encodeMessage(m, key);
  if (bytes.length <= limit) return bytes;
  if (m.kind !== 'error' && m.kind !== 'hint') return null;
  const reasonBytes = Math.min(Buffer.byteLength(m.reason), MAX_REASON_BYTES);
  const room = reasonBytes - (bytes.length - limit);
  if (room < 0) return null;
  return encodeMessage({ ...m, reason: truncateUtf8(m.reason, room) }, key);
}
