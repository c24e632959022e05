import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classicNatName, formatNatReport } from '../../../src/stun/client/report.js';
import type { NatBehaviourResult } from '../../../src/stun/client/probe.js';

const base: NatBehaviourResult = {
  server: { address: '198.51.100.10', port: 3478 },
  otherAddress: { address: '198.51.100.11', port: 3479 },
  local: { address: '10.0.1.2', port: 40000 },
  mapped: { address: '203.0.113.1', port: 40000 },
  udpBlocked: false,
  natDetected: true,
  mapping: { value: 'endpoint-independent' },
  filtering: { value: 'address-and-port-dependent' },
  hairpinning: { value: false },
  portPreservation: { value: true },
  mappedAddressRewritten: { value: false },
  tests: [
    { name: 'mapping: primary address', from: { address: '10.0.1.2', port: 40000 }, to: { address: '198.51.100.10', port: 3478 }, result: 'answered', mapped: { address: '203.0.113.1', port: 40000 }, answeredFrom: { address: '198.51.100.10', port: 3478 }, elapsedMs: 3 },
    { name: 'filtering: change port', from: { address: '10.0.1.2', port: 40001 }, to: { address: '198.51.100.10', port: 3478 }, result: 'no-answer' },
  ],
};

test('classic names from RFC 4787 behaviours', () => {
  assert.equal(classicNatName(base), 'port-restricted cone');
  assert.equal(classicNatName({ ...base, filtering: { value: 'endpoint-independent' } }), 'full cone');
  assert.equal(classicNatName({ ...base, filtering: { value: 'address-dependent' } }), 'restricted cone');
  assert.equal(classicNatName({ ...base, mapping: { value: 'address-dependent' } }), 'symmetric');
  assert.equal(classicNatName({ ...base, natDetected: false, filtering: { value: 'endpoint-independent' } }), 'open internet');
  assert.equal(classicNatName({ ...base, udpBlocked: true }), 'UDP blocked');
  assert.equal(classicNatName({ ...base, mapping: { value: null, reason: 'x' } }), null);
});

test('the table names every verdict, reasons for unknowns, and each test', () => {
  const text = formatNatReport({ ...base, mappingLifetime: { value: { aliveAfterMs: 30_000, goneAfterMs: 32_500 } } });
  assert.match(text, /^STUN server\s+198\.51\.100\.10:3478$/m);
  assert.match(text, /^Mapped address\s+203\.0\.113\.1:40000$/m);
  assert.match(text, /^Filtering\s+address-and-port-dependent$/m);
  assert.match(text, /^Hairpinning\s+no$/m);
  assert.match(text, /^Mapping lifetime\s+between 30 s and 32\.5 s$/m);
  assert.match(text, /^Classic name\s+port-restricted cone$/m);
  assert.match(text, /filtering: change port\s+10\.0\.1\.2:40001 -> 198\.51\.100\.10:3478\s+no answer/);
  const unknown = formatNatReport({ ...base, otherAddress: null, mapping: { value: null, reason: 'not an RFC 5780 server' } });
  assert.match(unknown, /^Mapping\s+unknown \(not an RFC 5780 server\)$/m);
  assert.match(unknown, /^Other address\s+none/m);
});
