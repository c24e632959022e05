// Relayed RTP packets/s and CPU per 1,000 streams: masq's media relay in user space, rtpengine in
// user-space mode (`--table=-1`), and masq with in-kernel forwarding, in one run, with one
// generator, in the lab of test/lab/topology.ts. Each relay runs on the servers' host (srv) and is
// driven over its ng control port by bench/sipproxy-relay-load.ts on the internet router (inet),
// which sets up STREAMS/2 calls and plays 50 packets/s each way on each (a G.711 call), across
// the network namespaces (locally generated packets would skip the kernel path).
//
//   sudo node --import tsx bench/sipproxy-relay.ts [--streams 200,400,800,1200] [--seconds 5] [--rounds 3]
//        [--relays masq,masq-per-port,masq-dgram,rtpengine,masq-kernel] [--json]
//
// Per relay and step: packets relayed per second, loss (a step passes under 0.1 %), the relay
// process's CPU (cores) and the system's softirq time (where the kernel forwards) over the
// measured window. Rounds rotate the relays' order; figures are medians over rounds. The machine
// has 2 CPUs that the generator shares with the relay: compare only figures of the same run.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LAB, LabTopology, type LabProcess } from '../test/lab/topology.js';
import { waitListening } from '../test/lab/fixtures/sip-lab.js';
import { PROXY, proxyConfig, proxyJson, REFERENCE, startProxy } from '../test/lab/fixtures/sipproxy-lab.js';
import { repoRoot } from '../test/lab/prereq.js';
import { median } from './harness.js';

const { values: args } = parseArgs({
  options: {
    streams: { type: 'string', default: '200,400,800,1200' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    relays: { type: 'string', default: 'masq,rtpengine,masq-kernel' },
    json: { type: 'boolean', default: false },
    /** Print masq's relay counters after each step. */
    counters: { type: 'boolean', default: false },
  },
});

// masq: the relay ports in one socket set (media.relaySockets: set); masq-per-port: a batched socket
// per port (the default); masq-dgram: node:dgram sockets; masq-kernel: a socket per port, and in-kernel
// forwarding of latched streams. FW=off in the environment runs masq without its pinhole firewall.
type Relay = 'masq' | 'masq-per-port' | 'masq-dgram' | 'rtpengine' | 'masq-kernel';
const SOCKETS: Record<Exclude<Relay, 'rtpengine'>, string> = {
  masq: '  relaySockets: set',
  'masq-per-port': '  udpIo: batched\n  relaySockets: per-port',
  'masq-dgram': '  udpIo: dgram',
  'masq-kernel': '  relaySockets: per-port',
};
interface Step {
  streams: number;
  lossPct: number;
  relayedPps: number;
  offeredPps: number;
  relayCpu: number;
  softirqCpu: number;
  setupSeconds?: number;
}

const MASQ_NG = 2224;
const RTPENGINE_NG = 2223;
const steps = args.streams.split(',').map(Number);
const relays = args.relays.split(',') as Relay[];
const rounds = Number(args.rounds);
const loadavg = () => execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).split(' ').slice(0, 3).join(' ');

async function startRelay(lab: LabTopology, relay: Relay): Promise<{ proc: LabProcess; host: string; port: number }> {
  if (relay === 'rtpengine') {
    const proc = lab.spawn('srv', ['rtpengine', '--config-file=none', '--table=-1', '--foreground', '--log-stderr', '--log-level=4', `--interface=${REFERENCE}`, `--listen-ng=${REFERENCE}:${RTPENGINE_NG}`, '--port-min=40000', '--port-max=49999', '--endpoint-learning=immediate'], 'rtpengine');
    await waitListening(lab, 'srv', 'udp', REFERENCE, RTPENGINE_NG, 30_000);
    return { proc, host: REFERENCE, port: RTPENGINE_NG };
  }
  const yaml = proxyConfig({ kernel: relay === 'masq-kernel' ? 'on' : 'off', firewall: process.env.FW === 'off' ? 'off' : 'on', ngPort: null, media: SOCKETS[relay], extra: `ng: { listen: ${PROXY}:${MASQ_NG} }` })
    .replace('ports: { min: 30000, max: 30999 }', 'ports: { min: 30000, max: 39999 }')
    .replace('log: { level: debug }', 'log: { level: info }');
  const proc = await startProxy(lab, yaml, relay);
  return { proc, host: PROXY, port: MASQ_NG };
}

async function runStep(lab: LabTopology, relay: Relay, streams: number): Promise<Step> {
  const r = await startRelay(lab, relay);
  try {
    const gen = lab.spawn('inet', [process.execPath, '--import', 'tsx', join(repoRoot, 'bench/sipproxy-relay-load.ts'), r.host, String(r.port), LAB.servers.router, String(streams), args.seconds, String(r.proc.proc.pid)], `generator ${relay} ${streams}`);
    // Setting up 500 calls one by one takes minutes on a busy machine.
    await gen.exited(300_000);
    const line = gen.output.trim().split('\n').pop() ?? '';
    if (gen.exitCode !== 0) throw new Error(`generator failed (${relay}, ${streams}): ${gen.output.slice(-1000)}`);
    if (args.counters && relay !== 'rtpengine') {
      const all = proxyJson(lab, '/counters');
      const c = all.relay;
      const drops = lab.exec('srv', ['nft', 'list', 'chain', 'ip', 'masq_sipproxy', 'pinholes'], { allowFail: true }).stdout.match(/counter packets \d+/)?.[0];
      console.error(`  nft ${JSON.stringify(all.nft)}, pinhole drops: ${drops}`);
      for (const l of r.proc.output.split('\n').filter((x) => x.includes('nft-error') && !x.includes('not confirmed')).slice(0, 4)) console.error(`  ${l.slice(0, 300)}`);
      for (const ns of ['srv', 'inet'] as const) {
        const udp = lab.exec(ns, ['cat', '/proc/net/snmp']).stdout.split('\n').filter((l) => l.startsWith('Udp:'));
        console.error(`  ${ns} ${udp.join(' | ')}`);
      }
      console.error(`  ${relay} counters: packets ${c.packets}, refusedSource ${c.refusedSource}, notRtp ${c.notRtp}, noDestination ${c.noDestination}, ended ${JSON.stringify(all.relay.endedBy ?? all.calls?.endedBy ?? null)}, sockets ${JSON.stringify(c.sockets)}`);
    }
    return JSON.parse(line) as Step;
  } finally {
    await r.proc.stop('SIGTERM');
  }
}

async function main(): Promise<void> {
  const lab = LabTopology.create('sbr');
  const results: Record<Relay, Step[][]> = { masq: [], 'masq-per-port': [], 'masq-dgram': [], rtpengine: [], 'masq-kernel': [] };
  const load = { before: loadavg(), after: '' };
  try {
    for (let round = 0; round < rounds; round++) {
      const order = relays.map((_, i) => relays[(i + round) % relays.length]);
      for (const relay of order) {
        const row: Step[] = [];
        for (const s of steps) {
          const step = await runStep(lab, relay, s);
          row.push(step);
          if (!args.json) console.error(`round ${round + 1} ${relay.padEnd(13)} ${String(s).padStart(5)} streams: ${step.relayedPps.toFixed(0)} pps relayed, loss ${step.lossPct.toFixed(3)} %, relay ${step.relayCpu.toFixed(2)} cores, softirq ${step.softirqCpu.toFixed(2)}, set up in ${step.setupSeconds?.toFixed(1)} s`);
        }
        results[relay].push(row);
      }
    }
  } finally {
    load.after = loadavg();
    await lab.destroy();
  }
  const summary = relays.map((relay) => {
    const perStep = steps.map((s, i) => {
      const xs = results[relay].map((row) => row[i]);
      return {
        streams: s,
        relayedPps: median(xs.map((x) => x.relayedPps)),
        lossPct: median(xs.map((x) => x.lossPct)),
        relayCpu: median(xs.map((x) => x.relayCpu)),
        softirqCpu: median(xs.map((x) => x.softirqCpu)),
        relayCpuPer1000: median(xs.map((x) => (1000 * x.relayCpu) / x.streams)),
        // Where the generator cannot offer the nominal rate (a busy machine), CPU per relayed packet is the fair figure.
        relayUsPerPacket: median(xs.map((x) => (1e6 * x.relayCpu) / Math.max(1, x.relayedPps))),
      };
    });
    const passing = perStep.filter((x) => x.lossPct < 0.1);
    const best = passing.length ? passing[passing.length - 1] : null;
    return { relay, perStep, bestUnderLoss: best };
  });
  const out = { load, seconds: Number(args.seconds), rounds, summary };
  if (args.json) {
    console.log(JSON.stringify(out));
    return;
  }
  console.log(`load average before: ${load.before}, after: ${load.after}`);
  console.log('relay          streams  relayed pps  loss %   relay cores  cores/1000 streams  µs CPU/packet  softirq cores');
  for (const r of summary)
    for (const x of r.perStep)
      console.log(`${r.relay.padEnd(13)} ${String(x.streams).padStart(7)}  ${x.relayedPps.toFixed(0).padStart(11)}  ${x.lossPct.toFixed(3).padStart(6)}   ${x.relayCpu.toFixed(3).padStart(11)}  ${x.relayCpuPer1000.toFixed(3).padStart(18)}  ${x.relayUsPerPacket.toFixed(2).padStart(13)}  ${x.softirqCpu.toFixed(3).padStart(13)}`);
  for (const r of summary) console.log(`${r.relay}: highest step under 0.1 % loss: ${r.bestUnderLoss ? `${r.bestUnderLoss.streams} streams, ${r.bestUnderLoss.relayedPps.toFixed(0)} pps` : 'none'}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
