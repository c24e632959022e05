// Passive FTP downloads per second through `masq gateway` (FTP ALG) against the kernel's NAT with
// its FTP helper (nftables masquerade + nf_conntrack_ftp / nf_nat_ftp by `ct helper set`), and
// plain routing as the ceiling of the generator and the server, in the lab of test/lab/topology.ts
// (lftp on h1 -> gw1 -> router -> vsftpd on srv), one run.
//
//   sudo node --import tsx bench/ftp-downloads.ts [--workers 4] [--files 150] [--size 4096]
//                                                 [--rounds 5] [--epsv] [--json]
//                                                 [--paths plain,kernel,masq,masq-noalg,masq-fifo,masq-busypoll]
//                                                 [--warmup files] [--counters] [--busy-poll µs]
//
// Each measurement runs `workers` lftp sessions at once on h1, each downloading `files` small
// files (`size` bytes) one after the other (mget) over one control connection in passive mode
// (PASV and its 227 by default; --epsv for EPSV/229): every file is a PASV, a RETR, a new data
// connection and a 226 through the NAT. (curl was the first generator: with several at once it
// stalls about one data connection in twenty for exactly 1 s between the 227 and its connect(),
// in curl itself, on every path alike; lftp does not.) The figure is files downloaded per
// second of wall time (all files checked by size). Rounds rotate the order of the paths; each
// path's figure is the median of its rounds, the masq/kernel ratio the median of the rounds'
// ratios. Also reported for masq: its CPU time (user + system of the gateway process, which runs
// the kernel's forwarding of every packet it writes) per file, and with --counters masq's own
// counters per file (packets, wakes, batch sizes, writes, ALG messages and expectations). Before
// each measurement the same sessions download --warmup files each (default: --files) on the same
// gateway: a gateway started seconds before spends its first few hundred downloads compiling its
// packet path, more with the ALG, which the kernel it is compared with does not.
//
// The machine may be shared: curl, vsftpd and masq share its CPUs. Compare only numbers from the
// same run, and note the load average printed with them.
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LAB, LabTopology, type LabProcess } from '../test/lab/topology.js';
import { statusJson, tunMissing } from '../test/lab/fixtures/gateway-probes.js';
import { FtpGateway, startVsftpd } from '../test/lab/fixtures/ftp-lab.js';
import { prerequisites } from '../test/lab/prereq.js';
import { median } from './harness.js';
import { processCpu } from './proc-stats.js';

const { values: args } = parseArgs({
  options: {
    workers: { type: 'string', default: '4' },
    files: { type: 'string', default: '150' },
    size: { type: 'string', default: '4096' },
    rounds: { type: 'string', default: '5' },
    epsv: { type: 'boolean', default: false },
    paths: { type: 'string', default: 'plain,kernel,masq' },
    json: { type: 'boolean', default: false },
    /** Print masq's counters that moved, per file (packets, wakes, writes, ALG messages...). */
    counters: { type: 'boolean', default: false },
    /**
     * Files each session downloads before the measurement, on the same gateway: default as many as
     * measured, so V8 has compiled masq's packet path (a gateway in service is warm; a fresh one
     * spends its first few hundred downloads compiling, more with the ALG: see docs/benchmarks.md).
     */
    warmup: { type: 'string' },
    /** tun.busyPollUs of the masq-busypoll path. */
    'busy-poll': { type: 'string', default: '50' },
  },
});
const WORKERS = bounded(args.workers, 1, 32, 'workers');
const FILES = bounded(args.files, 1, 5000, 'files');
const SIZE = bounded(args.size, 1, 16 * 1024 * 1024, 'size');
const ROUNDS = bounded(args.rounds, 1, 20, 'rounds');
const WARMUP = bounded(args.warmup ?? String(FILES), 1, 5000, 'warmup');
const BUSY_POLL_US = bounded(args['busy-poll'], 1, 1000, 'busy-poll');
const COMMAND = `sudo node --import tsx bench/ftp-downloads.ts --workers ${WORKERS} --files ${FILES} --size ${SIZE} --rounds ${ROUNDS} --warmup ${WARMUP} --paths ${args.paths}${args.epsv ? ' --epsv' : ''}${args.paths?.includes('masq-busypoll') ? ` --busy-poll ${BUSY_POLL_US}` : ''}`;

function bounded(text: string | undefined, min: number, max: number, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${what} must be an integer in ${min}..${max}`);
  return n;
}

type Path = 'plain routing' | 'kernel + nf_nat_ftp' | 'masq + FTP ALG' | 'masq without the ALG' | 'masq + FTP ALG, SCHED_FIFO' | 'masq + FTP ALG, busy poll';
const PATH_NAMES: Record<string, Path> = {
  plain: 'plain routing',
  kernel: 'kernel + nf_nat_ftp',
  masq: 'masq + FTP ALG',
  'masq-noalg': 'masq without the ALG',
  // An attempt on the cost per wake: the gateway's threads in the real-time class (chrt -f 1), so the
  // task its TUN write wakes (lftp, vsftpd) cannot take its CPU before the batch's other writes are done.
  'masq-fifo': 'masq + FTP ALG, SCHED_FIFO',
  // The other attempt on the cost per wake: after each batch the gateway keeps reading its TUN devices
  // for --busy-poll µs (tun.busyPollUs), so the answer to a packet it just wrote may be read without a wake.
  'masq-busypoll': 'masq + FTP ALG, busy poll',
};
const PATHS: Path[] = (args.paths ?? '').split(',').map((p) => {
  const path = PATH_NAMES[p.trim()];
  if (!path) throw new Error(`--paths: ${p} is not one of ${Object.keys(PATH_NAMES).join(', ')}`);
  return path;
});
const SRV = LAB.servers.a;

interface Measurement {
  path: Path;
  round: number;
  files: number;
  seconds: number;
  perSecond: number;
  load: number;
  masqCpuUsPerFile?: number;
  /** Of it, user time (JavaScript, V8, libuv; the rest is the kernel: reads, writes and the forwarding they carry). */
  masqUserUsPerFile?: number;
  /** masq's counters that moved during the measurement, per file downloaded. */
  masqPerFile?: Record<string, number>;
}

/** masq's numeric counters (engine, loop, TUN devices, ALGs) flattened to dotted names. */
function masqCounters(lab: LabTopology): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (prefix: string, v: unknown): void => {
    if (typeof v === 'number') out[prefix] = v;
    else if (Array.isArray(v)) v.forEach((x, i) => walk(`${prefix}[${i}]`, x));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(prefix ? `${prefix}.${k}` : k, x);
  };
  const c = statusJson(lab, 'gw1', '/counters');
  walk('', { engine: c.engine, loop: c.loop, tun: c.tun });
  for (const a of c.algs ?? []) walk(`alg.${a.name}`, a.counters);
  return out;
}

/** The counters that moved between two readings, per file (rounded to 0.01). */
function perFile(before: Record<string, number>, after: Record<string, number>, files: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d !== 0 && files > 0) out[k] = Math.round((d / files) * 100) / 100;
  }
  return out;
}

async function use(lab: LabTopology, gateway: FtpGateway, path: Path): Promise<LabProcess | undefined> {
  await gateway.stop();
  lab.exec('inet', ['ip', 'route', 'del', LAB.lan1.prefix], { allowFail: true });
  if (path.startsWith('masq')) {
    const extra = path === 'masq + FTP ALG, busy poll' ? `tun:\n  busyPollUs: ${BUSY_POLL_US}\n` : '';
    await gateway.use(path === 'masq without the ALG' ? 'masq without the FTP ALG' : 'masq', undefined, true, extra);
    const pid = gateway.masq?.proc.pid;
    if (path === 'masq + FTP ALG, SCHED_FIFO' && pid) execFileSync('chrt', ['-a', '-f', '-p', '1', String(pid)]);
    return gateway.masq;
  }
  if (path === 'kernel + nf_nat_ftp') {
    await gateway.use('kernel (masquerade + nf_nat_ftp)');
    return undefined;
  }
  // Plain routing: no NAT, the router learns the way back to the LAN.
  lab.useMasqAddressing('gw1');
  lab.exec('inet', ['ip', 'route', 'add', LAB.lan1.prefix, 'via', LAB.gw1.host]);
  return undefined;
}

/**
 * `workers` lftp sessions at once, each fetching every file (mget) over one
 * control connection in passive mode; files done (by size) and seconds taken.
 */
async function measure(lab: LabTopology, names: string[], tag: string): Promise<{ files: number; seconds: number }> {
  const dirs = Array.from({ length: WORKERS }, (_, w) => join(lab.dir, `${tag}-w${w}`));
  for (const d of dirs) mkdirSync(d, { recursive: true });
  const settings = [
    'set ftp:passive-mode on',
    `set ftp:prefer-epsv ${args.epsv ? 'yes' : 'no'}`,
    'set ftp:ssl-allow no',
    'set xfer:clobber on',
    'set net:max-retries 2',
    'set net:timeout 20',
    'set cmd:fail-exit yes',
  ];
  const started = process.hrtime.bigint();
  const procs = dirs.map((d, w) => {
    const script = [...settings, `open ftp://anonymous:bench@${SRV}`, `lcd ${d}`, `mget ${names.join(' ')}`, 'bye'].join('; ');
    return lab.spawn('h1', ['lftp', '-c', script], `lftp worker ${w}`);
  });
  await Promise.all(procs.map((p) => p.exited(900_000)));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  let files = 0;
  for (const d of dirs) {
    for (const n of names) {
      try {
        if (statSync(join(d, n)).size === SIZE) files++;
      } catch {
        // not downloaded
      }
    }
  }
  return { files, seconds };
}

async function main(): Promise<void> {
  const pre = prerequisites({ root: true, tools: ['ip', 'nft', 'conntrack', 'ss', 'vsftpd', 'lftp'] });
  if (pre.missing.length) throw new Error(`missing: ${pre.missing.join(', ')}`);
  const tun = tunMissing();
  if (tun) throw new Error(tun);
  const lab = LabTopology.create('ftpb');
  const gateway = new FtpGateway(lab);
  const results: Measurement[] = [];
  try {
    const server = await startVsftpd(lab, 'srv', 'bench', SRV, [40000, 49999]);
    const names = Array.from({ length: FILES }, (_, k) => `f${k}.bin`);
    for (const n of names) server.put(n, SIZE);
    const warmNames = Array.from({ length: WARMUP }, (_, k) => names[k % names.length]);
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order, so no path always runs first (or right after the same other).
      const order = PATHS.map((_, k) => PATHS[(k + round) % PATHS.length]);
      for (const path of order) {
        const masq = await use(lab, gateway, path);
        // The warm-up: ARP, the gateway's first flows, vsftpd's first fork, and V8 compiling masq's
        // packet path (--warmup files a session).
        await measure(lab, warmNames, `warm-${round}-${PATHS.indexOf(path)}`);
        const pid = masq?.proc.pid;
        const counters0 = pid ? masqCounters(lab) : {};
        const cpu0 = pid ? processCpu(pid) : { user: 0, system: 0 };
        const load = loadavg()[0];
        const { files, seconds } = await measure(lab, names, `r${round}-${PATHS.indexOf(path)}`);
        const m: Measurement = { path, round, files, seconds, perSecond: files / seconds, load };
        if (pid) {
          const cpu1 = processCpu(pid);
          m.masqCpuUsPerFile = ((cpu1.user + cpu1.system - cpu0.user - cpu0.system) / files) * 1e6;
          m.masqUserUsPerFile = ((cpu1.user - cpu0.user) / files) * 1e6;
          m.masqPerFile = perFile(counters0, masqCounters(lab), files);
        }
        results.push(m);
        process.stderr.write(`round ${round + 1} ${path}: ${files}/${WORKERS * FILES} files in ${seconds.toFixed(2)} s = ${m.perSecond.toFixed(0)}/s (load ${load.toFixed(2)})${m.masqCpuUsPerFile ? `, masq ${m.masqCpuUsPerFile.toFixed(0)} CPU µs/file (user ${m.masqUserUsPerFile?.toFixed(0)})` : ''}\n`);
        if (m.masqPerFile && args.counters) process.stderr.write(`  per file: ${JSON.stringify(m.masqPerFile)}\n`);
      }
    }
  } finally {
    await gateway.stop();
    await lab.destroy();
  }
  report(results);
}

function report(results: Measurement[]): void {
  const of = (p: Path) => results.filter((r) => r.path === p);
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const m = results.find((r) => r.round === round && r.path === 'masq + FTP ALG');
    const k = results.find((r) => r.round === round && r.path === 'kernel + nf_nat_ftp');
    if (m && k) ratios.push(m.perSecond / k.perSecond);
  }
  const summary = {
    command: COMMAND,
    workers: WORKERS,
    filesPerWorker: FILES,
    size: SIZE,
    reply: args.epsv ? 'EPSV/229' : 'PASV/227',
    paths: Object.fromEntries(
      PATHS.map((p) => [
        p,
        {
          perRound: of(p).map((r) => Number(r.perSecond.toFixed(1))),
          median: Number(median(of(p).map((r) => r.perSecond)).toFixed(1)),
          incomplete: of(p).filter((r) => r.files !== WORKERS * FILES).length,
          masqCpuUsPerFile: of(p).map((r) => Math.round(r.masqCpuUsPerFile ?? 0)),
        },
      ]),
    ),
    ratioPerRound: ratios.map((r) => Number(r.toFixed(3))),
    ratioMedian: Number(median(ratios).toFixed(3)),
    masqCpuUsPerFile: Number(median(of('masq + FTP ALG').map((r) => r.masqCpuUsPerFile ?? 0)).toFixed(0)),
    masqNoAlgCpuUsPerFile: Number(median(of('masq without the ALG').map((r) => r.masqCpuUsPerFile ?? 0)).toFixed(0)),
    loadAverage: results.map((r) => Number(r.load.toFixed(2))),
  };
  if (args.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  const lines = [
    `# ${COMMAND}`,
    `${WORKERS} lftp sessions x ${FILES} files of ${SIZE} bytes, passive mode (${summary.reply})`,
    '',
    '| path | files/s per round | median | masq CPU µs per file per round |',
    '|---|---|---|---|',
    ...PATHS.map((p) => `| ${p} | ${summary.paths[p].perRound.join(', ')} | ${summary.paths[p].median} | ${summary.paths[p].masqCpuUsPerFile.filter((x) => x > 0).join(', ')} |`),
    '',
    ratios.length ? `masq / kernel per round: ${summary.ratioPerRound.join(', ')}; median ${summary.ratioMedian}` : 'masq / kernel: no kernel path in this run',
    `masq CPU per file (median): ${summary.masqCpuUsPerFile} µs${PATHS.includes('masq without the ALG') ? `; without the ALG ${summary.masqNoAlgCpuUsPerFile} µs` : ''}`,
    `load average (1 min) at each measurement: ${summary.loadAverage.join(', ')}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
