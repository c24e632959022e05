/**
 * The probe and the server through masq's own simulator (src/dataplane/sim):
 * the NAT boxes run the masq NAT engine, so this checks the probe's verdicts
 * against every named NAT profile, the way `masq lab nat-types` runs them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NAT_PROFILES, Simulator, type NatProfile, type NatProfileName } from '../../src/dataplane/sim/index.js';
import { StunUdpServer } from '../../src/stun/server/udp-server.js';
import { probeNatBehaviour, type NatBehaviour } from '../../src/stun/client/probe.js';

const NAMES: Record<string, NatBehaviour> = {
  eim: 'endpoint-independent',
  adm: 'address-dependent',
  apdm: 'address-and-port-dependent',
  eif: 'endpoint-independent',
  adf: 'address-dependent',
  apdf: 'address-and-port-dependent',
};

async function probeBehind(profile: Partial<NatProfile>) {
  const sim = new Simulator({ seed: 7 });
  const internet = sim.segment('internet');
  const lan = sim.segment('lan');
  sim.nat('home', { inside: [lan, '192.168.1.1/24'], outside: [internet, '203.0.113.1/24'], config: profile });
  const alice = sim.host('alice', lan, '192.168.1.2/24', '192.168.1.1');
  const server = sim.host('server', internet, '198.51.100.10/24');
  server.attach(internet, '198.51.100.11/24');
  const stun = await sim.complete(
    StunUdpServer.start(server.env, {
      addresses: { primary: { address: '198.51.100.10', port: 3478 }, alternate: { address: '198.51.100.11', port: 3479 } },
    }),
    1_000,
  );
  try {
    // RFC 8489 timings (39.5 s per unanswered transaction) cost nothing on virtual time.
    return await sim.complete(probeNatBehaviour(alice.env, { address: '198.51.100.10', port: 3478 }, { localAddress: '192.168.1.2' }), 600_000);
  } finally {
    stun.close();
  }
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
