/**
 * A short run of every fuzz target (bench/fuzz/targets/: its `ciCount` inputs,
 * seeds first), and every committed reproducer replayed: the crashes found
 * and fixed stay fixed. The long runs (a million inputs a target) are in
 * docs/benchmarks.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CRASH_DIR, committedInputs, loadTarget, targetFileNames } from '../../bench/fuzz/registry.js';
import { failsAt, runTarget } from '../../bench/fuzz/runner.js';
import { readReproducer, reproducerFiles } from '../../bench/fuzz/findings.js';

for (const name of targetFileNames()) {
  test(`fuzz target ${name}: a short run finds nothing`, async () => {
    const target = await loadTarget(name);
    const r = await runTarget(target, { count: target.ciCount ?? 2000, seed: 17, crashDir: null, extraCorpus: committedInputs(name), minimize: false });
    assert.ok(r.inputs > 0);
    const found = r.findings.filter((f) => f.kind === 'exception');
    assert.equal(
      found.length,
      0,
      found.map((f) => `${f.signature}\n${f.message}\n${f.stack}\ninputs (base64): ${f.inputs.map((i) => Buffer.from(i).toString('base64')).join(' ')}`).join('\n\n'),
    );
  });

  for (const file of reproducerFiles(CRASH_DIR, name)) {
    test(`fuzz reproducer ${file.slice(file.indexOf('crashes/'))} passes`, async () => {
      const r = readReproducer(file);
      if (r.kind === 'slow') return; // timings are measured in bench/, not in tests
      const { at, error } = await failsAt(await loadTarget(r.target), r.decoded, null);
      assert.equal(at, -1, `fails again at input ${at + 1}: ${error?.message}`);
    });
  }
}
