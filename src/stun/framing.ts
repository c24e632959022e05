/**
 * STUN over TCP (RFC 8489 section 6.2.2): messages back to back, each one's
 * length read from its header; no other framing. Pure: bytes in, whole
 * messages out. A stream that stops looking like STUN is an error; the caller
 * closes the connection, as there is no way to find the next boundary.
 */
import { HEADER_LENGTH, MAGIC_COOKIE } from './constants.js';

export class StunStreamError extends Error {
  override readonly name = 'StunStreamError';
}

export class StunStreamSplitter {
  private buf = new Uint8Array(0);

  /** Appends a chunk; returns the messages it completes (each a copy). */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.buf.length === 0) this.buf = chunk.slice();
    else {
      const next = new Uint8Array(this.buf.length + chunk.length);
      next.set(this.buf);
      next.set(chunk, this.buf.length);
      this.buf = next;
    }
    const out: Uint8Array[] = [];
    let off = 0;
    // At most one message per 20 bytes: the loop is bounded by the buffer.
    while (this.buf.length - off >= HEADER_LENGTH) {
      const b = this.buf;
      const cookie = ((b[off + 4] << 24) | (b[off + 5] << 16) | (b[off + 6] << 8) | b[off + 7]) >>> 0;
      const len = (b[off + 2] << 8) | b[off + 3];
      if ((b[off] & 0xc0) !== 0 || cookie !== MAGIC_COOKIE || len % 4 !== 0) {
        throw new StunStreamError('bytes on the stream are not a STUN message header');
      }
      if (b.length - off < HEADER_LENGTH + len) break;
      out.push(b.slice(off, off + HEADER_LENGTH + len));
      off += HEADER_LENGTH + len;
    }
    if (off > 0) this.buf = this.buf.slice(off);
    // A partial header that already cannot be STUN need not wait for more bytes.
    if (this.buf.length > 0 && (this.buf[0] & 0xc0) !== 0) {
      throw new StunStreamError('bytes on the stream are not a STUN message header');
    }
    return out;
  }

  /** Bytes waiting for the rest of their message. */
  get pending(): number {
    return this.buf.length;
  }
}
