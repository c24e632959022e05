/**
 * The rewriter's output is exactly what it was before the performance work:
 * every case of golden-cases.ts (RFC 4475, crafted variants, mutants, the
 * real captures when present) gives the recorded output bytes, summary,
 * parsed structure and sequence of context questions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { capturesDir, capturesPresent, goldenCases, goldenPath, runCase, type GoldenRecord } from './golden-cases.js';

const stored = (JSON.parse(readFileSync(goldenPath, 'utf8')) as { records: GoldenRecord[] }).records;
const byId = new Map(stored.map((r) => [r.id, r]));

function check(prefix: string, withCaptures: boolean): void {
  const cases = goldenCases(withCaptures).filter((c) => c.id.startsWith(prefix));
  assert.ok(cases.length > 0, `no ${prefix} cases`);
  const ids = new Set(cases.map((c) => c.id));
  const expected = stored.filter((r) => r.id.startsWith(prefix));
  assert.equal(cases.length, expected.length, `${prefix}: as many cases as recorded`);
  for (const c of cases) {
    const want = byId.get(c.id);
    assert.ok(want, `${c.id}: recorded`);
    assert.deepEqual(runCase(c), want, c.id);
  }
  for (const r of expected) assert.ok(ids.has(r.id), `${r.id}: still generated`);
}

test('golden: RFC 4475 messages, every direction and option, byte for byte', () => check('rfc4475/', false));
test('golden: crafted INVITE/REGISTER/response variants under six NAT contexts', () => check('crafted/', false));
test('golden: 1500 mutants (digests of the full records)', () => check('mutant/', false));
test('golden: SIP datagrams of the real captures', { skip: capturesPresent() ? false : `captures not found at ${capturesDir}` }, () => check('capture/', true));
