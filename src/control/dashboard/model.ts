/**
 * What the dashboard shows, as one JSON snapshot a second over server-sent
 * events. Every daemon with a dashboard (the gateway; the SIP proxy) fills
 * the parts it has; the page draws a panel for each part present.
 */
import type { CallJson, ExpectationJson, FlowJson } from '../status-model.js';
import type { FlowQuery } from '../flow-query.js';

export interface DashboardSnapshot {
  service: string;
  /** Unix milliseconds. */
  time: number;
  /** Facts shown as a list: addresses, behaviour, uptime. */
  summary?: Record<string, string | number | boolean | null>;
  /**
   * The NAT's behaviour as the RFC 5780 probe measured it (mapping, filtering,
   * hairpin, port preservation), with the evidence counted since start.
   */
  behaviour?: Record<string, string | number | boolean | null>;
  flows?: { matched: number; shown: FlowJson[] };
  expectations?: ExpectationJson[];
  calls?: CallJson[];
  /** Cumulative drops by reason: the page plots their rates over time. */
  drops?: Record<string, number>;
  /** Counters by group (an ALG, a server part): name -> value. */
  counters?: Record<string, Record<string, number>>;
}

export interface DashboardQuery {
  filter: FlowQuery;
  /** Most flows to send. */
  limit: number;
}

export interface DashboardSource {
  snapshot(query: DashboardQuery): Promise<DashboardSnapshot>;
}
