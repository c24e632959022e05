/** The main job (`npm start` = `masq demo`): every step works on the simulated network. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDemo, runDemo } from '../../src/lab/demo.js';

test('masq demo: every step ok, and the report says it runs on a simulated network', async () => {
  const r = await runDemo({ seed: 1 });
  for (const s of r.steps) assert.ok(s.ok, `${s.title}: ${s.lines.join(' | ')}`);
  const text = formatDemo(r);
  assert.match(text, /simulated network/);
  assert.match(text, /needs root/);
});
