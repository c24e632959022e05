/**
 * Where in a YAML file a value lives: zod reports a path (["forwards", 0, "to"]),
 * an operator needs a line and a column. Walks the parsed document (with the
 * source ranges the `yaml` package keeps) as far down the path as it exists.
 */
import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';

export interface SourcePosition {
  line: number;
  col: number;
  /** False when the path ends below what the file has (a missing key): the position is its parent's. */
  exact: boolean;
}

type PathKey = string | number;

/** The node at `path`, or the deepest node on the way to it. */
function walk(doc: Document, path: readonly PathKey[]): { node: Node | null; keyNode: Node | null; exact: boolean } {
  let node: Node | null = (doc.contents as Node | null) ?? null;
  let keyNode: Node | null = null;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(key));
      if (!pair) return { node, keyNode, exact: false };
      keyNode = pair.key as Node;
      // `key:` with nothing after it has no value node: point at the key.
      node = (pair.value as Node | null) ?? null;
      if (node === null) return { node: keyNode, keyNode, exact: true };
    } else if (isSeq(node) && typeof key === 'number' && key >= 0 && key < node.items.length) {
      keyNode = null;
      node = node.items[key] as Node;
    } else {
      return { node, keyNode, exact: false };
    }
  }
  return { node, keyNode, exact: true };
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
  const { node, exact } = walk(doc, [...path, key]);
  const found = walk(doc, path);
  if (exact && isMap(found.node)) {
    const pair = found.node.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
    if (pair) return { ...positionOf(pair.key as Node, lines), exact: true };
  }
  return { ...positionOf(node, lines), exact: false };
}
