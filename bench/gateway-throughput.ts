// masq gateway vs the kernel's nftables masquerade vs plain routing, in the lab
// of test/lab/topology.ts (h1 -> gw1 -> router -> srv), one run, one generator.
//
//   sudo node --import tsx bench/gateway-throughput.ts [--seconds 5] [--rounds 3] [--pings 500] [--masq LIST] [--json]
//
// Per round and per path (plain routing, kernel masquerade, masq without TUN offload, masq with
// offload but no UDP coalescing, masq with its defaults, masq with 2 queues, masq handing established
// flows to the kernel), in that order
// (--masq 'masq;masq, 2 queues' runs only the masq paths named, separated by ;):
//   UDP 172 B and 1400 B   iperf3 -u -b 0 -l SIZE: packets/s the receiver got (sender-bound, as in
//                          ../shared/reference/kernel-lab.md; veth forwarding runs on the sender's CPU)
//   UDP 172 B, 2 hosts     the same from h1 and h2 at once (two flows, two inside hosts: what a
//                          gateway with several queues can spread), the sum of both receivers
//   TCP up / down          iperf3 (and iperf3 -R), receiver's bits/s
//   latency                ping -i 0.005 through the idle path, p50 / p99 RTT; "added" is over plain routing
// Figures are medians over rounds; ratios are medians of each round's ratio (a round's paths run
// back to back, so they share that moment's load). masq's CPU time per packet (UDP tests), its mean
// batch size, and its CPU use and packet rate during TCP up come from /proc and its status endpoint.
// Needs root, iproute2, nft, iperf3, ping, and the TUN addon.
//
// The machine may be shared: run it where nothing else competes for the CPUs, and compare only
// numbers from the same run.
import { execFile } from 'node:child_process';
import { parseArgs } from 'node:util';
import { LAB, LabTopology, type LabProcess } from '../test/lab/topology.js';
import { statusJson, tunMissing } from '../test/lab/fixtures/gateway-probes.js';
import { median } from './harness.js';
import { processCpu } from './proc-stats.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    pings: { type: 'string', default: '500' },
    masq: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const SECONDS = boundedInt(args.seconds, 1, 60, 'seconds');
const ROUNDS = boundedInt(args.rounds, 1, 20, 'rounds');
const PINGS = boundedInt(args.pings, 10, 10_000, 'pings');
const COMMAND = `sudo node --import tsx bench/gateway-throughput.ts --seconds ${SECONDS} --rounds ${ROUNDS} --pings ${PINGS}${args.masq === undefined ? '' : ` --masq '${args.masq}'`}`;

function boundedInt(text: string | undefined, min: number, max: number, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${what} must be an integer in ${min}..${max}`);
  return n;
}

const ALL_MASQ_PATHS = ['masq, no offload', 'masq, offload, no UDP coalescing', 'masq', 'masq, 2 queues', 'masq, kernel fast path'] as const;
type MasqPath = (typeof ALL_MASQ_PATHS)[number];
type Path = 'plain routing' | 'kernel masquerade' | MasqPath;
const MASQ_PATHS: MasqPath[] = args.masq === undefined ? [...ALL_MASQ_PATHS] : args.masq.split(';').map((p) => masqPath(p.trim()));
const PATHS: Path[] = ['plain routing', 'kernel masquerade', ...MASQ_PATHS];

function masqPath(name: string): MasqPath {
  const found = ALL_MASQ_PATHS.find((p) => p === name);
  if (!found) throw new Error(`--masq: unknown path "${name}"; known: ${ALL_MASQ_PATHS.join('; ')}`);
  return found;
}
/** The gateway config each masq path adds to the lab's ("masq" is the defaults). */
const MASQ_EXTRA: Record<MasqPath, string> = {
  'masq, no offload': 'tun:\n  offload: false\n',
  'masq, offload, no UDP coalescing': 'tun:\n  coalesceUdp: false\n',
  masq: '',
  // One engine per queue on its own thread (docs/architecture.md); what that mode cannot do is off.
  'masq, 2 queues': 'hairpin: false\ndataplane:\n  queues: 2\n',
  // Established flows handed to the kernel's nftables table (docs/gateway.md): masq keeps the handshake.
  'masq, kernel fast path': 'dataplane:\n  kernelOffload: true\n',
};

interface Sample {
  udp172pps: number;
  udp1400pps: number;
  /** UDP 172 B from h1 and h2 at once, both receivers' packets/s added. */
  udp172TwoHostsPps: number;
  tcpMbps: number;
  /** TCP from the server to the inside host (iperf3 -R): the download direction. */
  tcpDownMbps: number;
  rttP50us: number;
  rttP99us: number;
  masqCpuPerMpkt?: number;
  /** Share of masq's CPU time spent in the kernel (reads, writes, and forwarding what it writes). */
  masqSystemShare?: number;
  masqMeanBatch?: number;
  masqNotWritten?: number;
  /** Share of the UDP datagrams masq wrote as part of a coalesced GSO packet, and datagrams per such packet. */
  masqCoalescedShare?: number;
  masqPerCoalescedWrite?: number;
  /** CPUs' worth of time masq used during TCP up (1 = one CPU busy). */
  masqTcpCpu?: number;
  /** Packets masq read per second during TCP up (super-packets count as one), and their mean size in bytes. */
  masqTcpPacketsPerSec?: number;
  masqTcpMeanReadBytes?: number;
}

const A = LAB.servers.a;

function udpPps(lab: LabTopology, size: number): number {
  const r = lab.exec('h1', ['iperf3', '-c', A, '-u', '-b', '0', '-l', String(size), '-t', String(SECONDS), '--json'], { timeoutMs: (SECONDS + 30) * 1000 });
  const end = JSON.parse(r.stdout).end;
  const received = end.sum_received.bytes / size;
  return received / end.sum_received.seconds;
}

/** UDP 172 B from h1 and h2 at the same time, each to its own iperf3 server port: the sum of the receivers' packets/s. */
async function udpTwoHostsPps(lab: LabTopology): Promise<number> {
  const run = (role: 'h1' | 'h2', port: number) =>
    new Promise<number>((resolve, reject) => {
      const argv = ['netns', 'exec', lab.names[role], 'iperf3', '-c', A, '-p', String(port), '-u', '-b', '0', '-l', '172', '-t', String(SECONDS), '--json'];
      execFile('ip', argv, { timeout: (SECONDS + 30) * 1000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => {
        if (err) return reject(new Error(`iperf3 from ${role}: ${err.message}\n${stdout}`));
        const end = JSON.parse(stdout).end;
        resolve(end.sum_received.bytes / 172 / end.sum_received.seconds);
      });
    });
  const [a, b] = await Promise.all([run('h1', 5201), run('h2', 5202)]);
  return a + b;
}

function tcpMbps(lab: LabTopology, reverse = false): number {
  const r = lab.exec('h1', ['iperf3', '-c', A, '-t', String(SECONDS), '--json', ...(reverse ? ['-R'] : [])], { timeoutMs: (SECONDS + 30) * 1000 });
  return JSON.parse(r.stdout).end.sum_received.bits_per_second / 1e6;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function rtt(lab: LabTopology): { p50: number; p99: number } {
  const r = lab.exec('h1', ['ping', '-n', '-c', String(PINGS), '-i', '0.005', '-W', '1', A], { timeoutMs: PINGS * 50 + 30_000, allowFail: true });
  const times = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000).sort((a, b) => a - b);
  if (times.length < PINGS / 2) throw new Error(`ping lost more than half its packets:\n${r.stdout.slice(-500)}`);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

async function usePath(lab: LabTopology, path: Path, current: LabProcess | null): Promise<LabProcess | null> {
  if (current) await current.stop();
  lab.exec('inet', ['ip', 'route', 'del', LAB.lan1.prefix], { allowFail: true });
  if (path === 'plain routing') {
    lab.useMasqAddressing('gw1');
    lab.exec('inet', ['ip', 'route', 'add', LAB.lan1.prefix, 'via', LAB.gw1.host]);
    return null;
  }
  if (path === 'kernel masquerade') {
    lab.useKernelNat('gw1', 'masquerade');
    return null;
  }
  lab.useMasqAddressing('gw1');
  let config = lab.masqConfig('gw1', MASQ_EXTRA[path]).replace('level: debug', 'level: info');
  if (path === 'masq, 2 queues') config = config.replace('status:\n', 'status:\n  metrics: false\n  dashboard: false\n');
  return lab.startMasq('gw1', config, 120_000); // a loaded machine starts node slowly
}

async function measure(lab: LabTopology, path: Path, masq: LabProcess | null): Promise<Sample> {
  // Warm the path (ARP, flows) so the first run does not pay for it.
  lab.exec('h1', ['ping', '-c', '3', '-i', '0.2', '-W', '1', A], { allowFail: true });
  const cpu0 = masq?.proc.pid ? processCpu(masq.proc.pid) : { user: 0, system: 0 };
  const before = masq ? statusJson(lab, 'gw1', '/counters') : null;
  const udp172pps = udpPps(lab, 172);
  const udp1400pps = udpPps(lab, 1400);
  const after = masq ? statusJson(lab, 'gw1', '/counters') : null;
  const cpu1 = masq?.proc.pid ? processCpu(masq.proc.pid) : { user: 0, system: 0 };
  const udp172TwoHostsPps = await udpTwoHostsPps(lab);
  // TCP up's own figures start here, after the two-host test (counting from `after` mixed its packets in).
  const beforeTcp = masq ? statusJson(lab, 'gw1', '/counters') : null;
  const cpuBeforeTcp = masq?.proc.pid ? processCpu(masq.proc.pid) : { user: 0, system: 0 };
  const tcp = tcpMbps(lab);
  const afterTcp = masq ? statusJson(lab, 'gw1', '/counters') : null;
  const cpu2 = masq?.proc.pid ? processCpu(masq.proc.pid) : { user: 0, system: 0 };
  const tcpDown = tcpMbps(lab, true);
  const { p50, p99 } = rtt(lab);
  const sample: Sample = { udp172pps, udp1400pps, udp172TwoHostsPps, tcpMbps: tcp, tcpDownMbps: tcpDown, rttP50us: p50, rttP99us: p99 };
  if (before && after) {
    const read = after.loop.packetsRead - before.loop.packetsRead;
    const user = cpu1.user - cpu0.user;
    const system = cpu1.system - cpu0.system;
    sample.masqCpuPerMpkt = ((user + system) / read) * 1e6;
    sample.masqSystemShare = system / (user + system);
    sample.masqMeanBatch = read / (after.loop.wakes - before.loop.wakes);
    sample.masqNotWritten = after.loop.notWritten - before.loop.notWritten;
    const coalesced = after.loop.coalesced - before.loop.coalesced;
    sample.masqCoalescedShare = coalesced / read;
    sample.masqPerCoalescedWrite = coalesced / Math.max(1, after.loop.coalescedWrites - before.loop.coalescedWrites);
  }
  if (beforeTcp && afterTcp) {
    sample.masqTcpCpu = (cpu2.user + cpu2.system - cpuBeforeTcp.user - cpuBeforeTcp.system) / SECONDS;
    sample.masqTcpPacketsPerSec = (afterTcp.loop.packetsRead - beforeTcp.loop.packetsRead) / SECONDS;
    sample.masqTcpMeanReadBytes = (afterTcp.loop.bytesRead - beforeTcp.loop.bytesRead) / (afterTcp.loop.packetsRead - beforeTcp.loop.packetsRead);
  }
  process.stderr.write(`  ${path}: ${JSON.stringify(sample)}\n`);
  return sample;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces, TUN devices)');
  const missing = tunMissing();
  if (missing) throw new Error(missing);
  const lab = LabTopology.create('bench');
  const samples = new Map<Path, Sample[]>(PATHS.map((p) => [p, []]));
  try {
    const server = lab.spawn('srv', ['iperf3', '-s', '-B', A, '--forceflush'], 'iperf3 -s');
    await server.waitFor(/Server listening/);
    const second = lab.spawn('srv', ['iperf3', '-s', '-B', A, '-p', '5202', '--forceflush'], 'iperf3 -s -p 5202');
    await second.waitFor(/Server listening/);
    let masq: LabProcess | null = null;
    for (let round = 1; round <= ROUNDS; round++) {
      process.stderr.write(`round ${round}/${ROUNDS}\n`);
      for (const path of PATHS) {
        masq = await usePath(lab, path, masq);
        samples.get(path)!.push(await measure(lab, path, masq));
      }
    }
    if (masq) await masq.stop();
  } finally {
    await lab.destroy();
  }

  const med = (path: Path, key: keyof Sample) => median(samples.get(path)!.map((s) => s[key] ?? NaN));
  /** The median over rounds of masq's figure over the kernel's in the same round. */
  const ratio = (path: Path, key: keyof Sample) =>
    median(samples.get(path)!.map((s, round) => (s[key] ?? NaN) / (samples.get('kernel masquerade')![round][key] ?? NaN)));
  const rows = PATHS.map((p) => ({
    path: p,
    udp172pps: med(p, 'udp172pps'),
    udp1400pps: med(p, 'udp1400pps'),
    udp172TwoHostsPps: med(p, 'udp172TwoHostsPps'),
    tcpMbps: med(p, 'tcpMbps'),
    tcpDownMbps: med(p, 'tcpDownMbps'),
    rttP50us: med(p, 'rttP50us'),
    rttP99us: med(p, 'rttP99us'),
  }));
  const plain = rows[0];
  const masqResults = MASQ_PATHS.map((path) => {
    const row = rows.find((r) => r.path === path)!;
    return {
      path,
      ratios: {
        udp172: ratio(path, 'udp172pps'),
        udp1400: ratio(path, 'udp1400pps'),
        udp172TwoHosts: ratio(path, 'udp172TwoHostsPps'),
        tcp: ratio(path, 'tcpMbps'),
        tcpDown: ratio(path, 'tcpDownMbps'),
      },
      addedLatencyUs: { p50: row.rttP50us - plain.rttP50us, p99: row.rttP99us - plain.rttP99us },
      cpuMicrosecondsPerPacket: med(path, 'masqCpuPerMpkt'),
      systemShare: med(path, 'masqSystemShare'),
      meanBatch: med(path, 'masqMeanBatch'),
      tunQueueDrops: med(path, 'masqNotWritten'),
      coalescedShare: med(path, 'masqCoalescedShare'),
      perCoalescedWrite: med(path, 'masqPerCoalescedWrite'),
      tcpUpCpus: med(path, 'masqTcpCpu'),
      tcpUpPacketsPerSec: med(path, 'masqTcpPacketsPerSec'),
      tcpUpMeanReadBytes: med(path, 'masqTcpMeanReadBytes'),
    };
  });
  const kernel = rows[1];
  const result = {
    command: COMMAND,
    seconds: SECONDS,
    rounds: ROUNDS,
    rows,
    kernelAddedLatencyUs: { p50: kernel.rttP50us - plain.rttP50us, p99: kernel.rttP99us - plain.rttP99us },
    masq: masqResults,
    samples: Object.fromEntries(samples),
  };
  if (args.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const k = (n: number) => `${(n / 1000).toFixed(1)}k`;
  const lines = [
    `| path | UDP 172 B pkt/s | UDP 1400 B pkt/s | UDP 172 B, 2 hosts pkt/s | TCP up Mbit/s | TCP down Mbit/s | RTT p50 µs | RTT p99 µs |`,
    `|---|---|---|---|---|---|---|---|`,
    ...rows.map(
      (r) =>
        `| ${r.path} | ${k(r.udp172pps)} | ${k(r.udp1400pps)} | ${k(r.udp172TwoHostsPps)} | ${r.tcpMbps.toFixed(0)} | ${r.tcpDownMbps.toFixed(0)} | ${r.rttP50us.toFixed(0)} | ${r.rttP99us.toFixed(0)} |`,
    ),
    '',
    `kernel added latency over plain routing: p50 ${result.kernelAddedLatencyUs.p50.toFixed(0)} µs / p99 ${result.kernelAddedLatencyUs.p99.toFixed(0)} µs`,
    ...masqResults.flatMap((m) => [
      `${m.path} / kernel (median of per-round ratios): UDP 172 B ${m.ratios.udp172.toFixed(2)}, UDP 1400 B ${m.ratios.udp1400.toFixed(2)}, UDP 172 B 2 hosts ${m.ratios.udp172TwoHosts.toFixed(2)}, ` +
        `TCP up ${m.ratios.tcp.toFixed(2)}, TCP down ${m.ratios.tcpDown.toFixed(2)}; added latency p50 ${m.addedLatencyUs.p50.toFixed(0)} µs / p99 ${m.addedLatencyUs.p99.toFixed(0)} µs`,
      `  UDP: ${m.cpuMicrosecondsPerPacket.toFixed(2)} CPU µs per packet (${(m.systemShare * 100).toFixed(0)} % in the kernel), mean batch ${m.meanBatch.toFixed(1)}, ` +
        `TUN queue drops ${m.tunQueueDrops}, ${(m.coalescedShare * 100).toFixed(0)} % coalesced (${m.perCoalescedWrite.toFixed(1)} per write); TCP up: ${m.tcpUpCpus.toFixed(2)} CPUs busy, ${k(m.tcpUpPacketsPerSec)} packets/s read, ${(m.tcpUpMeanReadBytes / 1024).toFixed(1)} KiB each`,
    ]),
    `medians of ${ROUNDS} round(s) of ${SECONDS} s; ${COMMAND}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
