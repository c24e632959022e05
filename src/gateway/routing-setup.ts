/**
 * The part of a gateway's start and stop that is the same whatever runs the
 * packets (one engine, or one per queue): the policy routing put in place
 * last and taken away first, each command logged the same way, and the
 * stack of what a failed start must undo.
 */
import type { LoadedGatewayConfig } from '../control/config/load.js';
import type { Logger } from '../control/logging.js';
import { commandText, planRouting, type RoutingSpec } from '../dataplane/tun/gateway-routing.js';
import { applyRouting, readRoutingFacts, type AppliedRouting, type SystemAccess } from '../dataplane/tun/gateway-system.js';

/** Plans the routing for the host as it is now and applies it (a failed step undoes the ones before it and throws). */
export function setUpRouting(spec: RoutingSpec, sys: SystemAccess, log: Logger): AppliedRouting {
  const steps = planRouting(spec, readRoutingFacts(spec, sys));
  return applyRouting(steps, sys, (s) => log.debug({ event: 'routing', command: commandText(s.apply) }, s.what));
}

/** Takes the routing away; a command that fails is logged and the rest still run. Returns how many failed. */
export function takeDownRouting(routing: AppliedRouting, log: Logger): number {
  const failures = routing.undo((argv) => log.debug({ event: 'routing', command: commandText(argv) }, 'undo'));
  for (const f of failures) log.error({ event: 'teardown', command: f.command, error: f.error }, 'could not undo a routing step');
  return failures.length;
}

/** The facts of the 'gateway started' log line every gateway gives; each adds its own. */
export function startedFields(loaded: LoadedGatewayConfig, spec: RoutingSpec, statusUrl: string | null, routing: AppliedRouting): Record<string, unknown> {
  return {
    event: 'start',
    config: loaded.source,
    interfaces: loaded.config.interfaces,
    inside: spec.insidePrefixes,
    public: spec.publicAddrs,
    forwards: loaded.nat.source.forwards.length,
    status: statusUrl,
    routingSteps: routing.steps.length,
  };
}

/**
 * Runs a start: what each step did is pushed on `undo`; when a later step
 * throws, it is all undone, last first, and the error is thrown on.
 */
export async function startOrUndo<T>(log: Logger, start: (undo: StartUndo) => Promise<T>): Promise<T> {
  const undo = new StartUndo(log);
  try {
    return await start(undo);
  } catch (err) {
    await undo.run();
    throw err;
  }
}

/** What a start has done so far, undone last first when a later step fails; a failing undo is logged, not thrown. */
export class StartUndo {
  readonly #steps: Array<() => unknown> = [];

  constructor(private readonly log: Logger) {}

  push(step: () => unknown): void {
    this.#steps.push(step);
  }

  async run(): Promise<void> {
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        this.log.error({ err }, 'undoing a start step failed');
      }
    }
  }
}
