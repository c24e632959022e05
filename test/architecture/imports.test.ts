/**
 * The layering of docs/architecture.md, checked on the import statements of
 * every file under src/ (type-only imports, re-exports and dynamic imports
 * included): which area may import which, that the pure core reaches for no
 * I/O module and no wall clock or timer, and that no two files import each
 * other, however indirectly.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const srcDir = join(root, 'src');

/**
 * Which areas each area may import (besides itself). An area is a folder
 * under src/ (a dataplane is one area each); src/index.ts is `index`.
 */
const ALLOWED: Record<string, readonly string[]> = {
  util: [],
  wire: ['util'],
  nat: ['wire', 'util'],
  alg: ['nat', 'wire', 'util'],
  net: ['wire', 'util'],
  stun: ['wire', 'net', 'util'],
  rendezvous: ['stun', 'wire', 'net', 'util'],
  relay: ['rendezvous', 'stun', 'wire', 'net', 'util'],
  sipproxy: ['control', 'rendezvous', 'alg', 'nat', 'wire', 'net', 'util'],
  'dataplane/sim': ['alg', 'nat', 'wire', 'net', 'util'],
  'dataplane/pcap': ['alg', 'nat', 'wire', 'util'],
  'dataplane/tun': ['alg', 'nat', 'wire', 'net', 'util'],
  control: ['alg', 'nat', 'wire', 'net', 'util'],
  lab: ['control', 'dataplane/sim', 'stun', 'rendezvous', 'relay', 'alg', 'nat', 'wire', 'net', 'util'],
  gateway: ['control', 'dataplane/tun', 'alg', 'nat', 'wire', 'net', 'util'],
  cli: ['gateway', 'lab', 'sipproxy', 'control', 'dataplane/tun', 'dataplane/pcap', 'dataplane/sim', 'stun', 'rendezvous', 'relay', 'alg', 'nat', 'wire', 'net', 'util'],
  index: ['dataplane/pcap', 'stun', 'rendezvous', 'relay', 'alg', 'nat', 'wire', 'net', 'util'],
};

const CORE = ['wire', 'nat', 'alg'];

/** Node modules that do I/O or keep time: none of them in the pure core. */
const IO_MODULES = new Set([
  'child_process',
  'cluster',
  'dgram',
  'dns',
  'dns/promises',
  'fs',
  'fs/promises',
  'http',
  'http2',
  'https',
  'net',
  'os',
  'process',
  'readline',
  'timers',
  'timers/promises',
  'tls',
  'worker_threads',
]);

/** Globals that read the wall clock, set timers or reach the process: the core gets time from its clock. */
const IMPURE_GLOBALS = new Set(['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'process']);

interface Import {
  specifier: string;
  typeOnly: boolean;
  line: number;
}

interface SourceInfo {
  imports: Import[];
  impureUses: string[];
}

function listSources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listSources(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

function readSource(file: string, text = readFileSync(file, 'utf8')): SourceInfo {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const imports: Import[] = [];
  const impureUses: string[] = [];
  const lineOf = (n: ts.Node) => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      imports.push({ specifier: node.moduleSpecifier.text, typeOnly, line: lineOf(node) });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      imports.push({ specifier: node.moduleSpecifier.text, typeOnly: node.isTypeOnly, line: lineOf(node) });
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const e = node.moduleReference.expression;
      if (ts.isStringLiteral(e)) imports.push({ specifier: e.text, typeOnly: node.isTypeOnly, line: lineOf(node) });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteralLike(arg)) imports.push({ specifier: arg.text, typeOnly: false, line: lineOf(node) });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      imports.push({ specifier: node.argument.literal.text, typeOnly: true, line: lineOf(node) });
    } else if (ts.isIdentifier(node) && IMPURE_GLOBALS.has(node.text) && isFreeReference(node)) {
      impureUses.push(`${node.text} (line ${lineOf(node)})`);
    } else if (
      ts.isPropertyAccessExpression(node) &&
      ts.isIdentifier(node.expression) &&
      ((node.expression.text === 'Date' && node.name.text === 'now') || (node.expression.text === 'performance' && node.name.text === 'now'))
    ) {
      impureUses.push(`${node.expression.text}.now (line ${lineOf(node)})`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return { imports, impureUses };
}

/**
 * An identifier that may name a global: not a property name, a declaration or
 * a member. Without a scope analysis a local that shadows one of these names
 * counts as a use too; the core has no reason to shadow them.
 */
function isFreeReference(id: ts.Identifier): boolean {
  const p = id.parent;
  if (ts.isPropertyAccessExpression(p) && p.name === id) return false;
  if ((ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p) || ts.isMethodDeclaration(p) || ts.isPropertySignature(p)) && p.name === id) return false;
  if ((ts.isVariableDeclaration(p) || ts.isParameter(p) || ts.isFunctionDeclaration(p)) && p.name === id) return false;
  if (ts.isImportSpecifier(p) || ts.isExportSpecifier(p)) return false;
  return true;
}

function areaOf(file: string): string {
  const rel = relative(srcDir, file).split('\\').join('/');
  if (rel === 'index.ts') return 'index';
  const parts = rel.split('/');
  if (parts[0] === 'dataplane' && parts.length > 2) return `dataplane/${parts[1]}`;
  return parts[0];
}

/** The file a relative specifier names (".js" written for ".ts", as NodeNext resolution wants). */
function resolveRelative(from: string, specifier: string): string | null {
  const base = resolve(dirname(from), specifier);
  const candidates = [base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), base, `${base}.ts`, join(base, 'index.ts')];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile()) ?? null;
}

function builtinName(specifier: string): string | null {
  const name = specifier.startsWith('node:') ? specifier.slice(5) : specifier;
  return builtinModules.includes(name) ? name : null;
}

interface Graph {
  files: string[];
  edges: Map<string, Array<{ to: string; typeOnly: boolean; line: number }>>;
  info: Map<string, SourceInfo>;
}

function buildGraph(): Graph {
  const files = listSources(srcDir);
  const edges = new Map<string, Array<{ to: string; typeOnly: boolean; line: number }>>();
  const info = new Map<string, SourceInfo>();
  for (const f of files) {
    const si = readSource(f);
    info.set(f, si);
    const out: Array<{ to: string; typeOnly: boolean; line: number }> = [];
    for (const imp of si.imports) {
      if (!imp.specifier.startsWith('.')) continue;
      const to = resolveRelative(f, imp.specifier);
      assert.ok(to, `${relative(root, f)}:${imp.line}: cannot resolve ${imp.specifier}`);
      out.push({ to, typeOnly: imp.typeOnly, line: imp.line });
    }
    edges.set(f, out);
  }
  return { files, edges, info };
}

/** Strongly connected components of more than one file (or a file importing itself): Tarjan. */
function cycles(g: Graph): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const strong = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const { to } of g.edges.get(v) ?? []) {
      if (!index.has(to)) {
        strong(to);
        low.set(v, Math.min(low.get(v)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(v, Math.min(low.get(v)!, index.get(to)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      const selfLoop = (g.edges.get(v) ?? []).some((e) => e.to === v);
      if (scc.length > 1 || selfLoop) out.push(scc.map((f) => relative(root, f)).sort());
    }
  };
  for (const f of g.files) if (!index.has(f)) strong(f);
  return out;
}

const graph = buildGraph();
const rel = (f: string) => relative(root, f).split('\\').join('/');

test('every file under src/ belongs to an area with declared dependencies', () => {
  const unknown = [...new Set(graph.files.map(areaOf))].filter((a) => !(a in ALLOWED));
  assert.deepEqual(unknown, [], `areas missing from the layering table: ${unknown.join(', ')}`);
});

test('imports between areas point inwards, as docs/architecture.md lays them out', () => {
  const violations: string[] = [];
  for (const f of graph.files) {
    const from = areaOf(f);
    const allowed = ALLOWED[from] ?? [];
    for (const e of graph.edges.get(f)!) {
      const to = areaOf(e.to);
      if (to !== from && !allowed.includes(to)) violations.push(`${rel(f)}:${e.line} (${from}) imports ${rel(e.to)} (${to})${e.typeOnly ? ' [type only]' : ''}`);
    }
  }
  assert.ok(violations.length === 0, `imports against the layering:\n  ${violations.join('\n  ')}`);
});

test('the core (wire, nat, alg) imports no I/O module and touches no timer, wall clock or process', () => {
  const violations: string[] = [];
  for (const f of graph.files) {
    if (!CORE.includes(areaOf(f))) continue;
    const si = graph.info.get(f)!;
    for (const imp of si.imports) {
      const name = builtinName(imp.specifier);
      if (name !== null && IO_MODULES.has(name)) violations.push(`${rel(f)}:${imp.line} imports ${imp.specifier}`);
    }
    for (const use of si.impureUses) violations.push(`${rel(f)} uses ${use}`);
  }
  assert.ok(violations.length === 0, violations.join('\n'));
});

test('no import cycles between files, type-only imports included', () => {
  const found = cycles(graph);
  assert.ok(found.length === 0, `cycles:\n  ${found.map((c) => c.join(' <-> ')).join('\n  ')}`);
});

test('the checks see what they claim to: imports of every kind are found and resolved', () => {
  // Guards against a parser that silently finds nothing (and so passes everything).
  const engine = join(srcDir, 'nat/engine.ts');
  assert.ok(graph.edges.get(engine)!.some((e) => rel(e.to) === 'src/wire/ipv4.ts'));
  const simIndex = graph.edges.get(join(srcDir, 'dataplane/sim/index.ts'))!;
  assert.ok(simIndex.some((e) => rel(e.to) === 'src/dataplane/sim/network.ts'), 're-exports count as imports');
  const typeOnly = [...graph.edges.values()].flat().filter((e) => e.typeOnly).length;
  assert.ok(typeOnly > 10, `type-only imports are seen (${typeOnly})`);
  const probe = readSource(
    'probe.ts',
    [
      "import { a } from './a.js';",
      "import type { B } from './b.js';",
      "import { type C } from './c.js';",
      "export { d } from './d.js';",
      "export type { E } from './e.js';",
      "const f = await import('./f.js');",
      "let g: import('./g.js').G;",
      "import dgram from 'node:dgram';",
      'const o = { setTimeout: 1 };',
      'function h(n: number) { return o.setTimeout + n; }',
      '',
      'setTimeout(() => {}, 1);',
      'const t = Date.now();',
      'process.exit(0);',
    ].join('\n'),
  );
  assert.deepEqual(
    probe.imports.map((i) => `${i.specifier}${i.typeOnly ? ' (type)' : ''}`),
    ['./a.js', './b.js (type)', './c.js (type)', './d.js', './e.js (type)', './f.js', './g.js (type)', 'node:dgram'],
  );
  assert.deepEqual(probe.impureUses, ['setTimeout (line 12)', 'Date.now (line 13)', 'process (line 14)']);
});
