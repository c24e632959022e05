/**
 * A new configuration for a running engine (a reload), applied without
 * dropping a flow: forwards, triggers, limits, timeouts and the policies
 * (hairpin, unsolicited SYNs, ICMP on refusal, malformed packets) change in
 * place. What the tables were built from cannot: the inside prefixes, the
 * public addresses, the mapping and filtering behaviour, the port pools and
 * the pooling. A configuration that changes one of those is refused whole,
 * each such field named, and the running one stays.
 */
import type { ResolvedNatConfig } from './config.js';
import type { NatParts } from './parts.js';


/** What a reload changed, for the log. */
export interface ReconfigureSummary {
  changed: string[];
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

const RESTART_ONLY = ['inside', 'public', 'mapping', 'filtering', 'ports', 'pooling'] as const;

/** The fields `next` changes that a running engine cannot take; none when it may be applied. */
export function restartOnlyChanges(running: ResolvedNatConfig, next: ResolvedNatConfig): Array<{ path: (string | number)[]; message: string }> {
  return RESTART_ONLY.filter((k) => !same(running.source[k], next.source[k])).map((k) => ({
    path: [k],
    message: `cannot change while running (the tables were built from it): restart the gateway for this; the running value stays`,
  }));
}

/** The sections that differ, by their names in the configuration file. */
export function changedSections(running: ResolvedNatConfig, next: ResolvedNatConfig): string[] {
  const a = running.source as Record<string, unknown>;
  const b = next.source as Record<string, unknown>;
  return Object.keys(b).filter((k) => !same(a[k], b[k]));
}

/**
 * Applies `next` to the engine's parts. The caller checked restartOnlyChanges;
 * port claims of forwards and triggers move from the old rules to the new in
 * one synchronous step, so no packet sees them half done.
 */
export function applyConfig(p: NatParts, next: ResolvedNatConfig): ReconfigureSummary {
  const running = p.config;
  const changed = changedSections(running, next);
  // Forwards and triggers hold their public ports in the pools: release the old, hold the new.
  for (const [proto, addr, port] of p.forwards.claims()) p.pools.of(addr, proto).release(port);
  for (const [proto, port] of p.triggers.claims()) for (const a of running.publicAddrs) p.pools.of(a, proto).release(port);
  p.forwards.replace(next.forwards);
  p.triggers.replace(next.triggers);
  for (const [proto, addr, port] of p.forwards.claims()) p.pools.of(addr, proto).hold(port);
  for (const [proto, port] of p.triggers.claims()) for (const a of next.publicAddrs) p.pools.of(a, proto).hold(port);

  const l = next.limits;
  p.flows.setLimit(l.flows);
  [next.udpMs, next.tcpEstablishedMs, next.tcpTransitoryMs, next.icmpMs].forEach((ms, tclass) => (p.flows.timeouts[tclass] = ms));
  p.expectations.setLimits(l.expectations, l.expectationsPerGroup, l.expectationsPerHost);
  p.fragments.setLimits(l.fragments, next.fragmentMs);
  p.synHolds.setLimit(l.pendingSyns);
  p.refusals.setConfig(next);
  p.config = next;
  return { changed };
}
