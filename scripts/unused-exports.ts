/**
 * Lists exports of src/ files that nothing imports from another src/ file and
 * that the public entry points (src/index.ts, src/dataplane/sim/index.ts, the
 * package's "exports") do not expose. Each is shown with who else uses it:
 * only its own file (drop the `export`), only tests or benches (keep it only
 * if the test is worth having), or nobody (delete it).
 *
 *   node --import tsx scripts/unused-exports.ts
 *
 * Uses the TypeScript compiler's own resolution, so `import * as m` followed by
 * `m.x` or `const { x } = m`, re-exports and `export *` are all followed.
 */
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PUBLIC_ENTRIES = ['src/index.ts', 'src/dataplane/sim/index.ts'];

const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })!;
const program = ts.createProgram(config.fileNames, config.options);
const checker = program.getTypeChecker();
const rel = (f: string) => relative(root, f).split('\\').join('/');
const sources = program.getSourceFiles().filter((sf) => !sf.isDeclarationFile && !rel(sf.fileName).startsWith('node_modules'));

/** The declaration symbol an alias (import, re-export) finally names. */
function target(sym: ts.Symbol): ts.Symbol {
  return sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
}

/** Every symbol the public entry points expose, namespaces followed. */
function publicSymbols(): Set<ts.Symbol> {
  const out = new Set<ts.Symbol>();
  const seenModules = new Set<ts.Symbol>();
  const addModule = (mod: ts.Symbol) => {
    if (seenModules.has(mod)) return;
    seenModules.add(mod);
    for (const e of checker.getExportsOfModule(mod)) {
      const t = target(e);
      out.add(t);
      if (t.flags & ts.SymbolFlags.ValueModule) addModule(t); // export * as ns from
    }
  };
  for (const f of PUBLIC_ENTRIES) {
    const sf = program.getSourceFile(join(root, f));
    const mod = sf && checker.getSymbolAtLocation(sf);
    if (mod) addModule(mod);
  }
  return out;
}

/** For each declaration symbol, the files that use it (by import, or through a namespace import). */
function users(): Map<ts.Symbol, Set<string>> {
  const out = new Map<ts.Symbol, Set<string>>();
  const use = (sym: ts.Symbol | undefined, file: string) => {
    if (!sym) return;
    const t = target(sym);
    let s = out.get(t);
    if (!s) out.set(t, (s = new Set()));
    s.add(file);
  };
  for (const sf of sources) {
    const file = rel(sf.fileName);
    const visit = (node: ts.Node): void => {
      if (ts.isIdentifier(node)) {
        const sym = checker.getSymbolAtLocation(node);
        // Identifiers that name an import or a re-export, or a property of a namespace import.
        if (sym && (sym.flags & ts.SymbolFlags.Alias || sym.declarations?.some((d) => d.getSourceFile() !== sf))) use(sym, file);
      }
      if (ts.isBindingElement(node) && ts.isObjectBindingPattern(node.parent)) {
        // const { a, b: c } = namespace
        const decl = node.parent.parent;
        if (ts.isVariableDeclaration(decl) && decl.initializer) {
          const from = checker.getSymbolAtLocation(decl.initializer);
          const mod = from && target(from);
          if (mod && mod.flags & ts.SymbolFlags.ValueModule) {
            const name = (node.propertyName ?? node.name) as ts.Identifier;
            use(checker.getExportsOfModule(mod).find((e) => e.name === name.text), file);
          }
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return out;
}

const exposed = publicSymbols();
const usedBy = users();
const rows: string[] = [];
for (const sf of sources) {
  const file = rel(sf.fileName);
  if (!file.startsWith('src/') || PUBLIC_ENTRIES.includes(file)) continue;
  const mod = checker.getSymbolAtLocation(sf);
  if (!mod) continue;
  for (const e of checker.getExportsOfModule(mod)) {
    const t = target(e);
    if (t.declarations?.every((d) => d.getSourceFile() !== sf)) continue; // a re-export: judged where declared
    if (exposed.has(t)) continue;
    const who = [...(usedBy.get(t) ?? [])].filter((f) => f !== file);
    if (who.some((f) => f.startsWith('src/'))) continue;
    const others = who.length ? who.join(', ') : sf.text.split(new RegExp(`\\b${e.name}\\b`)).length > 2 ? '(its own file only)' : '(nobody)';
    rows.push(`${file}: ${e.name}  <- ${others}`);
  }
}
console.log(rows.sort().join('\n'));
console.error(`${rows.length} exports not used from another src/ file nor public`);
