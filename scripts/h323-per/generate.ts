/**
 * Generates the H.225.0/H.245 PER walkers of src/alg/h323 from the ITU-T
 * ASN.1 modules (H.225.0 v7, H.245 v15, H.235), which are not part of this
 * repository: they are read from ../shared/reference/h323/asn1 next to it, or
 * from --asn1 DIR.
 *
 *   node --import tsx scripts/h323-per/generate.ts           write the files
 *   node --import tsx scripts/h323-per/generate.ts --check   exit 1 if they differ
 *
 * test/alg/h323/per-generated.test.ts runs the check when the modules are there.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseModule } from './asn1-parser.js';
import { WalkerEmitter } from './emit-walker.js';
import { ShapeResolver } from './per-shapes.js';
import { H225, H235, H245, ROOTS } from './walker-config.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_ASN1_DIR = resolve(root, '../shared/reference/h323/asn1');
export const OUTPUT_DIR = join(root, 'src/alg/h323');

/** The generated files' contents, from the modules in `dir`. */
export function generateWalkers(dir: string): Record<string, string> {
  const modules = [H235, H245, H225].map((m) => parseModule(readFileSync(join(dir, `${m}.asn`), 'utf8')));
  const resolver = new ShapeResolver(modules);
  for (const id of Object.keys(ROOTS)) {
    const dot = id.indexOf('.');
    resolver.named_(id.slice(0, dot), id.slice(dot + 1));
  }
  return new WalkerEmitter(resolver.named).emitAll().files;
}

function main(): void {
  const args = process.argv.slice(2);
  const at = args.indexOf('--asn1');
  const dir = at >= 0 ? resolve(args[at + 1]) : DEFAULT_ASN1_DIR;
  if (!existsSync(join(dir, `${H225}.asn`))) {
    console.error(`the ASN.1 modules are not in ${dir}: nothing generated`);
    process.exit(2);
  }
  const files = generateWalkers(dir);
  let stale = 0;
  for (const [name, text] of Object.entries(files)) {
    const path = join(OUTPUT_DIR, name);
    const old = existsSync(path) ? readFileSync(path, 'utf8') : '';
    if (old === text) continue;
    if (args.includes('--check')) {
      console.error(`${path} is not what the generator makes`);
      stale++;
    } else {
      writeFileSync(path, text);
      console.log(`wrote ${path} (${text.split('\n').length} lines)`);
    }
  }
  process.exit(stale ? 1 : 0);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
