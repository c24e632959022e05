/**
 * The NAT profiles of the punching matrix and the outcome expected for each
 * pair. The expectations are written out from what each NAT does (RFC 4787
 * terms), not from what the code happens to do:
 *
 * - `direct`: a hello to the public (or local) endpoint gets through once both
 *   sides sent one: at least one side maps endpoint-independently and the other
 *   side's filter then admits it, or a side filters nothing.
 * - `predicted`: a side maps per destination with a small constant step; the
 *   other side reaches the predicted next port.
 * - `birthday`: one side maps per destination with random ports and the other
 *   maps endpoint-independently but filters by address and port: only birthday
 *   probing finds a pair of ports.
 * - `relay`: both sides map per destination and at least one at random: no
 *   direct path can be found; the relay carries it.
 */
import type { NatProfile } from '../../dataplane/sim/profiles.js';

export type Outcome = 'direct' | 'predicted' | 'birthday' | 'relay';

export interface PunchProfile {
  name: string;
  description: string;
  /** null: the peer has a public address (no NAT). */
  nat: NatProfile | null;
  /** A home NAT behind this NAT (a carrier-grade NAT). */
  behindCarrier?: NatProfile;
}

const APDF = 'apdf' as const;

export const PUNCH_PROFILES: PunchProfile[] = [
  { name: 'open', description: 'no NAT', nat: null },
  { name: 'eim-eif', description: 'EIM, endpoint-independent filtering (full cone)', nat: { mapping: 'eim', filtering: 'eif' } },
  { name: 'eim-adf', description: 'EIM, address-dependent filtering (restricted cone)', nat: { mapping: 'eim', filtering: 'adf' } },
  { name: 'eim-apdf', description: 'EIM, address-and-port-dependent filtering (port-restricted cone)', nat: { mapping: 'eim', filtering: APDF } },
  {
    name: 'apdm-preserve',
    description: 'APDM, port preserved where free (then the next free one)',
    nat: { mapping: 'apdm', filtering: APDF, ports: { allocation: 'preserve', parity: false } },
  },
  {
    name: 'apdm-sequential',
    description: 'APDM, sequential ports',
    nat: { mapping: 'apdm', filtering: APDF, ports: { allocation: 'sequential', parity: false } },
  },
  {
    name: 'apdm-random',
    description: 'APDM, random ports',
    nat: { mapping: 'apdm', filtering: APDF, ports: { allocation: 'random', parity: false } },
  },
  {
    name: 'cgn',
    description: 'home NAT (EIM, APDF) behind a carrier NAT (EIM, APDF, hairpin)',
    nat: { mapping: 'eim', filtering: APDF, hairpin: true },
    behindCarrier: { mapping: 'eim', filtering: APDF },
  },
];

export function punchProfile(name: string): PunchProfile {
  const p = PUNCH_PROFILES.find((x) => x.name === name);
  if (!p) throw new Error(`no punch profile ${JSON.stringify(name)}; known: ${PUNCH_PROFILES.map((x) => x.name).join(', ')}`);
  return p;
}

/** How the profile maps, as the expectation table needs it. */
function mappingClass(p: PunchProfile): 'none' | 'eim' | 'predictable' | 'random' {
  if (!p.nat) return 'none';
  // A carrier NAT in front: the outer NAT decides what the world sees; both are EIM here.
  if (p.nat.mapping === 'eim' || p.nat.mapping === 'endpoint-independent') return 'eim';
  return p.nat.ports?.allocation === 'random' ? 'random' : 'predictable';
}

function filtersByPort(p: PunchProfile): boolean {
  return p.nat !== null && (p.nat.filtering === 'apdf' || p.nat.filtering === 'address-and-port-dependent' || p.nat.filtering === undefined);
}

/** The expected outcome for a pair (symmetric in its arguments). */
export function expectedOutcome(a: PunchProfile, b: PunchProfile): Outcome {
  const ma = mappingClass(a);
  const mb = mappingClass(b);
  const dependent = (m: string) => m === 'predictable' || m === 'random';
  if (dependent(ma) && dependent(mb)) return ma === 'random' || mb === 'random' ? 'relay' : 'predicted';
  // One side (say b) maps per destination, the other (a) does not.
  for (const [x, y, mx, my] of [
    [a, b, ma, mb],
    [b, a, mb, ma],
  ] as const) {
    if (!dependent(mx) && dependent(my)) {
      // x's public endpoint is stable; y's is not. If x filters by port, y's new port must be known to x.
      if (!filtersByPort(x)) return my === 'predictable' ? 'predicted' : 'direct';
      return my === 'predictable' ? 'predicted' : 'birthday';
    }
  }
  return 'direct';
}

/** Scenarios beyond the profile pairs. */
export interface SpecialScenario {
  name: string;
  description: string;
  expected: Outcome;
  /** The path kind both sides must end on, when it matters. */
  expectedKind?: 'local' | 'public';
}

export const SPECIAL_SCENARIOS: SpecialScenario[] = [
  { name: 'same-lan', description: 'two peers on one LAN behind one NAT (EIM, APDF, no hairpin)', expected: 'direct', expectedKind: 'local' },
  { name: 'carrier-hairpin', description: 'two homes (EIM, APDF) behind one carrier NAT that hairpins', expected: 'direct', expectedKind: 'public' },
  { name: 'carrier-no-hairpin', description: 'two homes (EIM, APDF) behind one carrier NAT that does not hairpin', expected: 'relay' },
  { name: 'timeout-20s', description: 'two EIM/APDF NATs with 20-second UDP timeouts, 3 minutes with the default keepalive', expected: 'direct', expectedKind: 'public' },
];
