/** What `import 'masq'` and `import 'masq/sim'` give a user: the entry points load and carry the main pieces. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as masq from '../../src/index.js';
import * as sim from '../../src/dataplane/sim/index.js';
import { readFileSync } from 'node:fs';

test('the package entry points export the engine, ALGs, STUN, punching and the simulator', () => {
  assert.equal(typeof masq.NatEngine, 'function');
  assert.ok(masq.algNames().includes('sip'));
  assert.equal(typeof masq.stun.probeNatBehaviour, 'function');
  assert.equal(typeof masq.rendezvous.PunchClient.start, 'function');
  assert.equal(typeof masq.RelayServer.start, 'function');
  assert.equal(typeof sim.Simulator, 'function');
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  assert.equal(pkg.exports['.'], './dist/index.js');
  assert.equal(pkg.exports['./sim'], './dist/dataplane/sim/index.js');
});
