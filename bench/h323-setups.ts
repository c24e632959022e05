/**
 * The H.323 Setup workload of bench/h323-rewrite.ts and bench/h323-rewrite-ab.ts:
 * Setups (fastStart and tunnelled H.245, each a new call on one call
 * signalling connection) through NatEngine.process() with the H.323 ALG,
 * in batches of 100 timed in CPU time, each call's ReleaseComplete after its
 * batch (not timed). Written against a tree's modules passed in, so that
 * two checkouts can be timed in one process.
 */
import type * as EngineModule from '../src/nat/engine.js';
import type * as RegistryModule from '../src/alg/registry.js';
import type * as ClockModule from '../src/util/clock.js';
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../src/wire/tcp.js';
import { tcpPkt } from '../test/nat/packets.js';
import { setupFromX, X, PEER } from '../test/alg/h323/session.js';
import { vector } from '../test/alg/h323/oracle-vectors.js';
import { cpuSeconds } from './harness.js';

/** The modules of one tree the workload runs on. */
export interface Tree {
  engine: typeof EngineModule;
  registry: typeof RegistryModule;
  clock: typeof ClockModule;
}

const BATCH = 100;
export const setup = setupFromX();
const release = vector('release-complete').bytes;
const INSIDE = `${X}:41000`;
const OUTSIDE = `${PEER}:1720`;

/** A Q.931 message with call reference `crv` (TPKT, then 08 02 CRV). */
function withCrv(msg: Uint8Array, crv: number): Uint8Array {
  const m = msg.slice();
  m[6] = crv >>> 8;
  m[7] = crv & 255;
  return m;
}

/** Setups per CPU-second over `calls` calls (rounded up to whole batches) on one connection, with a fresh engine of `tree`. */
export function setupsPerCpuSecond(tree: Tree, wanted: number): number {
  const calls = Math.ceil(wanted / BATCH) * BATCH;
  const clock = new tree.clock.ManualClock(0);
  let s = 12345;
  const random = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const engine = new tree.engine.NatEngine({ inside: ['10.0.0.0/8'], public: ['203.0.113.1'] }, { clock, random });
  const def = tree.registry.findAlg('h323');
  if (!def) throw new Error('the H.323 ALG is not registered');
  const alg = tree.registry.attachAlg(engine, def);
  const inside = tree.engine.Side.Inside;
  const toOutside = tree.engine.Verdict.ToOutside;
  let seq = 1000;
  const ack = 50_000;
  engine.process(tcpPkt(INSIDE, OUTSIDE, TCP_SYN, seq - 1, 0), inside);
  let cpu = 0;
  for (let done = 0; done < calls; done += BATCH) {
    const setups: Uint8Array[] = [];
    const releases: Uint8Array[] = [];
    for (let i = 0; i < BATCH; i++) {
      const m = withCrv(setup, ((done + i) % 0x7fff) + 1);
      setups.push(tcpPkt(INSIDE, OUTSIDE, TCP_ACK | TCP_PSH, seq, ack, m));
      seq += m.length;
    }
    for (let i = 0; i < BATCH; i++) {
      const r = withCrv(release, ((done + i) % 0x7fff) + 1);
      releases.push(tcpPkt(INSIDE, OUTSIDE, TCP_ACK | TCP_PSH, seq, ack, r));
      seq += r.length;
    }
    const c0 = cpuSeconds();
    for (const p of setups) if (engine.process(p, inside) !== toOutside) throw new Error('a Setup did not pass');
    cpu += cpuSeconds() - c0;
    for (const p of releases) engine.process(p, inside);
  }
  const c = alg.counters();
  // Eight of the Setup's addresses are the inside host's; each call opens H.245 and two media pairs.
  if (c.calls !== calls || c.addressesRewritten !== 8 * calls || c.mediaPairs !== 2 * calls || c.h245Pinholes !== calls) {
    throw new Error(`not every Setup was rewritten as expected: ${JSON.stringify(c)}`);
  }
  return calls / cpu;
}
