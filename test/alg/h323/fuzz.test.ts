/**
 * Mutated H.323 messages through the engine with the ALG (fuzzer.ts): a few
 * thousand here, the million of the issue in bench/h323-fuzz.ts. Nothing
 * escapes the engine, and the mutations reach the walkers, not only the
 * framing: some messages still rewrite, others are counted as malformed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzH323, seeds } from './fuzzer.js';

test('seeds: oracle vectors of every kind, the CVE shapes, the captures when present', () => {
  const s = seeds();
  assert.ok(s.q931.length >= 17 && s.ras.length >= 17 && s.h245.length >= 10, JSON.stringify({ q931: s.q931.length, ras: s.ras.length, h245: s.h245.length }));
  assert.ok(s.q931.some((m) => m.length === 12 && m[9] === 0x7e && m[10] === 0 && m[11] === 0), 'a zero-length User-User element (CVE-2026-23455)');
});

test('2,000 mutated messages: no exception out of the engine, every kind reached and counted', () => {
  const r = fuzzH323(2000, 7);
  assert.equal(r.messages, 2000);
  for (const k of ['q931', 'ras', 'h245'] as const) assert.ok(r.byKind[k] > 200, `${k}: ${r.byKind[k]}`);
  const c = r.counters;
  assert.ok(c.messages >= 1700, `the ALG saw the messages: ${c.messages}`);
  assert.ok(c.rewritten > 50, `some mutated messages still rewrite: ${c.rewritten}`);
  assert.ok(c.malformed > 50 && c.q931Malformed > 50, `malformed ones are counted: ${c.malformed} PER, ${c.q931Malformed} Q.931`);
  assert.ok(c.passedParseError > 50, `and passed unmodified by policy: ${c.passedParseError}`);
});
