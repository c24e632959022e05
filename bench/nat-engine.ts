/**
 * NAT engine benchmarks, in-process, one core:
 *   1. established-flow UDP translation (packets/s), outbound and inbound
 *   2. new-flow setup rate (flows/s)
 *   3. memory per live flow at 1,000,000 flows (bytes/flow)
 * Targets (issue #2): >= 3 M packets/s, >= 500 k flows/s, <= 256 bytes/flow.
 * Times are process CPU seconds, so other load on the machine matters less.
 * Run: node --expose-gc --import tsx bench/nat-engine.ts [--runs 7] [--flows 1000000] [--json]
 */
import * as engineModule from '../src/nat/engine.js';
import { argValue, fmtRate, jsonOutput, median, repeat } from './harness.js';
import { engineCases } from './nat-engine-cases.js';

const runs = argValue('runs', 7);
const memFlows = argValue('flows', 1_000_000);

const { establishedFlows, newFlows, memoryPerFlow, INSIDE, OUTSIDE } = engineCases(engineModule);
const establishedRate = establishedFlows(10_000);
const est = repeat(runs, 2, () => establishedRate(INSIDE, 2_000_000));
const estIn = repeat(runs, 1, () => establishedRate(OUTSIDE, 2_000_000));
const nf = repeat(runs, 1, () => newFlows(500_000));
const mem = memoryPerFlow(memFlows);
const result = {
  establishedOutboundPps: median(est),
  establishedInboundPps: median(estIn),
  newFlowsPerSecond: median(nf),
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
  console.log(`memory at ${memFlows} flows: ${result.bytesPerFlowTables.toFixed(0)} B/flow in tables, ${result.bytesPerFlowProcess.toFixed(0)} B/flow process growth (target <= 256)`);
}
