/**
 * Counters of several engines as one: numbers added, arrays added element by
 * element, objects key by key (a key one engine lacks counts as 0 there);
 * anything else (names, error text) taken from the first that has it.
 */
export function sumCounters(parts: readonly unknown[]): unknown {
  const present = parts.filter((p) => p !== undefined && p !== null);
  if (present.length === 0) return undefined;
  const first = present[0];
  if (typeof first === 'number') return present.reduce<number>((s, p) => s + (typeof p === 'number' ? p : 0), 0);
  if (Array.isArray(first)) {
    const length = Math.max(...present.map((p) => (Array.isArray(p) ? p.length : 0)));
    if (!present.every((p) => Array.isArray(p) && p.every((x) => typeof x === 'number'))) return first;
    return Array.from({ length }, (_, i) => present.reduce<number>((s, p) => s + ((p as number[])[i] ?? 0), 0));
  }
  if (typeof first === 'object') {
    const keys = new Set(present.flatMap((p) => (typeof p === 'object' ? Object.keys(p as object) : [])));
    const out: Record<string, unknown> = {};
    for (const k of keys) out[k] = sumCounters(present.map((p) => (p as Record<string, unknown>)[k]));
    return out;
  }
  return first;
}
