// Floods at `masq gateway` while a legitimate user keeps working, in the lab of
// test/lab/topology.ts (h1, h2 -> gw1 -> router -> srv), masq with its default limits.
//
//   sudo node --import tsx bench/floods.ts [--seconds 60] [--only udp-new,syn,invite] [--pps 0] [--rate 3000] [--json]
//
// Floods (test/lab/fixtures/flood.py, raw packets as fast as one Python process sends them):
//   udp-new  from h1: UDP with a new port pair per packet, every one a new flow (per-host cap)
//   udp-in   from srv: UDP to random ports of the public address, sources spread over a /25
//   syn      from srv: TCP SYNs to random ports of the public address, the same sources
//   frag     from srv: first fragments of UDP datagrams whose rest never comes, the same sources
//   invite   from h1: SIP INVITEs with SDP through the SIP ALG, --rate a second, each with new media
//            and Contact ports, while h2 places calls with RTP both ways (bench/floods-invite.ts)
// During each, h2 (another inside host) asks a UDP echo server on srv every 200 ms and opens a
// TCP connection to srv every second. Recorded per flood: packets sent, what the user got, masq's
// resident memory (before, highest, after, sampled every second), its flow count, and the engine
// counters that moved (drops by reason, limits hit). A fresh gateway per flood.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LAB, LabTopology, sleep, type LabProcess } from '../test/lab/topology.js';
import { DEBIAN_PYTHON, PROBE, statusJson, tunMissing } from '../test/lab/fixtures/gateway-probes.js';
import { prerequisites, repoRoot } from '../test/lab/prereq.js';
import { G711A_PCAP } from '../test/lab/fixtures/sip-lab.js';
import { inviteFlood, leaves, type InviteFloodResult } from './floods-invite.js';
import { loadAverage, rssMiB } from './proc-stats.js';

const KINDS = ['udp-new', 'udp-in', 'syn', 'frag', 'invite'] as const;
type Kind = (typeof KINDS)[number];

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    only: { type: 'string', default: KINDS.join(',') },
    pps: { type: 'string', default: '0' },
    rate: { type: 'string', default: '3000' },
    json: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(args.seconds);
if (!Number.isInteger(SECONDS) || SECONDS < 1 || SECONDS > 600) throw new Error('--seconds must be an integer in 1..600');
const PPS = Number(args.pps);
if (!Number.isFinite(PPS) || PPS < 0) throw new Error('--pps must be 0 (as fast as possible) or a rate');
const RATE = Number(args.rate);
if (!Number.isInteger(RATE) || RATE < 1 || RATE > 20_000) throw new Error('--rate (INVITEs a second) must be an integer in 1..20000');
const ONLY = args.only.split(',').map((k) => {
  if (!(KINDS as readonly string[]).includes(k)) throw new Error(`--only: one of ${KINDS.join(', ')}, not ${k}`);
  return k as Kind;
});
const COMMAND = `sudo node --import tsx bench/floods.ts --seconds ${SECONDS} --only ${ONLY.join(',')}${PPS ? ` --pps ${PPS}` : ''}${ONLY.includes('invite') ? ` --rate ${RATE}` : ''}`;
const FLOOD = join(repoRoot, 'test/lab/fixtures/flood.py');
const SRV = LAB.servers.a;
const SPOOFED = '198.51.100.128/25';

const load = loadAverage;

interface FloodResult {
  kind: Kind;
  sent: number;
  floodSeconds: number;
  user: { udpAsked: number; udpAnswered: number; tcpTried: number; tcpOk: number; udpRttMs: { p50: number | null; max: number | null }; tcpMs: { p50: number | null; max: number | null } };
  rssBefore: number;
  rssMax: number;
  rssAfter: number;
  flowsMax: number;
  moved: Record<string, number>;
  load: string;
}

function floodArgs(kind: Exclude<Kind, 'invite'>): { role: 'h1' | 'srv'; argv: string[] } {
  const common = ['--seconds', String(SECONDS), ...(PPS ? ['--pps', String(PPS)] : [])];
  if (kind === 'udp-new') return { role: 'h1', argv: ['flood', kind, '--to', SRV, '--src', LAB.lan1.h1, ...common] };
  return { role: 'srv', argv: ['flood', kind, '--to', LAB.gw1.public, '--src', SPOOFED, ...common] };
}

async function one(lab: LabTopology, kind: Exclude<Kind, 'invite'>): Promise<FloodResult> {
  lab.useMasqAddressing('gw1');
  const masq: LabProcess = await lab.startMasq('gw1', lab.masqConfig('gw1').replace('level: debug', 'level: info'));
  const pid = masq.proc.pid!;
  try {
    await sleep(1000);
    const before = leaves(statusJson(lab, 'gw1', '/counters'));
    const rssBefore = rssMiB(pid);
    const f = floodArgs(kind);
    const flooder = lab.spawn(f.role, [DEBIAN_PYTHON, FLOOD, ...f.argv], `flood ${kind}`);
    const user = lab.spawn('h2', [DEBIAN_PYTHON, FLOOD, 'user', '--udp', `${SRV}:7`, '--tcp', `${SRV}:8000`, '--seconds', String(SECONDS)], 'user h2');
    let rssMax = rssBefore;
    let flowsMax = 0;
    const until = Date.now() + (SECONDS + 30) * 1000;
    while ((flooder.running || user.running) && Date.now() < until) {
      await sleep(1000);
      rssMax = Math.max(rssMax, rssMiB(pid));
      try {
        flowsMax = Math.max(flowsMax, statusJson(lab, 'gw1', '/flows?limit=1').total as number);
      } catch {
        // the status endpoint may be slow under the flood; the next second tries again
      }
    }
    await flooder.exited(30_000);
    await user.exited(30_000);
    await sleep(2000);
    const after = leaves(statusJson(lab, 'gw1', '/counters'));
    const moved: Record<string, number> = {};
    for (const [k, v] of after) {
      const d = v - (before.get(k) ?? 0);
      if (d !== 0 && /drop|limit|refus|error|reason|dropped|fragments|pending/i.test(k)) moved[k] = d;
    }
    const last = (p: LabProcess) => JSON.parse(p.output.trim().split('\n').filter((l) => l.startsWith('{')).pop() ?? '{}');
    return { kind, sent: last(flooder).sent, floodSeconds: last(flooder).seconds, user: last(user), rssBefore, rssMax, rssAfter: rssMiB(pid), flowsMax, moved, load: load() };
  } finally {
    await masq.stop();
  }
}

async function main(): Promise<void> {
  const pre = prerequisites({ root: true, tools: ['ip', 'nft', DEBIAN_PYTHON, ...(ONLY.includes('invite') ? ['sipp', 'ss', 'env', G711A_PCAP] : [])] });
  if (pre.skip) throw new Error(`cannot run: ${pre.skip}`);
  const tun = tunMissing();
  if (tun) throw new Error(`cannot run: ${tun}`);
  console.error(`${COMMAND}; load average ${load()}`);
  const lab = LabTopology.create('flood');
  const results: FloodResult[] = [];
  let invite: InviteFloodResult | null = null;
  try {
    for (const [args, what] of [[['udp-echo', '--port', '7'], 'udp echo'], [['tcp-serve', '--port', '8000'], 'tcp serve']] as const) {
      await lab.spawn('srv', [DEBIAN_PYTHON, PROBE, ...args], what).waitFor(/ready/);
    }
    for (const kind of ONLY) {
      if (kind === 'invite') {
        invite = await inviteFlood(lab, SECONDS, RATE, (l) => console.error(l));
        console.error(JSON.stringify(invite));
        continue;
      }
      const r = await one(lab, kind);
      results.push(r);
      console.error(JSON.stringify(r));
    }
  } finally {
    await lab.destroy();
  }
  if (args.json) {
    console.log(JSON.stringify({ command: COMMAND, results, invite }));
    return;
  }
  console.log(`\n${COMMAND}\n`);
  if (invite) printInvite(invite);
  if (results.length === 0) return;
  console.log('| flood | sent (pkt/s) | user UDP answered (p50 / max ms) | user TCP connects (p50 / max ms) | masq RSS before / max / after MiB | flows max | engine counters moved | load average after |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const moved = Object.entries(r.moved).sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, v]) => `${k} ${v}`).join(', ');
    console.log(`| ${r.kind} | ${r.sent} (${Math.round(r.sent / r.floodSeconds)}) | ${r.user.udpAnswered}/${r.user.udpAsked} (${r.user.udpRttMs.p50} / ${r.user.udpRttMs.max}) | ${r.user.tcpOk}/${r.user.tcpTried} (${r.user.tcpMs.p50} / ${r.user.tcpMs.max}) | ${r.rssBefore} / ${r.rssMax} / ${r.rssAfter} | ${r.flowsMax} | ${moved} | ${r.load} |`);
  }
}

function printInvite(r: InviteFloodResult): void {
  const u = r.user;
  console.log('\n| INVITE flood | INVITEs sent (/s) | seen by the ALG | user calls ok | user RTP at phone / at server (of) | pinholes max: all / flooder / user (caps) | calls forgotten: host / table | masq RSS before / max / after MiB | masq CPU s (us per INVITE) | load before -> after |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  console.log(
    `| ${r.seconds} s at --rate ${r.rate} | ${r.floodInvites} (${Math.round(r.floodInvites / r.seconds)}) | ${r.algMessages} | ${u.totals?.successful ?? '?'}/${u.calls} | ${u.rtpAtPhone} / ${u.rtpAtServer} (${u.rtpExpected}) | ${r.expectationsMax} / ${r.toFlooderMax} / ${r.toUserMax} (${r.limits.expectations} / ${r.limits.expectationsPerHost}) | ${r.moved['sip.callsForgottenHostLimit'] ?? 0} / ${r.moved['sip.callsForgottenTableFull'] ?? 0} | ${r.rss.before} / ${r.rss.max} / ${r.rss.after} | ${r.cpuSeconds} (${r.cpuUsPerInvite}) | ${r.loadBefore} -> ${r.loadAfter} |`,
  );
  console.log(`\ncounters moved: ${JSON.stringify(r.moved)}`);
}

await main();
