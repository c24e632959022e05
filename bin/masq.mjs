#!/usr/bin/env node
// The installed `masq` command runs the compiled CLI (built by `npm ci` through the
// `prepare` script). Inside a checkout without dist/, run `npm run build` first.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(compiled))) {
  process.stderr.write('masq: dist/ is missing; run `npm run build` (npm ci does this) first\n');
  process.exit(2);
}
await import(compiled.href);
