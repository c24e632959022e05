/**
 * Runs a framer the way the ALG framework does (src/alg/tcp-stream.ts's
 * StreamDirection, one FrameResume per direction): a stream fed in pieces,
 * the messages it hands over collected. Shared by the FTP and RTSP framing
 * tests, which check that any split gives the messages of the whole.
 */
import { StreamDirection, type Framer } from '../../src/alg/tcp-stream.js';

export interface Framed {
  /** Complete messages, as text (latin1), in order. */
  messages: string[];
  /** The stream stopped being parsed (not this protocol, or oversize). */
  passedThrough: boolean;
  /** Bytes sent on, in order: always the whole input, unchanged (the handler here rewrites nothing). */
  sent: Uint8Array;
}

const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');

/** Feeds `bytes` in pieces cut at `cuts` (offsets, any order); returns what was framed. */
export function frameInPieces(frame: Framer, bytes: Uint8Array, cuts: readonly number[] = []): Framed {
  const dir = new StreamDirection();
  dir.start(999);
  const messages: string[] = [];
  const out: Uint8Array[] = [];
  const points = [...new Set(cuts.filter((c) => c > 0 && c < bytes.length))].sort((a, b) => a - b);
  let from = 0;
  for (const to of [...points, bytes.length]) {
    const r = dir.feed(1000 + from, bytes.subarray(from, to), frame, (m) => {
      messages.push(text(m));
      return m;
    });
    if (r.kind === 'send') for (const c of r.chunks) out.push(c.bytes);
    else if (r.kind === 'pass') out.push(bytes.subarray(from, to));
    from = to;
  }
  const rest = dir.flush();
  if (rest) out.push(rest.bytes);
  const sent = Buffer.concat(out);
  return { messages, passedThrough: dir.passThrough, sent: new Uint8Array(sent) };
}
