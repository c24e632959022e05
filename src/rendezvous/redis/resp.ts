/**
 * RESP2, the Redis wire protocol: commands out as arrays of bulk strings,
 * replies in as simple strings, errors, integers, bulk strings and arrays.
 *
 * The parser is incremental (feed it chunks as they arrive) and bounded: a
 * reply larger than the limits, nested too deep, or malformed raises
 * RespProtocolError, after which the connection must be dropped (the stream
 * can no longer be trusted to be in step).
 */

export type RespValue = string | number | null | Buffer | RespValue[] | RespError;

/** An error reply (-ERR ...): a value, not a thrown exception. */
export class RespError {
  constructor(readonly message: string) {}
}

export class RespProtocolError extends Error {
  override name = 'RespProtocolError';
}

export interface RespLimits {
  /** Largest bulk string. */
  maxBulk: number;
  /** Most elements in one array. */
  maxArray: number;
  /** Bytes held waiting for the end of a reply. */
  maxBuffered: number;
  maxDepth: number;
}

const DEFAULT_RESP_LIMITS: RespLimits = { maxBulk: 4 << 20, maxArray: 1 << 20, maxBuffered: 8 << 20, maxDepth: 8 };

export function encodeCommand(args: ReadonlyArray<string | number | Uint8Array>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a, 'utf8') : typeof a === 'number' ? Buffer.from(String(a)) : Buffer.from(a);
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Marker: the buffer ends inside a value. */
const INCOMPLETE = Symbol('incomplete');

export class RespParser {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly limits: RespLimits = DEFAULT_RESP_LIMITS) {}

  /** Adds bytes; returns every reply now complete, in order. */
  push(chunk: Uint8Array): RespValue[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    const out: RespValue[] = [];
    let pos = 0;
    while (pos < this.buf.length) {
      const r = this.value(pos, 0);
      if (r === INCOMPLETE) break;
      out.push(r.value);
      pos = r.next;
    }
    this.buf = this.buf.subarray(pos);
    if (this.buf.length > this.limits.maxBuffered) throw new RespProtocolError(`reply larger than ${this.limits.maxBuffered} bytes`);
    return out;
  }

  private line(pos: number): { text: string; next: number } | typeof INCOMPLETE {
    const end = this.buf.indexOf('\r\n', pos);
    if (end < 0) {
      if (this.buf.length - pos > 64 * 1024) throw new RespProtocolError('header line too long');
      return INCOMPLETE;
    }
    return { text: this.buf.toString('utf8', pos, end), next: end + 2 };
  }

  private integer(text: string): number {
    if (!/^-?\d{1,18}$/.test(text)) throw new RespProtocolError(`bad integer ${JSON.stringify(text.slice(0, 32))}`);
    return Number(text);
  }

  private value(pos: number, depth: number): { value: RespValue; next: number } | typeof INCOMPLETE {
    if (depth > this.limits.maxDepth) throw new RespProtocolError('reply nested too deep');
    const l = this.line(pos + 1);
    if (pos + 1 > this.buf.length || l === INCOMPLETE) return INCOMPLETE;
    switch (this.buf[pos]) {
      case 0x2b: // +
        return { value: l.text, next: l.next };
      case 0x2d: // -
        return { value: new RespError(l.text), next: l.next };
      case 0x3a: // :
        return { value: this.integer(l.text), next: l.next };
      case 0x24: {
        // $
        const n = this.integer(l.text);
        if (n === -1) return { value: null, next: l.next };
        if (n < 0 || n > this.limits.maxBulk) throw new RespProtocolError(`bulk string of ${n} bytes`);
        if (this.buf.length < l.next + n + 2) return INCOMPLETE;
        if (this.buf[l.next + n] !== 0x0d || this.buf[l.next + n + 1] !== 0x0a) throw new RespProtocolError('bulk string not followed by CRLF');
        return { value: Buffer.from(this.buf.subarray(l.next, l.next + n)), next: l.next + n + 2 };
      }
      case 0x2a: {
        // *
        const n = this.integer(l.text);
        if (n === -1) return { value: null, next: l.next };
        if (n < 0 || n > this.limits.maxArray) throw new RespProtocolError(`array of ${n} elements`);
        const items: RespValue[] = [];
        let next = l.next;
        for (let i = 0; i < n; i++) {
          const r = this.value(next, depth + 1);
          if (r === INCOMPLETE) return INCOMPLETE;
          items.push(r.value);
          next = r.next;
        }
        return { value: items, next };
      }
      default:
        throw new RespProtocolError(`unknown reply type byte 0x${this.buf[pos].toString(16)}`);
    }
  }
}

/** A reply as text (bulk strings are UTF-8); null stays null. */
export function respText(v: RespValue): string | null {
  if (v === null) return null;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  throw new RespProtocolError('expected a string reply');
}
