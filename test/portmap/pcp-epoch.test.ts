/**
 * The client's epoch check (RFC 6887 8.5): a server restart shows as an
 * epoch that went back, or that advanced far less than the client's clock;
 * rounding and a little drift do not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PcpEpochTracker } from '../../src/portmap/pcp-epoch.js';

test('a server that keeps running: its epoch follows the client\'s clock, with rounding', () => {
  const t = new PcpEpochTracker();
  assert.equal(t.observe(1000, 5_000), 'first');
  assert.equal(t.observe(1060, 65_000), 'ok');
  assert.equal(t.observe(1059, 65_900), 'ok', 'a second back is rounding');
  assert.equal(t.observe(4659, 3_665_900), 'ok');
  // 1/16 drift over an hour, plus 2 s, is tolerated.
  assert.equal(t.observe(4659 + 3600 - 200, 7_265_900), 'ok');
});

test('a server restart: the epoch goes back (it began again at 0)', () => {
  const t = new PcpEpochTracker();
  t.observe(7200, 0);
  t.observe(7260, 60_000);
  assert.equal(t.observe(3, 70_000), 'lost-state');
  // The new epoch is the reference from then on.
  assert.equal(t.observe(63, 130_000), 'ok');
});

test('a server restart seen late: the epoch advanced far less than the client\'s time', () => {
  const t = new PcpEpochTracker();
  t.observe(20, 0);
  // Down for a while, back for 30 s: epoch 30 after 10 minutes of client time.
  assert.equal(t.observe(30, 600_000), 'lost-state');
});

test('an epoch far ahead of the client\'s time is not this server\'s (another box behind the address)', () => {
  const t = new PcpEpochTracker();
  t.observe(100, 0);
  assert.equal(t.observe(100_000, 10_000), 'lost-state');
});

test('property: a server whose epoch is the client\'s elapsed time, floored, is never taken for a restarted one', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.array(fc.integer({ min: 0, max: 86_400_000 }), { minLength: 1, maxLength: 30 }), (origin, steps) => {
      const t = new PcpEpochTracker();
      let clientMs = 0;
      assert.equal(t.observe(Math.floor(origin / 1000), 0), 'first');
      for (const s of steps) {
        clientMs += s;
        assert.equal(t.observe(Math.floor((origin + clientMs) / 1000), clientMs), 'ok');
      }
    }),
  );
});
