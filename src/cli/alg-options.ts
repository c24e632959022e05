/** `--alg NAME[,NAME]` on the command line: each ALG on its protocol's usual ports. */
import { algNames, attachAlg, findAlg } from '../alg/registry.js';
import type { NatEngine } from '../nat/engine.js';
import { CliError } from './errors.js';

export const ALG_NAMES = algNames();

export function algHelpersFor(names: string[]): Array<(engine: NatEngine) => void> {
  return names.map((n) => {
    const def = findAlg(n);
    if (!def) throw new CliError(`unknown ALG ${JSON.stringify(n)}; known: ${algNames().join(', ') || '(none)'}`);
    return (engine: NatEngine) => void attachAlg(engine, def);
  });
}
