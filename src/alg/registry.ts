/**
 * The ALGs masq knows, by name: the built-in list, and any a library user
 * registers. The gateway config, `masq pcap --alg` and the simulator find an
 * ALG here by name and attach it with attachAlg(); none of them imports an ALG
 * itself. libalias keeps the same kind of registry of modules.
 */
import type { NatEngine } from '../nat/engine.js';
import { attachHandler, type AttachedAlg } from './attach.js';
import { BUILTIN_ALGS } from './builtin.js';
import { type AlgDefinition, type AlgPortRule, parseAlgOptions } from './definition.js';

export { type AlgDefinition, type AlgInstance, type AlgPortRule, algOptionProblems, defineAlg, parseAlgPort } from './definition.js';

const algs = new Map<string, AlgDefinition>();
for (const def of BUILTIN_ALGS) algs.set(def.name, def);

/** Makes an ALG known by name (a library user's own ALG; tests). */
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

/**
 * Attaches an ALG to an engine for flows matching `ports` (its default ports
 * when none are given). Throws an Error naming the bad option when `options`
 * do not validate.
 */
export function attachAlg(engine: NatEngine, def: AlgDefinition, ports: readonly AlgPortRule[] = def.defaultPorts, options?: unknown): AttachedAlg {
  return attachHandler(engine, def.create(parseAlgOptions(def, options)), ports, def.expectations);
}
