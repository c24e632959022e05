/**
 * H.323 ALG throughput on one core (issue 10 target: 100,000 Setups with
 * fastStart and tunnelled H.245 rewritten per CPU-second through
 * NatEngine.process()).
 *
 * The Setup is the oracle's `setup-v4-faststart-tunnelled` (279 bytes,
 * encoded by Erlang/OTP's ASN.1 runtime) with the inside host's addresses
 * written in: sourceCallSignalAddress, h245Address, fastStart audio and video
 * proposals (RTP and RTCP), tunnelled TerminalCapabilitySet and
 * MasterSlaveDetermination. Each Setup has its own call reference on one
 * call-signalling connection, so each one is a new call: Q.931 and PER
 * walked, eight addresses rewritten, an H.245 pinhole and two RTP/RTCP pairs
 * opened, the packet's checksums mended. Setups are sent in batches of 100
 * (timed), then each call's ReleaseComplete (not timed) removes its pinholes,
 * so the engine's caps are never reached. Packets are built before the timed
 * part. A fresh engine per run.
 *
 *   node --import tsx bench/h323-rewrite.ts [--runs 7] [--calls 20000] [--json]
 */
import { attachAlg, findAlg } from '../src/alg/registry.js';
import { NatEngine, Side, Verdict } from '../src/nat/engine.js';
import { ManualClock } from '../src/util/clock.js';
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../src/wire/tcp.js';
import { tcpPkt } from '../test/nat/packets.js';
import { setupFromX, X, PEER } from '../test/alg/h323/session.js';
import { vector } from '../test/alg/h323/oracle-vectors.js';
import { argValue, cpuSeconds, fmtRate, jsonOutput, median, repeat } from './harness.js';

const runs = argValue('runs', 7);
const callsPerRun = argValue('calls', 20_000);
const BATCH = 100;

const setup = setupFromX();
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

function engineWithAlg(): { engine: NatEngine; alg: ReturnType<typeof attachAlg> } {
  const clock = new ManualClock(0);
  let s = 12345;
  const random = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const engine = new NatEngine({ inside: ['10.0.0.0/8'], public: ['203.0.113.1'] }, { clock, random });
  const def = findAlg('h323');
  if (!def) throw new Error('the H.323 ALG is not registered');
  return { engine, alg: attachAlg(engine, def) };
}

/** Setups per CPU-second over `calls` calls on one connection. */
function run(calls: number): number {
  const { engine, alg } = engineWithAlg();
  let seq = 1000;
  const ack = 50_000;
  engine.process(tcpPkt(INSIDE, OUTSIDE, TCP_SYN, seq - 1, 0), Side.Inside);
  let cpu = 0;
  for (let done = 0; done < calls; done += BATCH) {
    const setups: Uint8Array[] = [];
    const releases: Uint8Array[] = [];
    for (let i = 0; i < BATCH; i++) {
      const crv = ((done + i) % 0x7fff) + 1;
      const s = withCrv(setup, crv);
      setups.push(tcpPkt(INSIDE, OUTSIDE, TCP_ACK | TCP_PSH, seq, ack, s));
      seq += s.length;
    }
    for (let i = 0; i < BATCH; i++) {
      const r = withCrv(release, ((done + i) % 0x7fff) + 1);
      releases.push(tcpPkt(INSIDE, OUTSIDE, TCP_ACK | TCP_PSH, seq, ack, r));
      seq += r.length;
    }
    const c0 = cpuSeconds();
    for (const p of setups) if (engine.process(p, Side.Inside) !== Verdict.ToOutside) throw new Error('a Setup did not pass');
    cpu += cpuSeconds() - c0;
    for (const p of releases) engine.process(p, Side.Inside);
  }
  const c = alg.counters();
  // Eight of the Setup's addresses are the inside host's; each call opens H.245 and two media pairs.
  if (c.calls !== calls || c.addressesRewritten !== 8 * calls || c.mediaPairs !== 2 * calls || c.h245Pinholes !== calls) {
    throw new Error(`not every Setup was rewritten as expected: ${JSON.stringify(c)}`);
  }
  return calls / cpu;
}

run(callsPerRun / 4); // warmup
const results = repeat(runs, 0, () => run(callsPerRun));
const result = {
  setupsPerCpuSecond: median(results),
  runs: results,
  callsPerRun,
  setupBytes: setup.length,
  node: process.version,
};
if (jsonOutput) console.log(JSON.stringify(result));
else {
  console.log(`h323-alg: ${fmtRate(result.setupsPerCpuSecond)} Setups (fastStart + tunnelled H.245, ${setup.length} B) per CPU-second through NatEngine.process() (median of ${runs} x ${callsPerRun} calls; target >= 100 k/s)`);
  console.log(`          runs: ${results.map((r) => fmtRate(r)).join(', ')}`);
}
