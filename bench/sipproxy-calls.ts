// Calls/s through `masq sip-proxy` (registrar and media relay) against the reference, Kamailio
// (registrar, nathelper, record-route) with rtpengine in user space (`--table=-1`), in one run,
// with one generator, in the lab of test/lab/topology.ts: bob (a sipp UAS on h3, behind a kernel
// NAT) registers, then a sipp UAC on h1 (behind the other NAT) calls him at `rate` calls/s for
// `seconds` (INVITE with SDP, 100/180/200, ACK, BYE, 200; no media, no hold time).
//
//   sudo node --import tsx bench/sipproxy-calls.ts [--rates 25,50,100,200,400] [--seconds 5] [--rounds 3] [--json]
//
// A step passes when every call succeeded (0 failed, all `rate x seconds` completed); the figure
// per path and round is the highest passing rate of the ramp (the ramp stops at the first failed
// step), and the figure per path is the median over rounds, whose order rotates. Also the proxy
// processes' CPU (masq; Kamailio's and rtpengine's) per 100 calls at the highest passing rate.
// The machine has 2 CPUs shared by the generator, the phones and the proxies: compare only
// figures of the same run.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LAB, LabTopology, sleep, type LabProcess } from '../test/lab/topology.js';
import { fixture, sipp, waitListening } from '../test/lab/fixtures/sip-lab.js';
import { DOMAIN, PROXY, proxyConfig, REFERENCE, registerPhone, RTPENGINE_NG_PORT, startProxy } from '../test/lab/fixtures/sipproxy-lab.js';
import { median } from './harness.js';
import { processCpuSeconds } from './proc-stats.js';

const { values: args } = parseArgs({
  options: {
    rates: { type: 'string', default: '25,50,100,200,400' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
  },
});

type Path = 'masq' | 'kamailio';
const SECONDS = Number(args.seconds);
const rates = args.rates.split(',').map(Number);
const H1 = LAB.lan1.h1;
const H3 = LAB.lan2.h3;
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

function lastStats(file: string): Record<string, string> {
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim().length > 0);
  if (lines.length < 2) return {};
  const head = lines[0].split(';');
  const row = lines[lines.length - 1].split(';');
  return Object.fromEntries(head.map((h, i) => [h.trim(), (row[i] ?? '').trim()]));
}

/** User + system CPU seconds of processes (USER_HZ 100). */
function cpuSeconds(pids: number[]): number {
  let t = 0;
  for (const pid of pids) {
    try {
      t += processCpuSeconds(pid);
    } catch {
      // gone
    }
  }
  return t;
}

/** A process and its children (Kamailio forks its workers). */
function treePids(pid: number): number[] {
  const out = [pid];
  try {
    const kids = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
    for (const k of kids) out.push(...treePids(k));
  } catch {
    // no children
  }
  return out;
}

let stepNo = 0;

async function step(lab: LabTopology, path: Path, rate: number, pids: number[]): Promise<{ rate: number; passed: boolean; failed: number; successful: number; cpuPer100: number }> {
  const proxy = path === 'masq' ? PROXY : REFERENCE;
  if ((await registerPhone(lab, 'h3', H3, { user: 'bob', proxy })) !== 0) throw new Error(`bob could not register at ${path}`);
  const uas = sipp(lab, 'h3', ['-sf', fixture('sipproxy-uas-bench.xml'), '-i', H3, '-p', '5060', '-mp', '6000'], `uas ${path}`);
  await waitListening(lab, 'h3', 'udp', H3, 5060);
  const calls = Math.max(1, Math.round(rate * SECONDS));
  const stats = join(lab.dir, `spc-${++stepNo}.csv`);
  const cpu0 = cpuSeconds(pids);
  const uac = sipp(
    lab,
    'h1',
    [`${proxy}:5060`, '-sf', fixture('sipproxy-uac-bench.xml'), '-s', 'bob', '-key', 'domain', DOMAIN, '-d', '0', '-i', H1, '-p', '5060', '-r', String(rate), '-m', String(calls), '-l', String(Math.max(1000, rate * 4)), '-recv_timeout', '10000', '-timeout', `${SECONDS * 4 + 30}s`, '-timeout_error', '-trace_stat', '-stf', stats, '-fd', '1'],
    `uac ${path} ${rate}/s`,
  );
  await uac.exited((SECONDS * 4 + 60) * 1000);
  const cpu = cpuSeconds(pids) - cpu0;
  await uas.stop();
  const s = lastStats(stats);
  const successful = Number(s['SuccessfulCall(C)'] ?? 0);
  const failed = Number(s['FailedCall(C)'] ?? 0);
  // Let the proxies forget the step's calls (and a failed step's leftovers) before the next.
  await sleep(1000);
  if (failed > 0 && !args.json) console.error(`${path} ${rate}/s, first errors:\n${uac.errors().slice(0, 1500)}`);
  return { rate, passed: uac.exitCode === 0 && failed === 0 && successful === calls, failed, successful, cpuPer100: (100 * cpu) / Math.max(1, successful) };
}

async function main(): Promise<void> {
  const lab = LabTopology.create('sbc');
  lab.useKernelNat('gw1', 'masquerade');
  lab.useKernelNat('gw2', 'masquerade');
  const load = { before: loadavg(), after: '' };
  const best: Record<Path, Array<{ rate: number; cpuPer100: number }>> = { masq: [], kamailio: [] };
  const procs: LabProcess[] = [];
  try {
    const masq = await startProxy(lab, proxyConfig({ firewall: 'on', kernel: 'off' }).replace('ports: { min: 30000, max: 30999 }', 'ports: { min: 30000, max: 39999 }').replace('log: { level: debug }', 'log: { level: info }'), 'masq');
    const rtpengine = lab.spawn('srv', ['rtpengine', '--config-file=none', '--table=-1', '--foreground', '--log-stderr', '--log-level=4', `--interface=${REFERENCE}`, `--listen-ng=127.0.0.1:${RTPENGINE_NG_PORT}`, '--port-min=40000', '--port-max=49999', '--endpoint-learning=immediate'], 'rtpengine');
    await waitListening(lab, 'srv', 'udp', '127.0.0.1', RTPENGINE_NG_PORT, 30_000);
    const cfg = readFileSync(fixture('sipproxy-kamailio-rtpengine.cfg'), 'utf8').replaceAll('LISTEN_ADDRESS', REFERENCE).replaceAll('NG_SOCKET', `udp:127.0.0.1:${RTPENGINE_NG_PORT}`).replace('debug=2', 'debug=1');
    const kamailio = lab.spawn('srv', ['kamailio', '-f', lab.writeFile('kamailio.cfg', cfg), '-DD', '-E', '-Y', lab.dir], 'kamailio');
    await waitListening(lab, 'srv', 'udp', REFERENCE, 5060, 30_000);
    procs.push(masq, rtpengine, kamailio);
    const pidsOf: Record<Path, () => number[]> = { masq: () => [masq.proc.pid!], kamailio: () => [...treePids(kamailio.proc.pid!), rtpengine.proc.pid!] };
    const paths: Path[] = ['masq', 'kamailio'];
    for (let round = 0; round < Number(args.rounds); round++) {
      for (const path of round % 2 ? [...paths].reverse() : paths) {
        let last = { rate: 0, cpuPer100: 0 };
        for (const rate of rates) {
          const r = await step(lab, path, rate, pidsOf[path]());
          if (!args.json) console.error(`round ${round + 1} ${path.padEnd(8)} ${String(rate).padStart(5)} calls/s: ${r.passed ? 'pass' : 'FAIL'} (${r.successful} ok, ${r.failed} failed), ${r.cpuPer100.toFixed(3)} CPU s per 100 calls`);
          if (!r.passed) break;
          last = { rate, cpuPer100: r.cpuPer100 };
        }
        best[path].push(last);
      }
    }
  } finally {
    load.after = loadavg();
    for (const p of procs) await p.stop('SIGTERM');
    await lab.destroy();
  }
  const summary = (['masq', 'kamailio'] as Path[]).map((p) => ({ path: p, callsPerSecond: median(best[p].map((x) => x.rate)), cpuPer100Calls: median(best[p].map((x) => x.cpuPer100)), rounds: best[p] }));
  const ratio = summary[1].callsPerSecond > 0 ? summary[0].callsPerSecond / summary[1].callsPerSecond : null;
  if (args.json) {
    console.log(JSON.stringify({ load, seconds: SECONDS, rates, summary, ratio }));
    return;
  }
  console.log(`load average before: ${load.before}, after: ${load.after}`);
  for (const s of summary) console.log(`${s.path.padEnd(9)} ${s.callsPerSecond} calls/s with 0 failed (median of ${s.rounds.map((r) => r.rate).join(', ')}), ${s.cpuPer100Calls.toFixed(3)} CPU s per 100 calls`);
  console.log(`masq / Kamailio+rtpengine: ${ratio === null ? 'n/a' : ratio.toFixed(2)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
