/**
 * A NAT engine for fuzzing: small tables (so limits are reached), forwards and
 * a trigger (so inbound paths open without state), a hand-moved clock, and a
 * seeded port choice (so a reproducer repeats).
 */
import { NatEngine } from '../../../src/nat/engine.js';
import type { NatConfigInput } from '../../../src/nat/config.js';
import { ManualClock } from '../../../src/util/clock.js';
import { Rng } from '../rng.js';

export const PUBLIC = '203.0.113.1';
export const PUBLIC2 = '203.0.113.2';

export const FUZZ_NAT_CONFIG: NatConfigInput = {
  inside: ['10.0.0.0/8', '192.168.0.0/16', '172.16.0.0/12'],
  public: [PUBLIC, PUBLIC2],
  forwards: [
    { protocol: 'udp', port: 5060, to: '10.0.0.5' },
    { protocol: 'tcp', port: [8000, 8010], to: '10.0.0.6', toPort: 80 },
  ],
  triggers: [{ protocol: 'tcp', port: 6667, open: { protocol: 'both', ports: [7000, 7010] } }],
  limits: { flows: 512, flowsPerHost: 128, expectations: 256, expectationsPerGroup: 16, pendingSyns: 32, fragments: 32 },
};

export interface EngineState {
  engine: NatEngine;
  clock: ManualClock;
}

export function fuzzEngine(config: Partial<NatConfigInput> = {}, seed = 1): EngineState {
  const clock = new ManualClock(0);
  const rng = new Rng(seed);
  const engine = new NatEngine({ ...FUZZ_NAT_CONFIG, ...config }, { clock, random: () => rng.u32() / 0x1_0000_0000, initialCapacity: 64 });
  return { engine, clock };
}
