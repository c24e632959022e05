/**
 * Entries of a list that repeat an earlier one once put in canonical form
 * ("10.0.1.7/24" and "10.0.1.0/24" are the same prefix): one canonical form
 * and one map lookup per entry.
 */
export function laterDuplicates<T>(list: readonly T[], canonical: (item: T) => string): Array<{ index: number; firstIndex: number }> {
  const first = new Map<string, number>();
  const out: Array<{ index: number; firstIndex: number }> = [];
  list.forEach((item, index) => {
    const key = canonical(item);
    const seen = first.get(key);
    if (seen === undefined) first.set(key, index);
    else out.push({ index, firstIndex: seen });
  });
  return out;
}
