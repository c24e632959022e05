/**
 * A gateway's port mapping service over a real engine, as the portmap-server
 * and upnp-soap targets drive it: two public addresses, rules for the
 * inside hosts (one host with a tight quota and short lifetimes), a few
 * outbound flows for PCP PEER to find, and a check that one request changed
 * only its own host's mappings.
 */
import { createLogger } from '../../../src/control/logging.js';
import { PortmapService } from '../../../src/gateway/portmap/service.js';
import type { NatEngine } from '../../../src/nat/engine.js';
import { Side } from '../../../src/nat/engine.js';
import type { PortMapping } from '../../../src/nat/port-mappings.js';
import type { ManualClock } from '../../../src/util/clock.js';
import { ipv4ToString } from '../../../src/wire/address.js';
import { makeEngine, udpPkt } from '../../../test/nat/packets.js';
import { invariant } from '../target.js';

export const PORTMAP_PUBLIC = ['203.0.113.1', '203.0.113.2'];
export const PORTMAP_MAX_LIFETIME = 3600;

const RULES = [
  { hosts: ['10.0.0.2/32'], externalPorts: [1024, 65535] as const, internalPorts: [1024, 65535] as const, protocols: ['udp'] as Array<'udp' | 'tcp'>, maxLifetime: 60, maxMappings: 2 },
  { hosts: ['10.0.0.0/24'], externalPorts: [20000, 65535] as const, internalPorts: [1, 65535] as const, protocols: ['udp', 'tcp'] as Array<'udp' | 'tcp'>, maxLifetime: PORTMAP_MAX_LIFETIME, maxMappings: 4 },
];

export interface PortmapState {
  engine: NatEngine;
  clock: ManualClock;
  service: PortmapService;
}

export function createPortmapState(): PortmapState {
  const { engine, clock } = makeEngine({ public: PORTMAP_PUBLIC, mapping: 'apdm', filtering: 'apdf', ports: { allocation: 'random' } });
  const service = new PortmapService(engine, RULES, createLogger('silent'), clock, () => 1_000_000 + clock.now());
  for (const [from, to] of [['10.0.0.2:4000', '198.51.100.9:5555'], ['10.0.0.3:4000', '198.51.100.9:5555'], ['10.0.0.3:8080', '198.51.100.10:443']]) {
    engine.process(udpPkt(from, to), Side.Inside);
  }
  return { engine, clock, service };
}

const key = (m: PortMapping) => `${m.id}/${m.insideAddr}/${m.insidePort}/${m.publicAddr}/${m.publicPort}/${m.proto}`;

/**
 * Runs one request from `host` and checks that the mappings it created,
 * changed or deleted are all the host's own, and every mapping is on a
 * public address of the gateway.
 */
export function onlyOwnMappings<T>(s: PortmapState, host: number, request: () => T): T {
  const before = new Map(s.service.list().map((m) => [key(m), m]));
  const out = request();
  const after = new Map(s.service.list().map((m) => [key(m), m]));
  const publics = s.engine.config.publicAddrs;
  for (const [k, m] of after) {
    invariant(publics.includes(m.publicAddr), () => `a mapping on ${ipv4ToString(m.publicAddr)}, not a public address`);
    if (!before.has(k)) invariant(m.insideAddr === host, () => `a request from ${ipv4ToString(host)} made a mapping for ${ipv4ToString(m.insideAddr)}:${m.insidePort}`);
  }
  for (const [k, m] of before) {
    if (!after.has(k)) invariant(m.insideAddr === host, () => `a request from ${ipv4ToString(host)} removed ${ipv4ToString(m.insideAddr)}'s mapping`);
  }
  return out;
}
