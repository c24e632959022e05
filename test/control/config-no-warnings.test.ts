/**
 * A configuration whose keys are YAML collections (found by the config fuzz
 * target) is refused with a clear problem, and nothing else is printed: the
 * yaml package's own process warning ("Keys with collection values will be
 * stringified") used to follow the problems on stderr.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayConfigError, parseGatewayConfig } from '../../src/control/config/load.js';

test('a collection as a key: one clear problem, no process warning', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.message);
  process.on('warning', onWarning);
  try {
    const text = 'interfaces:\n  ? { inside: [lan0] }\n  : x\n  outside: wan0\ninside: [10.0.1.0/24]\npublic: [203.0.113.1]\n';
    assert.throws(
      () => parseGatewayConfig(text, 'k.yaml'),
      (e: unknown) => e instanceof GatewayConfigError && e.issues.some((i) => i.line === 2 && /unknown key/.test(i.message)),
    );
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(warnings, []);
  } finally {
    process.off('warning', onWarning);
  }
});
