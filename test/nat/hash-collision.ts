/**
 * Two keys with equal tuple hashes, found by a birthday search: the only way
 * to reach the field comparisons that tell records apart once the hash has
 * matched. tupleHash is a bijection of each single word when the others are
 * fixed, so the two keys must differ in at least two fields; `keyOf` spreads a
 * counter over two of them. About 80,000 tries; deterministic.
 */
export function collidingKeys<K>(keyOf: (n: number) => K, hashOf: (key: K) => number): [K, K] {
  const seen = new Map<number, number>();
  for (let n = 0; n < 500_000; n++) {
    const h = hashOf(keyOf(n));
    const before = seen.get(h);
    if (before !== undefined) return [keyOf(before), keyOf(n)];
    seen.set(h, n);
  }
  throw new Error('no hash collision in 500,000 keys');
}
