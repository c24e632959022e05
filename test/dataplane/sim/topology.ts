/** Small topologies shared by the sim tests. */
import { Simulator, type SimHost, type SimNatBox } from '../../../src/dataplane/sim/index.js';
import type { NatConfigInput } from '../../../src/nat/config.js';

export interface OneNat {
  sim: Simulator;
  nat: SimNatBox;
  alice: SimHost;
  bob: SimHost; // a second host on the same LAN
  server: SimHost; // 198.51.100.10
  server2: SimHost; // 198.51.100.11 (a second address for RFC 5780 style tests)
}

export function oneNat(config: Partial<NatConfigInput> = {}, seed = 1): OneNat {
  const sim = new Simulator({ seed });
  const internet = sim.segment('internet', { delayMs: 10 });
  const lan = sim.segment('lan', { delayMs: 1 });
  const nat = sim.nat('nat', { inside: [lan, '192.168.1.1/24'], outside: [internet, '203.0.113.1/24'], config });
  const alice = sim.host('alice', lan, '192.168.1.2/24', '192.168.1.1');
  const bob = sim.host('bob', lan, '192.168.1.3/24', '192.168.1.1');
  const server = sim.host('server', internet, '198.51.100.10/16');
  const server2 = sim.host('server2', internet, '198.51.100.11/16');
  return { sim, nat, alice, bob, server, server2 };
}
