/**
 * patchPayload: a same-length rewrite written into the packet with the
 * checksum updated for the changed words must give the checksum a full
 * computation gives, for TCP and UDP, any lengths, any changed bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { patchPayload } from '../../src/alg/payload-patch.js';
import { computeTcpChecksum, fillTcpChecksum, TCP } from '../../src/wire/tcp.js';
import { fillUdpChecksum, UDP } from '../../src/wire/udp.js';
import { tcpPkt, udpPkt } from '../nat/packets.js';

const HL = 20;
const TCP_HL = 20;

function checksumAt(b: Uint8Array, at: number): number {
  return (b[at] << 8) | b[at + 1];
}

/** A new payload of the same length: `edits` bytes overwritten at chosen offsets. */
const rewrite = fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 40 }));

test('TCP: the patched checksum equals a full computation, the payload is the new one, nothing else changes', () => {
  fc.assert(
    fc.property(rewrite, ([payload, edits]) => {
      const pkt = tcpPkt('10.0.0.2:40000', '198.51.100.10:1720', 0x18, 1000, 5000, payload);
      const next = payload.slice();
      for (const [at, v] of edits) next[at % next.length] = v;
      const patched = pkt.slice();
      patchPayload(patched, HL + TCP.CHECKSUM, HL + TCP_HL, next, false);
      const full = patched.slice();
      fillTcpChecksum(full, 0);
      assert.deepEqual(patched.subarray(HL + TCP_HL), next);
      assert.deepEqual(patched.subarray(0, HL + TCP.CHECKSUM), pkt.subarray(0, HL + TCP.CHECKSUM));
      assert.equal(checksumAt(patched, HL + TCP.CHECKSUM), checksumAt(full, HL + TCP.CHECKSUM));
      assert.equal(computeTcpChecksum(patched, 0), checksumAt(patched, HL + TCP.CHECKSUM));
    }),
    { numRuns: 2000 },
  );
});

test('UDP: the patched checksum equals a full computation (0 sent as 0xffff); a datagram without a checksum keeps none', () => {
  fc.assert(
    fc.property(rewrite, fc.boolean(), ([payload, edits], withChecksum) => {
      const pkt = udpPkt('10.0.0.2:1719', '198.51.100.1:1719', payload);
      if (!withChecksum) pkt[HL + UDP.CHECKSUM] = pkt[HL + UDP.CHECKSUM + 1] = 0;
      const next = payload.slice();
      for (const [at, v] of edits) next[at % next.length] = v;
      const patched = pkt.slice();
      patchPayload(patched, HL + UDP.CHECKSUM, HL + 8, next, true);
      assert.deepEqual(patched.subarray(HL + 8), next);
      if (!withChecksum) return void assert.equal(checksumAt(patched, HL + UDP.CHECKSUM), 0);
      const full = patched.slice();
      fillUdpChecksum(full, 0);
      assert.equal(checksumAt(patched, HL + UDP.CHECKSUM), checksumAt(full, HL + UDP.CHECKSUM));
    }),
    { numRuns: 2000 },
  );
});

test('a change between the two zeros of one\'s complement (0x0000 and 0xffff words) still gives the full checksum', () => {
  const payload = new Uint8Array([0xff, 0xff, 0x12, 0x34, 0x00, 0x00, 0x7f]);
  const next = new Uint8Array([0x00, 0x00, 0x12, 0x34, 0xff, 0xff, 0x80]);
  const pkt = tcpPkt('10.0.0.2:40000', '198.51.100.10:1720', 0x18, 1, 1, payload);
  patchPayload(pkt, HL + TCP.CHECKSUM, HL + TCP_HL, next, false);
  assert.equal(computeTcpChecksum(pkt, 0), checksumAt(pkt, HL + TCP.CHECKSUM));
});

/** Spans (start, length up to 8) at any offset, odd or even, overlapping or not, each overwritten with new bytes. */
const spanRewrite = fc.tuple(
  fc.uint8Array({ minLength: 1, maxLength: 300 }),
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 8 }), fc.uint8Array({ minLength: 8, maxLength: 8 })), { maxLength: 12 }),
);

test('changed spans: the packet and checksum come out as a whole-message compare makes them, for spans at odd offsets, overlapping, and at an odd end', () => {
  fc.assert(
    fc.property(spanRewrite, fc.boolean(), ([payload, spans], isUdp) => {
      const pkt = isUdp ? udpPkt('10.0.0.2:1719', '198.51.100.1:1719', payload) : tcpPkt('10.0.0.2:40000', '198.51.100.10:1720', 0x18, 1000, 5000, payload);
      const [sumAt, payloadAt] = isUdp ? [HL + UDP.CHECKSUM, HL + 8] : [HL + TCP.CHECKSUM, HL + TCP_HL];
      const next = payload.slice();
      const changed = new Int32Array(2 * spans.length);
      spans.forEach(([start, len, bytes], i) => {
        const s = start % next.length;
        const e = Math.min(s + len, next.length);
        next.set(bytes.subarray(0, e - s), s);
        changed[2 * i] = s;
        changed[2 * i + 1] = e;
      });
      const bySpans = pkt.slice();
      patchPayload(bySpans, sumAt, payloadAt, next, isUdp, changed, spans.length);
      const whole = pkt.slice();
      patchPayload(whole, sumAt, payloadAt, next, isUdp);
      assert.deepEqual(bySpans, whole);
      assert.deepEqual(bySpans.subarray(payloadAt), next);
    }),
    { numRuns: 3000 },
  );
});

/** A TCP packet with a zeroed payload of `length` octets, and that payload with `octets` (offset, value) written in. */
function zeroedAndChanged(length: number, octets: [number, number][]): { pkt: Uint8Array; next: Uint8Array } {
  const payload = new Uint8Array(length);
  const next = payload.slice();
  for (const [at, v] of octets) next[at] = v;
  return { pkt: tcpPkt('10.0.0.2:40000', '198.51.100.10:1720', 0x18, 1, 1, payload), next };
}

test('changed spans: a change outside every span is not written (the spans are trusted, so an ALG must name every one)', () => {
  const { pkt, next } = zeroedAndChanged(16, [
    [3, 0xaa],
    [12, 0xbb],
  ]);
  patchPayload(pkt, HL + TCP.CHECKSUM, HL + TCP_HL, next, false, new Int32Array([2, 4]), 1);
  assert.equal(pkt[HL + TCP_HL + 3], 0xaa);
  assert.equal(pkt[HL + TCP_HL + 12], 0);
  assert.equal(computeTcpChecksum(pkt, 0), checksumAt(pkt, HL + TCP.CHECKSUM));
});

test('changed spans: a span reaching outside the message writes nothing outside it', () => {
  const { pkt, next } = zeroedAndChanged(8, [
    [0, 0x11],
    [7, 0x22],
  ]);
  const before = pkt.slice();
  patchPayload(pkt, HL + TCP.CHECKSUM, HL + TCP_HL, next, false, new Int32Array([-6, 1, 7, 40]), 2);
  assert.deepEqual(pkt.subarray(0, HL + TCP.CHECKSUM), before.subarray(0, HL + TCP.CHECKSUM));
  assert.deepEqual(pkt.subarray(HL + TCP.CHECKSUM + 2, HL + TCP_HL), before.subarray(HL + TCP.CHECKSUM + 2, HL + TCP_HL));
  assert.deepEqual(pkt.subarray(HL + TCP_HL), next);
  assert.equal(pkt.length, before.length);
  assert.equal(computeTcpChecksum(pkt, 0), checksumAt(pkt, HL + TCP.CHECKSUM));
});
