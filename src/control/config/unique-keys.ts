/**
 * Keys repeated in one mapping. The yaml package can refuse them itself
 * (uniqueKeys), but compares each key with every key before it: a mapping of
 * 40,000 keys then costs 800 million comparisons. One set per mapping does
 * the same in one pass. Keys compare as the yaml package compares them: two
 * scalars with the same value; collections as keys are never equal.
 */
import { isPair, isScalar, visit, type Document, type Node } from 'yaml';

/** The second (and later) occurrence of each repeated key, in document order. */
export function repeatedKeys(doc: Document): Node[] {
  const repeated: Node[] = [];
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        if (!isPair(pair) || !isScalar(pair.key)) continue;
        const value = pair.key.value;
        if (seen.has(value)) repeated.push(pair.key);
        else seen.add(value);
      }
    },
  });
  return repeated.sort((a, b) => (a.range?.[0] ?? 0) - (b.range?.[0] ?? 0));
}

