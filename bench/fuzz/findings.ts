/**
 * What the runner reports: exceptions grouped by a signature (error class, its
 * message with numbers masked, the innermost frame in masq's own code), and
 * the reproducer files written for them.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export interface Finding {
  readonly signature: string;
  readonly message: string;
  readonly stack: string;
  /** Inputs on fresh state, the last one failing (minimized when the runner could). */
  inputs: Uint8Array[];
  /** How many inputs of the run failed with this signature. */
  count: number;
  /** The first failing input's index in the run. */
  readonly index: number;
  kind: 'exception' | 'slow';
  file?: string;
}

export interface Reproducer {
  target: string;
  signature: string;
  message: string;
  stack: string;
  kind: 'exception' | 'slow';
  seed: number;
  index: number;
  /** Base64, in order, each on fresh state from the first. */
  inputs: string[];
}

export function errorOf(e: unknown): Error {
  return e instanceof Error ? e : new Error(`non-Error thrown: ${String(e)}`);
}

/** The frames of the stack that are masq's own (src/, bench/, test/), at most `n`. */
export function ownFrames(err: Error, n: number): string[] {
  const lines = (err.stack ?? '').split('\n').slice(1);
  const own = lines.filter((l) => /\/(src|bench|test)\//.test(l) && !l.includes('node_modules'));
  return own.slice(0, n).map((l) => l.trim().replace(/^at /, '').replace(/\(?file:\/\/[^)]*?\/(src|bench|test)\//, '$1/').replace(/\)$/, ''));
}

export function signatureOf(err: Error): string {
  // The message up to its first parenthesis: details (addresses, ports) vary between inputs of one bug.
  const message = (err.message.split('\n')[0] ?? '').split(' (')[0].replace(/\d+/g, 'N').slice(0, 160);
  const frame = ownFrames(err, 1)[0]?.replace(/:\d+$/, '') ?? '?';
  return `${err.name}: ${message} @ ${frame}`;
}

export function signatureId(signature: string): string {
  return createHash('sha256').update(signature).digest('hex').slice(0, 12);
}

export function writeReproducer(dir: string, target: string, f: Finding, seed: number): string {
  const folder = join(dir, target);
  mkdirSync(folder, { recursive: true });
  const file = join(folder, `${f.kind}-${signatureId(f.signature)}.json`);
  const r: Reproducer = {
    target,
    signature: f.signature,
    message: f.message.slice(0, 2000),
    stack: f.stack,
    kind: f.kind,
    seed,
    index: f.index,
    inputs: f.inputs.map((i) => Buffer.from(i).toString('base64')),
  };
  writeFileSync(file, JSON.stringify(r, null, 2) + '\n');
  return file;
}

export function readReproducer(file: string): Reproducer & { decoded: Uint8Array[] } {
  const r = JSON.parse(readFileSync(file, 'utf8')) as Reproducer;
  return { ...r, decoded: r.inputs.map((s) => new Uint8Array(Buffer.from(s, 'base64'))) };
}

/** Every reproducer committed for a target (the crashes found and fixed stay as regression inputs). */
export function reproducerFiles(dir: string, target: string): string[] {
  const folder = join(dir, target);
  if (!existsSync(folder)) return [];
  return readdirSync(folder).filter((f) => f.endsWith('.json')).sort().map((f) => join(folder, f));
}
