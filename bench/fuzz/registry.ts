/**
 * The fuzz targets: every file in bench/fuzz/targets/ whose default export is
 * a target named like the file. Adding a target is adding a file; nothing to
 * register elsewhere.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { FuzzTarget } from './target.js';
import { readReproducer, reproducerFiles } from './findings.js';

export const FUZZ_DIR = dirname(fileURLToPath(import.meta.url));
export const TARGETS_DIR = join(FUZZ_DIR, 'targets');
export const CORPUS_DIR = join(FUZZ_DIR, 'corpus');
export const CRASH_DIR = join(FUZZ_DIR, 'crashes');

export function targetFileNames(): string[] {
  return readdirSync(TARGETS_DIR)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
}

export async function loadTarget(name: string): Promise<FuzzTarget> {
  const file = join(TARGETS_DIR, `${name}.ts`);
  if (!existsSync(file)) throw new Error(`no fuzz target ${JSON.stringify(name)} (known: ${targetFileNames().join(', ')})`);
  const m = (await import(pathToFileURL(file).href)) as { default?: FuzzTarget };
  const t = m.default;
  if (!t || typeof t.run !== 'function') throw new Error(`${file}: the default export is not a fuzz target (defineFuzzTarget)`);
  if (t.name !== name) throw new Error(`${file}: the target is named ${JSON.stringify(t.name)}; name it like its file`);
  return t;
}

export async function loadTargets(): Promise<FuzzTarget[]> {
  const out: FuzzTarget[] = [];
  for (const n of targetFileNames()) out.push(await loadTarget(n));
  return out;
}

/** The committed corpus of a target, and the inputs of its committed reproducers. */
export function committedInputs(name: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  const folder = join(CORPUS_DIR, name);
  if (existsSync(folder)) for (const f of readdirSync(folder).sort()) out.push(new Uint8Array(readFileSync(join(folder, f))));
  for (const f of reproducerFiles(CRASH_DIR, name)) out.push(...readReproducer(f).decoded);
  return out;
}

/** Adds inputs to a target's committed corpus (named by content: the same input twice is one file). */
export function saveCorpus(name: string, inputs: Uint8Array[]): number {
  const folder = join(CORPUS_DIR, name);
  mkdirSync(folder, { recursive: true });
  let added = 0;
  for (const i of inputs) {
    const file = join(folder, `${createHash('sha256').update(i).digest('hex').slice(0, 16)}.bin`);
    if (existsSync(file)) continue;
    writeFileSync(file, i);
    added++;
  }
  return added;
}
