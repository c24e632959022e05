/**
 * STUN Binding requests answered per second: `masq stun serve` against coturn
 * (`turnserver --stun-only`) on this machine, in one run, under the same load.
 *
 * masq runs on batched sockets (the addon: recvmmsg/sendmmsg) and on node:dgram,
 * each with its default worker processes and with one; all with the per-source
 * rate limiter and the anti-amplification checks on.
 *
 * Load: bench/stun-loadgen.ts, a C closed-loop generator (SOCKETS x WINDOW
 * requests in flight, epoll + sendmmsg/recvmmsg), compiled on the fly, the same
 * binary for every server. It counts valid Binding success responses. The
 * servers take turns (masq, masq --workers 1, ..., coturn, masq, ...) so drift
 * on a shared machine hits all of them alike; medians are reported, and also
 * the median of the per-round ratios (each round's masq against the same
 * round's coturn, a few seconds apart), which is the steadier number when the
 * machine is noisy. Everything is on 127.0.0.1: compare the servers with each
 * other, not with other benches.
 *
 * Also reported: server CPU time per answer (user + system of the server's
 * whole process group, all threads and workers, from /proc), which does not
 * depend on how much CPU the neighbours left over.
 *
 * Placements (--placement shared|pinned|both, default both):
 *   shared  servers and generator scheduled freely on all CPUs; coturn runs a
 *           UDP thread per core, masq one worker process per CPU by default.
 *   pinned  server on CPU 1, generator on CPU 0 (taskset): one core each, the
 *           per-core comparison. masq sees one CPU there, so it runs one worker;
 *           coturn keeps its threads, on that one core.
 *
 * Run: node --import tsx bench/stun-serve.ts [--runs 7] [--seconds 2] [--sockets 16] [--window 8] [--placement both]
 *        [--servers 'masq batched,masq dgram'] [--json]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { availableParallelism, loadavg } from 'node:os';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { argValue, fmtRate, jsonOutput, median } from './harness.js';
import { compileLoadgen } from './stun-loadgen.js';

const runs = argValue('runs', 7);
const seconds = argValue('seconds', 2);
const sockets = argValue('sockets', 16);
const window = argValue('window', 8);
const WARMUP_MS = 1000;
const REPO = fileURLToPath(new URL('../', import.meta.url));
const HOST = '127.0.0.1';
const canPin = availableParallelism() >= 2 && spawnSync('sh', ['-c', 'command -v taskset'], { stdio: 'ignore' }).status === 0;

type Placement = 'shared' | 'pinned';

function placements(): Placement[] {
  const i = process.argv.indexOf('--placement');
  const want = process.argv.includes('--pin') ? 'pinned' : i >= 0 ? process.argv[i + 1] : 'both';
  const list: Placement[] = want === 'both' ? ['shared', 'pinned'] : want === 'shared' || want === 'pinned' ? [want] : [];
  if (list.length === 0) throw new Error(`--placement must be shared, pinned or both, not ${want}`);
  if (list.includes('pinned') && !canPin) {
    process.stderr.write('pinned placement needs 2 CPUs and taskset: skipped\n');
    return list.filter((p) => p !== 'pinned');
  }
  return list;
}

interface ServerSpec {
  name: string;
  masq: boolean;
  command: (port: number) => [string, string[]];
}

const masqServe = (port: number, ...extra: string[]): [string, string[]] => [
  process.execPath,
  ['--import', 'tsx', 'src/cli/stun-main.ts', 'stun', 'serve', '--listen', `${HOST}:${port}`, '--no-tcp', '--stats-interval', '0', ...extra],
];

/** Every masq server runs with the per-source rate limiter on (limits no source reaches: the checks run, nobody is limited). */
const limiterOn = ['--rate-limit', '100000000', '--burst', '100000000'];

const allServers: ServerSpec[] = [
  { name: 'masq batched', masq: true, command: (port) => masqServe(port, ...limiterOn, '--udp-io', 'batched') },
  { name: 'masq batched --workers 1', masq: true, command: (port) => masqServe(port, ...limiterOn, '--udp-io', 'batched', '--workers', '1') },
  { name: 'masq dgram', masq: true, command: (port) => masqServe(port, ...limiterOn, '--udp-io', 'dgram') },
  { name: 'masq dgram --workers 1', masq: true, command: (port) => masqServe(port, ...limiterOn, '--udp-io', 'dgram', '--workers', '1') },
  {
    name: 'coturn',
    masq: false,
    command: (port) => [
      'turnserver',
      ['-n', '--stun-only', '--no-cli', '--no-tls', '--no-dtls', '--no-tcp', '-L', HOST, '--listening-port', String(port), '--log-file', 'stdout', '--no-stdout-log'],
    ],
  },
];

/** --servers a,b,... picks some by name (coturn is always there: every ratio is to it). */
function chosenServers(): ServerSpec[] {
  const i = process.argv.indexOf('--servers');
  if (i < 0) return allServers.filter((s) => s.name !== 'masq dgram --workers 1');
  const names = process.argv[i + 1].split(',').map((n) => n.trim());
  const unknown = names.filter((n) => !allServers.some((s) => s.name === n));
  if (unknown.length) throw new Error(`unknown server(s) ${unknown.join(', ')}; known: ${allServers.map((s) => s.name).join(', ')}`);
  return allServers.filter((s) => s.name === 'coturn' || names.includes(s.name));
}

const servers = chosenServers();

async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, HOST, () => r()));
  const port = s.address().port;
  s.close();
  return port;
}

/** Waits until the server answers a Binding request (bounded: 30 s). */
async function waitAnswer(port: number): Promise<void> {
  const s = dgram.createSocket('udp4');
  const req = Buffer.from([0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, ...new Array<number>(12).fill(7)]);
  try {
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 30_000;
      let timer: NodeJS.Timeout | undefined;
      s.on('message', () => {
        clearTimeout(timer);
        resolve();
      });
      const tick = () => {
        if (Date.now() > deadline) return reject(new Error(`server on port ${port} never answered`));
        s.send(req, port, HOST);
        timer = setTimeout(tick, 100);
      };
      tick();
    });
  } finally {
    s.close();
  }
}

/** masq logs "listening ... workers=N" once every worker is up; coturn is ready when it answers. */
async function waitReady(proc: ChildProcess, output: () => string, port: number, masq: boolean): Promise<number | null> {
  await waitAnswer(port);
  if (!masq) return null;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const m = /listening .*workers=(\d+)/.exec(output());
    if (m) return Number(m[1]);
    if (proc.exitCode !== null) throw new Error(`masq exited:\n${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`masq never logged "listening":\n${output()}`);
}

/** CPU seconds (user + system) of every process in process group `pgid`: the server, its threads and workers. */
function groupCpuSeconds(pgid: number): number {
  const ticksPerSecond = 100;
  let ticks = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after the command name: state ppid pgrp ... utime (14th field) stime (15th).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(f[2]) === pgid) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / ticksPerSecond;
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode === null && p.signalCode === null) {
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    // SIGTERM: coturn ignores SIGINT.
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  }
  // Anything of the server's group still there (a worker that outlived its supervisor).
  try {
    process.kill(-p.pid!, 'SIGKILL');
  } catch {
    /* the group is gone */
  }
}

interface LoadResult {
  rate: number;
  answered: number;
  refills: number;
  cpuSeconds: number;
  line: string;
}

async function load(binary: string, port: number, serverGroup: number, pinned: boolean): Promise<LoadResult> {
  const genArgs = [HOST, String(port), String(sockets), String(window), String(WARMUP_MS), String(seconds * 1000)];
  const [cmd, args] = pinned ? ['taskset', ['-c', '0', binary, ...genArgs]] : [binary, genArgs];
  const gen = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  gen.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  gen.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => gen.once('exit', () => r()));
  const kill = setTimeout(() => gen.kill('SIGKILL'), (seconds + 30) * 1000);
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const cpu0 = groupCpuSeconds(serverGroup);
  await exited;
  const cpu1 = groupCpuSeconds(serverGroup);
  clearTimeout(kill);
  const m = /answered=(\d+) lost_refills=(\d+) seconds=[\d.]+ rate=(\d+)/.exec(out);
  if (!m) throw new Error(`load generator failed: ${out}`);
  return { answered: Number(m[1]), refills: Number(m[2]), rate: Number(m[3]), cpuSeconds: cpu1 - cpu0, line: `${cmd} ${args.join(' ')}` };
}

interface ServerResult {
  rates: number[];
  microsPerAnswer: number[];
  refills: number;
  workers: number | null;
  command: string;
}

interface PlacementResult {
  placement: Placement;
  servers: Record<string, ServerResult & { median: number; medianMicrosPerAnswer: number }>;
  /** masq-like server name -> median of its per-round rate ratio to coturn. */
  pairedRatio: Record<string, number>;
  /** masq-like server name -> ratio of medians. */
  ratioOfMedians: Record<string, number>;
  load: string;
  /** The machine's load average (1, 5, 15 minutes) before and after: the bench shares the machine. */
  loadAverage: { before: number[]; after: number[] };
}

async function measure(binary: string, placement: Placement): Promise<PlacementResult> {
  const pinned = placement === 'pinned';
  const loadBefore = loadavg();
  const results = new Map<string, ServerResult>(servers.map((s) => [s.name, { rates: [], microsPerAnswer: [], refills: 0, workers: null, command: '' }]));
  let loadCommand = '';
  for (let i = 0; i < runs; i++) {
    for (const spec of servers) {
      const port = await freePort();
      const [c0, a0] = spec.command(port);
      const [cmd, args] = pinned ? ['taskset', ['-c', '1', c0, ...a0]] : [c0, a0];
      const r = results.get(spec.name)!;
      r.command = `${cmd} ${args.join(' ')}`.replace(String(port), 'PORT');
      // Its own process group, so its CPU time (workers included) can be summed.
      const proc = spawn(cmd, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      let output = '';
      proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      try {
        r.workers = await waitReady(proc, () => output, port, spec.masq);
        const l = await load(binary, port, proc.pid!, pinned);
        loadCommand = l.line.replace(String(port), 'PORT').replace(binary, 'stun-loadgen');
        r.rates.push(l.rate);
        r.microsPerAnswer.push(l.answered > 0 ? (l.cpuSeconds * 1e6) / l.answered : NaN);
        r.refills += l.refills;
        if (!jsonOutput) process.stderr.write(`  [${placement} round ${i + 1}/${runs}] ${spec.name}: ${l.rate}/s\n`);
      } finally {
        await stop(proc);
      }
    }
  }
  const coturn = results.get('coturn')!;
  const out: PlacementResult = {
    placement,
    servers: {},
    pairedRatio: {},
    ratioOfMedians: {},
    load: loadCommand,
    loadAverage: { before: loadBefore, after: loadavg() },
  };
  for (const [name, r] of results) {
    out.servers[name] = { ...r, median: median(r.rates), medianMicrosPerAnswer: median(r.microsPerAnswer) };
    if (name === 'coturn') continue;
    out.pairedRatio[name] = median(r.rates.map((rate, i) => rate / coturn.rates[i]));
    out.ratioOfMedians[name] = median(r.rates) / median(coturn.rates);
  }
  return out;
}

function print(r: PlacementResult): void {
  const where = r.placement === 'pinned' ? 'pinned: server on CPU 1, generator on CPU 0' : 'shared: all CPUs, generator included';
  const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  console.log(`\nSTUN Binding answers per second, ${runs} runs of ${seconds} s, ${sockets} sockets x ${window} in flight, ${availableParallelism()} CPUs (${where})`);
  console.log(`  load average before ${la(r.loadAverage.before)}, after ${la(r.loadAverage.after)}`);
  for (const [name, s] of Object.entries(r.servers)) {
    const workers = s.workers === null ? '' : ` (${s.workers} worker${s.workers === 1 ? '' : 's'})`;
    console.log(
      `  ${(name + workers).padEnd(36)} median ${fmtRate(s.median).padStart(10)}   ${s.medianMicrosPerAnswer.toFixed(1).padStart(5)} us CPU/answer   runs: ${s.rates.map((x) => fmtRate(x)).join(', ')}   refills after loss: ${s.refills}`,
    );
  }
  for (const name of Object.keys(r.pairedRatio)) {
    console.log(`  ${name} / coturn: ${r.pairedRatio[name].toFixed(2)} (median of per-round ratios; ratio of medians ${r.ratioOfMedians[name].toFixed(2)})`);
  }
  console.log('  commands:');
  for (const [name, s] of Object.entries(r.servers)) console.log(`    ${name}: ${s.command}`);
  console.log(`    load: ${r.load}`);
}

async function main(): Promise<void> {
  if (spawnSync('sh', ['-c', 'command -v turnserver && command -v gcc'], { stdio: 'ignore' }).status !== 0) {
    throw new Error('needs turnserver (coturn) and gcc');
  }
  const { binary, dir } = compileLoadgen();
  const all: PlacementResult[] = [];
  try {
    for (const p of placements()) {
      const r = await measure(binary, p);
      all.push(r);
      if (!jsonOutput) print(r);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (jsonOutput) {
    process.stdout.write(`${JSON.stringify({ runs, seconds, sockets, window, cpus: availableParallelism(), placements: all }, null, 2)}\n`);
  }
}

await main();
