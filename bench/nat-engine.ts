/**
 * NAT engine benchmarks, in-process, one core:
 *   1. established-flow UDP translation (packets/s), outbound and inbound
 *   2. new-flow setup rate (flows/s), and the same with the gateway's state
 *      kept on disk (bench/state-keeping.ts), runs alternating, and their ratio
 *   3. memory per live flow at 1,000,000 flows (bytes/flow)
 * Targets (issue #2): >= 3 M packets/s, >= 500 k flows/s, <= 256 bytes/flow;
 * (issue #15): new flows with the state kept >= 0.8 of without.
 * Times are process CPU seconds, so other load on the machine matters less.
 * Run: node --expose-gc --import tsx bench/nat-engine.ts [--runs 7] [--flows 1000000] [--json]
 */
import * as engineModule from '../src/nat/engine.js';
import { argValue, fmtRate, jsonOutput, median, repeat } from './harness.js';
import { engineCases } from './nat-engine-cases.js';
import { diskKeeping } from './state-keeping.js';

const runs = argValue('runs', 7);
const memFlows = argValue('flows', 1_000_000);

const { establishedFlows, newFlows, memoryPerFlow, INSIDE, OUTSIDE } = engineCases(engineModule);
const establishedRate = establishedFlows(10_000);
const est = repeat(runs, 2, () => establishedRate(INSIDE, 2_000_000));
const estIn = repeat(runs, 1, () => establishedRate(OUTSIDE, 2_000_000));
// Without and with the state kept, alternating (A B A B ...): the machine's noise lands on both alike.
const keeping = diskKeeping();
const nf: number[] = [];
const nfKept: number[] = [];
newFlows(500_000);
newFlows(500_000, keeping);
for (let r = 0; r < runs; r++) {
  nf.push(newFlows(500_000));
  nfKept.push(newFlows(500_000, keeping));
}
const mem = memoryPerFlow(memFlows);
const result = {
  establishedOutboundPps: median(est),
  establishedInboundPps: median(estIn),
  newFlowsPerSecond: median(nf),
  newFlowsKeptPerSecond: median(nfKept),
  newFlowsKeptRatio: median(nf.map((x, i) => nfKept[i] / x)),
  bytesPerFlowTables: mem.tableBytes,
  bytesPerFlowProcess: mem.processBytes,
  runs,
  memFlows,
  node: process.version,
};
if (jsonOutput) console.log(JSON.stringify(result));
else {
  console.log(`established UDP outbound : ${fmtRate(result.establishedOutboundPps)} packets (median of ${runs}; target >= 3 M/s)`);
  console.log(`established UDP inbound  : ${fmtRate(result.establishedInboundPps)} packets`);
  console.log(`new flows                : ${fmtRate(result.newFlowsPerSecond)} (target >= 500 k/s)`);
  console.log(`new flows, state kept    : ${fmtRate(result.newFlowsKeptPerSecond)}, ${result.newFlowsKeptRatio.toFixed(2)} of without (median of the ${runs} paired runs; target >= 0.8)`);
  console.log(`memory at ${memFlows} flows: ${result.bytesPerFlowTables.toFixed(0)} B/flow in tables, ${result.bytesPerFlowProcess.toFixed(0)} B/flow process growth (target <= 256)`);
}
