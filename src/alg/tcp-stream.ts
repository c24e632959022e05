/**
 * One direction of a TCP stream an ALG watches: reassembly from a verified
 * message boundary, framing into messages, and what to send in place of each
 * segment.
 *
 * - The stream is parsed only from its start (the SYN): a flow picked up
 *   mid-stream, or one whose first bytes are not the protocol, passes through
 *   untouched for good (DESIGN safety rule 2; NAT Slipstreaming).
 * - New data at the expected sequence number is appended; every complete
 *   message is handed to the handler; the bytes of an incomplete message are
 *   held until the rest arrives, except its first bytes when the framer says
 *   they are settled (no rewrite changes them): those go on at once. Held
 *   bytes are never acknowledged by the receiver, and a sender whose
 *   retransmission timer fired has a congestion window of one segment: it
 *   then sends nothing new until what it has sent is acknowledged. A
 *   NetMeeting Setup's 4-byte TPKT header held here, with the body written
 *   after that timer, was never completed (the lab's lost Setups,
 *   docs/h323.md).
 * - Data that was already sent on (a retransmission) is answered from a log of
 *   the rewritten stream, so it is rewritten identically.
 * - Data beyond a gap is dropped: the sender retransmits it after the gap.
 */
import { SeqMap } from './seq-map.js';

const diff = (a: number, b: number) => (a - b) | 0;
const add = (a: number, b: number) => (a + b) >>> 0;

/** Longest message (or run of unframed bytes) held; beyond it the stream is passed through. */
const MAX_PENDING = 128 * 1024;
/** How much of the rewritten stream is kept for retransmissions. */
const LOG_CAPACITY = 256 * 1024;

export interface Chunk {
  /** Sequence number on the receiver's side (rewritten stream). */
  seq: number;
  bytes: Uint8Array;
}

/**
 * A framer's place in the message at the stream's boundary, kept per stream
 * direction. A message may arrive in many small segments; a framer that keeps
 * here how far it read goes on from there on the next call, instead of
 * reading the message again from its start each time (N one-byte segments
 * would cost O(N^2)). The framework hands the same object for every call on
 * the same boundary and sets `scanned` to 0 when the boundary moves; offsets
 * kept must be from the boundary (the held bytes move in memory). What
 * `state` holds is the framer's own; a framer may ignore all of it.
 */
export class FrameResume {
  /** Bytes from the boundary the framer has read; 0 on a new boundary. */
  scanned = 0;
  /** The framer's record of what it read (its own type), kept from message to message for reuse. */
  state: unknown = undefined;
}

export type Framer = (
  bytes: Uint8Array,
  start: number,
  end: number,
  resume: FrameResume,
) => { kind: 'message' | 'skip'; length: number } | { kind: 'need-more'; settled?: number } | { kind: 'error'; reason: string };

/**
 * The rewritten bytes of a complete message (or the message itself). The
 * message may be a view of the segment being sent on: a handler returns new
 * bytes for a rewrite and never changes the message in place.
 */
export type MessageHandler = (message: Uint8Array) => Uint8Array;

export type FeedResult =
  /** Send these (possibly none: everything is held). */
  | { kind: 'send'; chunks: Chunk[] }
  /** Send the segment's data unchanged (at its mapped sequence number). */
  | { kind: 'pass' }
  /** Data beyond a gap: drop; it comes again. */
  | { kind: 'drop' };

export interface StreamEvents {
  notThisProtocol?(reason: string): void;
  oversize?(): void;
  retransmission?(fromLog: boolean): void;
  outOfOrder?(): void;
  /** A message whose settled first bytes went on early, and whose rewrite changed or dropped them: it passed as it came. */
  settledChanged?(): void;
}

/** The segment's data goes on unchanged (one object: a result per segment costs an allocation). */
const PASS: FeedResult = { kind: 'pass' };

export class StreamDirection {
  readonly map = new SeqMap();
  started = false;
  /** Boundary lost or not this protocol: everything passes through from now on. */
  passThrough = false;
  /** Next expected original sequence number. */
  next = 0;
  private readonly resume = new FrameResume();
  private pending = new Uint8Array(0);
  private pendingLen = 0;
  /** Original sequence number of pending[0]. */
  private pendingSeq = 0;
  /** Bytes of pending (from pending[0], a message boundary) already sent on because they were settled. */
  private early = 0;
  private log = new Uint8Array(0);
  private logLen = 0;
  /** Rewritten-stream sequence number of log[0]. */
  private logSeq = 0;

  /** The stream begins: the SYN's sequence number. */
  start(synSeq: number): void {
    if (this.started) return;
    this.started = true;
    this.next = add(synSeq, 1);
    this.pendingSeq = this.next;
    this.logSeq = this.map.toNew(this.next);
  }

  /** Bytes held while waiting for the rest of a message. */
  get held(): number {
    return this.pendingLen;
  }

  /** Where what has been sent on ends, in the rewritten stream's sequence space. */
  get sentUpTo(): number {
    return this.map.toNew(add(this.pendingSeq, this.early));
  }

  feed(seq: number, payload: Uint8Array, frame: Framer, handle: MessageHandler, events: StreamEvents = {}): FeedResult {
    if (!this.started || this.passThrough) return PASS;
    const end = add(seq, payload.length);
    if (diff(seq, this.next) > 0) {
      events.outOfOrder?.();
      return { kind: 'drop' };
    }
    const chunks: Chunk[] = [];
    // Part already sent on: from the log of what we sent.
    const sent = add(this.pendingSeq, this.early);
    const oldEnd = diff(end, sent) < 0 ? end : sent;
    if (diff(oldEnd, seq) > 0) {
      const old = this.fromLog(seq, oldEnd);
      events.retransmission?.(old !== null);
      if (old === null) return PASS;
      chunks.push(old);
    }
    // Part held in `pending` is skipped; new part is appended.
    if (diff(end, this.next) > 0) {
      const fresh = payload.subarray(diff(this.next, seq));
      this.next = end;
      if (this.pendingLen === 0 && chunks.length === 0) {
        // Nothing held and nothing old (fresh is the whole payload): the
        // segment's bytes are framed where they are, and only an incomplete
        // message at its end is copied to `pending`. Whole messages sent on
        // unchanged leave the segment as it came.
        const produced = this.drain(fresh, fresh.length, frame, handle, events);
        if (produced !== null && produced.bytes === fresh) return PASS;
        if (produced) chunks.push(produced);
        return { kind: 'send', chunks };
      }
      this.append(fresh);
      const produced = this.drain(this.pending, this.pendingLen, frame, handle, events);
      if (produced) chunks.push(produced);
    }
    return { kind: 'send', chunks };
  }

  /** The stream ends (FIN) or breaks: whatever is held goes out as it is. */
  flush(): Chunk | null {
    if (this.pendingLen === this.early) return null;
    const bytes = this.pending.slice(this.early, this.pendingLen);
    const c = { seq: this.map.toNew(add(this.pendingSeq, this.early)), bytes };
    this.logAppend(c.seq, bytes);
    this.pendingSeq = add(this.pendingSeq, this.pendingLen);
    this.pendingLen = 0;
    this.early = 0;
    this.resume.scanned = 0;
    return c;
  }

  /**
   * Frames and hands over the messages at the boundary. `src` is `pending`
   * (`len` = pendingLen), or a segment's new bytes when nothing was held: then
   * they are read in place, what stays incomplete is copied to `pending`, and
   * bytes sent on unchanged are views of `src` (the segment, which outlives
   * the call); a chunk whose bytes are `src` itself is the segment unchanged.
   */
  private drain(src: Uint8Array, len: number, frame: Framer, handle: MessageHandler, events: StreamEvents): Chunk | null {
    const inPlace = src !== this.pending;
    const out: Uint8Array[] = [];
    // Where what goes out now starts: after the settled bytes sent before.
    const startSeq = this.map.toNew(add(this.pendingSeq, this.early));
    const early = this.early;
    // Bytes of src (from 0) sent on so far exactly as they came, in one run.
    let unchanged = 0;
    let off = 0;
    let settled = 0;
    while (off < len) {
      const f = frame(src, off, len, this.resume);
      if (f.kind === 'need-more') {
        settled = f.settled ?? 0;
        break;
      }
      this.resume.scanned = 0;
      if (f.kind === 'error') {
        events.notThisProtocol?.(f.reason);
        this.passThrough = true;
        out.push(copyOf(src, inPlace, off === 0 ? early : off, len));
        off = len;
        break;
      }
      const raw = src.subarray(off, off + f.length);
      let msg = f.kind === 'message' ? handle(raw) : raw;
      // Bytes the receiver already has cannot change: a rewrite that would change them is not used.
      if (off === 0 && early > 0 && msg !== raw && !samePrefix(msg, raw, early)) {
        events.settledChanged?.();
        msg = raw;
      }
      this.map.record(add(this.pendingSeq, off), f.length, msg.length);
      const skip = off === 0 ? early : 0;
      if (msg === raw && unchanged === off && inPlace) unchanged = off + f.length;
      out.push(msg === raw ? copyOf(src, inPlace, off + skip, off + f.length) : skip === 0 ? msg : msg.subarray(skip));
      off += f.length;
      // A message the handler could not parse (it set passThrough) leaves no
      // boundary to trust after it: the rest goes through as it is.
      if (this.passThrough) {
        out.push(copyOf(src, inPlace, off, len));
        off = len;
        break;
      }
    }
    if (len - off > MAX_PENDING) {
      events.oversize?.();
      this.passThrough = true;
      out.push(copyOf(src, inPlace, off === 0 ? early : off, len));
      off = len;
    }
    if (inPlace) {
      // pending was empty: it now holds the incomplete rest, from its boundary.
      this.pendingSeq = add(this.pendingSeq, off);
      if (off < len) this.append(src.subarray(off, len));
    } else {
      this.consume(off);
    }
    // The settled start of the message now at the boundary goes on at once.
    if (!this.passThrough && settled > this.early) {
      const upTo = Math.min(settled, this.pendingLen);
      out.push(this.pending.slice(this.early, upTo));
      this.early = upTo;
    }
    if (out.length === 0) return null;
    // Every byte of the segment went on as it came: the segment itself.
    const bytes = inPlace && unchanged === len ? src : out.length === 1 ? out[0] : concat(out);
    this.logAppend(startSeq, bytes);
    return { seq: startSeq, bytes };
  }

  private append(bytes: Uint8Array): void {
    const need = this.pendingLen + bytes.length;
    if (need > this.pending.length) {
      const grownBuf = new Uint8Array(Math.max(need, this.pending.length * 2, 2048));
      grownBuf.set(this.pending.subarray(0, this.pendingLen));
      this.pending = grownBuf;
    }
    this.pending.set(bytes, this.pendingLen);
    this.pendingLen = need;
  }

  private consume(n: number): void {
    if (n === 0) return;
    this.pending.copyWithin(0, n, this.pendingLen);
    this.pendingLen -= n;
    this.pendingSeq = add(this.pendingSeq, n);
    this.early = Math.max(0, this.early - n);
  }

  private logAppend(seq: number, bytes: Uint8Array): void {
    if (seq !== add(this.logSeq, this.logLen)) {
      this.logSeq = seq;
      this.logLen = 0;
    }
    if (this.logLen + bytes.length > LOG_CAPACITY) {
      // Keep the newest half: retransmissions of older data are long acknowledged.
      const keep = Math.min(this.logLen, LOG_CAPACITY / 2);
      this.log.copyWithin(0, this.logLen - keep, this.logLen);
      this.logSeq = add(this.logSeq, this.logLen - keep);
      this.logLen = keep;
    }
    const need = this.logLen + bytes.length;
    if (need > this.log.length) {
      const grownBuf = new Uint8Array(Math.min(Math.max(need, this.log.length * 2, 4096), LOG_CAPACITY + bytes.length));
      grownBuf.set(this.log.subarray(0, this.logLen));
      this.log = grownBuf;
    }
    this.log.set(bytes, this.logLen);
    this.logLen = need;
  }

  /** The rewritten bytes for original range [from, to), or null when the log no longer has them. */
  private fromLog(from: number, to: number): Chunk | null {
    const a = this.map.toNew(from);
    const b = this.map.toNew(to);
    const start = diff(a, this.logSeq);
    const stop = diff(b, this.logSeq);
    if (start < 0 || stop > this.logLen || stop < start) return null;
    return { seq: a, bytes: this.log.slice(start, stop) };
  }
}

/** Bytes [from, to) of src to send on: a view of a segment read in place, a copy of `pending` (which moves). */
function copyOf(src: Uint8Array, inPlace: boolean, from: number, to: number): Uint8Array {
  return inPlace ? src.subarray(from, to) : src.slice(from, to);
}

/** Whether a and b agree on their first n bytes. */
function samePrefix(a: Uint8Array, b: Uint8Array, n: number): boolean {
  if (a.length < n || b.length < n) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
