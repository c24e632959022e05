// The SIP INVITE flood of bench/floods.ts (`--only invite`) and of test/lab/sip-invite-flood.test.ts:
// one phone floods INVITEs with SDP through `masq gateway` and its SIP ALG (default limits) while
// another phone behind the same gateway keeps placing ordinary calls with media.
//
// The flood: sipp on h1 sends one INVITE per call (bench/fixtures/sip-flood-uac.xml, no
// retransmission, no CANCEL) at --rate calls a second to a far end on srv (198.51.100.10) that
// never answers (test/lab/fixtures/sip-uas-silent.xml). Every INVITE offers a media port of its own
// and names a Contact port of its own, so each asks for three new pinholes (RTP, RTCP, signalling).
// The user: sipp on h2 places a call every 5 s, from 3 s into the flood, to a UAS on srv's other
// address (198.51.100.11), both sides playing g711a.pcap (236 RTP packets) to the address in the
// other's SDP. Counted: the user's calls, RTP datagrams arriving at h2 and at srv (nftables counters
// in those namespaces), the gateway's pinholes per inside host (every 5 s), its resident memory and
// CPU time, and the counters that moved.
import { join } from 'node:path';
import { LAB, sleep, type LabProcess, type LabTopology } from '../test/lab/topology.js';
import { exitCodes, fixture, G711A_PCAP, SIP_ALG_CONFIG, sipp, sippTotals, waitListening, type SippTotals } from '../test/lab/fixtures/sip-lab.js';
import { writeWithSsrc } from '../test/lab/fixtures/sip-rtp-pcap.js';
import { repoRoot } from '../test/lab/prereq.js';
import { resolveNatConfig } from '../src/nat/config.js';
import { loadAverage, processCpuSeconds, rssMiB } from './proc-stats.js';

const SILENT = LAB.servers.a;
const ANSWERING = LAB.servers.b;
const SIPP_KEEP_GOING = ['-watchdog_major_maxtriggers', '1000000', '-watchdog_minor_maxtriggers', '1000000'];
/** g711a.pcap: what each side of a user's call sends. */
export const RTP_PER_CALL = 236;
const USER_START_S = 3;
const USER_EVERY_S = 5;
/** A user's call: 8.5 s of scenario, and room for a slow start. */
const USER_CALL_S = 10;

/**
 * Counts RTP arriving in an end namespace and drops it after counting. SIP (either port 5060) is
 * accepted by rules of its own: nftables (1.0.6) joins `udp sport != 5060 udp dport != 5060` into
 * one 4-byte comparison that drops every datagram unless both ports are 5060, so a phone whose
 * signalling left from another public port (the flood held 5060) lost its INVITEs here. That, and
 * not the gateway, was why an earlier version of this bench saw the user's calls fail.
 */
function installCounter(lab: LabTopology, role: 'h2' | 'srv'): void {
  lab.exec(role, ['nft', 'delete', 'table', 'inet', 'masq_finv'], { allowFail: true });
  const file = lab.writeFile(`finv-${role}.nft`, [
    'table inet masq_finv {',
    '  counter rtp_in { }',
    '  chain in {',
    '    type filter hook input priority filter; policy accept;',
    '    udp dport 5060 accept',
    '    udp sport 5060 accept',
    '    meta l4proto udp counter name "rtp_in" drop',
    '  }',
    '}',
  ].join('\n'));
  lab.exec(role, ['nft', '-f', file]);
}

const rtpIn = (lab: LabTopology, role: 'h2' | 'srv') => Number(/packets (\d+)/.exec(lab.exec(role, ['nft', 'list', 'counter', 'inet', 'masq_finv', 'rtp_in']).stdout)?.[1] ?? NaN);

export interface InviteFloodSample {
  second: number;
  /** null: the status endpoint did not answer within 5 s. */
  expectations: number | null;
  /** Pinholes toward the flooding phone and toward the user's phone. */
  toFlooder: number | null;
  toUser: number | null;
  /** How long the status endpoint took to list the pinholes (a node process started in the namespace, and the fetch). */
  statusMs: number | null;
  rssMiB: number;
  cpuSeconds: number;
  load: string;
}

export interface InviteFloodResult {
  seconds: number;
  rate: number;
  /** INVITEs the flood's sipp sent (its calls), and what the SIP ALG saw (all messages). */
  floodInvites: number;
  algMessages: number;
  user: { calls: number; exit: number | null; totals: SippTotals | null; rtpAtPhone: number; rtpAtServer: number; rtpExpected: number; errors: string };
  limits: { expectations: number; expectationsPerHost: number };
  expectationsMax: number;
  /** Samples in which the status endpoint did not answer within 5 s (of `samples`). */
  statusUnanswered: number;
  toFlooderMax: number;
  toUserMax: number;
  /** Counters that moved: the SIP ALG's, the engine's refused pinholes and drops. */
  moved: Record<string, number>;
  rss: { before: number; max: number; after: number };
  /** The gateway's CPU seconds over the flood, and microseconds of it per INVITE. */
  cpuSeconds: number;
  cpuUsPerInvite: number;
  gatewayRunning: boolean;
  loadBefore: string;
  loadAfter: string;
  samples: InviteFloodSample[];
}

/** Every numeric leaf of a JSON value, by its path. */
export function leaves(v: unknown, path = '', out = new Map<string, number>()): Map<string, number> {
  if (typeof v === 'number') out.set(path, v);
  else if (Array.isArray(v)) v.forEach((x, i) => leaves(x, `${path}[${(x as { name?: string })?.name ?? i}]`, out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) leaves(x, path ? `${path}.${k}` : k, out);
  return out;
}

/**
 * The status endpoint, asked from inside the gateway's namespace without
 * blocking this process: null when it did not answer within 5 s. Not
 * statusJson (spawnSync): while this process waits in spawnSync it stops
 * reading the gateway's log pipe, the gateway blocks writing its log lines
 * (a flood makes thousands a second), and neither moves until the timeout.
 * That stall, not the gateway, was what an earlier version saw as a gateway
 * that stopped answering and lost packets under the flood.
 */
async function statusOrNull(lab: LabTopology, path: string): Promise<any> {
  const script = `fetch('http://127.0.0.1:8787${path}',{signal:AbortSignal.timeout(5000)}).then(r=>r.text()).then(t=>process.stdout.write(t),e=>{console.error(String(e));process.exit(1)})`;
  const p = lab.spawn('gw1', [process.execPath, '-e', script], `status ${path}`);
  try {
    await p.exited(10_000);
    return p.exitCode === 0 ? JSON.parse(p.output) : null;
  } catch {
    if (p.running) await p.stop('SIGKILL', 1000);
    return null;
  }
}

async function pinholesToward(lab: LabTopology): Promise<{ total: number; toFlooder: number; toUser: number } | null> {
  const list = (await statusOrNull(lab, '/expectations')) as { expectations: Array<{ inside: { address: string } }> } | null;
  if (!list) return null;
  const count = (host: string) => list.expectations.filter((e) => e.inside.address === host).length;
  return { total: list.expectations.length, toFlooder: count(LAB.lan1.h1), toUser: count(LAB.lan1.h2) };
}

/** Runs the flood for `seconds` at `rate` INVITEs a second in a built lab; a fresh gateway, stopped at the end. */
export async function inviteFlood(lab: LabTopology, seconds: number, rate: number, log: (s: string) => void = () => {}): Promise<InviteFloodResult> {
  lab.useMasqAddressing('gw1');
  const masq: LabProcess = await lab.startMasq('gw1', lab.masqConfig('gw1', SIP_ALG_CONFIG).replace('level: debug', 'level: info'));
  const pid = masq.proc.pid!;
  const procs: LabProcess[] = [];
  try {
    // sip-uas-media.xml plays this to calls for "bob"; sipp runs in the lab directory.
    writeWithSsrc(G711A_PCAP, join(lab.dir, 'sip-stream-b.pcap'), 0x0b0b0b0b);
    installCounter(lab, 'h2');
    installCounter(lab, 'srv');
    const serverTimeout = ['-timeout', `${seconds + 60}s`, ...SIPP_KEEP_GOING];
    procs.push(sipp(lab, 'srv', ['-sf', fixture('sip-uas-silent.xml'), '-i', SILENT, '-p', '5060', '-mp', '20000', ...serverTimeout], 'silent UAS'));
    procs.push(sipp(lab, 'srv', ['-sf', fixture('sip-uas-media.xml'), '-i', ANSWERING, '-p', '5060', '-mp', '6000', ...serverTimeout], 'answering UAS'));
    await waitListening(lab, 'srv', 'udp', SILENT, 5060);
    await waitListening(lab, 'srv', 'udp', ANSWERING, 5060);
    const before = { rss: rssMiB(pid), cpu: processCpuSeconds(pid), load: loadAverage(), counters: leaves(await statusOrNull(lab, '/counters')) };
    const limits = resolveNatConfig({ inside: [LAB.lan1.prefix], public: [LAB.gw1.public] }).limits;

    // Contact ports 20000..59999 in turn, one per INVITE.
    const contacts = lab.writeFile('flood-contacts.csv', `SEQUENTIAL\n${Array.from({ length: 40_000 }, (_, i) => `${20_000 + i};`).join('\n')}\n`);
    const floodCalls = rate * seconds;
    const flood = sipp(
      lab,
      'h1',
      [
        `${SILENT}:5060`, '-sf', join(repoRoot, 'bench/fixtures/sip-flood-uac.xml'), '-inf', contacts, '-s', 'victim',
        '-i', LAB.lan1.h1, '-p', '5060', '-mp', '10000', '-nr',
        '-r', String(rate), '-l', String(floodCalls), '-m', String(floodCalls), '-timeout', `${seconds + 5}s`, ...SIPP_KEEP_GOING,
      ],
      'INVITE flood',
    );
    procs.push(flood);
    const started = Date.now();
    await sleep(USER_START_S * 1000);
    const userCalls = Math.max(1, Math.floor((seconds - USER_START_S - USER_CALL_S) / USER_EVERY_S) + 1);
    const user = sipp(
      lab,
      'h2',
      [
        `${ANSWERING}:5060`, '-sf', fixture('sip-uac-media.xml'), '-s', 'carol', '-i', LAB.lan1.h2, '-p', '5060', '-mp', '7000',
        '-r', '1', '-rp', String(USER_EVERY_S * 1000), '-m', String(userCalls), '-timeout', `${seconds + 30}s`, ...SIPP_KEEP_GOING,
      ],
      'user calls',
    );
    procs.push(user);
    const samples: InviteFloodSample[] = [];
    while (Date.now() - started < seconds * 1000 && (flood.running || user.running)) {
      await sleep(5000);
      const cpu = processCpuSeconds(pid);
      const asked = Date.now();
      const p = await pinholesToward(lab);
      const s = { second: Math.round((asked - started) / 1000), expectations: p?.total ?? null, toFlooder: p?.toFlooder ?? null, toUser: p?.toUser ?? null, statusMs: p ? Date.now() - asked : null, rssMiB: rssMiB(pid), cpuSeconds: cpu, load: loadAverage() };
      samples.push(s);
      log(`${s.second}s: ${p ? `${s.expectations} pinholes (${s.toFlooder} to the flooder, ${s.toUser} to the user) in ${s.statusMs} ms` : 'status endpoint did not answer within 5 s'}, RSS ${s.rssMiB} MiB, CPU ${s.cpuSeconds} s, load ${s.load}`);
    }
    const [userCode] = await exitCodes([user], 60_000);
    if (flood.running) flood.proc.kill('SIGUSR1');
    await exitCodes([flood], 30_000);
    const cpu = processCpuSeconds(pid) - before.cpu;
    await sleep(1000);
    const after = leaves(await statusOrNull(lab, '/counters'));
    const moved: Record<string, number> = {};
    for (const [k, v] of after) {
      const d = v - (before.counters.get(k) ?? 0);
      if (d !== 0 && /^algs\[sip\]|refus|drops|limit/i.test(k)) moved[k.replace(/^algs\[sip\]\.counters\./, 'sip.')] = d;
    }
    const floodTotals = sippTotals(flood.output);
    const floodInvites = floodTotals ? floodTotals.successful + floodTotals.failed : 0;
    return {
      seconds,
      rate,
      floodInvites,
      algMessages: moved['sip.messages'] ?? 0,
      user: { calls: userCalls, exit: userCode, totals: sippTotals(user.output), rtpAtPhone: rtpIn(lab, 'h2'), rtpAtServer: rtpIn(lab, 'srv'), rtpExpected: userCalls * RTP_PER_CALL, errors: user.errors().slice(0, 2000) },
      limits: { expectations: limits.expectations, expectationsPerHost: limits.expectationsPerHost },
      expectationsMax: Math.max(0, ...samples.map((s) => s.expectations ?? 0)),
      toFlooderMax: Math.max(0, ...samples.map((s) => s.toFlooder ?? 0)),
      toUserMax: Math.max(0, ...samples.map((s) => s.toUser ?? 0)),
      statusUnanswered: samples.filter((s) => s.expectations === null).length,
      moved,
      rss: { before: before.rss, max: Math.max(before.rss, ...samples.map((s) => s.rssMiB)), after: rssMiB(pid) },
      cpuSeconds: Math.round(cpu * 100) / 100,
      cpuUsPerInvite: floodInvites ? Math.round((cpu * 1e7) / floodInvites) / 10 : 0,
      gatewayRunning: masq.running,
      loadBefore: before.load,
      loadAfter: loadAverage(),
      samples,
    };
  } finally {
    for (const p of procs) if (p.running) await p.stop('SIGINT');
    await masq.stop();
  }
}
