/**
 * Reads a gateway configuration file: YAML syntax, then the schema, then the
 * checks that need more than one field (the NAT engine's own, ALG names and
 * ports). Every problem is reported with the file, line and column, the field
 * path and what was expected; nothing is started from a file with any problem.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { algNames, algOptionProblems, findAlg, parseAlgPort, type AlgDefinition, type AlgPortRule } from '../../alg/registry.js';
import { NatConfigError, resolveNatConfig, type ResolvedNatConfig } from '../../nat/config.js';
import { NatEngine } from '../../nat/engine.js';
import { parseIpv4Prefix } from '../../wire/address.js';
import { keyPosition, valuePosition } from './positions.js';
import { gatewayConfigSchema, NAT_KEYS, type GatewayConfig } from './schema.js';

export interface ConfigIssue {
  source: string;
  line: number;
  col: number;
  /** Dotted field path ("forwards.0.to"), "(file)" for the whole file. */
  path: string;
  message: string;
}

export class GatewayConfigError extends Error {
  override name = 'GatewayConfigError';
  constructor(readonly issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
  }
}

export function formatIssue(i: ConfigIssue): string {
  return `${i.source}:${i.line}:${i.col}: ${i.path}: ${i.message}`;
}

export interface ConfiguredAlg {
  definition: AlgDefinition;
  ports: readonly AlgPortRule[];
  options: unknown;
}

export interface LoadedGatewayConfig {
  source: string;
  config: GatewayConfig;
  nat: ResolvedNatConfig;
  algs: ConfiguredAlg[];
}

type PathKey = string | number;
type ZodIssue = z.core.$ZodIssue;

export function loadGatewayConfigFile(file: string): LoadedGatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new GatewayConfigError([{ source: file, line: 1, col: 1, path: '(file)', message: `cannot read the file (${reason})` }]);
  }
  return parseGatewayConfig(text, file);
}

/** Parses and validates the text of a configuration file; throws GatewayConfigError. */
export function parseGatewayConfig(text: string, source = '<config>'): LoadedGatewayConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (path: readonly PathKey[], message: string, key?: string): ConfigIssue => {
    const pos = key === undefined ? valuePosition(doc, lines, path) : keyPosition(doc, lines, path, key);
    const full = key === undefined ? path : [...path, key];
    return { source, line: pos.line, col: pos.col, path: full.join('.') || '(top)', message };
  };

  if (doc.errors.length > 0) {
    throw new GatewayConfigError(
      doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        return { source, line: pos.line, col: pos.col, path: '(yaml)', message: e.message.split('\n')[0] };
      }),
    );
  }
  const raw: unknown = doc.toJS();
  if (raw === null || raw === undefined) {
    throw new GatewayConfigError([at([], 'the file is empty: expected a mapping with at least interfaces, inside and public')]);
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new GatewayConfigError([at([], 'expected a mapping (key: value lines) at the top level')]);
  }

  const parsed = gatewayConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new GatewayConfigError(sortIssues(parsed.error.issues.flatMap((i) => zodIssueToConfigIssues(doc, i, at))));
  }
  const config = parsed.data;
  const issues: ConfigIssue[] = [];
  const algs = checkAlgs(config, at, issues);
  checkDevices(config, at, issues);

  let nat: ResolvedNatConfig | undefined;
  try {
    const natInput: Record<string, unknown> = {};
    for (const k of NAT_KEYS) if (k in raw) natInput[k] = (raw as Record<string, unknown>)[k];
    nat = resolveNatConfig(natInput);
  } catch (err) {
    if (!(err instanceof NatConfigError)) throw err;
    for (const i of err.issues) issues.push(at(i.path, i.message));
  }
  checkAlgOptions(algs, at, issues);
  if (issues.length > 0 || nat === undefined) throw new GatewayConfigError(sortIssues(issues));
  return { source, config, nat, algs: algs.map(({ index: _, ...a }) => a) };
}

/** ALG options are the ALG's business: it says what is wrong, and the config error gets the line. */
function checkAlgOptions(algs: IndexedAlg[], at: (p: readonly PathKey[], m: string) => ConfigIssue, issues: ConfigIssue[]): void {
  for (const a of algs) {
    for (const problem of algOptionProblems(a.definition, a.options)) issues.push(at(['algs', a.index, 'options'], `${a.definition.name}: ${problem}`));
  }
}

type IndexedAlg = ConfiguredAlg & { index: number };

function checkAlgs(config: GatewayConfig, at: (p: readonly PathKey[], m: string) => ConfigIssue, issues: ConfigIssue[]): IndexedAlg[] {
  const out: IndexedAlg[] = [];
  const seen = new Set<string>();
  config.algs.forEach((entry, i) => {
    const definition = findAlg(entry.name);
    if (!definition) {
      issues.push(at(['algs', i, 'name'], `unknown ALG ${JSON.stringify(entry.name)}; known: ${algNames().join(', ') || '(none registered)'}`));
      return;
    }
    if (seen.has(entry.name)) issues.push(at(['algs', i, 'name'], `ALG ${entry.name} is listed twice; list its ports once`));
    seen.add(entry.name);
    const ports: AlgPortRule[] = [];
    (entry.ports ?? []).forEach((text, j) => {
      try {
        ports.push(parseAlgPort(text));
      } catch (err) {
        issues.push(at(['algs', i, 'ports', j], (err as Error).message));
      }
    });
    out.push({ definition, ports: entry.ports === undefined ? definition.defaultPorts : ports, options: entry.options, index: i });
  });
  // Two ALGs on one port: which one would see the flow? The engine takes the first; say so instead.
  const owner = new Map<string, string>();
  out.forEach((a, i) => {
    for (const r of a.ports) {
      for (let p = r.first; p <= r.last; p++) {
        const key = `${r.proto}/${p}`;
        const prev = owner.get(key);
        if (prev !== undefined && prev !== a.definition.name) {
          issues.push(at(['algs', i, 'ports'], `${r.proto === 6 ? 'tcp' : 'udp'}/${p} is already given to ALG ${prev}`));
          return;
        }
        owner.set(key, a.definition.name);
      }
    }
  });
  return out;
}

function checkDevices(config: GatewayConfig, at: (p: readonly PathKey[], m: string) => ConfigIssue, issues: ConfigIssue[]): void {
  const { inside, outside } = config.interfaces;
  inside.forEach((name, i) => {
    if (name === outside) issues.push(at(['interfaces', 'inside', i], `${name} is also the outside interface`));
    if (inside.indexOf(name) !== i) issues.push(at(['interfaces', 'inside', i], `${name} is listed twice`));
  });
  // Each would become a second, identical rule or route, which the kernel refuses half way through setup.
  const firstIndex = (list: readonly string[], i: number) => list.findIndex((x) => canonical(x) === canonical(list[i]));
  config.inside.forEach((_, i) => {
    if (firstIndex(config.inside, i) !== i) issues.push(at(['inside', i], `the same prefix as inside.${firstIndex(config.inside, i)}`));
  });
  config.public.forEach((_, i) => {
    if (firstIndex(config.public, i) !== i) issues.push(at(['public', i], `the same address as public.${firstIndex(config.public, i)}`));
  });
  if (config.tun.inside === config.tun.outside) issues.push(at(['tun', 'outside'], 'the two TUN devices need different names'));
  for (const side of ['inside', 'outside'] as const) {
    const name = config.tun[side];
    if (name === outside || inside.includes(name)) {
      issues.push(at(['tun', side], `${name} is one of the gateway's interfaces; masq creates its TUN devices itself`));
    }
  }
}

/** "10.0.1.7/24" and "10.0.1.0/24" are the same prefix; text that does not parse is left for the NAT checks. */
function canonical(text: string): string {
  try {
    const p = parseIpv4Prefix(text);
    return `${p.network}/${p.length}`;
  } catch {
    return text;
  }
}

function zodIssueToConfigIssues(
  doc: Document,
  issue: ZodIssue,
  at: (p: readonly PathKey[], m: string, key?: string) => ConfigIssue,
  prefix: readonly PathKey[] = [],
): ConfigIssue[] {
  const path = [...prefix, ...(issue.path as PathKey[])];
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => at(path, `unknown key ${JSON.stringify(k)}${suggestion(k, knownKeysAt(path))}`, k));
  }
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    // Report the branch that got furthest: its complaint is the specific one.
    const best = [...issue.errors].sort((a, b) => depth(b) - depth(a))[0];
    if (best.length > 0 && depth(best) > 0) return best.flatMap((i) => zodIssueToConfigIssues(doc, i, at, path));
  }
  const exists = doc.hasIn(path) && doc.getIn(path) !== null;
  if (issue.code === 'invalid_type' && !exists) return [at(path, `required, but missing (expected ${issue.expected})`)];
  return [at(path, issue.message)];
}

function depth(issues: ZodIssue[]): number {
  return Math.max(0, ...issues.map((i) => i.path.length));
}

/** Known keys of the mapping at `path` in the schema, for "did you mean". */
function knownKeysAt(path: readonly PathKey[]): string[] {
  let schema: unknown = gatewayConfigSchema;
  for (const key of path) {
    schema = unwrap(schema);
    if (typeof key === 'number') {
      const element = (schema as { element?: unknown }).element;
      if (!element) return [];
      schema = element;
    } else {
      const shape = (schema as { shape?: Record<string, unknown> }).shape;
      if (!shape || !(key in shape)) return [];
      schema = shape[key];
    }
  }
  const shape = (unwrap(schema) as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape) : [];
}

/** Through defaults, optionals, pipes and unions (the object branch) to the schema underneath. */
function unwrap(schema: unknown): unknown {
  let s = schema as { def?: { innerType?: unknown; in?: unknown; options?: unknown[] } } | undefined;
  for (let i = 0; i < 16 && s?.def; i++) {
    if (s.def.innerType) s = s.def.innerType as typeof s;
    else if (s.def.in) s = s.def.in as typeof s;
    else if (s.def.options) s = (s.def.options.find((o) => (o as { shape?: unknown }).shape) ?? s.def.options[0]) as typeof s;
    else break;
  }
  return s;
}

function suggestion(key: string, known: string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  if (best !== undefined && bestDistance <= Math.max(1, Math.floor(best.length / 3))) return ` (did you mean "${best}"?)`;
  return known.length ? `; expected one of: ${known.join(', ')}` : '';
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.col - b.col);
}
