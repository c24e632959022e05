/**
 * A segment that arrives with nothing held is framed where it is: whole
 * messages the handler leaves alone send the segment on as it came (no copy);
 * an incomplete message at its end is held and completed by the next
 * segment; a rewrite, a retransmission and a stream that is not the
 * protocol come out as they do through the held-bytes path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamDirection, type Chunk, type Framer, type MessageHandler } from '../../src/alg/tcp-stream.js';

/** Lines ending in LF; a line starting with '!' is not the protocol. */
const lines: Framer = (b, start, end) => {
  if (b[start] === 0x21) return { kind: 'error', reason: 'not lines' };
  for (let i = start; i < end; i++) if (b[i] === 0x0a) return { kind: 'message', length: i + 1 - start };
  return { kind: 'need-more' };
};
const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');
const ISN = 1000;

function direction() {
  const d = new StreamDirection();
  d.start(ISN - 1);
  const seen: Uint8Array[] = [];
  const keep: MessageHandler = (m) => {
    seen.push(m);
    return m;
  };
  return { d, seen, keep };
}

test('whole messages left alone: the segment passes, the messages are views of it', () => {
  const { d, seen, keep } = direction();
  const seg = bytes('PASV\r\nSIZE f1\r\n');
  const r = d.feed(ISN, seg, lines, keep);
  assert.equal(r.kind, 'pass');
  assert.deepEqual(seen.map(text), ['PASV\r\n', 'SIZE f1\r\n']);
  assert.equal(seen[0].buffer, seg.buffer, 'framed in place, not copied');
  assert.equal(d.held, 0);
  assert.ok(d.map.identity);
});

test('an incomplete message at the end is held, then completed by the next segment', () => {
  const { d, seen, keep } = direction();
  const a = d.feed(ISN, bytes('RETR f1\r\nMDTM '), lines, keep);
  assert.equal(a.kind, 'send');
  const sent = (a as { chunks: Chunk[] }).chunks;
  assert.deepEqual(sent.map((c) => [c.seq, text(c.bytes)]), [[ISN, 'RETR f1\r\n']]);
  assert.equal(d.held, 5);
  const b = d.feed(ISN + 14, bytes('f1\r\nNOOP\r\n'), lines, keep);
  assert.equal(b.kind, 'send');
  assert.deepEqual((b as { chunks: Chunk[] }).chunks.map((c) => [c.seq, text(c.bytes)]), [[ISN + 9, 'MDTM f1\r\nNOOP\r\n']]);
  assert.deepEqual(seen.map(text), ['RETR f1\r\n', 'MDTM f1\r\n', 'NOOP\r\n']);
  assert.equal(d.held, 0);
});

test('a rewrite in a segment read in place: new bytes, the map moves, a retransmission gets the same bytes', () => {
  const { d } = direction();
  const grow: MessageHandler = (m) => (text(m).startsWith('227') ? bytes('227 (203,0,113,1,1,2)\r\n') : m);
  const seg = bytes('150 ok\r\n227 (10,0,0,2,1,2)\r\n');
  const r = d.feed(ISN, seg, lines, grow);
  assert.equal(r.kind, 'send');
  const out = (r as { chunks: Chunk[] }).chunks;
  assert.equal(out.length, 1);
  assert.equal(text(out[0].bytes), '150 ok\r\n227 (203,0,113,1,1,2)\r\n');
  assert.equal(seg[0], 0x31, 'the segment itself is not written');
  assert.equal(d.map.toNew(ISN + seg.length), ISN + out[0].bytes.length);
  const again = d.feed(ISN, seg, lines, grow);
  assert.equal(again.kind, 'send');
  assert.equal(text((again as { chunks: Chunk[] }).chunks[0].bytes), text(out[0].bytes));
  // A later unchanged segment passes (its sequence number is moved by the caller through the map).
  assert.equal(d.feed(ISN + seg.length, bytes('226 done\r\n'), lines, grow).kind, 'pass');
});

test('a retransmission of a segment that passed is answered from the log, unchanged', () => {
  const { d, keep } = direction();
  const seg = bytes('PASV\r\n');
  assert.equal(d.feed(ISN, seg, lines, keep).kind, 'pass');
  const again = d.feed(ISN, seg, lines, keep);
  assert.equal(again.kind, 'send');
  assert.equal(text((again as { chunks: Chunk[] }).chunks[0].bytes), 'PASV\r\n');
});

test('not the protocol after a message: the rest goes on as it came, and the stream passes from then on', () => {
  const { d, seen, keep } = direction();
  const r = d.feed(ISN, bytes('USER a\r\n!binary'), lines, keep);
  assert.equal(r.kind, 'send');
  assert.equal(text(Buffer.concat((r as { chunks: Chunk[] }).chunks.map((c) => c.bytes))), 'USER a\r\n!binary');
  assert.ok(d.passThrough);
  assert.equal(d.feed(ISN + 15, bytes('PORT x\r\n'), lines, keep).kind, 'pass');
  assert.deepEqual(seen.map(text), ['USER a\r\n']);
});
