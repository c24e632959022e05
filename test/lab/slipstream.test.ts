/**
 * NAT Slipstreaming v1 and v2, and NAT pinning, replayed in the lab
 * (test/lab/topology.ts) through `masq gateway` and through the kernel's NAT
 * with its helpers attached by explicit rules (nf_conntrack_sip, _h323 and
 * _ftp: the configuration an administrator who wants those ALGs has), in the
 * same run, printed side by side.
 *
 * The victim is h1 (a browser the attacker's page runs in), the other inside
 * host h2, the attacker's server srv, which forces a small MSS so the
 * victim's segments end where the attack wants. Each scenario
 * (test/alg/slipstream/scenarios.ts) sends its traffic from h1, then the
 * attacker tries to connect from srv to the public address on the port it
 * wanted and on every port the NAT lists as a pinhole; h1 and h2 listen there
 * and say whether anything arrived. masq is asserted (nothing opens, nothing
 * arrives; the control registration does open); the kernel is recorded.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { findAlg } from '../../src/alg/registry.js';
import { prerequisites, inCI, repoRoot } from './prereq.js';
import { LAB, LabTopology, sleep, type LabProcess, type Role } from './topology.js';
import { ComparisonTable, DEBIAN_PYTHON, statusJson, tunMissing } from './fixtures/gateway-probes.js';
import { CONTROL_SCENARIOS, SLIPSTREAM_SCENARIOS } from '../alg/slipstream/scenarios.js';
import type { SlipstreamHosts, SlipstreamScenario } from '../alg/slipstream/scenario.js';

const pre = prerequisites({ root: true, tools: ['ip', 'nft', 'conntrack', DEBIAN_PYTHON] });
const tun = tunMissing();
const skip = pre.skip || (tun !== undefined && !inCI ? tun : false);

const PEER = join(repoRoot, 'test/lab/fixtures/slipstream-peer.py');
// Linux refuses a TCP_MAXSEG below 88 (TCP_MIN_MSS), so the lab's segments are longer than the sim's 64.
const HOSTS: SlipstreamHosts = { victim: LAB.lan1.h1, other: LAB.lan1.h2, server: LAB.servers.a, mss: 128 };
const PUBLIC = LAB.gw1.public;
const NATS = ['masq gateway', 'kernel (masquerade + nf_conntrack_sip, _h323, _ftp by explicit rule)'] as const;
type Nat = (typeof NATS)[number];
const ALL = [...SLIPSTREAM_SCENARIOS, ...CONTROL_SCENARIOS];

/** masq's ALGs for the scenarios' protocols, as far as masq has them. */
function masqAlgConfig(): string {
  const names = [...new Set(ALL.map((s) => s.alg))].filter((n) => findAlg(n) !== undefined);
  return names.length ? `algs:\n${names.map((n) => `  - name: ${n}`).join('\n')}\n` : '';
}

/** The kernel's helpers for the scenarios' protocols, each on its port from the LAN only. */
function kernelHelpers(): string {
  const kinds = new Map<string, { type: string; proto: string; port: number }>();
  for (const s of ALL) if (s.kernelHelper) kinds.set(`${s.kernelHelper.type}-${s.kernelHelper.proto}-${s.serverPort}`, { ...s.kernelHelper, port: s.serverPort });
  const list = [...kinds.values()];
  const name = (h: { type: string; proto: string; port: number }) => `h-${h.type.replace('.', '')}-${h.proto}-${h.port}`;
  return [
    'table ip masq_lab_slip_helpers {',
    ...list.map((h) => `  ct helper ${name(h)} { type "${h.type}" protocol ${h.proto}; l3proto ip; }`),
    '  chain prerouting { type filter hook prerouting priority filter; policy accept;',
    ...list.map((h) => `    iifname "lan0" ${h.proto} dport ${h.port} ct helper set "${name(h)}"`),
    '  }',
    '}',
  ].join('\n');
}

interface Result {
  pinholes: string[];
  /** Public ports the NAT's pinholes hold (the attacker tries each). */
  ports: number[];
  reached: string[];
  served: string;
}

const table = new ComparisonTable([...NATS]);

describe('NAT Slipstreaming and NAT pinning: masq gateway next to the kernel\'s helpers', { skip }, () => {
  let lab: LabTopology;
  let masq: LabProcess | undefined;
  const listeners = new Map<Role, LabProcess>();

  before(async () => {
    pre.assert();
    if (tun) assert.fail(`TUN gateway prerequisite: ${tun}`);
    lab = LabTopology.create('slip');
    for (const role of ['h1', 'h2'] as const) {
      const l = lab.spawn(role, [DEBIAN_PYTHON, PEER, 'listen', '8080'], `listener on ${role}`);
      await l.waitFor(/listening/);
      listeners.set(role, l);
    }
  });

  after(async () => {
    await masq?.stop();
    await lab?.destroy();
    if (table.size > 0) process.stdout.write(`\n${table.markdown('Slipstreaming (same lab, same run)')}\n\n`);
  });

  function pinholes(nat: Nat): { texts: string[]; ports: number[] } {
    if (nat === 'masq gateway') {
      const list = statusJson(lab, 'gw1', '/expectations').expectations as Array<{ proto: string; helper: string; public: { address: string; port: number }; inside: { address: string; port: number }; remote: { address: string; port: number } }>;
      return {
        texts: list.map((e) => `${e.helper}: ${e.proto} ${e.public.address}:${e.public.port} -> ${e.inside.address}:${e.inside.port} from ${e.remote.address}`),
        ports: list.map((e) => e.public.port),
      };
    }
    const lines = lab.exec('gw1', ['conntrack', '-L', 'expect'], { allowFail: true }).stdout.split('\n').filter((l) => /proto=/.test(l));
    return {
      texts: lines.map((l) => {
        const m = /proto=(\d+) src=(\S+) dst=(\S+) sport=\d+ dport=(\d+).*?helper=(\S+)/.exec(l);
        return m ? `${m[5]}: ${m[1] === '6' ? 'tcp' : 'udp'} ${m[3]}:${m[4]} from ${m[2]}` : l.trim();
      }),
      ports: lines.map((l) => Number(/dport=(\d+)/.exec(l)?.[1] ?? 0)).filter((p) => p > 0),
    };
  }

  async function run(nat: Nat, s: SlipstreamScenario): Promise<Result> {
    const traffic = s.craft(HOSTS);
    const file = (name: string, rows: string[]) => lab.writeFile(`${name}-${Date.now()}`, rows.join('\n') + '\n');
    const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
    const replies = traffic.transport === 'tcp' ? (traffic.reply ? [traffic.reply] : []) : traffic.replies ?? [];
    const server = lab.spawn('srv', [DEBIAN_PYTHON, PEER, 'server', traffic.transport, String(s.serverPort), String(HOSTS.mss), file('replies', replies.map(b64))], `attacker server ${s.serverPort}`);
    await server.waitFor(/listening/);
    const marks = new Map([...listeners].map(([r, l]) => [r, l.output.length]));
    const what = traffic.transport === 'tcp' ? [b64(traffic.stream), traffic.cuts.join(',') || '-'] : traffic.datagrams.map(b64);
    lab.exec('h1', [DEBIAN_PYTHON, PEER, 'send', traffic.transport, `${HOSTS.server}:${s.serverPort}`, String(s.victimPort), file('send', what)], { timeoutMs: 15_000 });
    await sleep(300);
    const found = pinholes(nat);
    const goal = s.goal(HOSTS);
    for (const port of new Set([goal.port, ...found.ports])) {
      for (const proto of ['tcp', 'udp']) lab.exec('srv', [DEBIAN_PYTHON, PEER, 'probe', proto, `${PUBLIC}:${port}`], { timeoutMs: 5000, allowFail: true });
    }
    await sleep(300);
    await server.stop('SIGTERM');
    const reached: string[] = [];
    for (const [role, l] of listeners) {
      for (const line of l.output.slice(marks.get(role)).split('\n')) if (/^got /.test(line)) reached.push(`${role === 'h1' ? 'h1 (victim)' : 'h2 (other)'} ${line.replace(/^got /, '')}`);
    }
    return { pinholes: found.texts, ports: found.ports, reached, served: server.output.trim().split('\n').filter((l) => l.startsWith('served')).join('; ') };
  }

  function record(nat: Nat, s: SlipstreamScenario, r: Result): void {
    const opened = r.pinholes.length ? `opens ${r.pinholes.join('; ')}` : 'opens nothing';
    const reached = r.reached.length ? `; the attacker reaches ${[...new Set(r.reached.map((x) => x.replace(/ from .*/, '')))].join(', ')}` : '; the attacker reaches nothing';
    table.set(s.id, nat, opened + reached);
  }

  describe(NATS[0], () => {
    before(async () => {
      lab.useMasqAddressing('gw1');
      masq = await lab.startMasq('gw1', lab.masqConfig('gw1', masqAlgConfig()));
    });
    after(async () => {
      await masq?.stop();
      masq = undefined;
    });
    for (const s of SLIPSTREAM_SCENARIOS) {
      test(`${s.id}: nothing opens, nothing gets in`, async () => {
        const r = await run(NATS[0], s);
        record(NATS[0], s, r);
        assert.match(r.served, /served/, 'the victim\'s traffic reached the attacker\'s server');
        assert.deepEqual(r.pinholes, []);
        assert.deepEqual(r.reached, []);
      });
    }
    for (const s of CONTROL_SCENARIOS) {
      test(`${s.id}: the pinhole opens and the registrar gets in (the checks can see one)`, async () => {
        const r = await run(NATS[0], s);
        record(NATS[0], s, r);
        assert.ok(r.pinholes.length > 0, 'a pinhole');
        assert.ok(r.reached.some((x) => x.startsWith('h1')), `reached ${r.reached.join(', ')}`);
      });
    }
  });

  describe(NATS[1], () => {
    before(() => {
      lab.useKernelNat('gw1', 'masquerade');
      const file = lab.writeFile('slip-helpers.nft', kernelHelpers());
      lab.exec('gw1', ['nft', '-f', file]);
    });
    after(() => {
      lab.exec('gw1', ['nft', 'delete', 'table', 'ip', 'masq_lab_slip_helpers'], { allowFail: true });
    });
    for (const s of ALL) {
      test(`${s.id}: what the kernel does (recorded)`, async () => {
        lab.exec('gw1', ['conntrack', '-F'], { allowFail: true });
        lab.exec('gw1', ['conntrack', '-F', 'expect'], { allowFail: true });
        const r = await run(NATS[1], s);
        record(NATS[1], s, r);
        assert.match(r.served, /served/, 'the victim\'s traffic reached the attacker\'s server');
      });
    }
  });
});
