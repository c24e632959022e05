/**
 * Hole punching with port mapping through two `masq gateway`s configured as
 * symmetric NATs (mapping address-and-port-dependent, random ports,
 * filtering address-and-port-dependent): no direct path can be punched
 * between them, only relayed. With port mapping on for their LANs, `masq
 * punch` on h1 and h3 maps its port through PCP, offers the mapping, and the
 * two connect directly; the gateways list the mappings while the peers run
 * and not after; the same with UPnP IGD and NAT-PMP. The control: the same
 * gateways without port mapping, the same peers, and the path is relayed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { prerequisites } from './prereq.js';
import { LAB, LabTopology, type LabProcess, type Role } from './topology.js';
import { tunMissing } from './fixtures/gateway-probes.js';
import { PYTHON, statusJson } from './fixtures/state-lab.js';

const pre = prerequisites({ root: true, tools: ['ip', PYTHON] });
const tun = tunMissing();
const skip = pre.skip || (tun !== undefined && process.env.CI !== 'true' ? tun : false);

const SERVER = LAB.servers.a;
const SYMMETRIC = ['mapping: address-and-port-dependent', 'filtering: address-and-port-dependent', 'ports:', '  allocation: random', '  parity: false'].join('\n');

interface PunchJson {
  public: { address: string; port: number };
  portmap: { via: string; external: string; lifetime: number } | null;
  peers: Array<{ name: string | null; path: string; kind: string | null; direct: boolean; remote: string | null; history: Array<{ kind: string }> }>;
}

interface PortMappingJson {
  proto: string;
  public: { address: string; port: number };
  inside: { address: string; port: number };
  owner: string;
}

describe('hole punching between two symmetric masq gateways, with and without port mapping', { skip }, () => {
  let lab: LabTopology;
  let gateways: LabProcess[] = [];

  before(async () => {
    pre.assert();
    if (tun) assert.fail(`TUN gateway prerequisite: ${tun}`);
    lab = LabTopology.create('pmpunch');
    lab.spawn('srv', lab.masqArgv('rendezvous', 'serve', '--open', '--listen', `${SERVER}:7000`, '--relay', `${SERVER}:7100`), 'rendezvous');
    lab.spawn('srv', lab.masqArgv('relay', 'serve', '--open', '--listen', `${SERVER}:7100`), 'relay');
  });
  after(async () => {
    await lab?.destroy();
  });

  /** (Re)starts both gateways: symmetric NATs, with port mapping for their LAN or without. */
  async function startGateways(portmap: boolean): Promise<void> {
    await Promise.all(gateways.map((g) => g.stop('SIGTERM')));
    gateways = await Promise.all(
      (['gw1', 'gw2'] as const).map((gw) => {
        const lan = gw === 'gw1' ? LAB.lan1 : LAB.lan2;
        return lab.startMasq(gw, lab.masqConfig(gw, `${SYMMETRIC}\n${portmap ? `portmap:\n  listen: [${lan.gateway}]\n` : ''}`));
      }),
    );
  }

  const mappings = (gw: Role) => statusJson<{ portMappings: PortMappingJson[] }>(lab, gw, '/portmappings').portMappings;

  /** `masq punch` on h1 and h3 in one session; resolves with both JSON results, calling `whileLingering` before they leave. */
  async function punchPair(session: string, whileLingering: () => void = () => {}, via: [string, string] = ['auto', 'auto']): Promise<[PunchJson, PunchJson, string]> {
    const args = ['punch', '--server', `${SERVER}:7000`, '--session', session, '--json', '--peers', '1', '--timeout', '20', '--wait-direct', '6', '--linger', '6'];
    const p1 = lab.spawn('h1', lab.masqArgv(...args, '--name', 'h1', '--portmap', via[0]), 'punch h1');
    const p3 = lab.spawn('h3', lab.masqArgv(...args, '--name', 'h3', '--portmap', via[1]), 'punch h3');
    const json = /^\{"session".*\}$/m;
    try {
      const [m1, m3] = await Promise.all([p1.waitFor(json, 45_000), p3.waitFor(json, 45_000)]);
      whileLingering();
      await Promise.all([p1.exited(20_000), p3.exited(20_000)]);
      return [JSON.parse(m1[0]) as PunchJson, JSON.parse(m3[0]) as PunchJson, `h1:\n${p1.output.slice(-1500)}\nh3:\n${p3.output.slice(-1500)}`];
    } finally {
      await Promise.all([p1.stop('SIGTERM'), p3.stop('SIGTERM')]);
    }
  }

  /** One line per side for the test's output: path, kind, time, mapping. */
  const summary = (r: PunchJson, other: string) => {
    const p = r.peers.find((x) => x.name === other) as (PunchJson['peers'][number] & { timeMs: number | null }) | undefined;
    return `${other === 'h3' ? 'h1' : 'h3'}: ${p?.path ?? 'none'} (${p?.kind ?? '-'}) ${p?.remote ?? ''} in ${p?.timeMs ?? '-'} ms; mapping ${r.portmap ? `${r.portmap.external} via ${r.portmap.via}` : 'none'}`;
  };

  test('port mapping on: h1 and h3 map their ports with PCP and connect directly through the mappings', async (t) => {
    await startGateways(true);
    let held: [PortMappingJson[], PortMappingJson[]] = [[], []];
    const [r1, r3, detail] = await punchPair('with-portmap', () => {
      held = [mappings('gw1'), mappings('gw2')];
    });
    t.diagnostic(summary(r1, 'h3'));
    t.diagnostic(summary(r3, 'h1'));
    const [to3, to1] = [r1.peers.find((p) => p.name === 'h3'), r3.peers.find((p) => p.name === 'h1')];
    assert.ok(to3 && to1, detail);
    // Both ends direct, never relayed.
    for (const p of [to3, to1]) {
      assert.equal(p.direct, true, detail);
      assert.match(p.path, /^direct /, detail);
      assert.ok(p.history.every((h) => h.kind !== 'relay'), detail);
    }
    // Each side's mapping: PCP, on its gateway's public address.
    assert.equal(r1.portmap?.via, 'pcp', detail);
    assert.equal(r3.portmap?.via, 'pcp', detail);
    assert.match(r1.portmap!.external, new RegExp(`^${LAB.gw1.public.replace(/\./g, '\\.')}:\\d+$`));
    assert.match(r3.portmap!.external, new RegExp(`^${LAB.gw2.public.replace(/\./g, '\\.')}:\\d+$`));
    // At least one side reached the other on its mapped endpoint (whichever hello got in first
    // decides; the other side then answers to where it came from, the same mapping).
    assert.ok(to3.remote === r3.portmap!.external || to1.remote === r1.portmap!.external, detail);
    assert.ok([to3.kind, to1.kind].includes('mapped'), detail);
    // The gateways listed the mappings while the peers lived: h1's and h3's punch port, by PCP.
    for (const [list, host, r] of [[held[0], LAB.lan1.h1, r1], [held[1], LAB.lan2.h3, r3]] as const) {
      const m = list.find((x) => x.inside.address === host && x.owner === 'pcp');
      assert.ok(m, `${host}: ${JSON.stringify(list)}`);
      assert.equal(`${m.public.address}:${m.public.port}`, r.portmap!.external);
      assert.equal(m.proto, 'udp');
    }
    // And deleted them when the peers left.
    assert.deepEqual(mappings('gw1'), []);
    assert.deepEqual(mappings('gw2'), []);
  });

  test('the other two protocols: UPnP IGD on h1 (SSDP discovery), NAT-PMP on h3: direct as well', async (t) => {
    let held: [PortMappingJson[], PortMappingJson[]] = [[], []];
    const [r1, r3, detail] = await punchPair('upnp-natpmp', () => {
      held = [mappings('gw1'), mappings('gw2')];
    }, ['upnp', 'natpmp']);
    t.diagnostic(summary(r1, 'h3'));
    t.diagnostic(summary(r3, 'h1'));
    assert.equal(r1.portmap?.via, 'upnp', detail);
    assert.equal(r3.portmap?.via, 'natpmp', detail);
    for (const p of [r1.peers.find((x) => x.name === 'h3'), r3.peers.find((x) => x.name === 'h1')]) {
      assert.ok(p, detail);
      assert.equal(p.direct, true, detail);
      assert.ok(p.history.every((h) => h.kind !== 'relay'), detail);
    }
    assert.equal(held[0].find((x) => x.inside.address === LAB.lan1.h1)?.owner, 'upnp', JSON.stringify(held));
    assert.equal(held[1].find((x) => x.inside.address === LAB.lan2.h3)?.owner, 'natpmp', JSON.stringify(held));
    assert.deepEqual(mappings('gw1'), []);
    assert.deepEqual(mappings('gw2'), []);
  });

  test('the control, port mapping off: the same pair gets no direct path (relayed)', async (t) => {
    await startGateways(false);
    const [r1, r3, detail] = await punchPair('without-portmap');
    t.diagnostic(summary(r1, 'h3'));
    t.diagnostic(summary(r3, 'h1'));
    assert.equal(r1.portmap, null, detail);
    assert.equal(r3.portmap, null, detail);
    for (const p of [r1.peers.find((x) => x.name === 'h3'), r3.peers.find((x) => x.name === 'h1')]) {
      assert.ok(p, detail);
      assert.equal(p.direct, false, detail);
      assert.equal(p.path, 'relayed', detail);
    }
  });
});
