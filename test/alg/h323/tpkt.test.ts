/** TPKT framing (RFC 1006): boundaries at any split, several messages in one read, keep-alives, and what is not TPKT. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { frameTpkt } from '../../../src/alg/h323/tpkt.js';

const msg = (body: number[]) => Uint8Array.from([3, 0, (body.length + 4) >> 8, (body.length + 4) & 255, ...body]);

test('a whole message is framed with its length; fewer bytes than that need more (the header, once whole, settled)', () => {
  const m = msg([8, 2, 0, 1, 5]);
  assert.deepEqual(frameTpkt(m, 0, m.length), { kind: 'message', length: 9 });
  for (let n = 0; n < 4; n++) assert.deepEqual(frameTpkt(m, 0, n), { kind: 'need-more' }, `${n} bytes`);
  for (let n = 4; n < m.length; n++) assert.deepEqual(frameTpkt(m, 0, n), { kind: 'need-more', settled: 4 }, `${n} bytes`);
});

test('the 4-byte header alone (NetMeeting sends it in its own segment) waits for the body, and is settled: it goes on at once', () => {
  const m = msg([8, 2, 0, 1, 5]);
  assert.deepEqual(frameTpkt(m.subarray(0, 4), 0, 4), { kind: 'need-more', settled: 4 });
});

test('an empty TPKT (03 00 00 04) is a keep-alive: a whole thing to pass on, not the start of a message', () => {
  const b = Uint8Array.from([3, 0, 0, 4, ...msg([1, 2, 3])]);
  assert.deepEqual(frameTpkt(b, 0, b.length), { kind: 'skip', length: 4 });
  assert.deepEqual(frameTpkt(b, 4, b.length), { kind: 'message', length: 7 });
});

test('several messages in one read are framed one after another, from each boundary', () => {
  const a = msg([1]);
  const b = msg([2, 2]);
  const both = Uint8Array.from([...a, ...b]);
  assert.deepEqual(frameTpkt(both, 0, both.length), { kind: 'message', length: a.length });
  assert.deepEqual(frameTpkt(both, a.length, both.length), { kind: 'message', length: b.length });
});

test('not TPKT: a wrong version or reserved byte, or a length below the header, is an error at once', () => {
  assert.equal(frameTpkt(Uint8Array.from([0x47, 0x45]), 0, 2).kind, 'error'); // "GE" (an HTTP GET)
  assert.equal(frameTpkt(Uint8Array.from([3, 1]), 0, 2).kind, 'error');
  assert.equal(frameTpkt(Uint8Array.from([3, 0, 0, 3]), 0, 4).kind, 'error');
  assert.equal(frameTpkt(Uint8Array.from([3, 0, 0, 0]), 0, 4).kind, 'error');
});

test('property: framing never reads past the end it is given, and agrees however the stream is cut', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ minLength: 0, maxLength: 40 }), { maxLength: 6 }), fc.nat(200), (bodies, cut) => {
      const stream = Uint8Array.from(bodies.flatMap((b) => [...msg([...b])]));
      let at = 0;
      for (const b of bodies) {
        const end = Math.min(stream.length, at + (cut % (b.length + 5)));
        const partial = frameTpkt(stream, at, end);
        if (end - at < b.length + 4) assert.equal(partial.kind, b.length === 0 && end - at >= 4 ? 'skip' : 'need-more');
        const whole = frameTpkt(stream, at, stream.length);
        assert.deepEqual(whole, { kind: b.length === 0 ? 'skip' : 'message', length: b.length + 4 });
        at += b.length + 4;
      }
    }),
  );
});
