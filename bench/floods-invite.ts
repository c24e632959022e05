// An INVITE flood with SDP from one phone through `masq gateway` and its SIP ALG (default limits),
// while another phone keeps placing ordinary calls with media, in the lab of test/lab/topology.ts:
//
//   sudo node --import tsx bench/floods-invite.ts [--seconds 60] [--rate 500] [--json]
//
// The flood: sipp on h1 places --rate calls a second to a far end on srv (198.51.100.10) that takes
// the INVITEs and never answers (test/lab/fixtures/sip-uas-silent.xml); every INVITE offers a media
// port of its own (bench/fixtures/sip-soak-uac.xml, [auto_media_port]), so each asks for two new
// pinholes. sipp gives each call up after 1 s (-recv_timeout, no CANCEL).
// The user: sipp on h2 places a call every 5 s to a UAS on srv's other address (198.51.100.11),
// both sides playing g711a.pcap (7.05 s of G.711, 50 packets/s) to the address in the other's SDP.
// Counted: the user's calls (sipp), RTP datagrams arriving at h2 and at srv (nftables counters in
// those namespaces, the arriving RTP dropped after counting), the gateway's expectations, resident
// memory and the SIP ALG's counters, sampled every 5 s with the load average.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LAB, LabTopology, sleep, type LabProcess } from '../test/lab/topology.js';
import { statusJson, tunMissing } from '../test/lab/fixtures/gateway-probes.js';
import { exitCodes, fixture, G711A_PCAP, SIP_ALG_CONFIG, sipp, sippTotals, waitListening } from '../test/lab/fixtures/sip-lab.js';
import { prerequisites, repoRoot } from '../test/lab/prereq.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    rate: { type: 'string', default: '500' },
    json: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(args.seconds);
if (!Number.isInteger(SECONDS) || SECONDS < 10 || SECONDS > 600) throw new Error('--seconds must be an integer in 10..600');
const RATE = Number(args.rate);
if (!Number.isInteger(RATE) || RATE < 1 || RATE > 5000) throw new Error('--rate must be an integer in 1..5000');
const COMMAND = `sudo node --import tsx bench/floods-invite.ts --seconds ${SECONDS} --rate ${RATE}`;
const SILENT = LAB.servers.a;
const ANSWERING = LAB.servers.b;
const SIPP_KEEP_GOING = ['-watchdog_major_maxtriggers', '1000000', '-watchdog_minor_maxtriggers', '1000000'];

const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const rssMiB = (pid: number) => Math.round(Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 102.4) / 10;

/** Counts RTP (UDP neither from nor to 5060) arriving in an end namespace, and drops it after counting. */
function installCounter(lab: LabTopology, role: 'h2' | 'srv'): void {
  lab.exec(role, ['nft', 'delete', 'table', 'inet', 'masq_finv'], { allowFail: true });
  const file = lab.writeFile(`finv-${role}.nft`, [
    'table inet masq_finv {',
    '  counter rtp_in { }',
    '  chain in { type filter hook input priority filter; policy accept; udp sport != 5060 udp dport != 5060 counter name "rtp_in" drop; }',
    '}',
  ].join('\n'));
  lab.exec(role, ['nft', '-f', file]);
}

const rtpIn = (lab: LabTopology, role: 'h2' | 'srv') => Number(/packets (\d+)/.exec(lab.exec(role, ['nft', 'list', 'counter', 'inet', 'masq_finv', 'rtp_in']).stdout)?.[1] ?? NaN);

interface Sample {
  second: number;
  expectations: number;
  rssMiB: number;
  load: string;
}

async function main(): Promise<void> {
  const pre = prerequisites({ root: true, tools: ['ip', 'nft', 'ss', 'env', 'sipp', G711A_PCAP] });
  if (pre.skip) throw new Error(`cannot run: ${pre.skip}`);
  const tun = tunMissing();
  if (tun) throw new Error(`cannot run: ${tun}`);
  const lab = LabTopology.create('finv');
  let masq: LabProcess | undefined;
  try {
    lab.useMasqAddressing('gw1');
    masq = await lab.startMasq('gw1', lab.masqConfig('gw1', SIP_ALG_CONFIG).replace('level: debug', 'level: info'));
    const pid = masq.proc.pid!;
    installCounter(lab, 'h2');
    installCounter(lab, 'srv');
    const silent = sipp(lab, 'srv', ['-sf', fixture('sip-uas-silent.xml'), '-i', SILENT, '-p', '5060', '-timeout', `${SECONDS + 120}s`, ...SIPP_KEEP_GOING], 'silent UAS');
    const uas = sipp(lab, 'srv', ['-sf', fixture('sip-uas-media.xml'), '-i', ANSWERING, '-p', '5060', '-mp', '6000', '-timeout', `${SECONDS + 120}s`, ...SIPP_KEEP_GOING], 'answering UAS');
    await waitListening(lab, 'srv', 'udp', SILENT, 5060);
    await waitListening(lab, 'srv', 'udp', ANSWERING, 5060);
    const before = { rss: rssMiB(pid), load: load(), counters: statusJson(lab, 'gw1', '/counters') };
    const floodCalls = RATE * SECONDS;
    const flood = sipp(
      lab,
      'h1',
      [
        `${SILENT}:5060`, '-sf', join(repoRoot, 'bench/fixtures/sip-soak-uac.xml'), '-s', 'victim',
        '-i', LAB.lan1.h1, '-p', '5060', '-mp', '10000',
        '-r', String(RATE), '-l', String(floodCalls), '-m', String(floodCalls), '-nr', '-recv_timeout', '1000',
        '-timeout', `${SECONDS + 30}s`, ...SIPP_KEEP_GOING,
      ],
      'INVITE flood',
    );
    const userCalls = Math.floor(SECONDS / 5);
    const user = sipp(
      lab,
      'h2',
      [
        `${ANSWERING}:5060`, '-sf', fixture('sip-uac-media.xml'), '-s', 'carol', '-i', LAB.lan1.h2, '-p', '5060', '-mp', '7000',
        '-r', '1', '-rp', '5000', '-m', String(userCalls), '-timeout', `${SECONDS + 60}s`, ...SIPP_KEEP_GOING,
      ],
      'user calls',
    );
    const samples: Sample[] = [];
    const started = Date.now();
    while (Date.now() - started < SECONDS * 1000 && (flood.running || user.running)) {
      await sleep(5000);
      const st = statusJson(lab, 'gw1', '/status');
      const s = { second: Math.round((Date.now() - started) / 1000), expectations: st.expectations as number, rssMiB: rssMiB(pid), load: load() };
      samples.push(s);
      if (!args.json) console.error(`${s.second}s: ${s.expectations} expectations, RSS ${s.rssMiB} MiB, load ${s.load}`);
    }
    const [userCode] = await exitCodes([user], 120_000);
    if (flood.running) flood.proc.kill('SIGUSR1');
    await exitCodes([flood], 60_000);
    await sleep(2000);
    const after = statusJson(lab, 'gw1', '/counters');
    const sipBefore = before.counters.algs.find((a: { name: string }) => a.name === 'sip').counters;
    const sipAfter = after.algs.find((a: { name: string }) => a.name === 'sip').counters;
    const delta = Object.fromEntries(Object.entries(sipAfter as Record<string, number>).map(([k, v]) => [k, v - (sipBefore[k] ?? 0)]).filter(([, d]) => d !== 0));
    const result = {
      command: COMMAND,
      seconds: SECONDS,
      rate: RATE,
      flood: sippTotals(flood.output),
      floodInvitesSeenByAlg: delta.messages ?? 0,
      user: { calls: userCalls, exit: userCode, totals: sippTotals(user.output), rtpAtPhone: rtpIn(lab, 'h2'), rtpAtServer: rtpIn(lab, 'srv'), rtpPerCall: 353 },
      sipAlg: delta,
      engineErrors: after.loop.engineErrors,
      expectationsMax: Math.max(...samples.map((s) => s.expectations)),
      rss: { before: before.rss, max: Math.max(before.rss, ...samples.map((s) => s.rssMiB)), after: rssMiB(pid) },
      gatewayRunning: masq.running,
      loadBefore: before.load,
      loadAfter: load(),
      samples,
    };
    await silent.stop('SIGINT');
    await uas.stop('SIGINT');
    if (args.json) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(COMMAND);
      console.log(JSON.stringify({ ...result, samples: undefined }, null, 2));
    }
  } finally {
    await masq?.stop();
    await lab.destroy();
  }
}

await main();
