/**
 * ASN.1 types reduced to what decides their aligned-PER encoding: for each
 * named type reachable from the roots, its shape (BOOLEAN, a constrained
 * INTEGER, a SEQUENCE with its optional components and extension additions,
 * ...), with references between named types kept, parameterized types
 * instantiated, imports followed, and PER-visible constraints applied.
 */
import type { CompAst, Constraint, ModuleAst, Range, TypeAst } from './asn1-parser.js';

export type Shape =
  | { k: 'bool' }
  | { k: 'null' }
  | { k: 'int'; lb: number | null; ub: number | null; ext: boolean }
  | { k: 'enum'; root: number; ext: boolean }
  | { k: 'bits'; size: Range | null }
  | { k: 'octets'; size: Range | null }
  /** A known-multiplier character string: `alphabet` characters, and the largest character value. */
  | { k: 'chars'; size: Range | null; alphabet: number; maxChar: number }
  /** A length in octets and the octets: open types, GeneralString and the other non-known-multiplier strings. */
  | { k: 'lenOctets' }
  | { k: 'oid' }
  | { k: 'seq'; ext: boolean; comps: Comp[]; adds: Comp[] }
  | { k: 'choice'; ext: boolean; comps: Comp[]; adds: Comp[] }
  | { k: 'seqof'; size: Range | null; elem: Shape }
  | { k: 'ref'; id: string };

export interface Comp {
  name: string;
  shape: Shape;
  optional: boolean;
}

export interface NamedType {
  /** "MODULE.Type", or "MODULE.Type{args}" for an instance of a parameterized type. */
  id: string;
  module: string;
  name: string;
  shape: Shape;
}

/** Characters and largest value of the character string types (X.680 41). */
const ALPHABETS: Record<string, { n: number; max: number } | undefined> = {
  IA5String: { n: 128, max: 127 },
  VisibleString: { n: 95, max: 126 },
  PrintableString: { n: 74, max: 122 },
  NumericString: { n: 11, max: 57 },
  BMPString: { n: 65536, max: 65535 },
  UniversalString: { n: 2 ** 32, max: 2 ** 32 - 1 },
};

interface Binding {
  module: string;
  ast: TypeAst;
  env: Env;
}
type Env = ReadonlyMap<string, Binding>;
const NO_ENV: Env = new Map();

function perVisible(c: Constraint[]): boolean {
  return c.some((x) => x.value || x.size || x.from);
}

function lastValue(c: Constraint[]): Range | null {
  let r: Range | null = null;
  for (const x of c) if (x.value) r = x.value;
  return r;
}

function lastSize(c: Constraint[]): Range | null {
  let r: Range | null = null;
  for (const x of c) if (x.size) r = x.size;
  return r;
}

export class ShapeResolver {
  readonly named = new Map<string, NamedType>();
  private readonly modules = new Map<string, ModuleAst>();

  constructor(modules: ModuleAst[]) {
    for (const m of modules) this.modules.set(m.name, m);
  }

  /** The id of a named type, resolving it (and what it reaches) on first use. */
  named_(module: string, name: string, args: Binding[] = []): string {
    const m = this.modules.get(module);
    const a = m?.types.get(name);
    if (!m || !a) throw new Error(`unknown type ${module}.${name}`);
    if (a.params.length !== args.length) throw new Error(`${module}.${name} takes ${a.params.length} parameters, given ${args.length}`);
    const id = args.length ? `${module}.${name}{${args.map((b) => this.argKey(b)).join(',')}}` : `${module}.${name}`;
    if (this.named.has(id)) return id;
    const entry: NamedType = { id, module, name, shape: { k: 'null' } };
    this.named.set(id, entry); // before resolving: recursive types find themselves
    const env = new Map<string, Binding>();
    a.params.forEach((p, i) => env.set(p, args[i]));
    entry.shape = this.resolve(module, a.type, env);
    return id;
  }

  private argKey(b: Binding): string {
    const s = this.resolve(b.module, b.ast, b.env);
    return s.k === 'ref' ? s.id : JSON.stringify(s);
  }

  /** Where a type name used in `module` is defined. */
  private home(module: string, name: string): string {
    const m = this.modules.get(module)!;
    if (m.types.has(name)) return module;
    const from = m.imports.get(name);
    if (!from) throw new Error(`${module}: ${name} is neither defined nor imported`);
    return from;
  }

  resolve(module: string, ast: TypeAst, env: Env): Shape {
    switch (ast.t) {
      case 'prim':
        return this.prim(ast.name, ast.c, ast.enumRoot, ast.enumExt);
      case 'open':
        return { k: 'lenOctets' };
      case 'seq':
      case 'choice':
        return {
          k: ast.t,
          ext: ast.ext,
          comps: ast.comps.map((c) => this.comp(module, c, env)),
          adds: ast.adds.map((c) => this.comp(module, c, env)),
        };
      case 'seqof':
        return { k: 'seqof', size: lastSize(ast.c), elem: this.resolve(module, ast.elem, env) };
      case 'ref': {
        const bound = env.get(ast.name);
        let shape: Shape;
        if (bound) shape = this.resolve(bound.module, bound.ast, bound.env);
        else {
          const home = this.home(module, ast.name);
          const args = ast.args.map((a) => ({ module, ast: a, env }));
          shape = { k: 'ref', id: this.named_(home, ast.name, args) };
        }
        return perVisible(ast.c) ? this.constrain(shape, ast.c) : shape;
      }
    }
  }

  private comp(module: string, c: CompAst, env: Env): Comp {
    return { name: c.name, shape: this.resolve(module, c.type, env), optional: c.optional };
  }

  private prim(name: string, c: Constraint[], enumRoot?: number, enumExt?: boolean): Shape {
    switch (name) {
      case 'BOOLEAN':
        return { k: 'bool' };
      case 'NULL':
        return { k: 'null' };
      case 'INTEGER': {
        const v = lastValue(c);
        return { k: 'int', lb: v?.lb ?? null, ub: v?.ub ?? null, ext: v?.ext ?? false };
      }
      case 'ENUMERATED':
        return { k: 'enum', root: enumRoot!, ext: enumExt! };
      case 'BIT STRING':
        return { k: 'bits', size: lastSize(c) };
      case 'OCTET STRING':
        return { k: 'octets', size: lastSize(c) };
      case 'OBJECT IDENTIFIER':
        return { k: 'oid' };
    }
    const alphabet = ALPHABETS[name];
    if (!alphabet) return { k: 'lenOctets' }; // GeneralString and the other non-known-multiplier strings
    const from = c.find((x) => x.from)?.from;
    return {
      k: 'chars',
      size: lastSize(c),
      alphabet: from ? from.length : alphabet.n,
      maxChar: from ? Math.max(...[...from].map((ch) => ch.charCodeAt(0))) : alphabet.max,
    };
  }

  /** A use-site constraint on a referenced type: the referenced shape with it applied. */
  private constrain(shape: Shape, c: Constraint[]): Shape {
    const base = shape.k === 'ref' ? this.named.get(shape.id)!.shape : shape;
    const v = lastValue(c);
    const size = lastSize(c);
    const from = c.find((x) => x.from)?.from;
    switch (base.k) {
      case 'int':
        return v ? { k: 'int', lb: v.lb, ub: v.ub, ext: v.ext } : base;
      case 'bits':
      case 'octets':
        return size ? { ...base, size } : base;
      case 'chars':
        return {
          ...base,
          size: size ?? base.size,
          alphabet: from ? from.length : base.alphabet,
          maxChar: from ? Math.max(...[...from].map((ch) => ch.charCodeAt(0))) : base.maxChar,
        };
      case 'seqof':
        return size ? { ...base, size } : base;
      default:
        return shape;
    }
  }
}
