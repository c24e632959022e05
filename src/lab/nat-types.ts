/**
 * `masq lab nat-types`: what each NAT profile actually does, measured. For every
 * mapping x filtering x port allocation setting, a sim network puts a host
 * behind a masq NAT box and an RFC 5780 STUN server (masq's own) on the
 * internet with two addresses; the RFC 5780 behaviour-discovery probe (the
 * same code as `masq stun probe`) then reports mapping, filtering, hairpinning
 * and port preservation. Virtual time: the RFC's 39.5 s retransmission budget
 * per unanswered test costs nothing.
 */
import { Simulator } from '../dataplane/sim/index.js';
import type { NatConfigInput } from '../nat/config.js';
import { probeNatBehaviour, type NatBehaviour, type NatBehaviourResult } from '../stun/client/probe.js';
import { StunUdpServer } from '../stun/server/udp-server.js';

const MAPPINGS = ['eim', 'adm', 'apdm'] as const;
const FILTERINGS = ['eif', 'adf', 'apdf'] as const;
const ALLOCATIONS = ['preserve', 'sequential', 'random'] as const;

const BEHAVIOUR: Record<string, NatBehaviour> = {
  eim: 'endpoint-independent',
  adm: 'address-dependent',
  apdm: 'address-and-port-dependent',
  eif: 'endpoint-independent',
  adf: 'address-dependent',
  apdf: 'address-and-port-dependent',
};

export interface NatTypeProfile {
  mapping: (typeof MAPPINGS)[number];
  filtering: (typeof FILTERINGS)[number];
  ports: (typeof ALLOCATIONS)[number];
  hairpin: boolean;
}

export interface NatTypeRow {
  configured: NatTypeProfile;
  measured: {
    mapping: NatBehaviour | null;
    filtering: NatBehaviour | null;
    hairpin: boolean | null;
    portPreservation: boolean | null;
    /** Seconds an idle UDP mapping lived (between aliveAfter and goneAfter), when asked for. */
    lifetimeSeconds?: [number, number | null] | null;
  };
  /** Mapping, filtering and hairpinning as configured. */
  matches: boolean;
  /** The probe's verdicts with their reasons, for the curious. */
  probe: Pick<NatBehaviourResult, 'mapping' | 'filtering' | 'hairpinning' | 'portPreservation'>;
}

export interface NatTypesOptions {
  seed?: number;
  /** Also measure the UDP mapping lifetime (binary search up to 600 s of virtual time). */
  lifetime?: boolean;
  /** Probe with hairpinning on (default) or off. */
  hairpin?: boolean;
  profiles?: NatTypeProfile[];
}

function allProfiles(hairpin = true): NatTypeProfile[] {
  return MAPPINGS.flatMap((mapping) =>
    FILTERINGS.flatMap((filtering) => ALLOCATIONS.map((ports) => ({ mapping, filtering, ports, hairpin }))),
  );
}

/**
 * The RFC 5780 probe's view of a NAT configured as `config`: a host behind a
 * masq NAT box, masq's STUN server on the internet with two addresses.
 */
export async function probeInSim(config: Partial<NatConfigInput>, options: { seed?: number; lifetime?: boolean } = {}): Promise<NatBehaviourResult> {
  const sim = new Simulator({ seed: options.seed ?? 1 });
  const internet = sim.segment('internet', { delayMs: 10 });
  const lan = sim.segment('lan', { delayMs: 1 });
  sim.nat('nat', { inside: [lan, '192.168.1.1/24'], outside: [internet, '203.0.113.1/24'], config });
  const host = sim.host('host', lan, '192.168.1.2/24', '192.168.1.1');
  const server = sim.host('stun', internet, '198.51.100.10/24');
  server.attach(internet, '198.51.100.11/24');
  const stun = await sim.complete(
    StunUdpServer.start(server.env, {
      addresses: { primary: { address: '198.51.100.10', port: 3478 }, alternate: { address: '198.51.100.11', port: 3479 } },
    }),
    1_000,
  );
  try {
    return await sim.complete(
      probeNatBehaviour(host.env, { address: '198.51.100.10', port: 3478 }, {
        localAddress: '192.168.1.2',
        lifetime: options.lifetime ? { maxMs: 600_000, resolutionMs: 5_000 } : false,
      }),
      10 * 3_600_000,
    );
  } finally {
    stun.close();
  }
}

async function measureProfile(profile: NatTypeProfile, options: NatTypesOptions = {}): Promise<NatTypeRow> {
  const config: Partial<NatConfigInput> = {
    mapping: profile.mapping,
    filtering: profile.filtering,
    ports: { allocation: profile.ports },
    hairpin: profile.hairpin,
  };
  const r = await probeInSim(config, options);
  const measured: NatTypeRow['measured'] = {
    mapping: r.mapping.value,
    filtering: r.filtering.value,
    hairpin: r.hairpinning.value,
    portPreservation: r.portPreservation.value,
  };
  if (options.lifetime) {
    const l = r.mappingLifetime?.value;
    measured.lifetimeSeconds = l ? [l.aliveAfterMs / 1000, l.goneAfterMs === null ? null : l.goneAfterMs / 1000] : null;
  }
  return {
    configured: profile,
    measured,
    matches:
      measured.mapping === BEHAVIOUR[profile.mapping] &&
      measured.filtering === BEHAVIOUR[profile.filtering] &&
      measured.hairpin === profile.hairpin,
    probe: { mapping: r.mapping, filtering: r.filtering, hairpinning: r.hairpinning, portPreservation: r.portPreservation },
  };
}

export async function runNatTypes(options: NatTypesOptions = {}): Promise<NatTypeRow[]> {
  const rows: NatTypeRow[] = [];
  for (const p of options.profiles ?? allProfiles(options.hairpin ?? true)) rows.push(await measureProfile(p, options));
  return rows;
}

const SHORT: Record<NatBehaviour, string> = {
  'endpoint-independent': 'EI',
  'address-dependent': 'AD',
  'address-and-port-dependent': 'APD',
};

export function formatNatTypes(rows: NatTypeRow[]): string {
  const head = ['mapping', 'filtering', 'ports', '->', 'mapping', 'filtering', 'hairpin', 'ports kept', 'as configured'];
  const lines = rows.map((r) => [
    r.configured.mapping,
    r.configured.filtering,
    r.configured.ports,
    '->',
    r.measured.mapping ? SHORT[r.measured.mapping] : '?',
    r.measured.filtering ? SHORT[r.measured.filtering] : '?',
    r.measured.hairpin === null ? '?' : r.measured.hairpin ? 'yes' : 'no',
    r.measured.portPreservation === null ? '?' : r.measured.portPreservation ? 'yes' : 'no',
    r.matches ? 'yes' : 'NO',
    ...(r.measured.lifetimeSeconds !== undefined
      ? [r.measured.lifetimeSeconds ? `${r.measured.lifetimeSeconds[0]}-${r.measured.lifetimeSeconds[1] ?? '>'} s` : '?']
      : []),
  ]);
  if (rows.some((r) => r.measured.lifetimeSeconds !== undefined)) head.push('UDP lifetime');
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  const ok = rows.filter((r) => r.matches).length;
  return [
    'configured (masq NAT in sim)      measured by the RFC 5780 probe (masq stun probe against masq stun serve)',
    fmt(head),
    ...lines.map(fmt),
    '',
    `${ok} of ${rows.length} profiles behave as configured. EI: endpoint-independent, AD: address-dependent, APD: address-and-port-dependent.`,
  ].join('\n');
}
