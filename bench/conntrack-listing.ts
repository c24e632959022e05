/**
 * `masq conntrack -L` (GET /flows) of a large table must not stall
 * forwarding: a listing scans a slice of rows, then lets the event loop run.
 * This fills an engine with --flows flows (default 1,000,000) and lists them
 * as the endpoint does, measuring the whole listing and the longest the event
 * loop was held (the longest slice: what a packet waits at most).
 *
 *   node --expose-gc --import tsx bench/conntrack-listing.ts [--flows 1000000] [--runs 5]
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { listFlows } from '../src/control/flow-listing.js';
import { flowToJson } from '../src/control/status-model.js';
import { NatEngine, Side } from '../src/nat/engine.js';
import type { FlowFilter } from '../src/nat/flow-filter.js';
import { ManualClock } from '../src/util/clock.js';
import { parseIpv4 } from '../src/wire/address.js';
import { buildUdpPacket } from '../src/wire/udp.js';
import { argValue, median } from './harness.js';
import { loadavg } from 'node:os';

const flows = argValue('flows', 1_000_000);
const runs = argValue('runs', 5);
const publicAddrs = Array.from({ length: Math.ceil(flows / 50_000) + 1 }, (_, i) => `203.0.113.${i + 1}`);
const clock = new ManualClock(0);
const engine = new NatEngine(
  { inside: ['10.0.0.0/8'], public: publicAddrs, limits: { flows: flows + 10, flowsPerHost: 1 << 20 } },
  { clock },
);
const remote = parseIpv4('198.51.100.10');
const fillStart = performance.now();
for (let i = 0; i < flows; i++) {
  const p = buildUdpPacket({ src: (0x0a000001 + (i >> 10)) >>> 0, dst: remote, srcPort: 20000 + (i & 0x3ff), dstPort: 53, payload: new Uint8Array(8) });
  engine.process(p, Side.Inside);
}
if (engine.sizes().flows !== flows) throw new Error(`have ${engine.sizes().flows} flows, wanted ${flows}`);
const fillMs = performance.now() - fillStart;

/** One listing as /flows runs it (JSON of each shown flow), timing each slice. */
async function measure(filter: FlowFilter, limit: number): Promise<{ totalMs: number; maxSliceMs: number; loopMaxMs: number; matched: number }> {
  let maxSliceMs = 0;
  const reader = {
    scanFlows: (c: number, b: number, f: FlowFilter, v: (id: number) => void, now?: number) => {
      const t = performance.now();
      const next = engine.scanFlows(c, b, f, v, now);
      maxSliceMs = Math.max(maxSliceMs, performance.now() - t);
      return next;
    },
    flowInfo: (id: number) => engine.flowInfo(id),
  };
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const t0 = performance.now();
  const r = await listFlows(reader, filter, (batch) => void batch.map((f) => JSON.stringify(flowToJson(f, clock.now(), () => null))), { limit, now: () => clock.now() });
  const totalMs = performance.now() - t0;
  h.disable();
  return { totalMs, maxSliceMs, loopMaxMs: h.max / 1e6, matched: r.matched };
}

const cases: Array<[string, FlowFilter, number]> = [
  ['-L (default limit 10000, all match)', {}, 10_000],
  ['-C -p udp --dport 53 (all match, counted)', { proto: 17, dport: 53 }, 0],
  ['-L -p tcp (none match)', { proto: 6 }, 10_000],
  ['-L --src 10.0.0.1 (1024 match)', { src: parseIpv4('10.0.0.1') }, 10_000],
];
console.log(`load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}; ${flows} flows filled in ${(fillMs / 1000).toFixed(1)} s; node ${process.version}`);
for (const [name, filter, limit] of cases) {
  const rs = [];
  for (let i = 0; i < runs; i++) rs.push(await measure(filter, limit));
  console.log(
    `${name.padEnd(44)} matched ${String(rs[0].matched).padStart(8)}  whole listing ${median(rs.map((r) => r.totalMs)).toFixed(0).padStart(5)} ms  longest slice ${median(rs.map((r) => r.maxSliceMs)).toFixed(2)} ms  event-loop max delay ${median(rs.map((r) => r.loopMaxMs)).toFixed(1)} ms  (medians of ${runs})`,
  );
}
console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
