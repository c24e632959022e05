/**
 * Where in a YAML file a value lives: zod reports a path (["forwards", 0, "to"]),
 * an operator needs a line and a column. Walks the parsed document (with the
 * source ranges the `yaml` package keeps) as far down the path as it exists.
 * Each mapping's keys are indexed the first time it is walked through, so a
 * file with many problems in one mapping costs one pass over it, not one per
 * problem.
 */
import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node, type Pair, type YAMLMap } from 'yaml';

export interface SourcePosition {
  line: number;
  col: number;
  /** False when the path ends below what the file has (a missing key): the position is its parent's. */
  exact: boolean;
}

type PathKey = string | number;

const pairIndexes = new WeakMap<YAMLMap, Map<string, Pair>>();

/** The pair of `map` whose scalar key reads as `key` (the first, if a key were repeated). */
export function pairOf(map: YAMLMap, key: PathKey): Pair | undefined {
  let index = pairIndexes.get(map);
  if (!index) {
    index = new Map();
    for (const p of map.items) {
      if (!isPair(p) || !isScalar(p.key)) continue;
      const k = String(p.key.value);
      if (!index.has(k)) index.set(k, p);
    }
    pairIndexes.set(map, index);
  }
  return index.get(String(key));
}

interface Walked {
  node: Node | null;
  exact: boolean;
  /** The path ends at a key written with no value (`key:`): `node` is the key. */
  emptyValue: boolean;
}

/** The node at `path`, or the deepest node on the way to it. */
function walk(doc: Document, path: readonly PathKey[]): Walked {
  let node: Node | null = (doc.contents as Node | null) ?? null;
  for (const key of path) {
    if (isMap(node)) {
      const pair = pairOf(node, key);
      if (!pair) return { node, exact: false, emptyValue: false };
      const value = (pair.value as Node | null) ?? null;
      // `key:` with nothing after it has no value node: point at the key.
      if (value === null) return { node: pair.key as Node, exact: true, emptyValue: true };
      node = value;
    } else if (isSeq(node) && typeof key === 'number' && key >= 0 && key < node.items.length) {
      node = node.items[key] as Node;
    } else {
      return { node, exact: false, emptyValue: false };
    }
  }
  return { node, exact: true, emptyValue: false };
}

function positionOf(node: Node | null, lines: LineCounter): { line: number; col: number } {
  const offset = node?.range?.[0] ?? 0;
  return lines.linePos(offset);
}

/** The position of the value at `path` (or of the nearest existing ancestor). */
export function valuePosition(doc: Document, lines: LineCounter, path: readonly PathKey[]): SourcePosition {
  const { node, exact } = walk(doc, path);
  return { ...positionOf(node, lines), exact };
}

/** The position of a key in the mapping at `path`: where an unknown key is written. */
export function keyPosition(doc: Document, lines: LineCounter, path: readonly PathKey[], key: string): SourcePosition {
  const parent = walk(doc, path);
  if (parent.exact && !parent.emptyValue && isMap(parent.node)) {
    const pair = pairOf(parent.node, key);
    if (pair) return { ...positionOf(pair.key as Node, lines), exact: true };
  }
  const { node } = walk(doc, [...path, key]);
  return { ...positionOf(node, lines), exact: false };
}

/** True when the file has a value at `path` other than null (`key:` or `key: null` count as none). */
export function hasValue(doc: Document, path: readonly PathKey[]): boolean {
  const { node, exact, emptyValue } = walk(doc, path);
  return exact && !emptyValue && !(isScalar(node) && node.value === null);
}
