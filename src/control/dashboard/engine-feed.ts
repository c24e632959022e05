/**
 * The dashboard's snapshot of a running NAT engine: the flows a filter
 * matches (listed a slice at a time, as /flows does), expectations, calls,
 * drops by reason, ALG counters, and the NAT's behaviour as the RFC 5780
 * probe measured it with the evidence since start.
 */
import type { AlgInstance } from '../../alg/registry.js';
import type { NatEngine } from '../../nat/engine.js';
import { listFlows } from '../flow-listing.js';
import { flowFilterOf } from '../flow-query.js';
import { callToJson, expectationToJson, flowToJson, type FlowJson } from '../status-model.js';
import type { DashboardQuery, DashboardSnapshot, DashboardSource } from './model.js';

/** The behaviour a probe measured (RFC 5780 names), or why there is none yet. */
export interface MeasuredBehaviour {
  mapping: string | null;
  filtering: string | null;
  hairpin: boolean | null;
  portPreservation: boolean | null;
  /** How it was measured, for the page. */
  method: string;
}

export interface EngineFeedOptions {
  service: string;
  engine: () => NatEngine;
  algs: () => readonly AlgInstance[];
  now: () => number;
  summary: () => Record<string, string | number | boolean | null>;
  measured: () => MeasuredBehaviour | null;
  /** Extra counter groups (the packet loop's). */
  counters?: () => Record<string, Record<string, number>>;
}

const MAX_LISTED = 200;

export function engineDashboard(o: EngineFeedOptions): DashboardSource {
  return {
    async snapshot(q: DashboardQuery): Promise<DashboardSnapshot> {
      const engine = o.engine();
      const filter = flowFilterOf(q.filter, (alg) => engine.helperIds(alg));
      const shown: FlowJson[] = [];
      const name = (id: number) => engine.helperName(id);
      const listing = await listFlows(
        engine,
        filter,
        (batch) => {
          const now = o.now();
          for (const f of batch) shown.push(flowToJson(f, now, name));
        },
        { limit: q.limit, now: o.now },
      );
      const now = o.now();
      const c = engine.counters.snapshot();
      const measured = o.measured();
      return {
        service: o.service,
        time: Date.now(),
        summary: o.summary(),
        behaviour: {
          mapping: measured?.mapping ?? null,
          filtering: measured?.filtering ?? null,
          hairpin: measured?.hairpin ?? null,
          portPreservation: measured?.portPreservation ?? null,
          measuredBy: measured?.method ?? 'not measured yet',
          configuredMapping: engine.config.mapping,
          configuredFiltering: engine.config.filtering,
          configuredHairpin: engine.config.hairpin,
          hairpinnedPackets: c.hairpinned,
          filteredPackets: c.drops.filtered ?? 0,
        },
        flows: { matched: listing.matched, shown },
        expectations: engine.listExpectations(now).slice(0, MAX_LISTED).map((e) => expectationToJson(e, now)),
        calls: engine
          .listCalls(now)
          .slice(0, MAX_LISTED)
          .map((call) => callToJson(call, (id) => engine.flowInfo(id))),
        drops: c.drops,
        counters: {
          nat: {
            packetsOut: c.packetsOut,
            packetsIn: c.packetsIn,
            bytesOut: c.bytesOut,
            bytesIn: c.bytesIn,
            flowsCreated: c.flowsCreated,
            flowsExpired: c.flowsExpired,
            expectationsOpened: c.expectationsOpened,
          },
          ...Object.fromEntries(o.algs().map((a) => [`alg ${a.name}`, a.counters()])),
          ...(o.counters?.() ?? {}),
        },
      };
    },
  };
}
