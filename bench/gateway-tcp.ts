// TCP through masq against the kernel's masquerade, with what it costs: CPU per MB, packets per wake, mean
// read sizes (super-packets and the rest), TUN queue drops; in the lab of test/lab/topology.ts.
//
//   sudo node --import tsx bench/gateway-tcp.ts [--seconds 5] [--rounds 3] [--variants LIST] [--perf DIR]
//
// Per round: the kernel's masquerade, then each masq variant (--variants 'masq;masq, txqueuelen 500',
// separated by ;, from VARIANTS below), each with iperf3 up (h1 -> srv) and down (-R). A round's paths run
// back to back, so ratios (median of each round's ratio) share that moment's load; CPU per MB is the
// steady figure on a shared machine. --perf DIR: in round 1, `perf record -g` on masq during each
// direction, a report per variant and direction in DIR (DIR/*.data for `perf report --children`).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LAB, LabTopology, type LabProcess } from '../test/lab/topology.js';
import { statusJson, tunMissing } from '../test/lab/fixtures/gateway-probes.js';
import { median } from './harness.js';
import { loadAverage, processCpu } from './proc-stats.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    variants: { type: 'string', default: 'masq' },
    perf: { type: 'string' },
  },
});
const SECONDS = boundedInt(args.seconds, 1, 60, 'seconds');
const ROUNDS = boundedInt(args.rounds, 1, 20, 'rounds');

function boundedInt(text: string | undefined, min: number, max: number, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${what} must be an integer in ${min}..${max}`);
  return n;
}

/** Each variant: the gateway config it adds, and a command run in gw1 after masq started (device settings). */
const VARIANTS: Record<string, { config: string; after?: (lab: LabTopology) => void }> = {
  masq: { config: '' },
  // The kernel's default TUN queue (main's default is tun.queueLength 4096).
  'masq, txqueuelen 500': { config: 'tun:\n  queueLength: 500\n' },
  'masq, RPS': { config: '', after: (lab) => setTunRps(lab, ((1 << Math.min(availableParallelism(), 30)) - 1).toString(16)) },
  'masq, busy poll 50': { config: 'tun:\n  busyPollUs: 50\n' },
  'masq, batch 4': { config: 'tun:\n  batchSize: 4\n' },
  'masq, batch 16': { config: 'tun:\n  batchSize: 16\n' },
  'masq, batch 256': { config: 'tun:\n  batchSize: 256\n' },
};
const NAMES = args.variants.split(';').map((v) => v.trim());
for (const v of NAMES) if (!(v in VARIANTS)) throw new Error(`--variants: unknown "${v}"; known: ${Object.keys(VARIANTS).join('; ')}`);

interface Direction {
  mbps: number;
  cpuUsPerMB?: number;
  systemShare?: number;
  packetsPerWake?: number;
  readsPerSec?: number;
  meanReadBytes?: number;
  meanGsoBytes?: number;
  /** Share of reads that were not GSO super-packets (mostly pure ACKs of the other direction). */
  nonGsoShare?: number;
  meanNonGsoBytes?: number;
  tunTxDrops?: number;
}
interface Sample {
  up: Direction;
  down: Direction;
}

/** Links of gw1 without a link layer (the TUN devices), by name. */
function tunLinks(lab: LabTopology): Array<{ ifname: string; txDropped: number }> {
  const r = lab.exec('gw1', ['ip', '-j', '-s', 'link', 'show'], { allowFail: true });
  const links = JSON.parse(r.stdout || '[]') as Array<{ ifname: string; link_type: string; stats64?: { tx?: { dropped?: number } } }>;
  return links.filter((l) => l.link_type === 'none').map((l) => ({ ifname: l.ifname, txDropped: l.stats64?.tx?.dropped ?? 0 }));
}

/** Receive packet steering on the TUN devices: the forwarding of what masq writes runs on the CPU the flow hashes to. */
function setTunRps(lab: LabTopology, mask: string): void {
  for (const l of tunLinks(lab)) lab.exec('gw1', ['sh', '-c', `echo ${mask} > /sys/class/net/${l.ifname}/queues/rx-0/rps_cpus`]);
}

const tunDrops = (lab: LabTopology) => tunLinks(lab).reduce((s, l) => s + l.txDropped, 0);

function iperf(lab: LabTopology, reverse: boolean): { mbps: number; bytes: number } {
  const r = lab.exec('h1', ['iperf3', '-c', LAB.servers.a, '-t', String(SECONDS), '--json', ...(reverse ? ['-R'] : [])], { timeoutMs: (SECONDS + 30) * 1000 });
  const sum = JSON.parse(r.stdout).end.sum_received;
  return { mbps: sum.bits_per_second / 1e6, bytes: sum.bytes };
}

/** `perf record` on pid while fn runs; the report's top lines go to file. */
async function withPerf<T>(pid: number, file: string, fn: () => T): Promise<T> {
  const data = `${file}.data`;
  const perf = spawn('perf', ['record', '-g', '-F', '999', '-p', String(pid), '-o', data], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  try {
    return fn();
  } finally {
    perf.kill('SIGINT');
    await new Promise((r) => perf.once('exit', r));
    const report = spawnSync('perf', ['report', '-i', data, '--no-children', '--sort', 'dso,symbol', '--stdio', '-g', 'none', '--percent-limit', '0.5'], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      timeout: 120_000,
    });
    writeFileSync(file, `${sharesOf(data)}\n${report.stdout}`);
  }
}

/** Where masq's time went, by the kernel and addon functions that bound each part (inclusive shares). */
const PARTS: Array<[string, string]> = [
  ['tun_get_user', 'TUN writes (building the skb, and the forwarding it runs in masq`s context)'],
  ['_copy_from_iter', '  the copy of each packet from masq into the kernel'],
  ['handle_softirqs', '  softirq work in masq`s context (the next hops, run as a write ends)'],
  ['tcp_v4_rcv', '    of it: the receiving host`s TCP'],
  ['tun_do_read', 'TUN reads'],
  ['_copy_to_iter', '  the copy of each packet out to masq'],
  ['schedule', 'switched out (preempted, or waiting)'],
  ['do_epoll_wait', 'waiting for packets (epoll)'],
  ['napi_make_callback', 'the JavaScript batch, the writes it calls included'],
  ['(anonymous namespace)::WriteBatch', '  of it: the addon`s batched write'],
];
function sharesOf(data: string): string {
  const r = spawnSync('perf', ['report', '-i', data, '--children', '--sort', 'symbol', '--stdio', '-g', 'none'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
  const rows = r.stdout.split('\n').map((l) => l.trimEnd());
  const share = (sym: string) => {
    const at = new RegExp(`\\] ${sym.replace(/[()[\]:.]/g, '\\$&')}(\\.constprop\\.0)?(\\s|$)`);
    const row = rows.find((l) => /^\s*[\d.]+%/.test(l) && at.test(l));
    return row ? Number(row.trim().split(/\s+/)[0].replace('%', '')) : 0;
  };
  const lines = PARTS.map(([sym, what]) => `# ${share(sym).toFixed(1).padStart(5)} % ${what} [${sym}]`);
  const js = share('napi_make_callback') - share('(anonymous namespace)::WriteBatch');
  lines.push(`# ${js.toFixed(1).padStart(5)} % JavaScript and the addon without its writes (the difference of the two above)`);
  return ['# inclusive shares of masq`s samples', ...lines].join('\n');
}

async function direction(lab: LabTopology, masq: LabProcess | null, reverse: boolean, perfFile?: string): Promise<Direction> {
  const pid = masq?.proc.pid;
  const cpu0 = pid ? processCpu(pid) : null;
  const c0 = masq ? statusJson(lab, 'gw1', '/counters').loop : null;
  const drops0 = masq ? tunDrops(lab) : 0;
  const run = () => iperf(lab, reverse);
  const { mbps, bytes } = perfFile && pid ? await withPerf(pid, perfFile, run) : run();
  if (!masq || !pid || !cpu0 || !c0) return { mbps };
  const cpu1 = processCpu(pid);
  const c1 = statusJson(lab, 'gw1', '/counters').loop;
  const d = (k: string) => (c1[k] as number) - (c0[k] as number);
  const cpu = cpu1.user + cpu1.system - cpu0.user - cpu0.system;
  const reads = d('packetsRead');
  const gso = d('gsoPackets');
  return {
    mbps,
    cpuUsPerMB: (cpu / (bytes / 1e6)) * 1e6,
    systemShare: (cpu1.system - cpu0.system) / cpu,
    packetsPerWake: reads / d('wakes'),
    readsPerSec: reads / SECONDS,
    meanReadBytes: d('bytesRead') / reads,
    meanGsoBytes: d('gsoBytes') / gso,
    nonGsoShare: (reads - gso) / reads,
    meanNonGsoBytes: (d('bytesRead') - d('gsoBytes')) / (reads - gso),
    tunTxDrops: tunDrops(lab) - drops0,
  };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces, TUN devices)');
  const missing = tunMissing();
  if (missing) throw new Error(missing);
  if (args.perf) mkdirSync(args.perf, { recursive: true });
  const lab = LabTopology.create('btcp');
  const paths = ['kernel masquerade', ...NAMES];
  const samples = new Map<string, Sample[]>(paths.map((p) => [p, []]));
  try {
    const server = lab.spawn('srv', ['iperf3', '-s', '-B', LAB.servers.a, '--forceflush'], 'iperf3 -s');
    await server.waitFor(/Server listening/);
    for (let round = 1; round <= ROUNDS; round++) {
      process.stderr.write(`round ${round}/${ROUNDS}\n`);
      for (const path of paths) {
        lab.exec('inet', ['ip', 'route', 'del', LAB.lan1.prefix], { allowFail: true });
        let masq: LabProcess | null = null;
        if (path === 'kernel masquerade') lab.useKernelNat('gw1', 'masquerade');
        else {
          lab.useMasqAddressing('gw1');
          const variant = VARIANTS[path];
          masq = await lab.startMasq('gw1', lab.masqConfig('gw1', variant.config).replace('level: debug', 'level: info'), 120_000);
          variant.after?.(lab);
        }
        lab.exec('h1', ['ping', '-c', '3', '-i', '0.2', '-W', '1', LAB.servers.a], { allowFail: true });
        const perfFile = (dir: string) => (args.perf && round === 1 && masq ? join(args.perf, `${path.replace(/[^a-z0-9]+/gi, '-')}-${dir}.txt`) : undefined);
        const up = await direction(lab, masq, false, perfFile('up'));
        const down = await direction(lab, masq, true, perfFile('down'));
        if (masq) await masq.stop();
        const sample = { up, down };
        process.stderr.write(`  ${path}: ${JSON.stringify(sample)}\n`);
        samples.get(path)!.push(sample);
      }
    }
  } finally {
    await lab.destroy();
  }
  const kernel = samples.get('kernel masquerade')!;
  const fmt = (n: number | undefined, digits = 0) => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits));
  const lines = [
    '| path | dir | Mbit/s | / kernel | CPU µs per MB | in kernel | reads/s | per wake | mean read B | mean GSO B | non-GSO share | non-GSO B | TUN drops |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const path of paths) {
    const s = samples.get(path)!;
    for (const dir of ['up', 'down'] as const) {
      const m = (k: keyof Direction) => median(s.map((x) => x[dir][k] ?? NaN));
      const ratio = median(s.map((x, i) => x[dir].mbps / kernel[i][dir].mbps));
      lines.push(
        `| ${path} | ${dir} | ${fmt(m('mbps'))} | ${fmt(ratio, 2)} | ${fmt(m('cpuUsPerMB'))} | ${fmt(m('systemShare') * 100)} % | ${fmt(m('readsPerSec') / 1000, 1)}k | ${fmt(m('packetsPerWake'), 1)} | ${fmt(m('meanReadBytes'))} | ${fmt(m('meanGsoBytes'))} | ${fmt(m('nonGsoShare'), 2)} | ${fmt(m('meanNonGsoBytes'))} | ${fmt(m('tunTxDrops'))} |`,
      );
    }
  }
  const load = loadAverage();
  lines.push(`medians of ${ROUNDS} round(s) of ${SECONDS} s; load average at the end ${load}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
