import { test } from 'node:test';
import assert from 'node:assert/strict';
import { effectiveCapabilities, hasNetAdmin } from '../../src/cli/capabilities.js';

const status = (capEff: string) => `Name:\tnode\nUid:\t1000\t1000\t1000\t1000\nCapInh:\t0000000000000000\nCapEff:\t${capEff}\nCapBnd:\t000001ffffffffff\n`;

test('CAP_NET_ADMIN (bit 12) in the effective set decides, not the user id', () => {
  assert.equal(hasNetAdmin(status('0000000000001000')), true, 'a service user with only CAP_NET_ADMIN');
  assert.equal(hasNetAdmin(status('000001ffffffffff')), true, 'root');
  assert.equal(hasNetAdmin(status('0000000000000000')), false, 'an ordinary user');
  assert.equal(hasNetAdmin(status('0000000000002000')), false, 'CAP_NET_RAW alone');
  assert.equal(hasNetAdmin('Name:\tnode\n'), false, 'no CapEff line');
  assert.equal(effectiveCapabilities(status('0000000000001000')), 0x1000n);
});
