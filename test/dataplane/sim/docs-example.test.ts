/** The example at the top of docs/sim.md, as written there: it must keep working. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NAT_PROFILES, Simulator } from '../../../src/dataplane/sim/index.js';

test('docs/sim.md example: an echo through a port-restricted NAT', async () => {
  const sim = new Simulator({ seed: 1 });
  const internet = sim.segment('internet', { delayMs: 20, loss: 0.01 });
  const homeLan = sim.segment('home', { delayMs: 1 });
  sim.nat('home-router', {
    inside: [homeLan, '192.168.1.1/24'],
    outside: [internet, '203.0.113.1/24'],
    config: NAT_PROFILES['port-restricted'],
  });
  const alice = sim.host('alice', homeLan, '192.168.1.2/24', '192.168.1.1');
  const server = sim.host('server', internet, '198.51.100.10/24');
  const s = server.bindUdp({ port: 3478 });
  s.onMessage((data, from) => s.send(data, from));
  const a = await sim.complete(alice.env.bindUdp({ port: 5000 }), 100);
  let seen = '';
  a.onMessage((_d, from) => (seen = `${from.address}:${from.port}`));
  a.send(new TextEncoder().encode('hi'), { address: '198.51.100.10', port: 3478 });
  await sim.run(1000);
  assert.equal(seen, '198.51.100.10:3478');
});
