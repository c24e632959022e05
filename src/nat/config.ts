/**
 * The NAT configuration: one object drives every dataplane (tun, pcap, sim).
 * `natConfigSchema` validates what a user writes (YAML, CLI flags, code) with
 * clear messages; `resolveNatConfig` turns it into numbers the engine uses.
 */
import { z } from 'zod';
import { parseIpv4, parseIpv4Prefix, tryParseIpv4, type Ipv4Prefix } from '../wire/address.js';
import { parseAutofwLine, type AutofwRule } from './autofw.js';
import { RangeSet } from './range-set.js';

const BEHAVIOUR = {
  eim: 'endpoint-independent',
  eif: 'endpoint-independent',
  adm: 'address-dependent',
  adf: 'address-dependent',
  apdm: 'address-and-port-dependent',
  apdf: 'address-and-port-dependent',
  'endpoint-independent': 'endpoint-independent',
  'address-dependent': 'address-dependent',
  'address-and-port-dependent': 'address-and-port-dependent',
} as const;

export type Behaviour = 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent';

const behaviour = (what: 'mapping' | 'filtering') =>
  z
    .string()
    .refine((s) => s in BEHAVIOUR && (what === 'mapping' ? !s.endsWith('f') : !s.endsWith('m')), {
      message:
        what === 'mapping'
          ? 'expected endpoint-independent | address-dependent | address-and-port-dependent (or eim | adm | apdm)'
          : 'expected endpoint-independent | address-dependent | address-and-port-dependent (or eif | adf | apdf)',
    })
    .transform((s) => BEHAVIOUR[s as keyof typeof BEHAVIOUR] as Behaviour);

const ipv4Text = z.string().refine((s) => tryParseIpv4(s) !== null, { message: 'expected an IPv4 address such as 203.0.113.1' });

export const prefixText = z.string().refine(
  (s) => {
    try {
      parseIpv4Prefix(s);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'expected an IPv4 prefix such as 10.0.1.0/24' },
);

const port = z.number().int().min(0).max(65535);

/** A port or an inclusive range: 5060, "5000-5010" or [5000, 5010]. */
export const portRange = z
  .union([
    port,
    z.tuple([port, port]),
    z.string().regex(/^\d{1,5}(-\d{1,5})?$/, 'expected a port or a range such as 5000-5010'),
  ])
  .transform((v, ctx): [number, number] => {
    let r: [number, number];
    if (typeof v === 'number') r = [v, v];
    else if (Array.isArray(v)) r = [v[0], v[1]];
    else {
      const [a, b] = v.split('-').map(Number);
      r = [a, b ?? a];
    }
    if (r[0] > r[1] || r[1] > 65535 || r[0] < 1) {
      ctx.addIssue({ code: 'custom', message: `bad port range ${r[0]}-${r[1]}: need 1 <= first <= last <= 65535` });
    }
    return r;
  });

const protocol = z.enum(['tcp', 'udp']);
const protocols = z.enum(['tcp', 'udp', 'both']);

/** RFC minimums; a simulated NAT may go below them (to model the NATs that do). */
const RFC_MINIMUM_SECONDS = {
  udp: [120, 'RFC 4787 REQ-5'],
  tcpEstablished: [7440, 'RFC 5382 REQ-5'],
  tcpTransitory: [240, 'RFC 5382 REQ-5'],
  tcpSynHold: [6, 'RFC 5382 REQ-4'],
  icmp: [60, 'RFC 5508 REQ-1'],
} as const;

const seconds = (def: number) => z.number().positive().default(def);

const timeoutsSchema = z
  .object({
    udp: seconds(300),
    udpInboundRefresh: z.boolean().default(false),
    tcpEstablished: seconds(7440),
    tcpTransitory: seconds(240),
    tcpSynHold: seconds(6),
    icmp: seconds(60),
    fragment: seconds(30),
    /** Only for modelling non-conforming NATs in sim: lifts the RFC minimums. */
    allowBelowRfc: z.boolean().default(false),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.allowBelowRfc) return;
    for (const [key, [min, rfc]] of Object.entries(RFC_MINIMUM_SECONDS)) {
      const v = t[key as keyof typeof RFC_MINIMUM_SECONDS];
      if (v < min) ctx.addIssue({ code: 'custom', path: [key], message: `must be at least ${min} s (${rfc})` });
    }
  });

export const natConfigSchema = z
  .object({
    inside: z.array(prefixText).min(1, 'list at least one inside prefix'),
    public: z.array(ipv4Text).min(1, 'list at least one public address'),
    mapping: behaviour('mapping').default('endpoint-independent'),
    filtering: behaviour('filtering').default('address-and-port-dependent'),
    ports: z
      .object({
        allocation: z.enum(['preserve', 'sequential', 'random']).default('preserve'),
        parity: z.boolean().default(true),
        range: z.tuple([port, port]).default([1024, 65535]),
        lowRange: z.tuple([port, port]).default([1, 1023]),
        /** ICMP query identifiers handed out (default 1024..65535, and 1..1023 for low ones): a multi-queue gateway gives each engine a slice. */
        icmpRange: z.tuple([port, port]).optional(),
        icmpLowRange: z.tuple([port, port]).optional(),
      })
      .strict()
      .default({ allocation: 'preserve', parity: true, range: [1024, 65535], lowRange: [1, 1023] }),
    pooling: z.enum(['paired', 'arbitrary']).default('paired'),
    hairpin: z.boolean().default(true),
    timeouts: timeoutsSchema.prefault({}),
    unsolicitedSyn: z.enum(['icmp', 'drop']).default('icmp'),
    /** ICMP "administratively prohibited" to an inside host whose new flow is refused for lack of resources. */
    icmpOnRefusal: z.boolean().default(true),
    malformed: z.enum(['drop', 'pass']).default('drop'),
    forwards: z
      .array(
        z
          .object({
            protocol: protocols.default('tcp'),
            port: portRange,
            address: ipv4Text.optional(),
            to: ipv4Text,
            toPort: port.optional(),
          })
          .strict(),
      )
      .default([]),
    triggers: z
      .array(
        z
          .object({
            protocol: protocol.default('tcp'),
            port: portRange,
            open: z.object({ protocol: protocols.default('both'), ports: portRange }).strict(),
            idleTimeout: seconds(600),
            onlyFromContacted: z.boolean().default(false),
            /** What keeps an active trigger alive: any traffic on it, or only outbound traffic to the trigger port (ipautofw without -u). */
            refresh: z.enum(['any-use', 'control-port']).default('any-use'),
          })
          .strict(),
      )
      .default([]),
    /** Outbound traffic to these destination ports leaves from its own source port when that public port is free (ipautofw -d). */
    keepSourcePorts: z.array(z.object({ protocol: protocols.default('both'), port: portRange }).strict()).default([]),
    /** ipautofw / ipmasqadm autofw command lines as the 1999 HOWTOs wrote them (src/nat/autofw.ts, docs/gateway.md). */
    autofw: z
      .array(
        z.union([z.string(), z.object({ rule: z.string(), idleTimeout: z.number().positive().optional() }).strict()], {
          error: 'expected an ipautofw or ipmasqadm autofw command line, or { rule: LINE, idleTimeout: SECONDS }',
        }),
      )
      .default([]),
    limits: z
      .object({
        flows: z.number().int().min(1).default(1_048_576),
        flowsPerHost: z.number().int().min(1).default(65_536),
        expectations: z.number().int().min(0).default(4096),
        expectationsPerGroup: z.number().int().min(0).default(16),
        /** One inside host's share of the expectation table (default a quarter of it, at least 64): one phone cannot take every pinhole. */
        expectationsPerHost: z.number().int().min(0).optional(),
        pendingSyns: z.number().int().min(0).default(1024),
        fragments: z.number().int().min(0).default(1024),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type NatConfigInput = z.input<typeof natConfigSchema>;
export type NatConfig = z.output<typeof natConfigSchema>;

export interface ResolvedForward {
  proto: number;
  publicAddrs: number[];
  first: number;
  last: number;
  inside: number;
  insideFirst: number;
}

export interface ResolvedTrigger {
  index: number;
  proto: number;
  first: number;
  last: number;
  openProtos: number[];
  openFirst: number;
  openLast: number;
  idleMs: number;
  onlyFromContacted: boolean;
  /** Traffic on the opened ports keeps the trigger alive (absent: yes); otherwise only traffic to the trigger port does. */
  refreshByUse?: boolean;
}

/** Destination ports whose outbound flows keep their source port when it is free. */
export interface ResolvedKeepPorts {
  proto: number;
  first: number;
  last: number;
}

/** One `autofw:` line and the rules masq read from it. */
export interface ResolvedAutofw {
  index: number;
  line: string;
  rules: AutofwRule[];
}

/** The configuration as the engine uses it: numbers, milliseconds, parsed prefixes. */
export interface ResolvedNatConfig {
  source: NatConfig;
  inside: Ipv4Prefix[];
  publicAddrs: number[];
  mapping: Behaviour;
  filtering: Behaviour;
  ports: NatConfig['ports'];
  pooling: 'paired' | 'arbitrary';
  hairpin: boolean;
  udpMs: number;
  udpInboundRefresh: boolean;
  tcpEstablishedMs: number;
  tcpTransitoryMs: number;
  tcpSynHoldMs: number;
  icmpMs: number;
  fragmentMs: number;
  unsolicitedSyn: 'icmp' | 'drop';
  icmpOnRefusal: boolean;
  malformed: 'drop' | 'pass';
  forwards: ResolvedForward[];
  triggers: ResolvedTrigger[];
  keepSourcePorts: ResolvedKeepPorts[];
  autofw: ResolvedAutofw[];
  limits: NatConfig['limits'] & { expectationsPerHost: number };
}

/** Membership in any of the prefixes: one set lookup per distinct prefix length, not one test per prefix. */
function prefixMatcher(prefixes: readonly Ipv4Prefix[]): (addr: number) => boolean {
  const byLength = new Map<number, { mask: number; networks: Set<number> }>();
  for (const p of prefixes) {
    let entry = byLength.get(p.length);
    if (!entry) byLength.set(p.length, (entry = { mask: p.mask, networks: new Set() }));
    entry.networks.add(p.network);
  }
  const lengths = [...byLength.values()];
  return (addr) => lengths.some((l) => l.networks.has((addr & l.mask) >>> 0));
}

/**
 * For each expanded forward that claims a public port an earlier one already
 * claims (same protocol, a shared public address), the first such port. A
 * forward without `address` holds its ports on every public address.
 */
function forwardClaimConflicts(
  written: ReadonlyArray<Pick<NatConfig['forwards'][number], 'protocol' | 'address'>>,
  forwards: readonly ResolvedForward[],
  isPublic: ReadonlySet<number>,
): Array<{ proto: number; port: number; index: number }> {
  const conflicts: Array<{ proto: number; port: number; index: number }> = [];
  // Per protocol: ports held on every address; ports held on some public address; ports per single address.
  const everywhere = new Map<number, RangeSet>();
  const onSomePublic = new Map<number, RangeSet>();
  const onAddress = new Map<string, RangeSet>();
  const set = (m: Map<number | string, RangeSet>, k: number | string) => m.get(k) ?? m.set(k, new RangeSet()).get(k)!;
  let rule = 0;
  written.forEach((f, index) => {
    for (const proto of protosOf(f.protocol)) {
      const r = forwards[rule++];
      const all = set(everywhere, proto);
      // The first claimed port in each set this rule's ports could collide with.
      const hits: Array<number | undefined> = [];
      if (f.address === undefined) {
        hits.push(all.firstIn(r.first, r.last), set(onSomePublic, proto).firstIn(r.first, r.last));
        all.add(r.first, r.last);
      } else {
        const a = r.publicAddrs[0];
        const mine = set(onAddress, `${proto}/${a}`);
        hits.push(mine.firstIn(r.first, r.last));
        if (isPublic.has(a)) {
          hits.push(all.firstIn(r.first, r.last));
          set(onSomePublic, proto).add(r.first, r.last);
        }
        mine.add(r.first, r.last);
      }
      const claimed = hits.filter((p): p is number => p !== undefined);
      if (claimed.length > 0) conflicts.push({ proto, port: Math.min(...claimed), index });
    }
  });
  return conflicts;
}

export class NatConfigError extends Error {
  override name = 'NatConfigError';
  constructor(
    message: string,
    readonly issues: Array<{ path: (string | number)[]; message: string }>,
  ) {
    super(message);
  }
}

const PROTO = { tcp: 6, udp: 17 } as const;
const protosOf = (p: 'tcp' | 'udp' | 'both') => (p === 'both' ? [6, 17] : [PROTO[p]]);

/** Reads each `autofw:` line; a line masq cannot read is an issue at its index. */
function resolveAutofw(entries: NatConfig['autofw'], issues: Array<{ path: (string | number)[]; message: string }>): ResolvedAutofw[] {
  const out: ResolvedAutofw[] = [];
  entries.forEach((entry, index) => {
    const line = typeof entry === 'string' ? entry : entry.rule;
    const r = parseAutofwLine(line, typeof entry === 'string' ? undefined : entry.idleTimeout);
    if (r.ok) out.push({ index, line, rules: r.rules });
    else issues.push({ path: ['autofw', index], message: r.error });
  });
  return out;
}

/** Validates and resolves; throws NatConfigError naming each bad field. */
export function resolveNatConfig(input: unknown): ResolvedNatConfig {
  const parsed = natConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path as (string | number)[], message: i.message }));
    throw new NatConfigError(
      `invalid NAT configuration:\n${issues.map((i) => `  ${i.path.join('.') || '(top)'}: ${i.message}`).join('\n')}`,
      issues,
    );
  }
  const c = parsed.data;
  const issues: Array<{ path: (string | number)[]; message: string }> = [];
  const check = (ok: boolean, path: (string | number)[], message: string) => ok || issues.push({ path, message });
  const publicAddrs = c.public.map(parseIpv4);
  const inside = c.inside.map(parseIpv4Prefix);
  // The checks below run once per address or rule, each in constant or logarithmic time:
  // a file with tens of thousands of entries is checked in well under a second.
  const isInside = prefixMatcher(inside);
  const isPublic = new Set(publicAddrs);
  check(c.ports.range[0] >= 1024 && c.ports.range[0] <= c.ports.range[1], ['ports', 'range'], 'need 1024 <= first <= last');
  check(c.ports.lowRange[0] >= 1 && c.ports.lowRange[1] <= 1023 && c.ports.lowRange[0] <= c.ports.lowRange[1] + 1, ['ports', 'lowRange'], 'need 1 <= first <= last <= 1023');
  publicAddrs.forEach((a, i) => check(!isInside(a), ['public', i], 'a public address may not lie inside an inside prefix'));
  // `autofw:` lines become forwards, triggers and kept ports like the ones written out; a problem names the line.
  const autofw = resolveAutofw(c.autofw, issues);
  type Placed<T> = { rule: T; path: (string | number)[] };
  const writtenForwards: Array<Placed<NatConfig['forwards'][number]>> = c.forwards.map((rule, i) => ({ rule, path: ['forwards', i] }));
  const writtenTriggers: Array<Placed<NatConfig['triggers'][number]>> = c.triggers.map((rule, i) => ({ rule, path: ['triggers', i] }));
  const writtenKeeps: Array<Placed<NatConfig['keepSourcePorts'][number]>> = c.keepSourcePorts.map((rule, i) => ({ rule, path: ['keepSourcePorts', i] }));
  for (const a of autofw) {
    const path = ['autofw', a.index];
    for (const r of a.rules) {
      if (r.kind === 'forward') writtenForwards.push({ rule: r.rule, path });
      else if (r.kind === 'trigger') writtenTriggers.push({ rule: r.rule, path });
      else writtenKeeps.push({ rule: r.rule, path });
    }
  }
  // A problem with one field of a written rule names the field; with a rule from an autofw line, the line.
  const at = (path: (string | number)[], field: string) => (path[0] === 'autofw' ? path : [...path, field]);
  const forwards: ResolvedForward[] = [];
  writtenForwards.forEach(({ rule: f, path }) => {
    const addr = f.address === undefined ? publicAddrs : [parseIpv4(f.address)];
    check(f.address === undefined || isPublic.has(addr[0]), at(path, 'address'), 'not one of the public addresses');
    const to = parseIpv4(f.to);
    check(isInside(to), at(path, 'to'), path[0] === 'autofw' ? `${f.to} is not inside any inside prefix` : 'not inside any inside prefix');
    const toFirst = f.toPort ?? f.port[0];
    check(toFirst + (f.port[1] - f.port[0]) <= 65535, at(path, 'toPort'), 'range runs past 65535');
    for (const proto of protosOf(f.protocol)) {
      forwards.push({ proto, publicAddrs: addr, first: f.port[0], last: f.port[1], inside: to, insideFirst: toFirst });
    }
  });
  // Two rules may not claim the same public port: which inside host would win?
  for (const p of forwardClaimConflicts(writtenForwards.map((w) => w.rule), forwards, isPublic)) {
    const path = writtenForwards[p.index].path;
    issues.push({ path: path[0] === 'autofw' ? path : ['forwards'], message: `two forwards claim ${p.proto === 6 ? 'tcp' : 'udp'} port ${p.port}` });
  }
  const triggers: ResolvedTrigger[] = writtenTriggers.map(({ rule: t }, index) => ({
    index,
    proto: PROTO[t.protocol],
    first: t.port[0],
    last: t.port[1],
    openProtos: protosOf(t.open.protocol),
    openFirst: t.open.ports[0],
    openLast: t.open.ports[1],
    idleMs: t.idleTimeout * 1000,
    onlyFromContacted: t.onlyFromContacted,
    refreshByUse: t.refresh === 'any-use',
  }));
  const forwardedPorts = new Map<number, RangeSet>();
  for (const f of forwards) {
    if (!forwardedPorts.has(f.proto)) forwardedPorts.set(f.proto, new RangeSet());
    forwardedPorts.get(f.proto)!.add(f.first, f.last);
  }
  triggers.forEach((t, i) => {
    if (t.openProtos.some((proto) => forwardedPorts.get(proto)?.firstIn(t.openFirst, t.openLast) !== undefined)) {
      issues.push({ path: at(writtenTriggers[i].path, 'open'), message: 'overlaps a static forward' });
    }
  });
  const keepSourcePorts: ResolvedKeepPorts[] = writtenKeeps.flatMap(({ rule: k }) => protosOf(k.protocol).map((proto) => ({ proto, first: k.port[0], last: k.port[1] })));
  if (issues.length) {
    throw new NatConfigError(
      `invalid NAT configuration:\n${issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`,
      issues,
    );
  }
  return {
    source: c,
    inside,
    publicAddrs,
    mapping: c.mapping,
    filtering: c.filtering,
    ports: c.ports,
    pooling: c.pooling,
    hairpin: c.hairpin,
    udpMs: c.timeouts.udp * 1000,
    udpInboundRefresh: c.timeouts.udpInboundRefresh,
    tcpEstablishedMs: c.timeouts.tcpEstablished * 1000,
    tcpTransitoryMs: c.timeouts.tcpTransitory * 1000,
    tcpSynHoldMs: c.timeouts.tcpSynHold * 1000,
    icmpMs: c.timeouts.icmp * 1000,
    fragmentMs: c.timeouts.fragment * 1000,
    unsolicitedSyn: c.unsolicitedSyn,
    icmpOnRefusal: c.icmpOnRefusal,
    malformed: c.malformed,
    forwards,
    triggers,
    keepSourcePorts,
    autofw,
    limits: { ...c.limits, expectationsPerHost: c.limits.expectationsPerHost ?? Math.max(64, Math.floor(c.limits.expectations / 4)) },
  };
}
