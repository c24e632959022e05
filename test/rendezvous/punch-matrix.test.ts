/**
 * Hole punching between every ordered pair of NAT profiles in the simulator,
 * each against the outcome written in EXPECTED below (derived from what each
 * NAT does, see src/lab/punch/profiles.ts, and checked against that
 * derivation here):
 * - direct and predicted cells connect that way on every seed;
 * - birthday cells connect directly within 1024 probes on at least 95% of seeds;
 * - relay cells fall back to the relay, within a bounded time, on every seed.
 * Data crosses every final path in both directions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectedOutcome, PUNCH_PROFILES, punchProfile, SPECIAL_SCENARIOS, type Outcome } from '../../src/lab/punch/profiles.js';
import { birthdayBoundMs, relayBoundMs } from '../../src/lab/punch/matrix.js';
import { buildSpecial, runPair, runPunch } from '../../src/lab/punch/scenario.js';
import { DEFAULT_BIRTHDAY } from '../../src/rendezvous/client/birthday.js';

const D = 'direct';
const P = 'predicted';
const B = 'birthday';
const R = 'relay';

/** Rows: side A (joins first); columns: side B, in PUNCH_PROFILES order. */
const NAMES = ['open', 'eim-eif', 'eim-adf', 'eim-apdf', 'apdm-preserve', 'apdm-sequential', 'apdm-random', 'cgn'];
const EXPECTED: Record<string, Outcome[]> = {
  open: /*             */ [D, D, D, D, P, P, D, D],
  'eim-eif': /*        */ [D, D, D, D, P, P, D, D],
  'eim-adf': /*        */ [D, D, D, D, P, P, D, D],
  'eim-apdf': /*       */ [D, D, D, D, P, P, B, D],
  'apdm-preserve': /*  */ [P, P, P, P, P, P, R, P],
  'apdm-sequential': /**/ [P, P, P, P, P, P, R, P],
  'apdm-random': /*    */ [D, D, D, B, R, R, R, B],
  cgn: /*              */ [D, D, D, D, P, P, B, D],
};

const SEEDS = 3;
const BIRTHDAY_SEEDS = 20;

test('the written table is the one the NAT behaviours imply', () => {
  assert.deepEqual(NAMES, PUNCH_PROFILES.map((p) => p.name));
  for (const a of NAMES) {
    for (const [i, b] of NAMES.entries()) assert.equal(EXPECTED[a][i], expectedOutcome(punchProfile(a), punchProfile(b)), `${a} x ${b}`);
  }
});

for (const a of NAMES) {
  for (const [i, b] of NAMES.entries()) {
    const expected = EXPECTED[a][i];
    test(`${a} x ${b}: ${expected}`, async () => {
      const seeds = expected === 'birthday' ? BIRTHDAY_SEEDS : SEEDS;
      let hits = 0;
      for (let seed = 1; seed <= seeds; seed++) {
        const r = await runPair(punchProfile(a), punchProfile(b), { seed });
        const where = `seed ${seed}: ${JSON.stringify(r)}`;
        if (expected === 'birthday') {
          // A miss is allowed (5%), but even then the relay carries the peers.
          assert.ok(r.outcome === 'birthday' || r.outcome === 'relay', where);
          if (r.outcome === 'birthday') {
            hits++;
            assert.ok(r.birthdayProbes <= DEFAULT_BIRTHDAY.maxProbes, where);
            assert.ok(r.timeToDirectMs! <= birthdayBoundMs(), where);
          }
        } else {
          assert.equal(r.outcome, expected, where);
          hits++;
          if (expected === 'relay') assert.ok(r.timeToPathMs !== null && r.timeToPathMs <= relayBoundMs(), where);
        }
        assert.equal(r.dataDelivered, true, where);
      }
      if (expected === 'birthday') assert.ok(hits >= 0.95 * seeds, `birthday hit ${hits}/${seeds}`);
    });
  }
}

for (const s of SPECIAL_SCENARIOS) {
  test(`${s.name}: ${s.expected}${s.expectedKind ? ` (${s.expectedKind})` : ''}`, async () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const hold = s.name === 'timeout-20s' ? 180_000 : 0;
      const r = await runPunch(buildSpecial(s.name, seed), { seed, holdMs: hold });
      const where = `seed ${seed}: ${JSON.stringify(r)}`;
      assert.equal(r.outcome, s.expected, where);
      if (s.expectedKind) assert.deepEqual(r.kinds, [s.expectedKind, s.expectedKind], where);
      if (s.expected === 'relay') assert.ok(r.timeToPathMs !== null && r.timeToPathMs <= relayBoundMs(), where);
      // Three minutes through 20-second NATs: the keepalives held the path, nothing was lost.
      if (s.name === 'timeout-20s') assert.equal(r.repunches, 0, where);
      assert.equal(r.dataDelivered, true, where);
    }
  });
}
