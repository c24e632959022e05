import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StunStreamError, StunStreamSplitter } from '../../src/stun/framing.js';
import { encodeStunMessage } from '../../src/stun/message.js';

const tid = new Uint8Array(12);
const m1 = encodeStunMessage({ cls: 'request', method: 1, transactionId: tid, attributes: [] });
const m2 = encodeStunMessage({ cls: 'request', method: 1, transactionId: tid, attributes: [{ type: 'SOFTWARE', value: 'hello' }] });

test('messages back to back split at their announced lengths, whatever the chunking', () => {
  const stream = new Uint8Array([...m1, ...m2, ...m1]);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 10 }), (cuts) => {
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      const s = new StunStreamSplitter();
      const out: Uint8Array[] = [];
      let at = 0;
      for (const p of [...points, stream.length]) {
        out.push(...s.push(stream.subarray(at, p)));
        at = p;
      }
      assert.deepEqual(out, [m1, m2, m1]);
      assert.equal(s.pending, 0);
    }),
  );
});

test('bytes that are not a STUN header end the stream with an error', () => {
  const s = new StunStreamSplitter();
  assert.deepEqual(s.push(m1), [m1]);
  assert.throws(() => s.push(new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n')), StunStreamError);
  const t = new StunStreamSplitter();
  assert.throws(() => t.push(Uint8Array.from([0x40, 0, 0, 4])), StunStreamError, 'ChannelData is not served');
});
