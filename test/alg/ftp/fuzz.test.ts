/**
 * A short run of the FTP fuzz target (bench/fuzz/ftp.ts runs it for a million
 * inputs): mutated conversations through the engine and the parsers alone;
 * nothing thrown, every pinhole for the host that asked and its peer only,
 * every packet out well formed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzAlg } from '../../../bench/fuzz/alg-stream-fuzz.js';
import { ftpFuzzTarget } from '../../../bench/fuzz/ftp.js';

test('FTP fuzz: 2,000 mutated conversations, two seeds', { timeout: 120_000 }, () => {
  for (const seed of [11, 12]) {
    const r = fuzzAlg(ftpFuzzTarget, 1000, seed);
    assert.equal(r.inputs, 1000);
    assert.ok(r.messages > 0, 'the ALG saw messages');
    assert.ok(r.pinholesOpened > 0, 'real messages among the mutants opened pinholes');
  }
});
