/**
 * Bringing back a TUN device that was deleted under the gateway. Deleting a
 * TUN interface takes with it its link state, its per-device sysctls and the
 * routes through it; the rules and proxy ARP entries stay. So recovery is:
 * open a device with the same name again (retrying until the kernel has let
 * go of the old one's name), re-run the routing steps that name the device,
 * and hand the device to the loop (ReplaceableDevice). The engine is not
 * touched: its flows and expectations wait, and traffic resumes on them.
 */
import type { TunDevice } from './device.js';
import type { RoutingStep } from './gateway-routing.js';
import type { SystemAccess } from './gateway-system.js';
import type { ReplaceableDevice } from './replaceable-device.js';

/** The steps a deleted device takes with it: those that name it as an argument or a sysctl path element. */
export function stepsForDevice(steps: readonly RoutingStep[], dev: string): RoutingStep[] {
  return steps.filter((s) => s.apply.some((a) => a === dev || a.includes(`/${dev}/`)));
}

export interface RecoveryEvents {
  /** An attempt failed; another follows after the interval. */
  retry(err: Error, attempt: number): void;
  /** The device is back; `failedSteps` lists routing steps that could not be re-applied (it runs without them). */
  recovered(info: { attempts: number; downMs: number; failedSteps: Array<{ command: string; error: string }> }): void;
}

export interface RecoveryOptions {
  /** Opens the replacement (same name and options as the first). */
  reopen: () => TunDevice;
  /** The routing steps that name the device (stepsForDevice). */
  steps: readonly RoutingStep[];
  sys: SystemAccess;
  events: RecoveryEvents;
  now: () => number;
  /** Between attempts (ms); the first comes after firstMs. */
  intervalMs?: number;
  firstMs?: number;
}

/** Recovers one side whenever its device is lost; stop() ends any attempt under way. */
export class DeviceRecovery {
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #attempts = 0;
  #since = 0;

  constructor(
    private readonly device: ReplaceableDevice<TunDevice>,
    private readonly options: RecoveryOptions,
  ) {}

  /** Whether a recovery is under way. */
  get recovering(): boolean {
    return this.#timer !== undefined;
  }

  /** Called when the device was lost: starts trying to bring it back. */
  begin(): void {
    if (this.#stopped || this.#timer !== undefined) return;
    this.#attempts = 0;
    this.#since = this.options.now();
    this.#schedule(this.options.firstMs ?? 200);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(() => this.#attempt(), ms);
  }

  #attempt(): void {
    if (this.#stopped) return;
    this.#attempts++;
    let next: TunDevice;
    try {
      next = this.options.reopen();
      this.device.replace(next);
    } catch (err) {
      this.options.events.retry(err as Error, this.#attempts);
      this.#schedule(this.options.intervalMs ?? 1000);
      return;
    }
    this.#timer = undefined;
    const failedSteps: Array<{ command: string; error: string }> = [];
    for (const step of this.options.steps) {
      try {
        this.options.sys.run(step.apply);
      } catch (err) {
        failedSteps.push({ command: step.apply.join(' '), error: (err as Error).message });
      }
    }
    this.options.events.recovered({ attempts: this.#attempts, downMs: this.options.now() - this.#since, failedSteps });
  }
}
