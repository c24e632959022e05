/**
 * The metrics registry of one masq daemon: prom-client's process and Node.js
 * metrics (CPU, memory, file descriptors, garbage collection, event-loop
 * delay as nodejs_eventloop_lag_*), and masq_build_info naming the daemon.
 * Each daemon then adds its own (gateway-metrics.ts, service-metrics.ts).
 */
import { collectDefaultMetrics, Registry } from 'prom-client';
import { scraped } from './scraped.js';

export type { Registry } from 'prom-client';

export const MASQ_VERSION = '0.1.0';

/** A registry for the daemon `service` (gateway, stun, rendezvous, relay, sip-proxy). */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  scraped(registry, {
    name: 'masq_build_info',
    help: 'Always 1: the masq daemon and version serving these metrics',
    type: 'gauge',
    read: () => [{ value: 1, labels: { service, version: MASQ_VERSION } }],
  });
  return registry;
}
