/**
 * The real server and the real probe, both on NetEnv, through a fake NAT on a
 * virtual clock: every mapping x filtering combination, hairpinning, port
 * preservation and mapping lifetime, with RFC 8489's full retransmission
 * timings (39.5 s per failed transaction) costing no wall time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeNetwork, type NatConfig } from './fixtures/fake-nat-net.js';
import { StunUdpServer } from '../../src/stun/server/udp-server.js';
import { probeNatBehaviour, type NatBehaviour, type ProbeOptions } from '../../src/stun/client/probe.js';

const behaviours: NatBehaviour[] = ['endpoint-independent', 'address-dependent', 'address-and-port-dependent'];
const primary = { address: '198.51.100.10', port: 3478 };
const alternate = { address: '198.51.100.11', port: 3479 };

async function probeThrough(nat: Partial<NatConfig>, options: ProbeOptions = {}) {
  const net = new FakeNetwork();
  net.setNat({
    publicAddress: '203.0.113.1',
    mapping: 'endpoint-independent',
    filtering: 'endpoint-independent',
    hairpinning: false,
    mappingTimeoutMs: 120_000,
    preservePorts: true,
    ...nat,
  });
  const server = await StunUdpServer.start(net.publicHost(primary.address), { addresses: { primary, alternate } });
  try {
    const result = await net.scheduler.runUntilSettled(probeNatBehaviour(net.privateHost('10.0.0.2'), primary, options));
    return { result, elapsedMs: net.scheduler.now() };
  } finally {
    server.close();
  }
}

for (const mapping of behaviours) {
  for (const filtering of behaviours) {
    test(`NAT with ${mapping} mapping and ${filtering} filtering is classified as such`, async () => {
      const { result } = await probeThrough({ mapping, filtering });
      assert.equal(result.natDetected, true);
      assert.equal(result.mapped?.address, '203.0.113.1');
      assert.deepEqual(result.mapping, { value: mapping });
      assert.deepEqual(result.filtering, { value: filtering });
      assert.deepEqual(result.hairpinning, { value: false });
    });
  }
}

test('hairpinning: seen when the NAT loops packets to its own address back inside', async () => {
  assert.deepEqual((await probeThrough({ hairpinning: true })).result.hairpinning, { value: true });
  assert.deepEqual((await probeThrough({ hairpinning: false })).result.hairpinning, { value: false });
});

test('port preservation: reported from the first mapping', async () => {
  assert.deepEqual((await probeThrough({ preservePorts: true })).result.portPreservation, { value: true });
  assert.deepEqual((await probeThrough({ preservePorts: false })).result.portPreservation, { value: false });
});

test('an ALG rewriting addresses in payloads is caught by MAPPED-ADDRESS differing from XOR-MAPPED-ADDRESS', async () => {
  const { result } = await probeThrough({ payloadAlg: true });
  assert.deepEqual(result.mappedAddressRewritten, { value: true });
  assert.equal(result.mapped?.address, '203.0.113.1', 'the XOR form is what the probe trusts');
  assert.deepEqual((await probeThrough({})).result.mappedAddressRewritten, { value: false });
});

test('RFC 8489 timings are the default: a filtered test waits the full 39.5 s (virtual)', async () => {
  const { result, elapsedMs } = await probeThrough({ filtering: 'address-and-port-dependent' });
  assert.deepEqual(result.filtering, { value: 'address-and-port-dependent' });
  assert.ok(elapsedMs >= 39_500, `virtual time ${elapsedMs}`);
  const quick = await probeThrough(
    { filtering: 'address-and-port-dependent' },
    { retransmit: { rtoMs: 100, maxRequests: 2, lastWaitFactor: 2 } },
  );
  assert.ok(quick.elapsedMs < 1_000, `virtual time ${quick.elapsedMs}`);
});

test('mapping lifetime: binary search finds the NAT timeout within the resolution', async () => {
  const { result } = await probeThrough(
    { mappingTimeoutMs: 47_000, filtering: 'address-and-port-dependent' },
    { retransmit: { rtoMs: 200, maxRequests: 3, lastWaitFactor: 4 }, lifetime: { maxMs: 120_000, resolutionMs: 2_000 } },
  );
  const life = result.mappingLifetime?.value;
  assert.ok(life, result.mappingLifetime?.reason);
  assert.ok(life.goneAfterMs !== null);
  assert.ok(life.aliveAfterMs <= 47_000 && 47_000 <= life.goneAfterMs, JSON.stringify(life));
  assert.ok(life.goneAfterMs - life.aliveAfterMs <= 2_000);
});

test('mapping lifetime longer than the bound is reported as "at least the bound"', async () => {
  const { result } = await probeThrough(
    { mappingTimeoutMs: 600_000 },
    { retransmit: { rtoMs: 200, maxRequests: 3, lastWaitFactor: 4 }, lifetime: { maxMs: 60_000, resolutionMs: 5_000 } },
  );
  assert.deepEqual(result.mappingLifetime, { value: { aliveAfterMs: 60_000, goneAfterMs: null } });
});
