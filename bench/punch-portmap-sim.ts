/**
 * Port mapping in the punching client, in the simulator: pairs of peers
 * behind NATs that both map per destination at random (APDM, random ports:
 * no direct path without help), over SEEDS seeds, three ways: PCP on both
 * gateways, NAT-PMP on one side only, none (the control). For each: how many
 * pairs went direct, the median time from the first client's start to a
 * direct path on both sides, and the median join time (start to joined, the slower of the two), to
 * show what asking costs; with `portmap` given and no gateway answering, the
 * join waits at most waitMs (0.5 s).
 *
 * Times are virtual (1 ms LAN, 10 ms internet one way): they do not depend
 * on this machine.
 *
 * Run: node --import tsx bench/punch-portmap-sim.ts [--seeds 20] [--json]
 */
import { argValue, jsonOutput } from './harness.js';
import type { SimNatBox } from '../src/dataplane/sim/index.js';
import type { Enabled } from '../src/gateway/portmap/pcp-handler.js';
import { median } from '../src/lab/punch/matrix.js';
import { punchProfile } from '../src/lab/punch/profiles.js';
import { fakePortmapGateway } from '../test/rendezvous/fixtures/portmap-gateway.js';
import { SimNet } from '../test/rendezvous/fixtures/sim-net.js';

const seeds = argValue('seeds', 20);
const SYMMETRIC = punchProfile('apdm-random').nat!;

type Setup = { name: string; a: Enabled | null; b: Enabled | null; ask: boolean };
const SETUPS: Setup[] = [
  { name: 'PCP on both gateways', a: { pcp: true, natpmp: true }, b: { pcp: true, natpmp: true }, ask: true },
  { name: 'NAT-PMP on one side only', a: { pcp: false, natpmp: true }, b: null, ask: true },
  { name: 'asked, no gateway answers', a: null, b: null, ask: true },
  { name: 'not asked (control)', a: null, b: null, ask: false },
];

async function run(s: Setup, seed: number): Promise<{ direct: boolean; directMs: number | null; joinMs: number }> {
  const net = await new SimNet(seed).start();
  const peer = async (name: string, enabled: Enabled | null) => {
    const host = net.host(SYMMETRIC, name);
    const addr = host.interfaces[0].addrs[0];
    const self = [addr >>> 24, (addr >>> 16) & 255, (addr >>> 8) & 255, addr & 255].join('.');
    const gw = self.replace(/\.2$/, '.3');
    if (enabled) fakePortmapGateway(net.sim, name, net.lans.get(name)!, `${gw}/24`, net.sim.get(`nat-${name}`) as SimNatBox, enabled);
    const t = net.sim.now;
    const c = await net.client(host, s.ask ? { portmap: { gateway: gw, client: self } } : {});
    return { c, joinMs: net.sim.now - t };
  };
  const t0 = net.sim.now;
  const a = await peer('a', s.a);
  const b = await peer('b', s.b);
  const both = () => !!a.c.peer(b.c.id)?.path?.direct && !!b.c.peer(a.c.id)?.path?.direct;
  await net.sim.runUntil(both, 10_000);
  const direct = both();
  const directMs = direct ? net.sim.now - t0 : null;
  await net.stop(a.c, b.c);
  return { direct, directMs, joinMs: Math.max(a.joinMs, b.joinMs) };
}

const t0 = performance.now();
const rows = [];
for (const s of SETUPS) {
  const results = [];
  for (let seed = 1; seed <= seeds; seed++) results.push(await run(s, seed));
  const direct = results.filter((r) => r.direct);
  rows.push({
    setup: s.name,
    direct: `${direct.length}/${results.length}`,
    medianStartToDirectMs: direct.length ? median(direct.map((r) => r.directMs!)) : null,
    medianJoinMs: median(results.map((r) => r.joinMs)) ?? 0,
  });
}
const summary = { bench: 'punch-portmap-sim', seeds, rows, wallSeconds: Math.round((performance.now() - t0) / 100) / 10 };
if (jsonOutput) console.log(JSON.stringify(summary));
else {
  console.log(`punch-portmap-sim: ${seeds} seeds per setup, both peers behind APDM random-port NATs (virtual time)`);
  console.log('| setup | direct | median start to direct (both sides) | median join |');
  console.log('|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.setup} | ${r.direct} | ${r.medianStartToDirectMs === null ? '-' : `${r.medianStartToDirectMs} ms`} | ${r.medianJoinMs} ms |`);
  console.log(`(${summary.wallSeconds} s real time)`);
}
