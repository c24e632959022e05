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

test('the npm package: what it ships, its licence, and an addon build that cannot fail the install', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  for (const f of ['dist/', 'native/', 'binding.gyp', 'dashboard/', 'README.md', 'LICENSE']) assert.ok(pkg.files.includes(f), f);
  for (const f of pkg.files as string[]) assert.ok(!/^(test|bench|src)\b/.test(f), `${f} is not shipped`);
  assert.match(readFileSync(new URL('../../LICENSE', import.meta.url), 'utf8'), /^MIT License/);
  // npm runs node-gyp itself for a package with binding.gyp and no install script: that would fail without a compiler.
  assert.equal(pkg.scripts.install, 'node scripts/build-native.mjs');
  assert.match(readFileSync(new URL('../../scripts/build-native.mjs', import.meta.url), 'utf8'), /process\.exit\(required \? 1 : 0\)/);
});

test('the library examples in docs/ import from masq, not from the source tree', () => {
  for (const doc of ['punching.md', 'sim.md', 'stun.md', 'rendezvous.md', 'alg-authoring.md', 'nat.md', 'pcap.md']) {
    const text = readFileSync(new URL(`../../docs/${doc}`, import.meta.url), 'utf8');
    assert.doesNotMatch(text, /from ['"](\.\.?\/)+src\//, doc);
  }
});
