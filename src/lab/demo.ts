/**
 * `masq demo`: the masq gateway on a simulated network, on virtual time, with
 * no root. A home LAN and an office LAN, each behind a NAT box running the
 * masq engine (the one `masq gateway` runs on TUN devices), and an internet
 * with a STUN server, a SIP proxy and a web client. Each step exercises what a
 * user of the gateway expects to work, and reports what it measured.
 */
import { Simulator, type SimHost, type SimNatBox } from '../dataplane/sim/index.js';
import { flowToJson } from '../control/status-model.js';
import { formatFlow, sortFlows } from '../control/conntrack-format.js';
import { probeNatBehaviour, type NatBehaviourResult } from '../stun/client/probe.js';
import { StunUdpServer } from '../stun/server/udp-server.js';
import { SimPhone, SimProxy } from './sip-sim.js';
import { runPunch } from './punch/scenario.js';

export interface DemoStep {
  title: string;
  ok: boolean;
  lines: string[];
  data?: unknown;
}

export interface DemoReport {
  network: string[];
  steps: DemoStep[];
  virtualSeconds: number;
}

interface Net {
  sim: Simulator;
  home: SimNatBox;
  office: SimNatBox;
  laptop: SimHost;
  phone: SimHost;
  officePhone: SimHost;
  webServer: SimHost;
  workstation: SimHost;
  stun: SimHost;
  proxy: SimHost;
  client: SimHost;
}

function build(seed: number): Net {
  const sim = new Simulator({ seed });
  const internet = sim.segment('internet', { delayMs: 20 });
  const homeLan = sim.segment('home-lan', { delayMs: 1 });
  const officeLan = sim.segment('office-lan', { delayMs: 1 });
  const home = sim.nat('home-gw', {
    inside: [homeLan, '192.168.1.1/24'],
    outside: [internet, '203.0.113.1/24'],
    config: { mapping: 'eim', filtering: 'apdf', ports: { allocation: 'preserve' } },
    algs: ['sip'],
  });
  const office = sim.nat('office-gw', {
    inside: [officeLan, '192.168.2.1/24'],
    outside: [internet, '203.0.113.2/24'],
    config: { mapping: 'apdm', filtering: 'apdf', ports: { allocation: 'random' }, forwards: [{ protocol: 'tcp', port: 8080, to: '192.168.2.80', toPort: 80 }] },
    algs: ['sip'],
  });
  // One internet host serves STUN (two addresses), rendezvous and the relay.
  const stun = sim.host('server', internet, '198.51.100.10/24');
  stun.attach(internet, '198.51.100.11/24');
  return {
    sim,
    home,
    office,
    laptop: sim.host('laptop', homeLan, '192.168.1.10/24', '192.168.1.1'),
    phone: sim.host('home-phone', homeLan, '192.168.1.20/24', '192.168.1.1'),
    officePhone: sim.host('office-phone', officeLan, '192.168.2.20/24', '192.168.2.1'),
    webServer: sim.host('office-web', officeLan, '192.168.2.80/24', '192.168.2.1'),
    workstation: sim.host('office-pc', officeLan, '192.168.2.30/24', '192.168.2.1'),
    stun,
    proxy: sim.host('sip-proxy', internet, '198.51.100.20/24'),
    client: sim.host('web-client', internet, '198.51.100.40/24'),
  };
}

const short = (v: string | null) => v ?? '?';

async function natBehaviour(n: Net): Promise<DemoStep> {
  const server = await n.sim.complete(
    StunUdpServer.start(n.stun.env, { addresses: { primary: { address: '198.51.100.10', port: 3478 }, alternate: { address: '198.51.100.11', port: 3479 } } }),
    1000,
  );
  const probe = async (host: SimHost): Promise<NatBehaviourResult> =>
    n.sim.complete(probeNatBehaviour(host.env, { address: '198.51.100.10', port: 3478 }, { localAddress: host.address }), 3_600_000);
  const home = await probe(n.laptop);
  const office = await probe(n.officePhone);
  server.close();
  const row = (name: string, r: NatBehaviourResult) =>
    `${name}: public ${r.mapped?.address}:${r.mapped?.port}, mapping ${short(r.mapping.value)}, filtering ${short(r.filtering.value)}, hairpin ${r.hairpinning.value ? 'yes' : 'no'}, port kept ${r.portPreservation.value ? 'yes' : 'no'}`;
  const ok =
    home.mapping.value === 'endpoint-independent' &&
    home.filtering.value === 'address-and-port-dependent' &&
    office.mapping.value === 'address-and-port-dependent' &&
    home.hairpinning.value === true;
  return {
    title: 'NAT behaviour, measured from inside with the RFC 5780 STUN probe (masq stun probe)',
    ok,
    lines: [row('home gateway  ', home), row('office gateway', office)],
    data: { home, office },
  };
}

async function ping(n: Net): Promise<DemoStep> {
  const rtt = await n.sim.complete(n.laptop.ping('198.51.100.10'), 5000);
  return { title: 'ping through the home gateway', ok: rtt !== null, lines: [`laptop -> 198.51.100.10: ${rtt === null ? 'no reply' : `${rtt} ms`} (two 20 ms internet hops, two 1 ms LAN hops)`] };
}

async function forward(n: Net): Promise<DemoStep> {
  let served = '';
  n.webServer.tcp.listen(80, (c) => c.onData((d) => {
    served = new TextDecoder().decode(d).split('\r\n')[0];
    c.send('HTTP/1.0 200 OK\r\n\r\nhello from the office');
    c.close();
  }));
  const c = n.client.tcp.connect({ address: '203.0.113.2', port: 8080 });
  let reply = '';
  c.onOpen(() => c.send('GET / HTTP/1.0\r\n\r\n'));
  c.onData((d) => (reply += new TextDecoder().decode(d)));
  c.onEnd(() => c.close());
  await n.sim.run(2000);
  return {
    title: 'port forward: 203.0.113.2:8080 -> office web server 192.168.2.80:80 (TCP)',
    ok: reply.endsWith('hello from the office'),
    lines: [`server got "${served}", client got "${reply.split('\r\n\r\n')[1] ?? ''}"`],
  };
}

async function sipCall(n: Net): Promise<DemoStep> {
  new SimProxy(n.proxy, 'example.test');
  const proxy = { address: '198.51.100.20', port: 5060 };
  const alice = new SimPhone(n.phone, 'alice', proxy, 'example.test');
  const bob = new SimPhone(n.officePhone, 'bob', proxy, 'example.test');
  bob.answerPackets = 100;
  await n.sim.complete(alice.register(), 5000);
  await n.sim.complete(bob.register(), 5000);
  const r = await n.sim.complete(alice.call('bob', 100), 10_000);
  await n.sim.run(3000);
  const pinholes = n.home.engine.expectations.list().filter((e) => e.helper === 'sip').length;
  await n.sim.complete(alice.hangup()!, 5000);
  return {
    title: 'SIP call home -> office through both NATs (SIP ALG on both gateways)',
    // Bob starts media as he answers: his first packet can beat the answer to the home
    // gateway, whose pinhole admits only the signalling peer until then.
    ok: r.status === 200 && alice.rtpReceived >= 99 && bob.rtpReceived >= 99,
    lines: [
      `INVITE answered ${r.status}; alice sends RTP to ${r.peerMedia?.address}:${r.peerMedia?.port} (bob's public media address, from his rewritten SDP)`,
      `RTP received: alice ${alice.rtpReceived}/100, bob ${bob.rtpReceived}/100; pinholes open on the home gateway during the call: ${pinholes}, after BYE: ${n.home.engine.expectations.list().filter((e) => e.group.startsWith('sip:')).length}`,
    ],
  };
}

async function punch(n: Net): Promise<DemoStep> {
  const r = await runPunch({ sim: n.sim, a: n.laptop, b: n.workstation }, { seed: 1 });
  const seconds = (ms: number | null) => (ms === null ? '?' : `${(ms / 1000).toFixed(2)} s`);
  return {
    title: 'peer to peer: home laptop <-> office PC via the rendezvous server (masq punch)',
    ok: r.dataDelivered && (r.outcome === 'birthday' || r.outcome === 'direct' || r.outcome === 'predicted'),
    lines: [
      `path: ${r.kinds.join(' / ')} (port-restricted home NAT against a random-port symmetric office NAT: birthday probing), ${r.birthdayProbes} probes`,
      `first path after ${seconds(r.timeToPathMs)}, direct after ${seconds(r.timeToDirectMs)}; data delivered both ways: ${r.dataDelivered ? 'yes' : 'no'}`,
    ],
    data: r,
  };
}

function conntrack(n: Net): DemoStep {
  const now = n.sim.now;
  const flows = sortFlows(n.home.engine.listFlows(now).map((f) => flowToJson(f, now, (id) => n.home.engine.helperName(id))));
  const counters = n.home.engine.counters.snapshot();
  return {
    title: `home gateway flow table (as masq conntrack shows a running gateway): ${flows.length} flows`,
    ok: flows.length > 0,
    lines: [
      ...flows.slice(0, 12).map(formatFlow),
      ...(flows.length > 12 ? [`... and ${flows.length - 12} more`] : []),
      `counters: out ${counters.packetsOut}, in ${counters.packetsIn}, hairpinned ${counters.hairpinned}, dropped ${JSON.stringify(counters.drops)}`,
    ],
  };
}

export async function runDemo(options: { seed?: number } = {}): Promise<DemoReport> {
  const n = build(options.seed ?? 1);
  const steps: DemoStep[] = [];
  steps.push(await natBehaviour(n));
  steps.push(await ping(n));
  steps.push(await forward(n));
  steps.push(await sipCall(n));
  steps.push(await punch(n));
  steps.push(conntrack(n));
  return {
    network: [
      'home LAN 192.168.1.0/24 -- [masq NAT 203.0.113.1: endpoint-independent mapping, port-restricted filtering, SIP ALG] --+',
      '                                                                                                                    internet 198.51.100.0/24 (STUN, rendezvous, relay .10/.11; SIP proxy .20; web client .40)',
      'office LAN 192.168.2.0/24 -- [masq NAT 203.0.113.2: symmetric, random ports, forward :8080 -> web server, SIP ALG] --+',
    ],
    steps,
    virtualSeconds: n.sim.now / 1000,
  };
}

export function formatDemo(r: DemoReport): string {
  const out = [
    'masq demo: the masq gateway on a simulated network (virtual time, no root needed).',
    'The real gateway, `masq gateway`, runs this same NAT engine on TUN devices and needs root.',
    '',
    ...r.network,
    '',
  ];
  r.steps.forEach((s, i) => {
    out.push(`${i + 1}. ${s.title}: ${s.ok ? 'ok' : 'FAILED'}`);
    for (const l of s.lines) out.push(`   ${l}`);
    out.push('');
  });
  out.push(`${r.steps.filter((s) => s.ok).length} of ${r.steps.length} steps ok, ${r.virtualSeconds.toFixed(1)} s of virtual time.`);
  return out.join('\n');
}
