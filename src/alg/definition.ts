/**
 * What an ALG is, to the framework: one object naming it, describing it,
 * giving its protocol's usual ports, validating its options (a zod schema),
 * declaring its expectation policy, and creating its handler. An ALG runs
 * only on the flows it is configured for (DESIGN safety rule 1): the default
 * ports are used when a configuration names the ALG without ports.
 *
 * Adding an ALG is adding one folder with a definition, and one line in
 * builtin.ts (docs/alg-authoring.md).
 */
import type { z } from 'zod';
import type { ExpectationClass } from '../nat/expectations.js';
import type { AlgHandler } from './helper.js';

export interface AlgPortRule {
  proto: 6 | 17;
  first: number;
  last: number;
}

/** How many expectations of one traffic class an ALG may hold, and for how long by default. */
export interface ExpectationClassPolicy {
  /** Live expectations of this class in one group (a call, a session). */
  readonly perGroup: number;
  /** Live expectations of this class for the whole ALG. */
  readonly total: number;
  /** Time to live when the handler does not say. */
  readonly ttlMs: number;
}

/** Per traffic class; a class the policy leaves out may not be opened at all. */
export type ExpectationPolicy = Readonly<Partial<Record<ExpectationClass, ExpectationClassPolicy>>>;

export interface AlgDefinition<Options = unknown> {
  readonly name: string;
  readonly description: string;
  /** Where the protocol usually runs; used when the configuration names the ALG without ports. */
  readonly defaultPorts: readonly AlgPortRule[];
  /** The options a configuration may give (absent options parse as `undefined`). */
  readonly options: z.ZodType<Options>;
  readonly expectations: ExpectationPolicy;
  /** A handler for one engine, from validated options. */
  create(options: Options): AlgHandler;
}

/** Checks a definition against its own option type, then forgets that type for the registry's list. */
export function defineAlg<O>(def: AlgDefinition<O>): AlgDefinition {
  return def as unknown as AlgDefinition;
}

/** A running ALG on one engine: its counters, for metrics and the status endpoint. */
export interface AlgInstance {
  readonly name: string;
  counters(): Record<string, number>;
  /** Whether its handler keeps state across a restart or failover (AlgHandler.exportState / importState). */
  readonly keepsState: boolean;
  /** Messages were handled since the state was last exported. */
  readonly stateChanged: boolean;
  /** The handler's state (a JSON value), or undefined when it keeps none. */
  exportState(now: number): unknown;
  /** Puts back exported state, times moved by shiftMs; null, or why it was refused. */
  importState(state: unknown, shiftMs: number): string | null;
}

/** Problems with `options` from a configuration, each naming the option; none when they validate. */
export function algOptionProblems(def: AlgDefinition, options: unknown): string[] {
  const parsed = def.options.safeParse(options);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`);
}

/** Validated options; throws an Error naming each bad option. */
export function parseAlgOptions<O>(def: AlgDefinition<O>, options: unknown): O {
  const parsed = def.options.safeParse(options);
  if (!parsed.success) {
    throw new Error(`${def.name} ALG options: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
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
