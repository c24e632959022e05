/**
 * The ALGs masq knows, by name. An ALG runs only on the flows it is configured
 * for (DESIGN safety rule 1): each entry names its protocol's usual ports as a
 * default, but the gateway config, the pcap CLI and the sim choose explicitly.
 * libalias keeps the same kind of registry of modules.
 */
import type { NatEngine } from '../nat/engine.js';

export interface AlgPortRule {
  proto: 6 | 17;
  first: number;
  last: number;
}

/** A running ALG on one engine: its counters, for metrics and the status endpoint. */
export interface AlgInstance {
  readonly name: string;
  counters(): Record<string, number>;
}

export interface AlgDefinition {
  readonly name: string;
  readonly description: string;
  /** Where the protocol usually runs; used when the configuration names the ALG without ports. */
  readonly defaultPorts: readonly AlgPortRule[];
  /** Problems with `options` from a configuration (each naming the option), or none. */
  validateOptions(options: unknown): string[];
  /**
   * Attaches the ALG to the engine for flows matching `ports`. Throws an Error
   * naming the bad option when `options` do not validate.
   */
  attach(engine: NatEngine, ports: readonly AlgPortRule[], options?: unknown): AlgInstance;
}

const algs = new Map<string, AlgDefinition>();

export function registerAlg(def: AlgDefinition): void {
  if (algs.has(def.name)) throw new Error(`ALG ${def.name} registered twice`);
  algs.set(def.name, def);
}

export function findAlg(name: string): AlgDefinition | undefined {
  return algs.get(name);
}

export function algNames(): string[] {
  return [...algs.keys()].sort();
}

/** Parses "udp/5060", "tcp/5060-5061" into a rule. */
export function parseAlgPort(text: string): AlgPortRule {
  const m = /^(udp|tcp)\/(\d{1,5})(?:-(\d{1,5}))?$/.exec(text.trim());
  if (!m) throw new Error(`expected udp/PORT or tcp/FIRST-LAST, got ${JSON.stringify(text)}`);
  const first = Number(m[2]);
  const last = m[3] === undefined ? first : Number(m[3]);
  if (first < 1 || last > 65535 || first > last) throw new Error(`bad port range in ${JSON.stringify(text)}`);
  return { proto: m[1] === 'udp' ? 17 : 6, first, last };
}
