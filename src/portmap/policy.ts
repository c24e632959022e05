/**
 * Who may map what (docs/portmap.md): rules name inside prefixes, the ports
 * their hosts may map on themselves and ask for outside, the protocols, the
 * longest lifetime and how many mappings one host may hold. A host takes the
 * first rule that names it; a host no rule names may map nothing. Pure: the
 * servers ask, then act.
 */
import { parseIpv4Prefix, prefixContains, type Ipv4Prefix } from '../wire/address.js';

export interface PortmapRuleInput {
  hosts: readonly string[];
  externalPorts: readonly [number, number];
  internalPorts: readonly [number, number];
  protocols: ReadonlyArray<'udp' | 'tcp'>;
  /** Seconds. */
  maxLifetime: number;
  maxMappings: number;
}

interface Rule extends PortmapRuleInput {
  prefixes: Ipv4Prefix[];
}

export interface MapAsk {
  host: number;
  proto: 'udp' | 'tcp';
  internalPort: number;
  /** 0: any. */
  externalPort: number;
  /** Seconds asked for; 0 is a deletion, not asked here. */
  lifetime: number;
  /** Port mappings the host holds now, this one not counted if it is a renewal. */
  held: number;
}

export type PolicyRefusal = 'no-rule' | 'protocol' | 'internal-port' | 'external-port' | 'quota';

export type PolicyAnswer =
  | { ok: true; lifetime: number; externalRange: readonly [number, number]; externalPort: number }
  | { ok: false; why: PolicyRefusal; detail: string };

export class PortmapPolicy {
  private readonly rules: Rule[];

  constructor(rules: readonly PortmapRuleInput[]) {
    this.rules = rules.map((r) => ({ ...r, prefixes: r.hosts.map(parseIpv4Prefix) }));
  }

  /** The rule for a host, or undefined. */
  ruleFor(host: number): Readonly<PortmapRuleInput> | undefined {
    return this.rules.find((r) => r.prefixes.some((p) => prefixContains(p, host)));
  }

  decide(ask: MapAsk): PolicyAnswer {
    const rule = this.ruleFor(ask.host);
    if (!rule) return { ok: false, why: 'no-rule', detail: 'no rule lets this host map ports' };
    if (!rule.protocols.includes(ask.proto)) return { ok: false, why: 'protocol', detail: `${ask.proto} may not be mapped` };
    const [ilo, ihi] = rule.internalPorts;
    if (ask.internalPort < ilo || ask.internalPort > ihi) return { ok: false, why: 'internal-port', detail: `internal port ${ask.internalPort} is outside ${ilo}-${ihi}` };
    const [elo, ehi] = rule.externalPorts;
    if (ask.held >= rule.maxMappings) return { ok: false, why: 'quota', detail: `the host holds ${ask.held} mappings, its maximum` };
    // A suggestion outside the allowed range is no suggestion; the caller says whether that is a refusal (UPnP's exact ports).
    const externalPort = ask.externalPort >= elo && ask.externalPort <= ehi ? ask.externalPort : 0;
    return { ok: true, lifetime: Math.min(ask.lifetime, rule.maxLifetime), externalRange: rule.externalPorts, externalPort };
  }
}
