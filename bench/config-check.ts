/**
 * `masq gateway --check` on hostile configuration files (issue 17): how long
 * the real command takes on each shape, what it exits with, and whether it
 * printed a stack trace. Each run is a fresh process with a time limit, so a
 * shape that hangs the validator costs the limit, not the benchmark.
 *
 *   node --import tsx bench/config-check.ts [--limit 120] [--root DIR] [--only 'PREFIX|PREFIX'] [--json]
 *
 * --root runs the masq found in DIR (a checkout with node_modules), to compare
 * a change with the code before it. Times are wall-clock seconds of the whole
 * command, including Node and tsx start-up (the `minimal` row).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { argValue, jsonOutput } from './harness.js';

const HEAD = `interfaces:\n  inside: [lan0]\n  outside: wan0\ninside: [10.0.1.0/24]\n`;
const ONE_PUBLIC = 'public: [203.0.113.1]\n';
const addr = (i: number) => `100.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const lines = (n: number, line: (i: number) => string) => Array.from({ length: n }, (_, i) => line(i)).join('\n') + '\n';

/** The shapes of issue 17, at the sizes the tester used, and two found on the way. */
const SHAPES: Record<string, () => string> = {
  minimal: () => HEAD + ONE_PUBLIC,
  'alias bomb (9 levels of 9)': () =>
    HEAD + ONE_PUBLIC + 'x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n' + lines(8, (i) => `x${i + 1}: &a${i + 1} [${Array(9).fill(`*a${i}`).join(', ')}]`),
  'merge key naming an undefined anchor': () => HEAD + ONE_PUBLIC + 'tun:\n  <<: *nowhere\n',
  '10,000 public addresses': () => HEAD + 'public:\n' + lines(10_000, (i) => `  - ${addr(i)}`),
  '40,000 unknown keys': () => HEAD + ONE_PUBLIC + lines(40_000, (i) => `key${i}: 1`),
  '2,000 full-range ALG port rules': () => HEAD + ONE_PUBLIC + 'algs:\n  - name: sip\n    ports:\n' + lines(2000, () => '      - udp/1-65535'),
  '10 MB file': () => {
    const n = Math.ceil((10 << 20) / 18);
    return HEAD + 'public:\n' + lines(n, (i) => `  - ${addr(i)}`);
  },
  '200 public addresses, a full-range forward': () => HEAD + 'public:\n' + lines(200, (i) => `  - ${addr(i)}`) + 'forwards:\n  - { port: 1-65535, to: 10.0.1.5 }\n',
  '20,000 forwards': () => HEAD + ONE_PUBLIC + 'forwards:\n' + lines(20_000, (i) => `  - { port: ${1 + (i % 65535)}, to: 10.0.1.5, protocol: ${i < 65535 ? 'tcp' : 'udp'} }`),
};

interface Row {
  shape: string;
  bytes: number;
  seconds: number;
  exit: number | string;
  stackTrace: boolean;
  firstLine: string;
}

const limit = argValue('limit', 120);
const rootIndex = process.argv.indexOf('--root');
const root = resolve(rootIndex >= 0 ? process.argv[rootIndex + 1] : new URL('..', import.meta.url).pathname);
const onlyIndex = process.argv.indexOf('--only');
const only = onlyIndex >= 0 ? process.argv[onlyIndex + 1].split('|') : null;
const dir = mkdtempSync(join(tmpdir(), 'masq-config-bench-'));
const rows: Row[] = [];
try {
  for (const [shape, make] of Object.entries(SHAPES)) {
    if (only && !only.some((o) => shape.startsWith(o))) continue;
    const file = join(dir, 'gateway.yaml');
    const text = make();
    writeFileSync(file, text);
    const start = performance.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'gateway', '--check', '--config', file], {
      cwd: root,
      encoding: 'utf8',
      timeout: limit * 1000,
      maxBuffer: 256 << 20,
    });
    const seconds = (performance.now() - start) / 1000;
    const out = `${r.stderr}\n${r.stdout}`;
    rows.push({
      shape,
      bytes: Buffer.byteLength(text),
      seconds,
      exit: r.error ? `killed after ${limit} s` : (r.status ?? String(r.signal)),
      stackTrace: /\n\s+at .+:\d+:\d+\)?\n/.test(out),
      firstLine: (r.stderr.trim() || r.stdout.trim()).split('\n').slice(0, 2).join(' | ').slice(0, 140),
    });
    const row = rows[rows.length - 1];
    if (!jsonOutput) {
      console.log(`${shape.padEnd(44)} ${String(row.bytes).padStart(9)} B ${row.seconds.toFixed(2).padStart(7)} s  exit ${row.exit}${row.stackTrace ? '  STACK TRACE' : ''}\n    ${row.firstLine}`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (jsonOutput) console.log(JSON.stringify({ root, limit, rows }, null, 1));
