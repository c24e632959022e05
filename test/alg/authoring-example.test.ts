/**
 * docs/alg-authoring.md's worked example, run as written: its two code blocks
 * become two files (imports of 'masq' pointed at this checkout), and the
 * script's output must be what the page says. Without the ALG, the server is
 * told an address it cannot reach and no media arrives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const doc = readFileSync(join(root, 'docs/alg-authoring.md'), 'utf8');
const blocks = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);

function localImports(code: string): string {
  return code
    .replaceAll("from 'masq/sim'", `from '${pathToFileURL(join(root, 'src/dataplane/sim/index.ts')).href}'`)
    .replaceAll("from 'masq'", `from '${pathToFileURL(join(root, 'src/index.ts')).href}'`)
    .replaceAll("from 'zod'", `from '${import.meta.resolve('zod')}'`);
}

function runExample(edit: (script: string) => string = (s) => s): string {
  assert.equal(blocks.length, 2, 'the page has the ALG and the script that runs it');
  const dir = mkdtempSync(join(tmpdir(), 'masq-alg-example-'));
  try {
    writeFileSync(join(dir, 'announce.mts'), localImports(blocks[0]));
    writeFileSync(join(dir, 'main.mts'), localImports(edit(blocks[1])).replace("from './announce.js'", "from './announce.mts'"));
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(dir, 'main.mts')], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the worked example prints what the page says it prints', () => {
  const expected = /console\.log\(announced, received\); \/\/ (.*)\n/.exec(blocks[1])![1];
  assert.equal(runExample(), expected);
  assert.equal(expected, 'MEDIA 203.0.113.1 30000 3');
});

test('without the ALG, the announced address is the private one and nothing arrives', () => {
  assert.equal(runExample((s) => s.replace("  algs: ['announce'],\n", '')), 'MEDIA 10.0.0.2 30000 0');
});
