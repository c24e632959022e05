/**
 * Birthday probing between a NAT with endpoint-dependent mapping (the hard
 * side) and one with endpoint-independent mapping (the easy side), as
 * Tailscale describes it: the hard side opens many sockets (256), each sending
 * to the easy side's public endpoint, so its NAT holds 256 random mappings
 * that each admit the easy side; the easy side sends probes to random ports of
 * the hard side's address. A probe that hits one of the 256 mappings gets
 * through, and the answer comes back through the pinhole the probe opened.
 * With 256 of ~64,500 ports open, 1024 probes succeed with ~98% probability.
 *
 * Probes are rate-limited, and a client runs one birthday attack at a time
 * (BirthdaySlot): 256 sockets and a probe stream are not something to do for
 * several peers at once.
 */

export interface BirthdayOptions {
  /** Sockets the hard side opens. */
  sockets: number;
  /** Probes the easy side sends at most per attempt. */
  maxProbes: number;
  probesPerSecond: number;
  /** Hard-side sockets opened per second (their first sends are paced too). */
  socketsPerSecond: number;
  /** The easy side waits this long after the start, so the hard side's mappings exist. */
  easyDelayMs: number;
  /** Hard side: how often each socket repeats its hello while the attempt lasts. */
  hardResendMs: number;
  /** Ports probed: the range NATs allocate from. */
  portRange: readonly [number, number];
  /** Start an attempt this long after punching began without a direct path. */
  startAfterMs: number;
  /** After a failed attempt, try again this much later (while no direct path exists). */
  retryAfterMs: number;
}

export const DEFAULT_BIRTHDAY: BirthdayOptions = {
  sockets: 256,
  maxProbes: 1024,
  probesPerSecond: 100,
  socketsPerSecond: 1000,
  easyDelayMs: 500,
  hardResendMs: 1000,
  portRange: [1024, 65535],
  startAfterMs: 1000,
  retryAfterMs: 60_000,
};

/** How long one attempt lasts, on either side: the easy side's probes plus a grace period. */
export function birthdayDurationMs(o: BirthdayOptions): number {
  return o.easyDelayMs + Math.ceil((o.maxProbes / o.probesPerSecond) * 1000) + 2000;
}

/** One birthday attack at a time: a FIFO of waiters. */
export class BirthdaySlot {
  private busy = false;
  private readonly waiters: Array<() => void> = [];

  acquire(): Promise<() => void> {
    return new Promise((resolve) => {
      const grant = () => {
        this.busy = true;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.busy = false;
          this.waiters.shift()?.();
        });
      };
      if (!this.busy) grant();
      else this.waiters.push(grant);
    });
  }

  get inUse(): boolean {
    return this.busy;
  }
}

/** Distinct random ports from a range, without replacement. */
export class RandomPorts {
  private readonly used = new Set<number>();

  constructor(
    private readonly range: readonly [number, number],
    private readonly random: () => number,
  ) {}

  next(): number | null {
    const [lo, hi] = this.range;
    const span = hi - lo + 1;
    if (this.used.size >= span) return null;
    let p = lo + Math.floor(this.random() * span);
    // Random until a free one turns up; past a few misses, the next free port up.
    for (let tries = 0; this.used.has(p) && tries < 32; tries++) p = lo + Math.floor(this.random() * span);
    for (let i = 0; this.used.has(p) && i < span; i++) p = p === hi ? lo : p + 1;
    this.used.add(p);
    return p;
  }

  has(port: number): boolean {
    return this.used.has(port);
  }

  get count(): number {
    return this.used.size;
  }
}
