/**
 * The gateway's hands on the host: running `ip`/`sysctl`, reading sysctls, the
 * read-only checks before anything changes, and applying a routing plan so
 * that a failure half way undoes exactly what was done.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { commandText, factKeys, teardownCommands, type RoutingFacts, type RoutingSpec, type RoutingStep } from './gateway-routing.js';

export class SystemCommandError extends Error {
  override name = 'SystemCommandError';
  constructor(
    readonly argv: readonly string[],
    readonly output: string,
  ) {
    super(`${commandText(argv)} failed: ${output.trim() || 'no output'}`);
  }
}

/** What the gateway does to the host, behind an interface so tests can record it. */
export interface SystemAccess {
  /** Runs a command; returns stdout; throws SystemCommandError when it fails. */
  run(argv: readonly string[]): string;
  /** A numeric sysctl ("net/ipv4/ip_forward"), or undefined when it does not exist. */
  readSysctl(key: string): number | undefined;
}

export const hostSystem: SystemAccess = {
  run(argv) {
    try {
      return execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new SystemCommandError(argv, `${e.stderr ?? ''}${e.stdout ?? ''}` || e.message);
    }
  },
  readSysctl(key) {
    try {
      const n = Number(readFileSync(`/proc/sys/${key}`, 'utf8').trim());
      return Number.isFinite(n) ? n : undefined;
    } catch {
      return undefined;
    }
  },
};

export class GatewaySetupError extends Error {
  override name = 'GatewaySetupError';
}

/** Reads the sysctls the plan restores on teardown; call after the TUN devices exist. */
export function readRoutingFacts(spec: RoutingSpec, sys: SystemAccess): RoutingFacts {
  const keys = factKeys(spec);
  const need = (key: string): number => {
    const v = sys.readSysctl(key);
    if (v === undefined) throw new GatewaySetupError(`cannot read sysctl ${key.replace(/\//g, '.')}`);
    return v;
  };
  return {
    ipForward: need(keys.ipForward),
    rpFilterAll: need(keys.rpFilterAll),
    rpFilter: Object.fromEntries(Object.entries(keys.rpFilter).map(([d, k]) => [d, need(k)])),
    disableIpv6: Object.fromEntries(Object.entries(keys.disableIpv6).map(([d, k]) => [d, sys.readSysctl(k)])),
    ...(keys.proxyDelay ? { proxyDelay: need(keys.proxyDelay) } : {}),
  };
}

function json<T>(sys: SystemAccess, argv: string[]): T {
  const out = sys.run(argv).trim();
  try {
    return (out === '' ? [] : JSON.parse(out)) as T;
  } catch {
    throw new GatewaySetupError(`${commandText(argv)} printed something that is not JSON (iproute2 too old for -j?)`);
  }
}

/**
 * Everything that would make the plan fail or step on someone else, checked
 * before any change: interfaces, addresses, tables and rule priority.
 */
export function preflight(spec: RoutingSpec, sys: SystemAccess): void {
  const problems: string[] = [];
  const links = json<Array<{ ifname: string }>>(sys, ['ip', '-j', 'link', 'show']).map((l) => l.ifname);
  for (const dev of [...spec.insideInterfaces, spec.outsideInterface]) {
    if (!links.includes(dev)) problems.push(`interface ${dev} does not exist (ip link show)`);
  }
  for (const dev of [spec.tunInside, spec.tunOutside]) {
    if (links.includes(dev)) problems.push(`interface ${dev} already exists: another masq gateway running, or choose other tun names`);
  }
  const addrs = json<Array<{ ifname: string; addr_info?: Array<{ family: string; local: string }> }>>(sys, ['ip', '-j', 'addr', 'show']);
  for (const a of spec.publicAddrs) {
    const holder = addrs.find((l) => l.addr_info?.some((i) => i.family === 'inet' && i.local === a));
    if (holder) {
      problems.push(
        `public address ${a} is assigned to ${holder.ifname}: the kernel would take its packets for itself before ` +
          `masq sees them. masq must own it: remove it (ip addr del ${a}/PREFIX dev ${holder.ifname}) and give this host ` +
          `another address (docs/gateway.md, "Public addresses")`,
      );
    }
  }
  if (spec.publicDelivery === 'proxy-arp') {
    // `ip neigh add proxy` succeeds on an entry that exists, and stop would then delete
    // someone else's entry: refuse instead.
    const proxied = json<Array<{ dst: string; dev: string }>>(sys, ['ip', '-j', 'neigh', 'show', 'proxy']);
    for (const a of spec.publicAddrs) {
      if (proxied.some((p) => p.dst === a && p.dev === spec.outsideInterface)) {
        problems.push(
          `a proxy ARP entry for ${a} on ${spec.outsideInterface} exists (ip neigh show proxy): a masq gateway left over ` +
            `(masq gateway --cleanup --config FILE), or someone else answers ARP for it`,
        );
      }
    }
  }
  for (const t of [spec.table, spec.table + 1]) {
    const routes = tableRoutes(sys, t);
    if (routes.length > 0) problems.push(`routing table ${t} is not empty (ip route show table ${t}): a masq gateway left over (masq gateway --cleanup --config FILE), or choose another routing.table`);
  }
  const rules = json<Array<{ priority: number }>>(sys, ['ip', '-j', 'rule', 'show']);
  if (rules.some((r) => r.priority === spec.priority)) {
    problems.push(
      `an ip rule with priority ${spec.priority} exists (ip rule show pref ${spec.priority}): a masq gateway left over ` +
        `(masq gateway --cleanup --config FILE) or choose another routing.priority`,
    );
  }
  if (problems.length > 0) throw new GatewaySetupError(`cannot start the gateway:\n  ${problems.join('\n  ')}`);
}

/** Routes in a table; a table the kernel has never seen is empty. */
function tableRoutes(sys: SystemAccess, table: number): unknown[] {
  try {
    return json<unknown[]>(sys, ['ip', '-j', 'route', 'show', 'table', String(table)]);
  } catch (err) {
    if (err instanceof SystemCommandError && /table does not exist/i.test(err.output)) return [];
    throw err;
  }
}

export interface StepFailure {
  command: string;
  error: string;
}

/** Routing that is in place: undo() takes it away, last step first, and reports what failed. */
export class AppliedRouting {
  #applied: RoutingStep[];
  constructor(
    private readonly sys: SystemAccess,
    applied: RoutingStep[],
  ) {
    this.#applied = applied;
  }

  get steps(): readonly RoutingStep[] {
    return this.#applied;
  }

  /** Undoes every applied step; idempotent. Keeps going past failures (each is reported). */
  undo(onCommand?: (argv: readonly string[]) => void): StepFailure[] {
    const failures: StepFailure[] = [];
    for (const argv of teardownCommands(this.#applied)) {
      onCommand?.(argv);
      try {
        this.sys.run(argv);
      } catch (err) {
        failures.push({ command: commandText(argv), error: (err as Error).message });
      }
    }
    this.#applied = [];
    return failures;
  }
}

/**
 * Applies the steps in order. When one fails, the ones before it are undone
 * (last first) and a GatewaySetupError says which failed and whether the undo
 * was clean.
 */
export function applyRouting(steps: readonly RoutingStep[], sys: SystemAccess, onStep?: (step: RoutingStep) => void): AppliedRouting {
  const applied: RoutingStep[] = [];
  for (const step of steps) {
    try {
      onStep?.(step);
      sys.run(step.apply);
      applied.push(step);
    } catch (err) {
      const failures = new AppliedRouting(sys, applied).undo();
      const undone =
        failures.length === 0
          ? `the ${applied.length} step(s) before it were undone`
          : `undoing the steps before it also failed:\n  ${failures.map((f) => f.error).join('\n  ')}`;
      throw new GatewaySetupError(`routing setup failed at "${step.what}": ${(err as Error).message}\n${undone}`);
    }
  }
  return new AppliedRouting(sys, applied);
}

/**
 * After a crash (SIGKILL, power loss) rules, proxy ARP entries and the
 * blackhole routes stay behind; the other routes went with the TUN devices. Removes whatever of the plan is still
 * there; sysctls are left as they are (their old values died with the process).
 */
export function cleanupLeftovers(steps: readonly RoutingStep[], sys: SystemAccess): string[] {
  const removed: string[] = [];
  for (const argv of teardownCommands(steps)) {
    if (argv[0] === 'sysctl' || (argv[1] === 'link' && argv[2] === 'set')) continue;
    try {
      sys.run(argv);
      removed.push(commandText(argv));
    } catch {
      /* not there: nothing to remove */
    }
  }
  return removed;
}
