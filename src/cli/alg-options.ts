/** `--alg NAME[,NAME]` on the command line: each ALG on its protocol's usual ports. */
import { algNames, attachAlg, findAlg, type AlgInstance } from '../alg/registry.js';
import type { NatEngine } from '../nat/engine.js';
import { CliError } from './errors.js';

export const ALG_NAMES = algNames();

/** Helpers attaching each named ALG; `attached` gets each instance (to read its counters). */
export function algHelpersFor(names: string[], attached?: (alg: AlgInstance) => void): Array<(engine: NatEngine) => void> {
  return names.map((n) => {
    const def = findAlg(n);
    if (!def) throw new CliError(`unknown ALG ${JSON.stringify(n)}; known: ${algNames().join(', ') || '(none)'}`);
    return (engine: NatEngine) => {
      const alg = attachAlg(engine, def);
      attached?.(alg);
    };
  });
}
