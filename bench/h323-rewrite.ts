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
 * opened, the packet's checksum mended. Setups are sent in batches of 100
 * (timed), then each call's ReleaseComplete (not timed) removes its pinholes,
 * so the engine's caps are never reached. Packets are built before the timed
 * part. A fresh engine per run (bench/h323-setups.ts).
 *
 * The first --warmup runs (2 by default) are timed but left out of the
 * median: V8 is still compiling the path then (the first run after a quarter
 * run of warm-up came out 30 to 40 % slower than the rest), and a gateway
 * runs for hours. They are printed beside the others.
 *
 *   node --import tsx bench/h323-rewrite.ts [--runs 7] [--calls 20000] [--warmup 2] [--json]
 */
import * as registry from '../src/alg/registry.js';
import * as engine from '../src/nat/engine.js';
import * as clock from '../src/util/clock.js';
import { argValue, fmtRate, jsonOutput, median, repeat } from './harness.js';
import { setup, setupsPerCpuSecond } from './h323-setups.js';

const runs = argValue('runs', 7);
const callsPerRun = argValue('calls', 20_000);
const warmupRuns = argValue('warmup', 2);
const tree = { engine, registry, clock };

const warmup = repeat(warmupRuns, 0, () => setupsPerCpuSecond(tree, callsPerRun));
const results = repeat(runs, 0, () => setupsPerCpuSecond(tree, callsPerRun));
const result = {
  setupsPerCpuSecond: median(results),
  runs: results,
  warmupRuns: warmup,
  callsPerRun,
  setupBytes: setup.length,
  node: process.version,
};
if (jsonOutput) console.log(JSON.stringify(result));
else {
  console.log(`h323-alg: ${fmtRate(result.setupsPerCpuSecond)} Setups (fastStart + tunnelled H.245, ${setup.length} B) per CPU-second through NatEngine.process() (median of ${runs} x ${callsPerRun} calls; target >= 100 k/s)`);
  console.log(`          runs: ${results.map((r) => fmtRate(r)).join(', ')} (warm-up, left out: ${warmup.map((r) => fmtRate(r)).join(', ') || 'none'})`);
}
