/**
 * The short version of bench/fuzz/cuseeme.ts (a million packets there, see
 * docs/benchmarks.md), and arbitrary bytes straight into the handler.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fuzzCuSeeMe } from '../../../bench/fuzz/cuseeme.js';
import { CuSeeMeAlg } from '../../../src/alg/cuseeme/alg.js';
import type { AlgFlow, AlgHandler, AlgServices } from '../../../src/alg/helper.js';

test('20,000 mutated CU-SeeMe packets through the engine: nothing escapes, nothing comes out broken', () => {
  const r = fuzzCuSeeMe(20_000, 7);
  assert.equal(r.escaped, 0, r.examples.join('\n'));
  assert.equal(r.broken, 0, r.examples.join('\n'));
  assert.equal(r.packets, 20_000);
  // The mutations reach every branch: unreadable packets, rewrites, entries restored, published and ambiguous.
  for (const k of ['passedParseError', 'rewritten', 'entriesRestored', 'entriesPublished', 'entriesAmbiguous', 'sendersRestored']) assert.ok(r.alg[k] > 0, `${k}: ${r.alg[k]}`);
});

test('arbitrary bytes into the handler, both directions, both modes: never a throw, never a length change', () => {
  const services = {} as AlgServices;
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 3 }), (bytes, outbound, historical, id) => {
      const alg: AlgHandler & CuSeeMeAlg = new CuSeeMeAlg(historical ? { mode: 'historical' } : {});
      const flow: AlgFlow = {
        id,
        proto: 17,
        outbound,
        insideAddr: 0x0a000002,
        insidePort: 7648,
        publicAddr: 0xcb007101,
        publicPort: 1024 + id,
        remoteAddr: 0xc633640a,
        remotePort: 7648,
        group: null,
      };
      const copy = bytes.slice();
      const r = alg.handle(flow, bytes, services);
      assert.deepEqual(bytes, copy, 'the message itself is never written');
      if (r.kind === 'rewrite') assert.equal(r.bytes.length, bytes.length);
      alg.flowGone(id);
      assert.equal(alg.counters().participants, 0);
    }),
    { numRuns: 3000 },
  );
});
