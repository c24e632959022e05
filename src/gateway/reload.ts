/**
 * A reload of a running gateway (SIGHUP, `masq gateway --reload`): the file
 * is read and validated as at start; what may change while running is
 * applied without dropping a flow (the engine's forwards, triggers, limits,
 * timeouts and policies; ALG ports and options; the log level); what may not
 * (interfaces, TUN devices, routing, the status listener, the dataplane (queues,
 * the kernel fast path), and the NAT fields
 * the tables were built from) refuses the whole reload, each field named with
 * its line, and the running configuration stays.
 */
import { parseAlgOptions, type AlgPortRule } from '../alg/definition.js';
import { attachAlg } from '../alg/registry.js';
import type { AttachedAlg } from '../alg/attach.js';
import { formatIssue, GatewayConfigError, loadGatewayConfigFile, type LoadedGatewayConfig } from '../control/config/load.js';
import type { Logger } from '../control/logging.js';
import { NatConfigError } from '../nat/config.js';
import type { NatEngine } from '../nat/engine.js';
import { restartOnlyChanges } from '../nat/reconfigure.js';

/** Sections of the gateway's own that a running gateway cannot change. */
const RESTART_ONLY = ['interfaces', 'publicDelivery', 'tun', 'routing', 'status', 'dataplane'] as const;

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** `attached`: ALGs this reload attached (new to the running gateway); their state is to be kept like the others'. */
export type ReloadOutcome = { ok: true; changed: string[]; loaded: LoadedGatewayConfig; attached: AttachedAlg[] } | { ok: false; problems: string[] };

/** The ALGs a gateway runs, by name; an ALG taken out by a reload stays here, without ports, for when it comes back. */
export type AlgSet = Map<string, AttachedAlg>;

export function attachConfiguredAlgs(engine: NatEngine, loaded: LoadedGatewayConfig): AlgSet {
  return new Map(loaded.algs.map((a) => [a.definition.name, attachAlg(engine, a.definition, a.ports, a.options)]));
}

/** The problems that stop `next` from being applied while `running` runs; none when it may be. */
function restartProblems(running: LoadedGatewayConfig, next: LoadedGatewayConfig, algs: AlgSet): string[] {
  const problems: string[] = [];
  const say = (path: string, message: string) => problems.push(`${next.source}: ${path}: ${message}`);
  for (const key of RESTART_ONLY) {
    if (!same(running.config[key], next.config[key])) say(key, 'cannot change while running: restart the gateway for this; the running value stays');
  }
  for (const i of restartOnlyChanges(running.nat, next.nat)) say(i.path.join('.'), i.message);
  next.algs.forEach((a, index) => {
    const before = running.algs.find((r) => r.definition.name === a.definition.name);
    const instance = algs.get(a.definition.name);
    if (before && instance && !same(before.options, a.options) && !instance.handler.reconfigure) {
      say(`algs.${index}.options`, `the ${a.definition.name} ALG cannot change its options while running: restart the gateway for this`);
    }
  });
  return problems;
}

/**
 * Reads `file` again and applies it. On any problem nothing changes and the
 * problems come back, one line each (file:line:col: field: message, as at start).
 */
export function reloadGateway(file: string, running: LoadedGatewayConfig, engine: NatEngine, algs: AlgSet, log: Logger): ReloadOutcome {
  let next: LoadedGatewayConfig;
  try {
    next = loadGatewayConfigFile(file);
  } catch (err) {
    if (err instanceof GatewayConfigError) return { ok: false, problems: err.issues.map(formatIssue) };
    throw err;
  }
  const problems = restartProblems(running, next, algs);
  if (problems.length > 0) return { ok: false, problems };
  // Everything below was checked: the engine takes the NAT part whole or not at all, first.
  let changed: string[];
  try {
    changed = engine.reconfigure(next.nat).changed;
  } catch (err) {
    if (err instanceof NatConfigError) return { ok: false, problems: err.issues.map((i) => `${next.source}: ${i.path.join('.')}: ${i.message}`) };
    throw err;
  }
  const attached: AttachedAlg[] = [];
  const algChanges = applyAlgs(running, next, engine, algs, attached);
  if (algChanges) changed.push('algs');
  if (running.config.log.level !== next.config.log.level) {
    log.level = next.config.log.level;
    changed.push('log');
  }
  return { ok: true, changed: [...new Set(changed)].sort(), loaded: next, attached };
}

/** ALG ports and options to the new file's; an ALG new to the file is attached (and added to `attached`), one left out loses its ports. */
function applyAlgs(running: LoadedGatewayConfig, next: LoadedGatewayConfig, engine: NatEngine, algs: AlgSet, attached: AttachedAlg[]): boolean {
  let changed = false;
  const wanted = new Set(next.algs.map((a) => a.definition.name));
  for (const a of next.algs) {
    const name = a.definition.name;
    const before = running.algs.find((r) => r.definition.name === name);
    const instance = algs.get(name);
    if (!instance) {
      const alg = attachAlg(engine, a.definition, a.ports, a.options);
      algs.set(name, alg);
      attached.push(alg);
      changed = true;
      continue;
    }
    if (!before || !samePorts(before.ports, a.ports)) {
      instance.setPorts(a.ports);
      changed = true;
    }
    if (!before || !same(before.options, a.options)) {
      instance.reconfigure(parseAlgOptions(a.definition, a.options));
      changed = true;
    }
  }
  for (const [name, instance] of algs) {
    if (!wanted.has(name) && running.algs.some((r) => r.definition.name === name)) {
      // Flows it watches keep it until they end; no new flow gets it.
      instance.setPorts([]);
      changed = true;
    }
  }
  return changed;
}

function samePorts(a: readonly AlgPortRule[], b: readonly AlgPortRule[]): boolean {
  return same(a, b);
}

/** The ALGs in force: those the running configuration names. */
export function activeAlgs(algs: AlgSet, loaded: LoadedGatewayConfig): AttachedAlg[] {
  return loaded.algs.map((a) => algs.get(a.definition.name)).filter((a): a is AttachedAlg => a !== undefined);
}
