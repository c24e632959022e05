/**
 * A parser for the part of the ASN.1 notation (X.680, X.681-683) that the ITU
 * H.225.0 v7, H.245 v15 and H.235 modules use: type assignments (some of them
 * parameterized), SEQUENCE, SET, CHOICE with extension markers, SEQUENCE OF
 * and SET OF with size constraints, the primitive types, and constraints, of
 * which only what aligned PER can see is kept (value ranges, sizes, permitted
 * alphabets, extensibility). Everything else in a constraint (WITH
 * COMPONENTS, CONSTRAINED BY, table constraints) is read and dropped.
 */
import { tokenize, type Token } from './asn1-lexer.js';

export interface Range {
  /** null: MIN (unbounded below). */
  lb: number | null;
  /** null: MAX (unbounded above). */
  ub: number | null;
  ext: boolean;
}

/** The PER-visible part of a constraint. */
export interface Constraint {
  value?: Range;
  size?: Range;
  /** Permitted alphabet (FROM), as the set of characters. */
  from?: string;
}

export type TypeAst =
  | { t: 'prim'; name: string; enumRoot?: number; enumExt?: boolean; c: Constraint[] }
  | { t: 'seq'; comps: CompAst[]; ext: boolean; adds: CompAst[]; c: Constraint[] }
  | { t: 'choice'; comps: CompAst[]; ext: boolean; adds: CompAst[]; c: Constraint[] }
  | { t: 'seqof'; elem: TypeAst; c: Constraint[] }
  | { t: 'ref'; name: string; args: TypeAst[]; c: Constraint[] }
  | { t: 'open'; c: Constraint[] };

export interface CompAst {
  name: string;
  type: TypeAst;
  optional: boolean;
}

export interface TypeAssignment {
  name: string;
  params: string[];
  type: TypeAst;
}

export interface ModuleAst {
  name: string;
  /** Imported type name -> module it comes from. */
  imports: Map<string, string>;
  types: Map<string, TypeAssignment>;
}

const PRIMITIVES = new Set(['BOOLEAN', 'NULL', 'INTEGER', 'IA5String', 'BMPString', 'NumericString', 'PrintableString', 'VisibleString', 'GeneralString', 'UniversalString', 'GraphicString', 'UTF8String', 'ObjectDescriptor']);

class Parser {
  private i = 0;
  constructor(private readonly toks: Token[]) {}

  private peek(k = 0): Token | undefined {
    return this.toks[this.i + k];
  }

  private is(text: string, k = 0): boolean {
    return this.toks[this.i + k]?.text === text;
  }

  private next(): Token {
    const t = this.toks[this.i++];
    if (!t) throw new Error('unexpected end of module');
    return t;
  }

  private expect(text: string): Token {
    const t = this.next();
    if (t.text !== text) throw new Error(`line ${t.line}: expected ${text}, got ${t.text}`);
    return t;
  }

  private word(): string {
    const t = this.next();
    if (t.kind !== 'word') throw new Error(`line ${t.line}: expected a name, got ${t.text}`);
    return t.text;
  }

  /** Skips a balanced {...} or (...) group starting at the current token. */
  private skipGroup(): void {
    const open = this.next().text;
    const close = open === '{' ? '}' : open === '(' ? ')' : ']';
    let depth = 1;
    while (depth > 0) {
      const t = this.next().text;
      if (t === open) depth++;
      else if (t === close) depth--;
    }
  }

  module(): ModuleAst {
    const name = this.word();
    if (this.is('{')) this.skipGroup();
    this.expect('DEFINITIONS');
    while (!this.is('::=')) this.next(); // AUTOMATIC TAGS and the like
    this.expect('::=');
    this.expect('BEGIN');
    const imports = new Map<string, string>();
    if (this.is('EXPORTS')) while (this.next().text !== ';');
    if (this.is('IMPORTS')) {
      this.next();
      let pending: string[] = [];
      while (!this.is(';')) {
        if (this.is('FROM')) {
          this.next();
          const from = this.word();
          for (const s of pending) imports.set(s, from);
          pending = [];
          if (this.is('{')) this.skipGroup();
          continue;
        }
        const t = this.next();
        if (t.text === ',') continue;
        if (t.text === '{') {
          this.expect('}'); // SIGNED{} names a parameterized type
          continue;
        }
        pending.push(t.text);
      }
      this.expect(';');
    }
    const types = new Map<string, TypeAssignment>();
    while (!this.is('END')) {
      const a = this.assignment();
      types.set(a.name, a);
    }
    return { name, imports, types };
  }

  private assignment(): TypeAssignment {
    const name = this.word();
    if (!/^[A-Z]/.test(name)) throw new Error(`line ${this.peek(-1)?.line}: only type assignments are supported (${name})`);
    const params: string[] = [];
    if (this.is('{')) {
      this.next();
      while (!this.is('}')) {
        const t = this.next();
        if (t.text !== ',') params.push(t.text);
      }
      this.next();
    }
    this.expect('::=');
    return { name, params, type: this.type() };
  }

  type(): TypeAst {
    const base = this.baseType();
    while (this.is('(')) base.c.push(this.constraint());
    return base;
  }

  private baseType(): TypeAst {
    const t = this.next();
    const w = t.text;
    if (w === 'SEQUENCE' || w === 'SET') {
      if (this.is('{')) return this.components('seq');
      // SEQUENCE SIZE (..) OF X, SEQUENCE (SIZE (..)) OF X, SEQUENCE OF X
      const c: Constraint[] = [];
      if (this.is('SIZE')) {
        this.next();
        c.push({ size: this.sizeOf(this.constraint()) });
      } else if (this.is('(')) c.push(this.constraint());
      this.expect('OF');
      if (this.peek()?.kind === 'word' && /^[a-z]/.test(this.peek()!.text) && this.peek(1)?.kind === 'word') this.next(); // a named element
      return { t: 'seqof', elem: this.type(), c };
    }
    if (w === 'CHOICE') return this.components('choice');
    if (w === 'BIT') {
      this.expect('STRING');
      if (this.is('{')) this.skipGroup(); // named bits
      return { t: 'prim', name: 'BIT STRING', c: [] };
    }
    if (w === 'OCTET') {
      this.expect('STRING');
      return { t: 'prim', name: 'OCTET STRING', c: [] };
    }
    if (w === 'OBJECT') {
      this.expect('IDENTIFIER');
      return { t: 'prim', name: 'OBJECT IDENTIFIER', c: [] };
    }
    if (w === 'ENUMERATED') return this.enumerated();
    if (w === 'INTEGER') {
      if (this.is('{')) this.skipGroup(); // named numbers
      return { t: 'prim', name: 'INTEGER', c: [] };
    }
    if (w === 'TYPE-IDENTIFIER') {
      this.expect('.');
      this.expect('&');
      this.word();
      return { t: 'open', c: [] };
    }
    if (PRIMITIVES.has(w)) return { t: 'prim', name: w, c: [] };
    if (t.kind !== 'word' || !/^[A-Z]/.test(w)) throw new Error(`line ${t.line}: expected a type, got ${w}`);
    const args: TypeAst[] = [];
    if (this.is('{')) {
      this.next();
      while (!this.is('}')) {
        args.push(this.type());
        if (this.is(',')) this.next();
      }
      this.next();
    }
    return { t: 'ref', name: w, args, c: [] };
  }

  private enumerated(): TypeAst {
    this.expect('{');
    let root = 0;
    let ext = false;
    let inAdds = false;
    while (!this.is('}')) {
      const t = this.next();
      if (t.text === ',') continue;
      if (t.text === '...') {
        ext = true;
        inAdds = true;
        continue;
      }
      if (this.is('(')) this.skipGroup(); // an explicit number
      if (!inAdds) root++;
    }
    this.next();
    return { t: 'prim', name: 'ENUMERATED', enumRoot: root, enumExt: ext, c: [] };
  }

  private components(kind: 'seq' | 'choice'): TypeAst {
    this.expect('{');
    const comps: CompAst[] = [];
    const adds: CompAst[] = [];
    let markers = 0;
    while (!this.is('}')) {
      if (this.is(',')) {
        this.next();
        continue;
      }
      if (this.is('...')) {
        this.next();
        if (this.is('!')) {
          this.next();
          this.next();
        }
        markers++;
        continue;
      }
      if (this.is('[[')) throw new Error(`line ${this.peek()!.line}: extension groups are not supported`);
      const name = this.word();
      const type = this.type();
      let optional = false;
      if (this.is('OPTIONAL')) {
        this.next();
        optional = true;
      } else if (this.is('DEFAULT')) {
        throw new Error(`line ${this.peek()!.line}: DEFAULT is not supported`);
      }
      // Between the first and second marker: additions; after the second: root again.
      (markers === 1 ? adds : comps).push({ name, type, optional });
    }
    this.next();
    return { t: kind, comps, ext: markers > 0, adds, c: [] };
  }

  /** A parenthesized constraint, reduced to what PER sees. */
  constraint(): Constraint {
    this.expect('(');
    const out: Constraint = {};
    let ext = false;
    let sawValue = false;
    for (;;) {
      if (this.is(')')) {
        this.next();
        break;
      }
      if (this.is(',') || this.is('^') || this.is('|') || this.is('INTERSECTION') || this.is('UNION')) {
        this.next();
        continue;
      }
      if (this.is('...')) {
        this.next();
        ext = true;
        continue;
      }
      if (this.is('SIZE')) {
        this.next();
        out.size = this.sizeOf(this.constraint());
        continue;
      }
      if (this.is('FROM')) {
        this.next();
        out.from = this.alphabet(this.constraintTokens());
        continue;
      }
      if (this.is('WITH')) {
        this.next();
        this.next(); // COMPONENTS / COMPONENT
        this.skipGroup();
        continue;
      }
      if (this.is('CONSTRAINED')) {
        this.next();
        this.expect('BY');
        this.skipGroup();
        continue;
      }
      if (this.is('(')) {
        Object.assign(out, this.constraint());
        continue;
      }
      const t = this.peek()!;
      if (t.kind === 'number' || t.text === 'MIN' || t.text === 'MAX' || t.text === '-') {
        const lb = this.bound();
        let ub = lb;
        if (this.is('..')) {
          this.next();
          ub = this.bound();
        }
        out.value = { lb, ub, ext: false };
        sawValue = true;
        continue;
      }
      // Anything else (a type in a table constraint, a comment-only constraint): dropped.
      this.next();
    }
    if (ext && sawValue && out.value) out.value.ext = true;
    if (ext && !sawValue && out.size) out.size.ext = true;
    return out;
  }

  /** SIZE(...): the value range of the inner constraint is the size range. */
  private sizeOf(c: Constraint): Range {
    if (!c.value) throw new Error(`line ${this.peek()?.line}: SIZE without a range`);
    return { ...c.value, ext: c.value.ext || Boolean(c.size?.ext) };
  }

  private bound(): number | null {
    const t = this.next();
    if (t.text === 'MIN' || t.text === 'MAX') return null;
    if (t.text === '-') return -Number(this.next().text);
    if (t.kind !== 'number') throw new Error(`line ${t.line}: expected a bound, got ${t.text}`);
    return Number(t.text);
  }

  private constraintTokens(): Token[] {
    const start = this.i;
    this.skipGroup();
    return this.toks.slice(start + 1, this.i - 1);
  }

  private alphabet(toks: Token[]): string {
    let chars = '';
    for (let k = 0; k < toks.length; k++) {
      const t = toks[k];
      if (t.kind !== 'string') continue;
      if (toks[k + 1]?.text === '..' && toks[k + 2]?.kind === 'string') {
        for (let c = t.text.charCodeAt(0); c <= toks[k + 2].text.charCodeAt(0); c++) chars += String.fromCharCode(c);
        k += 2;
      } else chars += t.text;
    }
    return [...new Set(chars)].sort().join('');
  }
}

export function parseModule(source: string): ModuleAst {
  return new Parser(tokenize(source)).module();
}
