/**
 * Reads a gateway configuration file: YAML syntax, then the schema, then the
 * checks that need more than one field (the NAT engine's own, ALG names and
 * ports). Every problem is reported with the file, line and column, the field
 * path and what was expected, all of them at once: each top-level section is
 * validated on its own, and the checks across sections run on the sections
 * that are valid. Nothing is started from a file with any problem.
 *
 * Hostile files are refused early and cheaply: at most MAX_CONFIG_BYTES, YAML
 * aliases bounded (aliases.ts), and every check linear or n log n in the size
 * of the file.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { algNames, algOptionProblems, findAlg, parseAlgPort, type AlgDefinition, type AlgPortRule } from '../../alg/registry.js';
import { NatConfigError, resolveNatConfig, type ResolvedNatConfig } from '../../nat/config.js';
import { parseIpv4Prefix } from '../../wire/address.js';
import { checkAliases } from './aliases.js';
import { laterDuplicates } from './duplicates.js';
import { portClaimConflicts } from './port-claims.js';
import { repeatedKeys } from './unique-keys.js';
import { hasValue, keyPosition, valuePosition } from './positions.js';
import { gatewayConfigSchema, NAT_KEYS, type GatewayConfig } from './schema.js';

/** The largest configuration file read: a real one is a few kilobytes; 1 MiB holds tens of thousands of entries. */
export const MAX_CONFIG_BYTES = 1 << 20;
/** Problems listed in the error message; the error's `issues` has them all. */
const MAX_ISSUES_SHOWN = 100;

export interface ConfigIssue {
  source: string;
  /** 0 (with col 0) for a problem with the file itself: missing, unreadable, too large. */
  line: number;
  col: number;
  /** Dotted field path ("forwards.0.to"), "(file)" for the whole file. */
  path: string;
  message: string;
}

export class GatewayConfigError extends Error {
  override name = 'GatewayConfigError';
  constructor(readonly issues: ConfigIssue[]) {
    const shown = issues.slice(0, MAX_ISSUES_SHOWN).map(formatIssue);
    if (issues.length > MAX_ISSUES_SHOWN) shown.push(`... and ${issues.length - MAX_ISSUES_SHOWN} more`);
    super(shown.join('\n'));
  }

  /** True when the file could not be read at all (missing, unreadable, too large), rather than read and found wrong. */
  get unreadable(): boolean {
    return this.issues.length > 0 && this.issues.every((i) => i.line === 0);
  }
}

export function formatIssue(i: ConfigIssue): string {
  return i.line === 0 ? `${i.source}: ${i.message}` : `${i.source}:${i.line}:${i.col}: ${i.path}: ${i.message}`;
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
  /** The line of the file each `autofw:` entry is on (by its index), for `--check` to say what each became. */
  autofwLines: Map<number, number>;
}

export type PathKey = string | number;
type ZodIssue = z.core.$ZodIssue;
export type At = (path: readonly PathKey[], message: string, key?: string) => ConfigIssue;

const READ_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory, not a file',
};

const tooLarge = (bytes: string) => `the file is ${bytes}; a configuration file may be at most ${MAX_CONFIG_BYTES} bytes (1 MiB)`;

export function loadGatewayConfigFile(file: string): LoadedGatewayConfig {
  return parseGatewayConfig(readConfigText(file), file);
}

/**
 * The text of a configuration file, read with a bound; a GatewayConfigError
 * naming the file when it is missing, unreadable or too large.
 */
export function readConfigText(file: string): string {
  const fileIssue = (message: string) => new GatewayConfigError([{ source: file, line: 0, col: 0, path: '(file)', message }]);
  try {
    const read = readAtMost(file, MAX_CONFIG_BYTES);
    if (read.size > MAX_CONFIG_BYTES) throw fileIssue(tooLarge(read.exactSize ? `${read.size} bytes` : `larger than that`));
    return read.bytes.toString('utf8');
  } catch (err) {
    if (err instanceof GatewayConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const reason = READ_ERRORS[code];
    throw fileIssue(`cannot read the file: ${reason ? `${reason} (${code})` : (err as Error).message || code}`);
  }
}

/**
 * Reads up to `max` + 1 bytes: enough to know a file is too large without reading
 * it all (or forever, from a device or a pipe).
 */
function readAtMost(file: string, max: number): { bytes: Buffer; size: number; exactSize: boolean } {
  const fd = openSync(file, 'r');
  try {
    const stat = fstatSync(fd);
    if (stat.isFile() && stat.size > max) return { bytes: Buffer.alloc(0), size: stat.size, exactSize: true };
    const buf = Buffer.alloc(max + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buf, length, buf.length - length, null);
      if (n === 0) break;
      length += n;
      if (length === buf.length) break;
    }
    return { bytes: buf.subarray(0, length), size: length, exactSize: length <= max };
  } finally {
    closeSync(fd);
  }
}

/** A YAML file validated section by section: what each valid section became, and every problem with its line. */
export interface YamlSections {
  doc: Document;
  /** Line positions of the text (for the lines of valid entries). */
  lines: LineCounter;
  at: At;
  top: Record<string, unknown>;
  /** The top-level sections that are valid, as the schema made them. */
  parts: Partial<Record<string, unknown>>;
  issues: ConfigIssue[];
}

/**
 * YAML syntax, repeated keys and aliases (each a GatewayConfigError at once),
 * then each top-level key of `schema` validated on its own, so one section's
 * problems do not hide another's. The gateway's file and the SIP proxy's go
 * through here.
 */
export function parseYamlSections(text: string, source: string, schema: z.ZodObject, emptyMessage: string): YamlSections {
  const size = Buffer.byteLength(text, 'utf8');
  if (size > MAX_CONFIG_BYTES) throw new GatewayConfigError([{ source, line: 0, col: 0, path: '(file)', message: tooLarge(`${size} bytes`) }]);
  const lines = new LineCounter();
  // Repeated keys are found below in one pass; the yaml package's own check is quadratic.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false, logLevel: 'error' });
  const at: At = (path, message, key) => {
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
  const repeated = repeatedKeys(doc);
  if (repeated.length > 0) {
    throw new GatewayConfigError(
      repeated.map((key) => {
        const pos = lines.linePos(key.range?.[0] ?? 0);
        return { source, line: pos.line, col: pos.col, path: '(yaml)', message: 'Map keys must be unique' };
      }),
    );
  }
  const aliasProblem = checkAliases(doc);
  if (aliasProblem) {
    const pos = lines.linePos(aliasProblem.node.range?.[0] ?? 0);
    throw new GatewayConfigError([{ source, line: pos.line, col: pos.col, path: aliasProblem.path.join('.') || '(top)', message: aliasProblem.message }]);
  }
  let raw: unknown;
  try {
    // Aliases are bounded above; the yaml package's own count would refuse harmless files.
    raw = doc.toJS({ maxAliasCount: -1 });
  } catch (err) {
    throw new GatewayConfigError([{ source, line: 1, col: 1, path: '(yaml)', message: String((err as Error)?.message ?? err).split('\n')[0] }]);
  }
  if (raw === null || raw === undefined) throw new GatewayConfigError([at([], emptyMessage)]);
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new GatewayConfigError([at([], 'expected a mapping (key: value lines) at the top level')]);
  }
  const top = raw as Record<string, unknown>;

  // Each section on its own, so one section's problems do not hide another's.
  const issues: ConfigIssue[] = [];
  const shape = schema.shape as Record<string, z.ZodType>;
  for (const key of Object.keys(top)) {
    if (!Object.hasOwn(shape, key)) issues.push(at([], `unknown key ${quoted(key)}${suggestion(key, Object.keys(shape))}`, key));
  }
  const parts: Partial<Record<string, unknown>> = {};
  for (const [key, section] of Object.entries(shape)) {
    const r = section.safeParse(Object.hasOwn(top, key) ? top[key] : undefined);
    if (r.success) parts[key] = r.data;
    else issues.push(...r.error.issues.flatMap((i) => zodIssueToConfigIssues(doc, i, at, [key], schema)));
  }
  return { doc, lines, at, top, parts, issues };
}

/** Parses and validates the text of a configuration file; throws GatewayConfigError with every problem found. */
export function parseGatewayConfig(text: string, source = '<config>'): LoadedGatewayConfig {
  const { doc, lines, at, top, parts, issues } = parseYamlSections(text, source, gatewayConfigSchema, 'the file is empty: expected a mapping with at least interfaces, inside and public');
  const config = parts as Partial<GatewayConfig>;

  const algs = config.algs ? checkAlgs(config.algs, at, issues) : [];
  checkDevices(config, at, issues);
  let nat: ResolvedNatConfig | undefined;
  // The engine's checks across fields need every NAT section valid (they would repeat the problems above otherwise).
  if (NAT_KEYS.every((k) => Object.hasOwn(parts, k))) {
    try {
      const natInput: Record<string, unknown> = {};
      for (const k of NAT_KEYS) if (Object.hasOwn(top, k)) natInput[k] = top[k];
      nat = resolveNatConfig(natInput);
    } catch (err) {
      if (!(err instanceof NatConfigError)) throw err;
      for (const i of err.issues) issues.push(at(i.path, i.message));
    }
  }
  checkAlgOptions(algs, at, issues);
  checkQueues(config, at, issues);
  if (issues.length > 0 || nat === undefined) throw new GatewayConfigError(sortIssues(issues));
  const autofwLines = new Map(nat.autofw.map((a) => [a.index, valuePosition(doc, lines, ['autofw', a.index]).line]));
  return { source, config: config as GatewayConfig, nat, algs: algs.map(({ index: _, ...a }) => a), autofwLines };
}

/**
 * Several queues (one engine per thread) cannot yet keep state on disk, replicate it, answer port-mapping
 * protocols, open ports by trigger, hairpin between engines or feed /metrics and the dashboard: each is
 * refused by name rather than left silently wrong.
 */
function checkQueues(config: Partial<GatewayConfig>, at: At, issues: ConfigIssue[]): void {
  const queues = config.dataplane?.queues ?? 1;
  if (queues === 1) return;
  const here = ['dataplane', 'queues'];
  const refuse = (what: string, fix: string) => issues.push(at(here, `${queues} queues cannot run with ${what} yet; ${fix}`));
  if (config.state !== false) refuse('state kept across restarts (and its replication)', 'set state: false');
  if (config.portmap !== false && config.portmap !== undefined) refuse('PCP, NAT-PMP and UPnP (portmap)', 'set portmap: false');
  if (config.hairpin !== false) refuse('hairpinning (an inside host reaching another through a public address)', 'set hairpin: false');
  if ((config.triggers?.length ?? 0) > 0 || (config.autofw?.length ?? 0) > 0) refuse('port triggers (triggers, autofw)', 'remove them');
  if (config.status !== false && config.status !== undefined && (config.status.metrics || config.status.dashboard)) {
    refuse('the /metrics endpoint and the dashboard', 'set status.metrics: false and status.dashboard: false (status JSON and masq conntrack work)');
  }
}

/** ALG options are the ALG's business: it says what is wrong, and the config error gets the line. */
function checkAlgOptions(algs: IndexedAlg[], at: (p: readonly PathKey[], m: string) => ConfigIssue, issues: ConfigIssue[]): void {
  for (const a of algs) {
    for (const problem of algOptionProblems(a.definition, a.options)) issues.push(at(['algs', a.index, 'options'], `${a.definition.name}: ${problem}`));
  }
}

type IndexedAlg = ConfiguredAlg & { index: number };

function checkAlgs(entries: GatewayConfig['algs'], at: At, issues: ConfigIssue[]): IndexedAlg[] {
  const out: IndexedAlg[] = [];
  const seen = new Set<string>();
  entries.forEach((entry, i) => {
    const definition = findAlg(entry.name);
    if (!definition) {
      issues.push(at(['algs', i, 'name'], `unknown ALG ${quoted(entry.name)}; known: ${algNames().join(', ') || '(none registered)'}`));
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
  for (const c of portClaimConflicts(out.map((a) => ({ name: a.definition.name, rules: a.ports })))) {
    issues.push(at(['algs', out[c.entry].index, 'ports'], `${c.proto === 6 ? 'tcp' : 'udp'}/${c.port} is already given to ALG ${c.owner}`));
  }
  return out;
}

/** Interfaces, TUN devices and duplicate entries; each part runs when the sections it needs are valid. */
function checkDevices(config: Partial<GatewayConfig>, at: At, issues: ConfigIssue[]): void {
  const { interfaces, tun } = config;
  if (interfaces) {
    const { inside, outside } = interfaces;
    inside.forEach((name, i) => {
      if (name === outside) issues.push(at(['interfaces', 'inside', i], `${name} is also the outside interface`));
    });
    for (const d of laterDuplicates(inside, (name) => name)) issues.push(at(['interfaces', 'inside', d.index], `${inside[d.index]} is listed twice`));
  }
  // Each would become a second, identical rule or route, which the kernel refuses half way through setup.
  if (config.inside) {
    for (const d of laterDuplicates(config.inside, canonical)) issues.push(at(['inside', d.index], `the same prefix as inside.${d.firstIndex}`));
  }
  if (config.public) {
    for (const d of laterDuplicates(config.public, canonical)) issues.push(at(['public', d.index], `the same address as public.${d.firstIndex}`));
  }
  if (tun) {
    if (tun.inside === tun.outside) issues.push(at(['tun', 'outside'], 'the two TUN devices need different names'));
    if (interfaces) {
      const gatewayInterfaces = new Set([interfaces.outside, ...interfaces.inside]);
      for (const side of ['inside', 'outside'] as const) {
        const name = tun[side];
        if (gatewayInterfaces.has(name)) issues.push(at(['tun', side], `${name} is one of the gateway's interfaces; masq creates its TUN devices itself`));
      }
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

/** A key as it appears in a message: quoted, and cut short when it is long. */
function quoted(key: string): string {
  return JSON.stringify(key.length > 64 ? `${key.slice(0, 61)}...` : key);
}

function zodIssueToConfigIssues(doc: Document, issue: ZodIssue, at: At, prefix: readonly PathKey[] = [], root: z.ZodType = gatewayConfigSchema): ConfigIssue[] {
  const path = [...prefix, ...(issue.path as PathKey[])];
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => at(path, `unknown key ${quoted(k)}${suggestion(k, knownKeysAt(path, root))}`, k));
  }
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    // Report the branch that got furthest: its complaint is the specific one.
    const best = [...issue.errors].sort((a, b) => depth(b) - depth(a))[0];
    if (best.length > 0 && depth(best) > 0) return best.flatMap((i) => zodIssueToConfigIssues(doc, i, at, path, root));
  }
  if (issue.code === 'invalid_type' && !hasValue(doc, path)) return [at(path, `required, but missing (expected ${issue.expected})`)];
  return [at(path, issue.message)];
}

function depth(issues: ZodIssue[]): number {
  return Math.max(0, ...issues.map((i) => i.path.length));
}

/** Known keys of the mapping at `path` in the schema, for "did you mean". */
function knownKeysAt(path: readonly PathKey[], root: z.ZodType): string[] {
  let schema: unknown = root;
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
  const lower = key.toLowerCase();
  for (const k of known) {
    const allowed = Math.max(1, Math.floor(k.length / 3));
    // The distance is at least the difference in length: most keys need no comparing at all.
    if (Math.abs(k.length - key.length) > allowed) continue;
    const d = editDistance(lower, k.toLowerCase());
    if (d <= allowed && d < bestDistance) [best, bestDistance] = [k, d];
  }
  if (best !== undefined) return ` (did you mean "${best}"?)`;
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

export function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.col - b.col);
}
