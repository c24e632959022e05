/**
 * SIP ALG throughput on one core (issue 4 target: 200,000 INVITE+SDP
 * messages rewritten per second in-process). Two measurements, each the
 * median of `--runs` timed runs after a warmup, by wall time and by this
 * process's CPU time (steadier on a shared machine), with a byte-scan
 * yardstick so results from different machines can be compared:
 *
 *   1. codec: processSipMessage (parse + rewrite + apply) of one INVITE.
 *   2. ALG path: the INVITE in an IPv4/UDP packet through NatEngine.process()
 *      with the SIP ALG attached: flow lookup, the ALG's call tracking, media
 *      port planning and four expectations (RTP and RTCP of two streams), the
 *      rewrite, and the new packet with its lengths and checksums. Every
 *      INVITE has its own Call-ID; each call's expectations are removed after
 *      it (engine.removeExpectationGroup), so the caps are never reached; the
 *      ALG keeps each call's state, as for calls in progress (8,000 per run, a
 *      fresh engine per run). Building the packets is timed alone and
 *      subtracted.
 *
 *   node --import tsx bench/sip-rewrite.ts [--seconds 1] [--runs 5] [--json]
 *
 * The message is a typical phone INVITE (Via, Contact, SDP with audio and
 * video, rtcp implicit) from 10.0.1.2, rewritten to 203.0.113.1 with the media
 * ports moved, so the body changes size and Content-Length is rewritten too.
 */
import { algPath, checkedRewrite, message, run } from './sip-invite.js';
import { argValue, cpuSeconds, fmtRate, jsonOutput, median, repeat } from './harness.js';

// Sanity: the rewrite does what the benchmark claims to measure.
const check = checkedRewrite();

const seconds = argValue('seconds', 1);
const runs = argValue('runs', 5);

/**
 * A yardstick for comparing machines: CPU ns per KiB of a plain byte scan
 * (the innermost loop of any parser). A loaded or slow machine shows here.
 */
function yardstick(): number {
  const buf = new Uint8Array(1024).map((_, i) => (i % 61 === 60 ? 10 : 97));
  let lines = 0;
  const reps = 20000;
  const c0 = cpuSeconds();
  for (let r = 0; r < reps; r++) for (let i = 0; i < buf.length; i++) if (buf[i] === 10) lines++;
  const c = cpuSeconds() - c0;
  if (lines === 0) console.log(lines);
  return (c * 1e9) / reps;
}

run(1000); // warmup: let the JIT settle
const wall: number[] = [];
const results = repeat(runs, 0, () => {
  const r = run(seconds * 1000);
  wall.push(r.wall);
  return r.cpu;
});

// Calls per ALG run, each run on a fresh engine: fewer than the ALG's call limit
// (10,000 by default), so no run reaches the eviction of the oldest call.
const callsPerRun = 8000;
let callBase = 0;
algPath(callsPerRun, (callBase += callsPerRun)); // warmup
const algResults = repeat(runs, 0, () => algPath(callsPerRun, (callBase += callsPerRun)));

const result = {
  messagesPerSecondWall: median(wall),
  messagesPerCpuSecond: median(results),
  runsWall: wall,
  algInvitesPerCpuSecond: median(algResults),
  algRuns: algResults,
  algCallsPerRun: callsPerRun,
  messageBytes: message.length,
  edits: check.edits,
  delta: check.delta,
  yardstickNsPerKiB: yardstick(),
  node: process.version,
};
if (jsonOutput) console.log(JSON.stringify(result));
else {
  console.log(`sip-rewrite: ${fmtRate(result.messagesPerSecondWall)} INVITE+SDP parse/rewrite/apply (wall, median of ${runs} x ${seconds}s; target >= 200 k/s)`);
  console.log(`             ${fmtRate(result.messagesPerCpuSecond)} per CPU-second (median); runs (wall): ${wall.map((w) => fmtRate(w)).join(', ')}`);
  console.log(`sip-alg:     ${fmtRate(result.algInvitesPerCpuSecond)} INVITEs per CPU-second through NatEngine.process() with the SIP ALG (median of ${runs} x ${callsPerRun} calls); runs: ${algResults.map((w) => fmtRate(w)).join(', ')}`);
  console.log(`             message ${message.length} B, ${check.edits} edits, delta ${check.delta} B; byte-scan yardstick ${result.yardstickNsPerKiB.toFixed(0)} ns/KiB`);
}
