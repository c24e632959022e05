import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sumCounters } from '../../src/gateway/queues/sum.js';

test('sumCounters adds numbers, arrays and objects key by key', () => {
  const a = { packets: 3, drops: { malformed: 1 }, batchSizes: [1, 2], lastWriteError: 'EAGAIN', algs: [{ name: 'sip', counters: { calls: 2 } }] };
  const b = { packets: 4, drops: { malformed: 2, limit: 5 }, batchSizes: [0, 1, 7], lastWriteError: undefined, algs: [{ name: 'sip', counters: { calls: 1 } }] };
  assert.deepEqual(sumCounters([a, b]), {
    packets: 7,
    drops: { malformed: 3, limit: 5 },
    batchSizes: [1, 3, 7],
    lastWriteError: 'EAGAIN',
    algs: [{ name: 'sip', counters: { calls: 2 } }],
  });
  assert.equal(sumCounters([]), undefined);
});
