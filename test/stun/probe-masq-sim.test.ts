/**
 * The probe and the server through masq's own simulator (src/dataplane/sim):
 * the NAT boxes run the masq NAT engine, so this checks the probe's verdicts
 * against every named NAT profile, the way `masq lab nat-types` runs them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NAT_PROFILES, type NatProfile, type NatProfileName } from '../../src/dataplane/sim/index.js';
import { probeInSim } from '../../src/lab/nat-types.js';
import type { NatBehaviour } from '../../src/stun/client/probe.js';

const NAMES: Record<string, NatBehaviour> = {
  eim: 'endpoint-independent',
  adm: 'address-dependent',
  apdm: 'address-and-port-dependent',
  eif: 'endpoint-independent',
  adf: 'address-dependent',
  apdf: 'address-and-port-dependent',
};

/** The probe's verdicts behind a masq NAT box configured with `profile` (as `masq lab nat-types` runs it). */
function probeBehind(profile: Partial<NatProfile>) {
  return probeInSim(profile, { seed: 7 });
}

for (const name of Object.keys(NAT_PROFILES) as NatProfileName[]) {
  const profile: NatProfile = NAT_PROFILES[name];
  test(`sim NAT profile ${name}: the probe reports its mapping and filtering`, async () => {
    const r = await probeBehind(profile);
    assert.equal(r.natDetected, true);
    assert.equal(r.mapped?.address, '203.0.113.1');
    assert.deepEqual(r.mapping, { value: NAMES[profile.mapping as string] });
    assert.deepEqual(r.filtering, { value: NAMES[profile.filtering as string] });
    if (name.startsWith('linux-')) assert.deepEqual(r.hairpinning, { value: false });
  });
}

test('sim: port preservation follows the port allocation policy', async () => {
  assert.deepEqual((await probeBehind(NAT_PROFILES['symmetric-preserve'])).portPreservation, { value: true });
  assert.deepEqual((await probeBehind(NAT_PROFILES['symmetric-sequential'])).portPreservation, { value: false });
});

test('sim: hairpinning is seen when the NAT box hairpins', async () => {
  assert.deepEqual((await probeBehind({ ...NAT_PROFILES['port-restricted'], hairpin: true })).hairpinning, { value: true });
  assert.deepEqual((await probeBehind({ ...NAT_PROFILES['port-restricted'], hairpin: false })).hairpinning, { value: false });
});
