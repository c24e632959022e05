/**
 * The framework's stream direction with a framer that says how much of an
 * incomplete message is settled (never changed by its rewrite): those bytes
 * go on at once and are never sent twice; a rewrite that would change them
 * is not used (the receiver has them already), counted; a retransmission of
 * them is answered from the log; a FIN sends the rest as it is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamDirection, type Chunk, type Framer, type MessageHandler, type StreamEvents } from '../../src/alg/tcp-stream.js';

/** Length-prefixed messages: a 2-byte big-endian length (counting itself), then the body; the prefix is settled. */
const framer: Framer = (b, start, end) => {
  if (end - start < 2) return { kind: 'need-more' };
  const length = (b[start] << 8) | b[start + 1];
  if (length < 2) return { kind: 'error', reason: 'short' };
  return end - start < length ? { kind: 'need-more', settled: 2 } : { kind: 'message', length };
};

/** Upper-cases the body in place (same length, prefix kept). */
const upper: MessageHandler = (m) => m.map((c, i) => (i >= 2 && c >= 97 && c <= 122 ? c - 32 : c));

const ISN = 99;
const msg = (body: string) => Uint8Array.from([0, body.length + 2, ...new TextEncoder().encode(body)]);

function stream() {
  const d = new StreamDirection();
  d.start(ISN);
  const events = { settledChanged: 0 };
  const ev: StreamEvents = { settledChanged: () => events.settledChanged++ };
  /** What goes on for bytes [from, to) of `data`, as [rewritten seq offset, text]. */
  const feed = (data: Uint8Array, from: number, to: number, handle: MessageHandler = upper): Array<[number, string]> => {
    const r = d.feed(ISN + 1 + from, data.subarray(from, to), framer, handle, ev);
    assert.equal(r.kind, 'send');
    return (r as { chunks: Chunk[] }).chunks.map((c) => [c.seq - ISN - 1, new TextDecoder('latin1').decode(c.bytes)]);
  };
  return { d, feed, events };
}

test('settled bytes go on at once; the rest follows rewritten, never the settled bytes twice', () => {
  const { d, feed } = stream();
  const m = msg('hello');
  assert.deepEqual(feed(m, 0, 3), [[0, '\x00\x07']]);
  assert.equal(d.sentUpTo, ISN + 1 + 2);
  assert.deepEqual(feed(m, 3, 5), []);
  assert.deepEqual(feed(m, 5, 7), [[2, 'HELLO']]);
  assert.equal(d.held, 0);
});

test('a retransmission of the settled bytes is answered from the log, unchanged', () => {
  const { feed } = stream();
  const m = msg('abc');
  feed(m, 0, 2);
  assert.deepEqual(feed(m, 0, 2), [[0, '\x00\x05']]);
  assert.deepEqual(feed(m, 0, m.length), [[0, '\x00\x05'], [2, 'ABC']]);
});

test('a message after a whole one: its settled bytes go out with it', () => {
  const { feed } = stream();
  const data = new Uint8Array([...msg('one'), ...msg('two')]);
  assert.deepEqual(feed(data, 0, 7), [[0, '\x00\x05ONE\x00\x05']]);
  assert.deepEqual(feed(data, 7, data.length), [[7, 'TWO']]);
});

test('a rewrite that would change the settled bytes (or drop the message) is not used: the message passes, counted', () => {
  for (const handle of [(m: Uint8Array) => new Uint8Array([0, m.length + 1, ...m.subarray(2), 33]), () => new Uint8Array(0)] as MessageHandler[]) {
    const { feed, events } = stream();
    const m = msg('xy');
    feed(m, 0, 2, handle);
    assert.deepEqual(feed(m, 2, m.length, handle), [[2, 'xy']]);
    assert.equal(events.settledChanged, 1);
  }
});

test('a FIN while a message is incomplete: the rest of what is held goes out, not the settled bytes again', () => {
  const { d, feed } = stream();
  const m = msg('abcdef');
  feed(m, 0, 4);
  const rest = d.flush();
  assert.ok(rest);
  assert.equal(rest.seq, ISN + 1 + 2);
  assert.equal(new TextDecoder().decode(rest.bytes), 'ab');
  assert.equal(d.held, 0);
});
