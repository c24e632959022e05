/**
 * The routing a masq gateway sets up, as data: a list of steps, each with the
 * command that applies it and the command that undoes exactly it. Pure: the
 * facts it depends on (sysctl values before start) are passed in, so the plan
 * can be printed (--dry-run), tested, and torn down in exact reverse order.
 *
 * The kernel keeps forwarding; policy routing only decides which packets take
 * a detour through masq's two TUN devices (docs/gateway.md has the why):
 *
 *   from an inside prefix, arriving on an inside interface -> table N   -> tun inside
 *   to a public address, arriving on the outside interface  -> table N+1 -> tun outside
 *
 * What masq writes back enters the kernel from the TUN device, matches neither
 * rule (wrong iif), and is routed by the main table like any forwarded packet.
 */
import { offloadTableCommand } from './offload-table.js';

/**
 * How packets for the public addresses reach this host: answered for by proxy
 * ARP on the outside interface, or routed here by the upstream router. (The
 * configuration schema lists the same two; the gateway assembly hands one to
 * the other, so the compiler says when they part.)
 */
export type PublicDelivery = 'proxy-arp' | 'routed';

export interface RoutingSpec {
  insideInterfaces: readonly string[];
  outsideInterface: string;
  /** Inside prefixes as text, e.g. "10.0.1.0/24". */
  insidePrefixes: readonly string[];
  publicAddrs: readonly string[];
  publicDelivery: PublicDelivery;
  tunInside: string;
  tunOutside: string;
  /**
   * Packets the kernel holds for masq on each TUN queue (the device's txqueuelen) before it drops;
   * undefined leaves the kernel's default (500).
   */
  tunQueueLength?: number;
  /** Table N (inside) and N + 1 (outside). */
  table: number;
  priority: number;
  /** The kernel fast path (offload-table.ts): its nftables table, and the mark that routes around the inside TUN device. */
  kernelOffload?: { table: string; markBit: number };
}

/** Values read before start; what a step changes is restored to them on teardown. */
export interface RoutingFacts {
  ipForward: number;
  rpFilterAll: number;
  /** Per TUN device, as created. */
  rpFilter: Record<string, number>;
  /** Per TUN device; undefined when the kernel has no IPv6. */
  disableIpv6: Record<string, number | undefined>;
  /** net.ipv4.neigh.<outside>.proxy_delay, in proxy-arp mode. */
  proxyDelay?: number;
}

export interface RoutingStep {
  /** One line for the log and the docs. */
  what: string;
  apply: string[];
  undo: string[];
}

/** The largest route metric: a route that applies only when no other in its table does. */
const LAST_METRIC = '4294967295';

/** sysctl takes "/" separators, so interface names with dots (eth0.100) stay one path element. */
function sysctl(key: string, value: number): string[] {
  return ['sysctl', '-qw', `${key}=${value}`];
}

function setSysctl(what: string, key: string, from: number, to: number): RoutingStep {
  return { what: `${what} (${key}: ${from} -> ${to})`, apply: sysctl(key, to), undo: sysctl(key, from) };
}

export function planRouting(spec: RoutingSpec, facts: RoutingFacts): RoutingStep[] {
  const steps: RoutingStep[] = [];
  const insideTable = String(spec.table);
  const outsideTable = String(spec.table + 1);
  const pref = String(spec.priority);

  if (facts.ipForward !== 1) {
    steps.push(setSysctl('forward IPv4 between interfaces', 'net/ipv4/ip_forward', facts.ipForward, 1));
  }
  for (const dev of [spec.tunInside, spec.tunOutside]) {
    const v6 = facts.disableIpv6[dev];
    if (v6 !== undefined && v6 !== 1) {
      // masq translates IPv4; without this the device would send router solicitations into masq.
      steps.push(setSysctl(`no IPv6 on ${dev}`, `net/ipv6/conf/${dev}/disable_ipv6`, v6, 1));
    }
    const rp = facts.rpFilter[dev] ?? 0;
    if (Math.max(facts.rpFilterAll, rp) === 1) {
      // Strict reverse-path filtering would drop what masq writes: the reply route to a
      // translated source never points back into the TUN device. Loose mode still checks
      // that the source is routable at all.
      steps.push(setSysctl(`loose reverse-path filter on ${dev}`, `net/ipv4/conf/${dev}/rp_filter`, rp, 2));
    }
    // The queue absorbs the moments masq is not scheduled: past it, the kernel drops what arrives.
    const queue = spec.tunQueueLength === undefined ? [] : ['txqueuelen', String(spec.tunQueueLength)];
    steps.push({
      what: `bring ${dev} up${queue.length ? ` (queue of ${spec.tunQueueLength} packets)` : ''}`,
      apply: ['ip', 'link', 'set', 'dev', dev, ...queue, 'up'],
      undo: ['ip', 'link', 'set', 'dev', dev, 'down'],
    });
  }

  const route = (what: string, spec: string[]): RoutingStep => ({
    what,
    apply: ['ip', 'route', 'add', ...spec],
    undo: ['ip', 'route', 'del', ...spec],
  });
  // Fail closed: while a TUN device is missing (deleted under the gateway, until it is recreated)
  // its table still answers, with a drop, instead of sending the packet on untranslated.
  const fallback = (table: string, dev: string) => route(`table ${table}: drop while ${dev} is missing`, ['blackhole', 'default', 'table', table, 'metric', LAST_METRIC]);
  steps.push(route(`table ${insideTable}: everything into ${spec.tunInside}`, ['default', 'dev', spec.tunInside, 'table', insideTable]));
  steps.push(fallback(insideTable, spec.tunInside));
  for (const prefix of spec.insidePrefixes) {
    // Inside to inside is routed by the kernel, untranslated: back to the next rule.
    steps.push(route(`table ${insideTable}: ${prefix} stays with the main table`, ['throw', prefix, 'table', insideTable]));
  }
  steps.push(route(`table ${outsideTable}: everything into ${spec.tunOutside}`, ['default', 'dev', spec.tunOutside, 'table', outsideTable]));
  steps.push(fallback(outsideTable, spec.tunOutside));

  const rule = (what: string, selector: string[], table: string): RoutingStep => {
    const r = ['pref', pref, ...selector, 'lookup', table];
    return { what, apply: ['ip', 'rule', 'add', ...r], undo: ['ip', 'rule', 'del', ...r] };
  };
  const offload = spec.kernelOffload;
  if (offload !== undefined) {
    const table = { table: offload.table, insideInterfaces: spec.insideInterfaces, outsideInterface: spec.outsideInterface, publicAddrs: spec.publicAddrs, markBit: offload.markBit };
    steps.push({
      what: `nftables table ip ${offload.table}: the kernel fast path for flows masq hands over`,
      apply: ['nft', offloadTableCommand(table)],
      undo: ['nft', 'delete', 'table', 'ip', offload.table],
    });
    // A rule of the same priority added first is consulted first: marked packets skip the inside TUN device.
    const mark = `0x${offload.markBit.toString(16)}`;
    for (const iif of spec.insideInterfaces) {
      steps.push(rule(`offloaded flows from ${iif} are routed by the kernel`, ['iif', iif, 'fwmark', `${mark}/${mark}`], 'main'));
    }
  }
  for (const iif of spec.insideInterfaces) {
    for (const prefix of spec.insidePrefixes) {
      steps.push(rule(`inside traffic from ${prefix} on ${iif} goes through masq`, ['iif', iif, 'from', prefix], insideTable));
    }
  }
  for (const addr of spec.publicAddrs) {
    steps.push(rule(`traffic to ${addr} on ${spec.outsideInterface} goes through masq`, ['iif', spec.outsideInterface, 'to', `${addr}/32`], outsideTable));
  }

  if (spec.publicDelivery === 'proxy-arp') {
    for (const addr of spec.publicAddrs) {
      const entry = ['proxy', addr, 'dev', spec.outsideInterface];
      steps.push({
        what: `answer ARP for ${addr} on ${spec.outsideInterface}`,
        apply: ['ip', 'neigh', 'add', ...entry],
        undo: ['ip', 'neigh', 'del', ...entry],
      });
    }
    if (facts.proxyDelay !== undefined && facts.proxyDelay !== 0) {
      // The kernel delays proxy ARP replies to broadcast requests by up to proxy_delay
      // (0.8 s by default): the first packet of every new neighbour would wait for it.
      steps.push(
        setSysctl(`answer proxy ARP at once on ${spec.outsideInterface}`, `net/ipv4/neigh/${spec.outsideInterface}/proxy_delay`, facts.proxyDelay, 0),
      );
    }
  }
  return steps;
}

/** The commands that undo `applied` (the steps that succeeded), last first. */
export function teardownCommands(applied: readonly RoutingStep[]): string[][] {
  return [...applied].reverse().map((s) => s.undo);
}

/** The sysctl keys planRouting needs read before it can plan. */
export function factKeys(spec: RoutingSpec): {
  ipForward: string;
  rpFilterAll: string;
  rpFilter: Record<string, string>;
  disableIpv6: Record<string, string>;
  proxyDelay?: string;
} {
  const devs = [spec.tunInside, spec.tunOutside];
  return {
    ipForward: 'net/ipv4/ip_forward',
    rpFilterAll: 'net/ipv4/conf/all/rp_filter',
    rpFilter: Object.fromEntries(devs.map((d) => [d, `net/ipv4/conf/${d}/rp_filter`])),
    disableIpv6: Object.fromEntries(devs.map((d) => [d, `net/ipv6/conf/${d}/disable_ipv6`])),
    ...(spec.publicDelivery === 'proxy-arp' ? { proxyDelay: `net/ipv4/neigh/${spec.outsideInterface}/proxy_delay` } : {}),
  };
}

/** Shell-quoted, for logs and --dry-run output. */
export function commandText(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
