/**
 * YAML aliases, checked before the document becomes a value: an alias must
 * name an anchor defined before it and outside it, and all aliases together
 * may add only so many values. Nine anchors of nine aliases each ("billion
 * laughs") make a 600-byte file expand to 387 million values; here it stops
 * at the alias that crosses the bound, with its line and field.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type Node } from 'yaml';

export const ALIAS_LIMITS = {
  /** Aliases in one file. A configuration needs a few, if any. */
  maxAliases: 1000,
  /** Values (scalars, mappings, sequences) the aliases add in all, counted as expanded. */
  maxExpandedValues: 100_000,
} as const;

export interface AliasProblem {
  /** The alias at fault. */
  node: Node;
  /** Its field path in the document ("tun.<<"). */
  path: Array<string | number>;
  message: string;
}

/** The first alias problem in document order, or null when every alias is sound. */
export function checkAliases(doc: Document, limits: { maxAliases: number; maxExpandedValues: number } = ALIAS_LIMITS): AliasProblem | null {
  const anchors = new Map<string, Node>();
  /** Values each finished node stands for once its aliases are expanded (capped to stay finite). */
  const sizes = new Map<Node, number>();
  const open = new Set<Node>();
  const cap = limits.maxExpandedValues + 1;
  let aliases = 0;
  let added = 0;
  let problem: AliasProblem | null = null;
  const path: Array<string | number> = [];

  const visit = (node: unknown): number => {
    if (problem || node === null || node === undefined) return 0;
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (!target) {
        problem = { node, path: [...path], message: `alias *${node.source} names no anchor defined before it` };
        return 0;
      }
      if (open.has(target)) {
        problem = { node, path: [...path], message: `alias *${node.source} refers to a value that contains it` };
        return 0;
      }
      const size = sizes.get(target) ?? 1;
      aliases++;
      added = Math.min(cap, added + size);
      if (aliases > limits.maxAliases) {
        problem = { node, path: [...path], message: `more than ${limits.maxAliases} aliases in one file` };
      } else if (added > limits.maxExpandedValues) {
        problem = { node, path: [...path], message: `aliases expand the file by more than ${limits.maxExpandedValues} values (an alias bomb?)` };
      }
      return size;
    }
    const n = node as Node;
    // An anchor counts from where it is written; an alias inside the anchored value would be a cycle.
    if (n.anchor) anchors.set(n.anchor, n);
    let size = 1;
    open.add(n);
    if (isMap(n)) {
      for (const pair of n.items) {
        if (!isPair(pair)) continue;
        path.push(isScalar(pair.key) ? String(pair.key.value) : '?');
        size += visit(pair.key) + visit(pair.value);
        path.pop();
        if (problem) break;
      }
    } else if (isSeq(n)) {
      n.items.forEach((item, i) => {
        path.push(i);
        if (!problem) size += visit(item);
        path.pop();
      });
    }
    open.delete(n);
    size = Math.min(cap, size);
    sizes.set(n, size);
    return size;
  };
  visit(doc.contents);
  return problem;
}
