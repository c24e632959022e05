// The soak: `calls` concurrent SIP calls with RTP both ways through `masq gateway` and its SIP ALG
// for `minutes`, new calls replacing finished ones, then the same through the kernel's NAT with its
// SIP helper (nftables masquerade + nf_conntrack_sip by `ct helper set`), in one run, in the lab of
// test/lab/topology.ts (sipp UAC on h1 -> gw1 -> router -> sipp UAS on srv).
//
//   sudo node --import tsx bench/sip-soak.ts [--calls 1000] [--minutes 10] [--paths masq,kernel]
//                                            [--callers 1|2] [--queues 1|2] [--sample 10] [--json]
//                                            [--gateway-output FILE] [--tun-queue N] [--kernel-offload]
//
// --callers 2 splits the calls between two inside hosts (sipp on h1 and on h2); --queues 2 runs
// masq on two dataplane queues, one engine per CPU, which steer by inside host (so two queues
// need two callers to be used).
//
// Each call: INVITE with SDP, 180, 200 with SDP, ACK, the caller plays g711a.pcap (7.05 s of G.711
// at 50 packets/s) to the address in the callee's SDP from a media port of its own per call
// (bench/fixtures/sip-soak-uac.xml), and the callee, a media server (bench/fixtures/
// sip-soak-uas.xml, sipp -rtp_echo), sends every datagram back from its media port; BYE after
// 8.5 s. An echoing callee, not a second player: sipp 3.6 plays each stream in a thread of its
// own, and 2,000 players left this 2-CPU machine too little CPU for the calls (5.7 % of the calls
// failed on the kernel's own path at 1,000 calls). sipp holds `calls` calls at once (-l) and
// starts new ones as old ones end; after `minutes` it is told (SIGUSR1) to start no more and
// finishes the calls under way.
//
// Counted, not taken from the peers: RTP datagrams (UDP neither from nor to port 5060) leaving h1
// and arriving at srv, and the other way, by nftables counters in the two end namespaces (h1 drops
// the echoes after counting). Sampled every `sample` seconds: the
// calls under way (sipp's statistics file), masq's resident memory and its pinholes, or the
// kernel's conntrack entries and expectations, and what masq's two TUN devices dropped at
// transmit (packets the kernel had for masq and could not queue). After the last call: the SIP
// pinholes left. --gateway-output keeps masq's output (with MASQ_LAB_NODE_ARGS=--trace-gc, its
// garbage collections) in FILE. --tun-queue sets masq's `tun.queueLength` (its default otherwise).
// --kernel-offload runs masq with `dataplane.kernelOffload: true`: established RTP flows are handed
// to the kernel's nftables table, masq keeps the signalling (its ALG) and the flows' state; the
// fast path's counters (flows handed over and back, packets the kernel carried) are printed.
//
// masq runs with the expectation table raised for this (one or two hosts place every call: two
// pinholes per call would exceed the default per-host share of 1,024).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LAB, LabTopology, sleep, type LabProcess } from '../test/lab/topology.js';
import { statusJson, tunMissing } from '../test/lab/fixtures/gateway-probes.js';
import { G711A_PCAP, sipp, waitListening, type SippProcess } from '../test/lab/fixtures/sip-lab.js';
import { prerequisites, repoRoot } from '../test/lab/prereq.js';
import { loadAverage, rssMiB } from './proc-stats.js';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '1000' },
    minutes: { type: 'string', default: '10' },
    paths: { type: 'string', default: 'masq,kernel' },
    sample: { type: 'string', default: '10' },
    callers: { type: 'string', default: '1' },
    queues: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
    'gateway-output': { type: 'string' },
    'tun-queue': { type: 'string' },
    'kernel-offload': { type: 'boolean', default: false },
  },
});
const CALLS = bounded(args.calls, 1, 10_000, 'calls');
const MINUTES = bounded(args.minutes, 0.1, 120, 'minutes', false);
const SAMPLE = bounded(args.sample, 1, 600, 'sample');
/** Inside hosts placing the calls (h1, then h2), each with its share of them. */
const CALLERS = bounded(args.callers, 1, 2, 'callers');
/** masq's dataplane queues: one engine per queue, inside hosts steered to them (one host cannot use two). */
const QUEUES = bounded(args.queues, 1, 2, 'queues');
const KERNEL_OFFLOAD = args['kernel-offload'] === true;
const TUN_QUEUE = args['tun-queue'] === undefined ? undefined : bounded(args['tun-queue'], 16, 65536, 'tun-queue');
type Path = 'masq' | 'kernel';
const PATHS = args.paths.split(',').map((p) => {
  if (p !== 'masq' && p !== 'kernel') throw new Error(`--paths: masq and/or kernel, not ${p}`);
  return p as Path;
});
/** A call lasts about this long (8.5 s pause plus signalling): the rate that keeps CALLS under way. */
const CALL_SECONDS = 8.6;
const RATE = Math.ceil((CALLS / CALL_SECONDS) * 1.1);
const COMMAND = `sudo node --import tsx bench/sip-soak.ts --calls ${CALLS} --minutes ${MINUTES} --paths ${PATHS.join(',')} --sample ${SAMPLE} --callers ${CALLERS} --queues ${QUEUES}${TUN_QUEUE === undefined ? '' : ` --tun-queue ${TUN_QUEUE}`}${KERNEL_OFFLOAD ? ' --kernel-offload' : ''}`;

function bounded(text: string | undefined, min: number, max: number, what: string, integer = true): number {
  const n = Number(text);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) throw new Error(`--${what} must be ${integer ? 'an integer' : 'a number'} in ${min}..${max}`);
  return n;
}

const SRV = LAB.servers.a;
type Caller = 'h1' | 'h2';
const CALLER_HOSTS: Caller[] = (['h1', 'h2'] as const).slice(0, CALLERS);
/** sipp ends a test whose timers ran late too often (a busy machine): a soak records that as loss instead. */
const SIPP_KEEP_GOING = ['-watchdog_major_maxtriggers', '1000000', '-watchdog_minor_maxtriggers', '1000000'];
const MASQ_EXTRA = [
  'algs:',
  '  - name: sip',
  '    ports: [udp/5060]',
  'limits:',
  `  expectations: ${Math.max(4096, CALLS * 8)}`,
  `  expectationsPerHost: ${Math.max(1024, CALLS * 4)}`,
  ...(TUN_QUEUE === undefined ? [] : ['tun:', `  queueLength: ${TUN_QUEUE}`]),
  // Several queues cannot hairpin yet (refused at --check); the soak does not need it.
  ...(QUEUES > 1 ? ['hairpin: false'] : []),
  ...(QUEUES > 1 || KERNEL_OFFLOAD ? ['dataplane:', `  queues: ${QUEUES}`, ...(KERNEL_OFFLOAD ? ['  kernelOffload: true'] : [])] : []),
].join('\n');

interface Sample {
  second: number;
  callsUnderWay: number;
  /** masq: resident set size, MiB; kernel: conntrack entries. */
  rssMiB?: number;
  pinholes: number;
  conntrack?: number;
  /** masq: packets the inside and outside TUN devices dropped at transmit since the start (their queues were full). */
  tunTxDropped?: { inside: number; outside: number };
  load: string;
}

interface PathResult {
  path: Path;
  successful: number;
  failed: number;
  retransmissions: number;
  /** RTP datagrams sent by the UACs (h1, h2) and received by the UAS (srv), and back. */
  rtp: { upSent: number; upReceived: number; downSent: number; downReceived: number };
  pinholesLeft: number;
  samples: Sample[];
  uacExit: Array<number | null>;
  seconds: number;
  /** masq with --kernel-offload: the fast path's counters at the end. */
  kernelOffload?: Record<string, number>;
}

const load = loadAverage;

/** Packets a device in a namespace dropped at transmit: for masq's TUN device, packets masq did not read in time. */
function txDropped(lab: LabTopology, role: 'gw1', dev: string): number {
  const out = lab.exec(role, ['ip', '-s', '-j', 'link', 'show', dev], { allowFail: true }).stdout;
  try {
    return Number((JSON.parse(out) as Array<{ stats64?: { tx?: { dropped?: number } } }>)[0]?.stats64?.tx?.dropped ?? NaN);
  } catch {
    return NaN;
  }
}

/** Counts RTP (UDP not to or from 5060) leaving and arriving in an end namespace; at the caller, arriving RTP is dropped after counting. */
function installCounters(lab: LabTopology, role: Caller | 'srv'): void {
  const drop = role === 'srv' ? '' : ' drop';
  lab.exec(role, ['nft', 'delete', 'table', 'inet', 'masq_soak'], { allowFail: true });
  const file = lab.writeFile(`soak-${role}.nft`, [
    'table inet masq_soak {',
    '  counter rtp_out { }',
    '  counter rtp_in { }',
    // SIP is accepted by rules of its own: nftables 1.0.6 joins `udp sport != 5060 udp dport != 5060`
    // into one comparison of both ports at once, which would count (and drop) SIP from any other port.
    '  chain out { type filter hook output priority filter; policy accept; udp dport 5060 accept; udp sport 5060 accept; meta l4proto udp counter name "rtp_out"; }',
    `  chain in { type filter hook input priority filter; policy accept; udp dport 5060 accept; udp sport 5060 accept; meta l4proto udp counter name "rtp_in"${drop}; }`,
    '}',
  ].join('\n'));
  lab.exec(role, ['nft', '-f', file]);
}

function counter(lab: LabTopology, role: Caller | 'srv', name: string): number {
  const out = lab.exec(role, ['nft', 'list', 'counter', 'inet', 'masq_soak', name]).stdout;
  return Number(/packets (\d+)/.exec(out)?.[1] ?? NaN);
}

/** The last row of a sipp -trace_stat file, by column name. */
function lastStats(file: string): Record<string, string> {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  const lines = text.split('\n').filter((l) => l.trim().length > 0);
  if (lines.length < 2) return {};
  const head = lines[0].split(';');
  const row = lines[lines.length - 1].split(';');
  return Object.fromEntries(head.map((h, i) => [h.trim(), (row[i] ?? '').trim()]));
}

/** The SIP pinholes the NAT holds; NaN when masq's status endpoint did not answer in time (a busy machine), `tries` times. */
async function sipPinholes(lab: LabTopology, path: Path, tries = 1): Promise<number> {
  if (path === 'kernel') return lab.exec('gw1', ['conntrack', '-L', 'expect'], { allowFail: true }).stdout.split('\n').filter((l) => /helper=sip/.test(l)).length;
  for (let i = 0; i < tries; i++) {
    try {
      return (statusJson(lab, 'gw1', '/expectations').expectations as Array<{ helper: string }>).filter((e) => e.helper === 'sip').length;
    } catch {
      await sleep(1000);
    }
  }
  return NaN;
}

async function soak(lab: LabTopology, path: Path): Promise<PathResult> {
  let masq: LabProcess | undefined;
  if (path === 'masq') {
    lab.useMasqAddressing('gw1');
    // Debug logging a line per flow for minutes would measure the logger.
    let config = lab.masqConfig('gw1', MASQ_EXTRA).replace('level: debug', 'level: info');
    // Several queues have no /metrics or dashboard yet (refused at --check).
    if (QUEUES > 1) config = config.replace('status:\n', 'status:\n  metrics: false\n  dashboard: false\n');
    masq = await lab.startMasq('gw1', config);
  } else {
    lab.useKernelNat('gw1', 'masquerade');
    lab.useKernelSipHelper('gw1');
    lab.exec('gw1', ['sysctl', '-qw', `net.netfilter.nf_conntrack_max=${Math.max(262_144, CALLS * 64)}`], { allowFail: true });
  }
  for (const h of CALLER_HOSTS) installCounters(lab, h);
  installCounters(lab, 'srv');
  const seconds = Math.round(MINUTES * 60);
  const statsOf = (h: Caller) => join(lab.dir, `soak-${path}-${h}.csv`);
  const uas = sipp(lab, 'srv', ['-sf', join(repoRoot, 'bench/fixtures/sip-soak-uas.xml'), '-i', SRV, '-p', '5060', '-mp', '6000', '-rtp_echo', '-timeout', `${seconds + 300}s`, ...SIPP_KEEP_GOING], `soak UAS ${path}`);
  await waitListening(lab, 'srv', 'udp', SRV, 5060);
  // Each caller holds its share of the calls, at its share of the rate.
  const share = (n: number, i: number) => Math.floor(n / CALLERS) + (i < n % CALLERS ? 1 : 0);
  const uacs: SippProcess[] = CALLER_HOSTS.map((h, i) =>
    sipp(
      lab,
      h,
      [
        `${SRV}:5060`, '-sf', join(repoRoot, 'bench/fixtures/sip-soak-uac.xml'), '-s', 'uas',
        '-i', LAB.lan1[h], '-p', '5060', '-mp', '10000',
        '-r', String(share(RATE, i)), '-l', String(share(CALLS, i)),
        '-m', String(Math.ceil(share(RATE, i) * seconds)),
        '-recv_timeout', '20000',
        '-timeout', `${seconds + 240}s`,
        '-trace_stat', '-stf', statsOf(h), '-fd', String(Math.min(SAMPLE, 10)),
        ...SIPP_KEEP_GOING,
      ],
      `soak UAC ${path} ${h}`,
    ),
  );
  const running = () => uacs.some((u) => u.running);
  /** The callers' latest sipp statistics, read once; `sum` adds up one column of them. */
  const callerStats = () => CALLER_HOSTS.map((h) => lastStats(statsOf(h)));
  const sum = (rows: Array<Record<string, string>>, column: string) => rows.reduce((total, r) => total + Number(r[column] ?? 0), 0);
  const rtp = (name: string) => CALLER_HOSTS.reduce((sum, h) => sum + counter(lab, h, name), 0);
  const samples: Sample[] = [];
  const started = Date.now();
  const take = async () => {
    const sample: Sample = { second: Math.round((Date.now() - started) / 1000), callsUnderWay: sum(callerStats(), 'CurrentCall'), pinholes: await sipPinholes(lab, path), load: load() };
    if (masq?.proc.pid) sample.rssMiB = rssMiB(masq.proc.pid);
    if (masq) sample.tunTxDropped = { inside: txDropped(lab, 'gw1', 'masq-in'), outside: txDropped(lab, 'gw1', 'masq-out') };
    if (path === 'kernel') sample.conntrack = Number(lab.exec('gw1', ['conntrack', '-C'], { allowFail: true }).stdout.trim());
    samples.push(sample);
    if (!args.json) console.error(`${path} ${sample.second}s: ${sample.callsUnderWay} calls, ${sample.pinholes} pinholes${sample.rssMiB !== undefined ? `, RSS ${sample.rssMiB} MiB, TUN tx dropped ${sample.tunTxDropped?.inside} in, ${sample.tunTxDropped?.outside} out` : ''}${sample.conntrack !== undefined ? `, ${sample.conntrack} conntrack` : ''}; load ${sample.load}`);
  };
  while (Date.now() - started < seconds * 1000 && running()) {
    await sleep(Math.min(SAMPLE * 1000, seconds * 1000 - (Date.now() - started)));
    await take();
  }
  // No new calls; the ones under way finish.
  for (const u of uacs) if (u.running) u.proc.kill('SIGUSR1');
  const drainUntil = Date.now() + 120_000;
  while (running() && Date.now() < drainUntil) {
    await sleep(Math.min(SAMPLE, 5) * 1000);
    await take();
  }
  for (const u of uacs) await u.stop('SIGINT', 10_000);
  await sleep(5000); // the last BYEs' 200s, the UAS's last packets
  await uas.stop('SIGINT', 10_000);
  const final = callerStats();
  const result: PathResult = {
    path,
    successful: sum(final, 'SuccessfulCall(C)'),
    failed: sum(final, 'FailedCall(C)'),
    retransmissions: sum(final, 'Retransmissions(C)'),
    rtp: { upSent: rtp('rtp_out'), upReceived: counter(lab, 'srv', 'rtp_in'), downSent: counter(lab, 'srv', 'rtp_out'), downReceived: rtp('rtp_in') },
    pinholesLeft: await sipPinholes(lab, path, 10),
    samples,
    uacExit: uacs.map((u) => u.exitCode),
    seconds: Math.round((Date.now() - started) / 1000),
  };
  if (result.failed > 0) for (const u of uacs) console.error(`${path}: sipp errors (tail):\n${u.errors().slice(-1500)}`);
  if (masq && KERNEL_OFFLOAD) {
    result.kernelOffload = (await statusJson(lab, 'gw1', '/counters')).kernelOffload as Record<string, number>;
  }
  if (masq) {
    const warnings = masq.output.split('\n').filter((l) => /"level":(40|50|60)/.test(l));
    if (warnings.length) console.error(`${path}: ${warnings.length} warnings/errors from masq, first: ${warnings[0].slice(0, 300)}`);
    await masq.stop();
    if (args['gateway-output']) writeFileSync(args['gateway-output'], masq.output);
  }
  return result;
}

const loss = (sent: number, got: number) => (sent > 0 ? `${(((sent - got) / sent) * 100).toFixed(3)} %` : 'n/a');

async function main(): Promise<void> {
  const pre = prerequisites({ root: true, tools: ['ip', 'nft', 'conntrack', 'ss', 'env', 'sipp', G711A_PCAP] });
  if (pre.skip) throw new Error(`cannot run: ${pre.skip}`);
  const tun = tunMissing();
  if (tun) throw new Error(`cannot run: ${tun}`);
  console.error(`${COMMAND}\n${CALLS} calls at once (sipp -l), ${RATE} new calls/s at most, ${MINUTES} min per path; load average ${load()}`);
  const lab = LabTopology.create('soak');
  const results: PathResult[] = [];
  try {
    for (const path of PATHS) results.push(await soak(lab, path));
  } finally {
    await lab.destroy();
  }
  if (args.json) {
    console.log(JSON.stringify({ command: COMMAND, calls: CALLS, rate: RATE, minutes: MINUTES, results }));
    return;
  }
  console.log(`\n${COMMAND}\n`);
  console.log('| path | calls completed | failed | SIP retransmissions | RTP up: sent / received (loss) | RTP down: sent / received (loss) | SIP pinholes after the last call |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.path} | ${r.successful} | ${r.failed} | ${r.retransmissions} | ${r.rtp.upSent} / ${r.rtp.upReceived} (${loss(r.rtp.upSent, r.rtp.upReceived)}) | ${r.rtp.downSent} / ${r.rtp.downReceived} (${loss(r.rtp.downSent, r.rtp.downReceived)}) | ${r.pinholesLeft} |`);
  }
  for (const r of results) if (r.kernelOffload) console.log(`\n${r.path}: kernel fast path ${JSON.stringify(r.kernelOffload)}`);
  for (const r of results) {
    console.log(`\n${r.path}, every ${SAMPLE} s: second, calls under way, ${r.path === 'masq' ? 'RSS MiB, TUN tx dropped inside / outside' : 'conntrack entries'}, pinholes, load average`);
    for (const s of r.samples) console.log(`${s.second}\t${s.callsUnderWay}\t${r.path === 'masq' ? `${s.rssMiB}\t${s.tunTxDropped?.inside} / ${s.tunTxDropped?.outside}` : s.conntrack}\t${s.pinholes}\t${s.load}`);
  }
}

await main();
