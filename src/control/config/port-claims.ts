/**
 * Two ALGs on one port: which one would see the flow? The engine takes the
 * first; the configuration check says so instead. An entry that lists a port
 * an earlier entry of another ALG lists is a conflict (the same ALG listed
 * twice is reported elsewhere). Ranges are compared as ranges: the cost
 * depends on the number of rules, not on how many ports they span.
 */
import { RangeSet } from '../../nat/range-set.js';

export interface PortClaimEntry {
  name: string;
  rules: ReadonlyArray<{ proto: number; first: number; last: number }>;
}

export interface PortClaimConflict {
  /** Index of the entry that names a port another ALG already has. */
  entry: number;
  proto: number;
  /** The first such port, in the order the entry lists its rules. */
  port: number;
  /** An ALG an earlier entry lists that port under (of several, the one whose name appears first in the list). */
  owner: string;
}

/** At most one conflict per entry: the first port it shares with an earlier entry of another ALG. */
export function portClaimConflicts(entries: readonly PortClaimEntry[]): PortClaimConflict[] {
  // Per protocol and ALG name: the ports listed under that name so far. Names are the
  // registered ALGs, a handful, so asking each one's set is cheap.
  const claimed = new Map<number, Map<string, RangeSet>>();
  const nameOrder = new Map<string, number>();
  const conflicts: PortClaimConflict[] = [];
  entries.forEach((e, entry) => {
    if (!nameOrder.has(e.name)) nameOrder.set(e.name, nameOrder.size);
    for (const r of e.rules) {
      let best: { port: number; owner: string } | undefined;
      for (const [owner, ports] of claimed.get(r.proto) ?? []) {
        if (owner === e.name) continue;
        const port = ports.firstIn(r.first, r.last);
        if (port === undefined) continue;
        if (best === undefined || port < best.port || (port === best.port && nameOrder.get(owner)! < nameOrder.get(best.owner)!)) best = { port, owner };
      }
      if (best) {
        conflicts.push({ entry, proto: r.proto, ...best });
        break;
      }
    }
    for (const r of e.rules) {
      let byName = claimed.get(r.proto);
      if (!byName) claimed.set(r.proto, (byName = new Map()));
      let mine = byName.get(e.name);
      if (!mine) byName.set(e.name, (mine = new RangeSet()));
      mine.add(r.first, r.last);
    }
  });
  return conflicts;
}
