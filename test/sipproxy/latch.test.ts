/**
 * Latching with a strict source (RTP Bleed, CVE-2025-53399): a port learns
 * from one eligible packet inside a window an offer/answer opens, and from
 * then on accepts only that source.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Latch, WINDOW_PACKETS } from '../../src/sipproxy/media/latch.js';

const NAT = '203.0.113.1';
const ATTACKER = '198.51.100.66';

test('learns the first packet from the signalling address, then accepts only that address and port', () => {
  const l = new Latch('signalling-address', NAT, null);
  assert.equal(l.accept(ATTACKER, 4000), false, 'a stranger may not latch the port');
  assert.equal(l.latched, false);
  assert.equal(l.accept(NAT, 40312), true);
  assert.equal(l.latched, true);
  assert.equal(l.windowOpen, false, 'one packet closes the window');
  assert.equal(l.accept(NAT, 40313), false, 'same address, other port: refused');
  assert.equal(l.accept(ATTACKER, 40312), false);
  assert.equal(l.accept(NAT, 40312), true);
  assert.deepEqual([l.accepted, l.refused, l.latches], [2, 3, 1]);
});

test('the public address named in the SDP is eligible too', () => {
  const l = new Latch('signalling-address', NAT, '192.0.2.9');
  assert.equal(l.accept('192.0.2.9', 5004), true);
  assert.equal(l.address, '192.0.2.9');
});

test("mode 'any' learns from anyone, but still only inside the window", () => {
  const l = new Latch('any', NAT, null);
  assert.equal(l.accept(ATTACKER, 1), true);
  assert.equal(l.accept(NAT, 2), false);
});

test('a new offer/answer re-opens the window; the old source keeps flowing and closes it after a few packets', () => {
  const l = new Latch('signalling-address', NAT, null);
  l.accept(NAT, 1000);
  l.reopen(NAT, null);
  assert.equal(l.windowOpen, true);
  for (let i = 1; i < WINDOW_PACKETS; i++) assert.equal(l.accept(NAT, 1000), true);
  assert.equal(l.windowOpen, true);
  assert.equal(l.accept(NAT, 1000), true);
  assert.equal(l.windowOpen, false, `closed after ${WINDOW_PACKETS} packets from the same source`);
  assert.equal(l.accept(NAT, 2000), false, 'too late to move');
});

test('re-opened, the phone moves: its new port is learned, the old one refused', () => {
  const l = new Latch('signalling-address', NAT, null);
  l.accept(NAT, 1000);
  l.reopen('203.0.113.7', null);
  assert.equal(l.accept(NAT, 1000), true, 'the old source until another is learned');
  assert.equal(l.accept('203.0.113.7', 3000), true);
  assert.equal(l.accept(NAT, 1000), false);
  assert.equal(l.latches, 2);
});

test('property: whatever a sprayer sends, before or after the phone, it is never accepted and never diverts the media', () => {
  const packet = fc.record({ fromAttacker: fc.boolean(), port: fc.integer({ min: 1, max: 65535 }) });
  fc.assert(
    fc.property(fc.array(packet, { maxLength: 60 }), fc.integer({ min: 1, max: 65535 }), fc.array(fc.nat(59), { maxLength: 3 }), (packets, phonePort, reopenAt) => {
      const l = new Latch('signalling-address', NAT, null);
      let phoneSeen = false;
      packets.forEach((p, i) => {
        if (reopenAt.includes(i)) l.reopen(NAT, null);
        if (p.fromAttacker) assert.equal(l.accept(ATTACKER, p.port), false);
        else {
          const ok = l.accept(NAT, phonePort);
          assert.equal(ok, true, 'the phone always gets through from one source');
          phoneSeen = true;
        }
        if (l.latched) assert.equal(l.address, NAT);
      });
      assert.equal(l.latched, phoneSeen);
    }),
    { numRuns: 500 },
  );
});
