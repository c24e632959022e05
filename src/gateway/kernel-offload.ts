/**
 * The kernel fast path, as a running gateway has it: the settings the
 * configuration gives, and for each engine (one, or one per queue) an nft
 * session that installs its flows and a timer that reads their counters
 * back. The table and its routing rule are routing steps (routing-spec.ts).
 */
import type { GatewayConfig, KernelOffloadSettings } from '../control/config/schema.js';
import { kernelOffloadSection } from '../control/config/schema.js';
import type { Logger } from '../control/logging.js';
import { KernelOffload } from '../dataplane/tun/kernel-offload.js';
import { queueMarkBase } from '../dataplane/tun/offload-table.js';
import type { NatEngine } from '../nat/engine.js';
import { nftCommand, NftSession } from '../net/nft-session.js';
import type { Clock } from '../util/clock.js';

/** The settings in force, or null when the fast path is off. */
export function kernelOffloadSettings(c: GatewayConfig): KernelOffloadSettings | null {
  const k = c.dataplane.kernelOffload;
  if (k === false) return null;
  return k === true ? kernelOffloadSection.parse({}) : k;
}

export interface RunningOffload {
  readonly offload: KernelOffload;
  stats(): Record<string, number>;
  stop(): void;
}

/** Starts the fast path for one engine (queue 0 when there is one). */
export function startKernelOffload(engine: NatEngine, s: KernelOffloadSettings, queue: number, clock: Clock, log: Logger): RunningOffload {
  const logEvent = (event: string, fields: Record<string, unknown>) => log.warn({ event, ...fields }, `kernel offload: ${event}`);
  const session = new NftSession({ table: `ip ${s.table}`, log: logEvent, confirm: 'list' });
  const offload = new KernelOffload(engine, {
    table: s.table,
    markBase: queueMarkBase(s.markBit, queue),
    afterPackets: s.afterPackets,
    maxFlows: s.maxFlows,
    nft: session,
    listMap: (map) => nftCommand(['-j', 'list', 'map', 'ip', s.table, map]),
    log: logEvent,
    reconcileMs: s.reconcileMs,
  });
  const timer = setInterval(() => void offload.reconcile(clock.now()), s.reconcileMs);
  timer.unref();
  return {
    offload,
    stats: () => ({ ...offload.counters, inKernel: offload.size, nftErrors: session.errors, nftCommands: session.commands }),
    stop() {
      clearInterval(timer);
      offload.close();
      session.close();
    },
  };
}
