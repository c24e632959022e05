// SIP calls per second through `masq gateway` (SIP ALG) against the kernel's NAT with its SIP
// helper (nftables masquerade + nf_conntrack_sip / nf_nat_sip by `ct helper set`), and plain
// routing as the generator's own ceiling, in the lab of test/lab/topology.ts (sipp UAC on h1 -> gw1
// -> router -> sipp UAS on srv), one run, one generator.
//
//   sudo node --import tsx bench/sip-calls.ts [--seconds 5] [--start 500] [--factor 1.25] [--refine 3]
//                                             [--max 40000] [--rounds 2] [--paths plain,kernel,masq] [--hosts 1] [--json]
//
// --hosts 2 puts a sipp UAC on h1 and another on h2, each offering half the rate: a multi-queue
// gateway (path masq-q2: dataplane.queues 2) steers by inside host, so one host uses one queue only.
//
// Each step offers `rate` calls/s for `seconds` (sipp's built-in uac: INVITE, 100/180/200, ACK, BYE,
// 200, no hold time, SDP but no media; -buff_size 4194304, see ../shared/reference/kernel-lab.md) to a
// sipp UAS running for the whole ramp. A step passes when every call succeeded (0 failed calls, all
// `rate x seconds` calls completed). The ramp multiplies the rate by `factor` until a step fails,
// then bisects `refine` times between the last pass and the first failure (with a fresh gateway and
// UAS after each failed step: its leftovers would fail the next one). Also reported: the
// highest passing rate that needed no retransmission (no SIP message lost anywhere). Rounds rotate
// the order of the paths; the figure per path is the median of its rounds' maxima, the masq/kernel
// ratio the median of the rounds' ratios. If plain routing stops near the kernel's figure, the
// generator (sipp on the same 2 CPUs), not the kernel, was the limit.
//
// The machine may be shared: the generator, the UAS and masq share its CPUs. Compare only numbers
// from the same run, and run it where nothing else competes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LAB, LabTopology, sleep, type LabProcess } from '../test/lab/topology.js';
import { tunMissing } from '../test/lab/fixtures/gateway-probes.js';
import { sipp, waitListening } from '../test/lab/fixtures/sip-lab.js';
import { prerequisites } from '../test/lab/prereq.js';
import { median } from './harness.js';
import { processCpuSeconds } from './proc-stats.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    start: { type: 'string', default: '500' },
    factor: { type: 'string', default: '1.25' },
    refine: { type: 'string', default: '3' },
    max: { type: 'string', default: '40000' },
    rounds: { type: 'string', default: '2' },
    hosts: { type: 'string', default: '1' },
    paths: { type: 'string', default: 'plain,kernel,masq' },
    json: { type: 'boolean', default: false },
  },
});
const SECONDS = bounded(args.seconds, 1, 60, 'seconds');
const START = bounded(args.start, 1, 100_000, 'start');
const FACTOR = bounded(args.factor, 1.01, 4, 'factor', false);
const REFINE = bounded(args.refine, 0, 10, 'refine');
const MAX = bounded(args.max, START, 200_000, 'max');
const ROUNDS = bounded(args.rounds, 1, 10, 'rounds');
const HOSTS = bounded(args.hosts, 1, 2, 'hosts');
const COMMAND = `sudo node --import tsx bench/sip-calls.ts --seconds ${SECONDS} --start ${START} --factor ${FACTOR} --refine ${REFINE} --max ${MAX} --rounds ${ROUNDS} --paths ${args.paths} --hosts ${HOSTS}`;

function bounded(text: string | undefined, min: number, max: number, what: string, integer = true): number {
  const n = Number(text);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) throw new Error(`--${what} must be ${integer ? 'an integer' : 'a number'} in ${min}..${max}`);
  return n;
}

const SIP_ALG = 'algs:\n  - name: sip\n    ports: [udp/5060]\n';
type Nat = 'plain routing' | 'kernel + SIP helper' | 'masq' | 'masq, busy poll 50 µs' | 'masq, no SIP ALG' | 'masq, 2 queues';
const PATH_NAMES: Record<string, Nat> = {
  plain: 'plain routing',
  kernel: 'kernel + SIP helper',
  masq: 'masq',
  // Variants (not in the default set): masq with tun.busyPollUs, and masq without its SIP ALG (sipp's
  // UAS answers to the datagram's source, so calls still complete: what the TUN path alone costs).
  'masq-busypoll': 'masq, busy poll 50 µs',
  'masq-noalg': 'masq, no SIP ALG',
  // Two engines on two threads (multi-queue TUN, steered by inside host): needs --hosts 2 to use both.
  'masq-q2': 'masq, 2 queues',
};
const isMasq = (nat: Nat): boolean => nat.startsWith('masq');
/** The gateway config each masq path adds to the lab's. */
const MASQ_EXTRA: Partial<Record<Nat, string>> = {
  masq: SIP_ALG,
  'masq, busy poll 50 µs': `${SIP_ALG}tun:\n  busyPollUs: 50\n`,
  'masq, no SIP ALG': '',
  'masq, 2 queues': `${SIP_ALG}hairpin: false\ndataplane:\n  queues: 2\n`,
};
/** --paths masq (with MASQ_LAB_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR') profiles the gateway alone. */
const NATS: Nat[] = (args.paths ?? '').split(',').map((name) => {
  const nat = PATH_NAMES[name.trim()];
  if (!nat) throw new Error(`--paths: ${name} is not one of ${Object.keys(PATH_NAMES).join(', ')}`);
  return nat;
});

const SRV = LAB.servers.a;

interface Step {
  rate: number;
  calls: number;
  successful: number;
  failed: number;
  retransmissions: number;
  /** sipp's cumulative call rate (calls / the step's wall time, including waiting for the last calls). */
  achieved: number;
  exitCode: number | null;
  passed: boolean;
  /** masq only: SIP messages its ALG handled, and those it passed unparsed. */
  algMessages?: number;
  algParseErrors?: number;
  /** masq only: its CPU time (user + system: TUN reads and writes run in its context) per call, µs. */
  masqCpuUsPerCall?: number;
  /** masq only: its packet loop during the step, per SIP message read (writes: TUN write calls). */
  loop?: { packets: number; wakesPerPacket: number; resizedPerPacket: number; writesPerPacket: number; perQueue?: number[] };
}

interface RampResult {
  nat: Nat;
  round: number;
  /** Highest offered rate with every call successful (0 if none). */
  maxRate: number;
  /** Highest passing rate without a single retransmission (0 if none). */
  maxCleanRate: number;
  /** Why the ramp stopped. */
  stop: 'failed call' | 'max rate';
  steps: Step[];
}

/** The last row of a sipp -trace_stat file, by column name. */
function lastStats(file: string): Record<string, string> {
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim().length > 0);
  if (lines.length < 2) throw new Error(`${file}: no statistics row`);
  const head = lines[0].split(';');
  const row = lines[lines.length - 1].split(';');
  return Object.fromEntries(head.map((h, i) => [h.trim(), (row[i] ?? '').trim()]));
}

let stepNo = 0;

/** One sipp UAC per calling host (h1, and h2 with --hosts 2), each offering its share of the rate. */
const CALLERS = (['h1', 'h2'] as const).slice(0, HOSTS);

async function step(lab: LabTopology, nat: Nat, rate: number, masq: LabProcess | null): Promise<Step> {
  const calls = Math.max(1, Math.round(rate * SECONDS));
  const before = isMasq(nat) ? masqCounters(lab) : null;
  const masqPid = isMasq(nat) ? masq?.proc.pid : undefined;
  const cpu0 = masqPid ? processCpuSeconds(masqPid) : 0;
  const runs = CALLERS.map((host, i) => {
    // Shares that add up to the step's calls and rate (the first host takes what does not divide).
    const share = (total: number) => Math.floor(total / CALLERS.length) + (i === 0 ? total % CALLERS.length : 0);
    const hostCalls = Math.max(1, share(calls));
    const hostRate = Math.max(1, share(rate));
    const stats = join(lab.dir, `uac-${++stepNo}.csv`);
    const uac = sipp(
      lab,
      host,
      [
        `${SRV}:5060`,
        '-sn', 'uac',
        '-i', LAB.lan1[host],
        '-p', '5060',
        '-r', String(hostRate),
        '-m', String(hostCalls),
        // Enough simultaneous calls for a slow path; sipp's default (3 x rate x call length) is tight.
        '-l', String(Math.max(1000, hostRate * 4)),
        '-recv_timeout', '10000',
        '-timeout', `${SECONDS * 4 + 30}s`,
        '-timeout_error',
        '-trace_stat', '-stf', stats, '-fd', '1',
      ],
      `uac ${host} ${hostRate}/s`,
    );
    return { uac, stats, hostCalls };
  });
  for (const r of runs) await r.uac.exited((SECONDS * 4 + 60) * 1000);
  const all = runs.map((r) => ({ ...r, s: lastStats(r.stats) }));
  const sum = (key: string) => all.reduce((n, r) => n + Number(r.s[key] ?? 0), 0);
  const successful = sum('SuccessfulCall(C)');
  const failed = sum('FailedCall(C)');
  const achieved = sum('CallRate(C)');
  const after = isMasq(nat) ? masqCounters(lab) : null;
  const cpu1 = masqPid ? processCpuSeconds(masqPid) : 0;
  const exitCode = all.find((r) => r.uac.exitCode !== 0)?.uac.exitCode ?? 0;
  const offered = all.reduce((n, r) => n + r.hostCalls, 0);
  const result: Step = {
    rate,
    calls: offered,
    successful,
    failed,
    retransmissions: sum('Retransmissions(C)'),
    achieved,
    exitCode,
    passed: exitCode === 0 && failed === 0 && successful === offered,
  };
  if (before && after) {
    result.algMessages = after.sip.messages - before.sip.messages;
    result.algParseErrors = after.sip.passedParseError - before.sip.passedParseError;
    const packets = after.loop.packetsRead - before.loop.packetsRead;
    const d = (k: keyof LoopCounters) => (after.loop[k] - before.loop[k]) / Math.max(1, packets);
    // A TUN write per packet, less the packets a coalesced GSO write carried, plus those writes.
    const writes = after.loop.forwarded - before.loop.forwarded - (after.loop.coalesced - before.loop.coalesced) + (after.loop.coalescedWrites - before.loop.coalescedWrites);
    result.loop = { packets, wakesPerPacket: d('wakes'), resizedPerPacket: d('resized'), writesPerPacket: writes / Math.max(1, packets) };
    if (after.queues.length > 1) result.loop.perQueue = after.queues.map((q, i) => q - (before.queues[i] ?? 0));
  }
  if (masqPid) result.masqCpuUsPerCall = ((cpu1 - cpu0) / offered) * 1e6;
  process.stderr.write(`  ${nat} ${rate}/s: ${JSON.stringify(result)}\n`);
  return result;
}

/**
 * GETs a path of masq's status endpoint with curl, which starts in milliseconds where a Node process
 * can take more than the lab fixture's 10 s on a machine whose CPUs are all busy.
 */
function statusJson(lab: LabTopology, gw: 'gw1', path: string): any {
  return JSON.parse(lab.exec(gw, ['curl', '-sf', '--max-time', '60', `http://127.0.0.1:8787${path}`], { timeoutMs: 90_000 }).stdout);
}

interface LoopCounters {
  wakes: number;
  packetsRead: number;
  forwarded: number;
  resized: number;
  coalesced: number;
  coalescedWrites: number;
}

function masqCounters(lab: LabTopology): { sip: { messages: number; passedParseError: number }; loop: LoopCounters; queues: number[] } {
  const c = statusJson(lab, 'gw1', '/counters');
  // masq without its SIP ALG has no counters for it.
  const sip = c.algs.find((a: { name: string }) => a.name === 'sip')?.counters ?? { messages: 0, passedParseError: 0 };
  const l = c.loop ?? {};
  const n = (k: keyof LoopCounters) => (typeof l[k] === 'number' ? (l[k] as number) : 0);
  // A multi-queue gateway says what each queue read: both in use, or the steering left one idle.
  const queues = Array.isArray(c.queues) ? c.queues.map((q: { packetsRead: number | null }) => q.packetsRead ?? 0) : [];
  return { queues, sip, loop: { wakes: n('wakes'), packetsRead: n('packetsRead'), forwarded: n('forwarded'), resized: n('resized'), coalesced: n('coalesced'), coalescedWrites: n('coalescedWrites') } };
}

/** The gateway for `nat` on gw1; masq logs at warn (one info line per pinhole would flood its output). */
async function useNat(lab: LabTopology, nat: Nat, current: LabProcess | null): Promise<LabProcess | null> {
  if (current) await current.stop();
  lab.exec('inet', ['ip', 'route', 'del', LAB.lan1.prefix], { allowFail: true });
  if (nat === 'plain routing') {
    lab.useMasqAddressing('gw1');
    lab.exec('inet', ['ip', 'route', 'add', LAB.lan1.prefix, 'via', LAB.gw1.host]);
    return null;
  }
  if (nat === 'kernel + SIP helper') {
    lab.useKernelNat('gw1', 'masquerade');
    lab.useKernelSipHelper('gw1');
    return null;
  }
  lab.useMasqAddressing('gw1');
  let config = lab.masqConfig('gw1', MASQ_EXTRA[nat] ?? '').replace('level: debug', 'level: warn');
  // Several queues cannot serve /metrics or the dashboard yet (load.ts refuses them).
  if (nat === 'masq, 2 queues') config = config.replace('status:\n', 'status:\n  metrics: false\n  dashboard: false\n');
  const file = lab.writeFile(`masq-${Date.now()}.yaml`, config);
  const p = lab.spawn('gw1', lab.masqArgv('gateway', '--config', file), 'masq gateway');
  const deadline = Date.now() + 120_000; // a busy machine starts Node and tsx slowly
  for (;;) {
    if (!p.running) throw new Error(`masq gateway exited:\n${p.output.slice(-3000)}`);
    try {
      statusJson(lab, 'gw1', '/status');
      return p;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`masq gateway did not start in 120 s: ${String(err)}\n${p.output.slice(-3000)}`);
      await sleep(500);
    }
  }
}

/** The path under test and its processes; fresh() rebuilds both after a failed step. */
class Bench {
  masq: LabProcess | null = null;
  uas: LabProcess | null = null;

  constructor(
    readonly lab: LabTopology,
    public nat: Nat,
  ) {}

  /**
   * A fresh gateway and UAS. After a step with failed calls both carry its
   * debris (calls the UAS still holds in timewait, pinholes of calls that never
   * ended), which would make the next, slower step fail for reasons of its own.
   */
  async fresh(): Promise<void> {
    await this.uas?.stop('SIGINT');
    this.masq = await useNat(this.lab, this.nat, this.masq);
    this.uas = sipp(this.lab, 'srv', ['-sn', 'uas', '-i', SRV, '-p', '5060'], 'uas');
    await waitListening(this.lab, 'srv', 'udp', SRV, 5060);
    // Warm the path (flows, ARP) with a few calls that do not count.
    await step(this.lab, this.nat, 10, this.masq);
  }

  async stop(): Promise<void> {
    await this.uas?.stop('SIGINT');
    await this.masq?.stop();
    this.uas = null;
    this.masq = null;
  }
}

async function ramp(bench: Bench, round: number): Promise<RampResult> {
  const { lab, nat } = bench;
  await bench.fresh();
  const steps: Step[] = [];
  let good = 0;
  let bad = 0;
  let stop: RampResult['stop'] = 'max rate';
  for (let rate = START; rate <= MAX; rate = Math.round(rate * FACTOR)) {
    const s = await step(lab, nat, rate, bench.masq);
    steps.push(s);
    if (!s.passed) {
      bad = rate;
      stop = 'failed call';
      break;
    }
    good = rate;
  }
  for (let i = 0; i < REFINE && bad > 0 && bad - good > 1; i++) {
    if (!steps[steps.length - 1].passed) await bench.fresh();
    const rate = Math.round((good + bad) / 2);
    const s = await step(lab, nat, rate, bench.masq);
    steps.push(s);
    if (s.passed) good = rate;
    else bad = rate;
  }
  const clean = steps.filter((s) => s.passed && s.retransmissions === 0).map((s) => s.rate);
  return { nat, round, maxRate: good, maxCleanRate: clean.length ? Math.max(...clean) : 0, stop, steps };
}

async function main(): Promise<void> {
  const pre = prerequisites({ root: true, tools: ['ip', 'nft', 'conntrack', 'ss', 'env', 'sipp', 'curl'] });
  pre.assert();
  const tun = tunMissing();
  if (tun) throw new Error(`TUN gateway prerequisite: ${tun}`);
  const lab = LabTopology.create('sipb');
  const results: RampResult[] = [];
  const bench = new Bench(lab, NATS[0]);
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const order = NATS.map((_, i) => NATS[(i + round - 1) % NATS.length]);
      for (const nat of order) {
        process.stderr.write(`round ${round}, ${nat}\n`);
        bench.nat = nat;
        results.push(await ramp(bench, round));
      }
    }
  } finally {
    await bench.stop();
    await lab.destroy();
  }
  report(results);
}

function report(results: RampResult[]): void {
  const perNat = (nat: Nat) => results.filter((r) => r.nat === nat);
  const ratiosOf = (nat: Nat) =>
    Array.from({ length: ROUNDS }, (_, i) => {
      const m = results.find((r) => r.nat === nat && r.round === i + 1);
      const k = results.find((r) => r.nat === 'kernel + SIP helper' && r.round === i + 1);
      return m && k && k.maxRate > 0 ? m.maxRate / k.maxRate : NaN;
    });
  const ratios = ratiosOf('masq');
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ command: COMMAND, results, ratioMedian: median(ratios) }, null, 2)}\n`);
    return;
  }
  const lines = [
    `# SIP calls/s through gw1 with 0 failed calls (sipp uac -> uas, no media; ${SECONDS} s per step)`,
    `# ${COMMAND}`,
    '',
    '| path | max calls/s, 0 failed, per round | median | ... and 0 retransmissions, per round | ramp stopped by |',
    '|---|---|---|---|---|',
  ];
  for (const nat of NATS) {
    const rs = perNat(nat);
    lines.push(`| ${nat} | ${rs.map((r) => r.maxRate).join(', ')} | ${median(rs.map((r) => r.maxRate))} | ${rs.map((r) => r.maxCleanRate).join(', ')} | ${rs.map((r) => r.stop).join(', ')} |`);
  }
  lines.push('');
  for (const nat of NATS.filter(isMasq)) {
    const rs = ratiosOf(nat);
    if (rs.some((r) => !Number.isNaN(r))) lines.push(`${nat} / kernel + SIP helper, per round: ${rs.map((r) => r.toFixed(2)).join(', ')}; median ${median(rs).toFixed(2)}`);
  }
  // CPU per call of every masq path, from the steps that passed (or, when none did, all steps).
  for (const nat of NATS.filter(isMasq)) {
    const steps = results.filter((r) => r.nat === nat).flatMap((r) => r.steps.filter((s) => s.rate >= START && s.masqCpuUsPerCall !== undefined));
    const passing = steps.filter((s) => s.passed);
    const use = passing.length ? passing : steps;
    if (use.length) lines.push(`${nat}: CPU time per call ${median(use.map((s) => s.masqCpuUsPerCall!)).toFixed(0)} µs (median of ${use.length} ${passing.length ? 'passing' : 'failed'} steps: ${use.map((s) => s.masqCpuUsPerCall!.toFixed(0)).join(', ')})`);
  }
  // The packet loop per SIP message read: wakes, packets an ALG resized (written alone), TUN writes.
  for (const nat of NATS.filter(isMasq)) {
    const loops = results.filter((r) => r.nat === nat).flatMap((r) => r.steps.filter((s) => s.rate >= START && s.loop && s.loop.packets > 0).map((s) => s.loop!));
    if (loops.length) {
      const m = (k: 'wakesPerPacket' | 'resizedPerPacket' | 'writesPerPacket') => median(loops.map((l) => l[k])).toFixed(2);
      lines.push(`${nat}: per packet read, median of ${loops.length} steps: ${m('wakesPerPacket')} wakes, ${m('resizedPerPacket')} resized by the ALG, ${m('writesPerPacket')} TUN writes`);
    }
  }
  const masqSteps = results.filter((r) => r.nat === 'masq').flatMap((r) => r.steps);
  const parseErrors = masqSteps.reduce((n, s) => n + (s.algParseErrors ?? 0), 0);
  const messages = masqSteps.reduce((n, s) => n + (s.algMessages ?? 0), 0);
  lines.push(`masq's SIP ALG handled ${messages} messages over all steps, ${parseErrors} passed unparsed`);
  // CPU per call from the steps that passed: a figure the machine's other load disturbs less than the rates.
  const cpu = masqSteps.filter((s) => s.passed && s.rate >= START && s.masqCpuUsPerCall !== undefined).map((s) => s.masqCpuUsPerCall!);
  if (cpu.length) {
    // User + system: the TUN reads and writes (and the kernel forwarding what masq writes) count too.
    lines.push(`masq's CPU time per call (passing steps, median of ${cpu.length}): ${median(cpu).toFixed(0)} µs (6 SIP messages per call)`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
