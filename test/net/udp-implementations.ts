/**
 * The real-socket implementations of NetEnv, for tests that must hold on both:
 * node:dgram everywhere, the batched addon where it is built. Outside CI a
 * missing addon skips its half with the reason; in CI (CI=true, where the
 * compiler is installed) it fails.
 */
import { batchedNetEnvWith } from '../../src/net/batched-udp.js';
import { nodeNetEnv } from '../../src/net/node-udp.js';
import { udpAddonStatus } from '../../src/net/udp-addon.js';
import type { NetEnv } from '../../src/net/udp.js';
import type { ResolvedUdpIo } from '../../src/net/udp-io.js';

export interface UdpImplementation {
  io: ResolvedUdpIo;
  env: NetEnv;
  /** For node:test's `skip`. */
  skip: string | false;
}

const status = udpAddonStatus();

/** For tests of the batched sockets alone. */
export const batchedSkip: string | false = status.available || process.env.CI === 'true' ? false : status.reason;

export const udpImplementations: UdpImplementation[] = [
  { io: 'dgram', env: nodeNetEnv, skip: false },
  { io: 'batched', env: batchedNetEnvWith({}), skip: batchedSkip },
];
