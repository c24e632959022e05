/**
 * STUN Binding requests answered per second: `masq stun serve` against coturn
 * (`turnserver --stun-only`) on this machine, in one run, under the same load.
 *
 * Load: bench/stun-loadgen.ts, a C closed-loop generator (SOCKETS x WINDOW
 * requests in flight, epoll + sendmmsg/recvmmsg), compiled on the fly. It
 * counts valid Binding success responses; the servers take turns (masq,
 * coturn, masq, ...) so drift hits both alike; the median of the runs is
 * reported. Everything is on 127.0.0.1: compare the two servers with each
 * other, not with other benches.
 *
 * Two placements: "shared" (servers and generator scheduled freely; coturn
 * runs one UDP thread per core, masq is one Node thread) and, with --pin and
 * taskset present, "pinned" (server on CPU 1, generator on CPU 0: one core
 * each, the per-core comparison).
 *
 * Run: node --import tsx bench/stun-serve.ts [--runs 5] [--seconds 3] [--sockets 16] [--window 8] [--pin] [--json]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { availableParallelism } from 'node:os';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { argValue, fmtRate, jsonOutput, median } from './harness.js';
import { compileLoadgen } from './stun-loadgen.js';

const runs = argValue('runs', 5);
const seconds = argValue('seconds', 3);
const sockets = argValue('sockets', 16);
const window = argValue('window', 8);
const pin = process.argv.includes('--pin') && availableParallelism() >= 2 && spawnSync('sh', ['-c', 'command -v taskset'], { stdio: 'ignore' }).status === 0;
const REPO = fileURLToPath(new URL('../', import.meta.url));
const HOST = '127.0.0.1';

interface ServerSpec {
  name: string;
  command: (port: number) => [string, string[]];
}

const servers: ServerSpec[] = [
  {
    name: 'masq',
    command: (port) => [process.execPath, ['--import', 'tsx', 'src/cli/stun-main.ts', 'stun', 'serve', '--listen', `${HOST}:${port}`, '--no-tcp', '--rate-limit', '0', '--stats-interval', '0']],
  },
  {
    name: 'masq (rate limiter on)',
    command: (port) => [
      process.execPath,
      ['--import', 'tsx', 'src/cli/stun-main.ts', 'stun', 'serve', '--listen', `${HOST}:${port}`, '--no-tcp', '--rate-limit', '100000000', '--burst', '100000000', '--stats-interval', '0'],
    ],
  },
  {
    name: 'coturn',
    command: (port) => [
      'turnserver',
      ['-n', '--stun-only', '--no-cli', '--no-tls', '--no-dtls', '--no-tcp', '-L', HOST, '--listening-port', String(port), '--log-file', 'stdout', '--no-stdout-log'],
    ],
  },
];

async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, HOST, () => r()));
  const port = s.address().port;
  s.close();
  return port;
}

/** Waits until the server answers a Binding request (bounded: 10 s). */
async function waitReady(port: number): Promise<void> {
  const s = dgram.createSocket('udp4');
  const req = Buffer.from([0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, ...new Array<number>(12).fill(7)]);
  try {
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 10_000;
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

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGINT');
  const t = setTimeout(() => p.kill('SIGKILL'), 3000);
  await gone;
  clearTimeout(t);
}

function load(binary: string, port: number): { rate: number; refills: number; line: string } {
  const genArgs = [HOST, String(port), String(sockets), String(window), '1000', String(seconds * 1000)];
  const [cmd, args] = pin ? ['taskset', ['-c', '0', binary, ...genArgs]] : [binary, genArgs];
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
  const m = /answered=(\d+) lost_refills=(\d+) seconds=[\d.]+ rate=(\d+)/.exec(r.stdout);
  if (!m) throw new Error(`load generator failed: ${r.stdout}${r.stderr}`);
  return { rate: Number(m[3]), refills: Number(m[2]), line: `${cmd} ${args.join(' ')}` };
}

async function main(): Promise<void> {
  if (spawnSync('sh', ['-c', 'command -v turnserver && command -v gcc'], { stdio: 'ignore' }).status !== 0) {
    throw new Error('needs turnserver (coturn) and gcc');
  }
  const { binary, dir } = compileLoadgen();
  const results = new Map<string, number[]>(servers.map((s) => [s.name, []]));
  const refills = new Map<string, number>(servers.map((s) => [s.name, 0]));
  const commands = new Map<string, string>();
  let loadCommand = '';
  try {
    for (let i = 0; i < runs; i++) {
      for (const spec of servers) {
        const port = await freePort();
        const [c0, a0] = spec.command(port);
        const [cmd, args] = pin ? ['taskset', ['-c', '1', c0, ...a0]] : [c0, a0];
        commands.set(spec.name, `${cmd} ${args.join(' ')}`.replace(String(port), 'PORT'));
        const proc = spawn(cmd, args, { cwd: REPO, stdio: 'ignore' });
        try {
          await waitReady(port);
          const r = load(binary, port);
          loadCommand = r.line.replace(String(port), 'PORT').replace(binary, 'stun-loadgen');
          results.get(spec.name)!.push(r.rate);
          refills.set(spec.name, refills.get(spec.name)! + r.refills);
        } finally {
          await stop(proc);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const med = new Map([...results].map(([k, v]) => [k, median(v)]));
  const ratio = med.get('masq')! / med.get('coturn')!;
  const ratioLimited = med.get('masq (rate limiter on)')! / med.get('coturn')!;
  if (jsonOutput) {
    process.stdout.write(
      `${JSON.stringify({ runs, seconds, sockets, window, pinned: pin, cpus: availableParallelism(), results: Object.fromEntries(results), medians: Object.fromEntries(med), ratio, ratioLimited, commands: Object.fromEntries(commands), load: loadCommand }, null, 2)}\n`,
    );
    return;
  }
  const placement = pin ? 'pinned: server on CPU 1, generator on CPU 0' : 'shared: all CPUs, generator included';
  console.log(`STUN Binding answers per second, ${runs} runs of ${seconds} s, ${sockets} sockets x ${window} in flight, ${availableParallelism()} CPUs (${placement})`);
  for (const [name, rates] of results) {
    console.log(`  ${name.padEnd(24)} median ${fmtRate(med.get(name)!).padStart(10)}   runs: ${rates.map((r) => fmtRate(r)).join(', ')}   window refills after loss: ${refills.get(name)}`);
  }
  console.log(`  ratio masq / coturn: ${ratio.toFixed(2)} (with the rate limiter on: ${ratioLimited.toFixed(2)})`);
  console.log('commands:');
  for (const [name, c] of commands) console.log(`  ${name}: ${c}`);
  console.log(`  load: ${loadCommand}`);
}

await main();
