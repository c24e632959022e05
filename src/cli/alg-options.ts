/**
 * ALGs selectable by name on the command line, each with the flows it is
 * attached to (by explicit configuration: here, its protocol's standard port).
 */
import type { NatEngine } from '../nat/engine.js';

type Attach = (engine: NatEngine) => void;

const REGISTRY: Record<string, Attach> = {};

export const ALG_NAMES = Object.keys(REGISTRY);

export function algHelpersFor(names: string[]): Attach[] {
  return names.map((n) => {
    const attach = REGISTRY[n];
    if (!attach) throw new Error(`unknown ALG ${JSON.stringify(n)}; known: ${ALG_NAMES.join(', ') || '(none yet)'}`);
    return attach;
  });
}
