/**
 * Call signalling as a TCP stream through the engine: a Setup split at
 * every byte offset is rewritten the same (the kernel passes a split message
 * unrewritten unless the split is right after the TPKT header), one byte a
 * segment, NetMeeting's header alone, two messages in one segment,
 * keep-alives, a retransmission rewritten identically, and a message that
 * does not decode, passed while the stream goes on being read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { vector, withAddresses } from './oracle-vectors.js';
import { addressesIn, concat, h323Engine, PEER, PUBLIC, setupFromX, TcpSession, X } from './session.js';

function session() {
  const t = h323Engine();
  const q931 = new TcpSession(t.engine, `${X}:40000`, `${PEER}:1720`);
  q931.open();
  return { ...t, q931 };
}

/** What the engine sends for the Setup in one segment: the reference. */
const reference = (() => session().q931.fromInside(setupFromX()))();

test('a Setup split at every byte offset across two segments is rewritten exactly as the whole one', () => {
  const setup = setupFromX();
  for (let cut = 1; cut < setup.length; cut++) {
    const { q931 } = session();
    assert.deepEqual(q931.fromInside(setup, [cut]), reference, `cut at ${cut}`);
  }
});

test('property: a Setup cut anywhere into several segments is rewritten the same', () => {
  const setup = setupFromX();
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: 1, max: setup.length - 1 }), { maxLength: 12 }), (cuts) => {
      const { q931 } = session();
      assert.deepEqual(q931.fromInside(setup, cuts), reference);
    }),
    { numRuns: 300 },
  );
});

test('one byte a segment: the same rewrite', () => {
  const setup = setupFromX();
  const { q931 } = session();
  assert.deepEqual(q931.fromInside(setup, Array.from({ length: setup.length }, (_, i) => i)), reference);
});

test('NetMeeting: the TPKT header alone in its own segment goes on at once, as it came; the body follows rewritten', () => {
  // Held, the header is never acknowledged, and a caller whose retransmission
  // timer fired sends no body until it is (alg-split-header-orderings.test.ts).
  const { q931 } = session();
  const setup = setupFromX();
  const first = q931.fromInside(setup.subarray(0, 4));
  assert.deepEqual(first, setup.subarray(0, 4));
  assert.deepEqual(first, reference.subarray(0, 4));
  assert.deepEqual(concat([first, q931.fromInside(setup.subarray(4))]), reference);
});

test('two messages in one segment are each rewritten; an empty TPKT between them is a keep-alive passed as it is', () => {
  const { q931, alg } = session();
  const two = withAddresses(vector('two-messages-one-segment'), { 0: [X, 6000], 1: [X, 6000] });
  const firstLength = (two[2] << 8) | two[3];
  const withKeepAlive = concat([two.subarray(0, firstLength), Uint8Array.from([3, 0, 0, 4]), two.subarray(firstLength)]);
  const out = q931.fromInside(withKeepAlive);
  const addrs = addressesIn(out, 'q931');
  assert.equal(addrs.length, 2);
  assert.ok(addrs.every((a) => a.startsWith(`${PUBLIC}:`)));
  assert.equal(addrs[0], addrs[1], 'the same H.245 address of the same call: one pinhole, one public port');
  assert.deepEqual([...out.subarray(firstLength, firstLength + 4)], [3, 0, 0, 4]);
  assert.equal(alg.counters().tpktKeepAlives, 1);
});

test('a retransmitted segment gets the identical rewrite', () => {
  const { q931, alg } = session();
  const setup = setupFromX();
  const cut = 60;
  const first = q931.fromInside(setup, [cut]);
  const again = q931.retransmitFromInside(setup, 0, setup.length);
  assert.deepEqual(again, first);
  const part = q931.retransmitFromInside(setup, cut, setup.length);
  assert.deepEqual(part, first.subarray(cut));
  assert.ok(alg.counters().retransmissionsRewritten >= 2);
});

test('a message whose PER does not decode passes unmodified and is counted; the next message on the stream is still rewritten', () => {
  const { q931, alg } = session();
  const broken = setupFromX();
  // Cut the User-User contents short inside the PER (the TPKT and Q.931 lengths say so: well framed).
  const bad = Uint8Array.from(broken.subarray(0, 40));
  bad[2] = 0;
  bad[3] = 40;
  bad[10] = 0;
  bad[11] = 40 - 12;
  const out = q931.fromInside(concat([bad, setupFromX()]));
  assert.deepEqual(out.subarray(0, 40), bad);
  assert.deepEqual(out.subarray(40), reference);
  assert.equal(alg.counters().malformed, 1);
});

test('a stream that is not TPKT (HTTP on 1720) passes untouched for good', () => {
  const { q931, alg } = session();
  const http = new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.deepEqual(q931.fromInside(http), http);
  const setup = setupFromX();
  assert.deepEqual(q931.fromInside(setup), setup, 'a Setup after it is not trusted to start at a boundary');
  assert.equal(alg.counters().streamsNotThisProtocol, 1);
});
