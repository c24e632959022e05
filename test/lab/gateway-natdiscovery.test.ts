/**
 * An independent classifier of masq's NAT behaviour: coturn as an RFC 5780
 * server on two addresses in the lab's server namespace, and coturn's
 * `turnutils_natdiscovery -m -f -H` on an inside host. For each of masq's
 * mapping x filtering settings (3 x 3) the reported classification must match
 * the configuration; hairpinning is reported on, and off when configured off.
 * The kernel's masquerade (and fully-random) run in the same lab as the
 * reference; the side-by-side table is printed at the end (docs/gateway.md).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { prerequisites } from './prereq.js';
import { LAB, LabTopology, sleep, type KernelNatMode } from './topology.js';
import { ComparisonTable, tunMissing } from './fixtures/gateway-probes.js';

const pre = prerequisites({ root: true, tools: ['ip', 'nft', 'conntrack', 'turnserver', 'turnutils_natdiscovery'] });
const tun = tunMissing();
const skip = pre.skip || (tun !== undefined && process.env.CI !== 'true' ? tun : false);

const BEHAVIOURS = ['endpoint-independent', 'address-dependent', 'address-and-port-dependent'] as const;
type Behaviour = (typeof BEHAVIOURS)[number];
const SHORT: Record<Behaviour, string> = { 'endpoint-independent': 'EI', 'address-dependent': 'AD', 'address-and-port-dependent': 'APD' };

interface Classification {
  mapping: Behaviour | null;
  filtering: Behaviour | null;
  hairpin: boolean;
}

export function parseNatDiscovery(out: string): Classification {
  const name = (s: string | undefined): Behaviour | null =>
    s === undefined ? null : s === 'Endpoint Independent' ? 'endpoint-independent' : s === 'Address Dependent' ? 'address-dependent' : 'address-and-port-dependent';
  return {
    mapping: name(/NAT with (Endpoint Independent|Address Dependent|Address and Port Dependent) Mapping!/.exec(out)?.[1]),
    filtering: name(/NAT with (Endpoint Independent|Address Dependent|Address and Port Dependent) Filtering!/.exec(out)?.[1]),
    hairpin: /Received a request \(maybe a successful hairpinning\)/.test(out),
  };
}

const table = new ComparisonTable(['mapping', 'filtering', 'hairpin']);
const cell = (c: Classification) => ({ m: c.mapping ? SHORT[c.mapping] : '?', f: c.filtering ? SHORT[c.filtering] : '?', h: c.hairpin ? 'yes' : 'no' });

describe('RFC 5780 classification of masq by coturn, next to the kernel', { skip }, () => {
  let lab: LabTopology;

  const discover = (): Classification => {
    const r = lab.exec('h1', ['turnutils_natdiscovery', '-m', '-f', '-H', LAB.servers.a], { timeoutMs: 120_000 });
    return parseNatDiscovery(r.stdout);
  };

  before(async () => {
    pre.assert();
    if (tun) assert.fail(`TUN gateway prerequisite: ${tun}`);
    lab = LabTopology.create('gwnd');
    const turn = lab.spawn(
      'srv',
      ['turnserver', '-n', '--stun-only', '--no-cli', '--no-tls', '--no-dtls', '--no-tcp', '-L', LAB.servers.a, '-L', LAB.servers.b, '--listening-port', '3478', '--alt-listening-port', '3479', '--log-file', 'stdout'],
      'turnserver',
    );
    await turn.waitFor(/UDP listener opened on : 198\.51\.100\.11:3479|Total (UDP|General) servers/);
    await sleep(500);
  });

  after(async () => {
    await lab?.destroy();
    if (table.size > 0) process.stdout.write(`\n${table.markdown('NAT (turnutils_natdiscovery -m -f -H)')}\n\n`);
  });

  for (const mapping of BEHAVIOURS) {
    for (const filtering of BEHAVIOURS) {
      test(`masq mapping ${mapping}, filtering ${filtering}`, async () => {
        lab.useMasqAddressing('gw1');
        const masq = await lab.startMasq('gw1', lab.masqConfig('gw1', `mapping: ${mapping}\nfiltering: ${filtering}\n`));
        try {
          const c = discover();
          const v = cell(c);
          table.set(`masq ${SHORT[mapping]}M / ${SHORT[filtering]}F`, 'mapping', v.m);
          table.set(`masq ${SHORT[mapping]}M / ${SHORT[filtering]}F`, 'filtering', v.f);
          table.set(`masq ${SHORT[mapping]}M / ${SHORT[filtering]}F`, 'hairpin', v.h);
          assert.deepEqual([c.mapping, c.filtering], [mapping, filtering]);
          // natdiscovery's hairpin probe goes from its socket to its own mapped address: with
          // endpoint-independent filtering it must arrive (masq hairpins by default).
          if (filtering === 'endpoint-independent') assert.equal(c.hairpin, true, 'hairpinning on by default');
        } finally {
          await masq.stop();
        }
        assert.equal(masq.exitCode, 0);
      });
    }
  }

  test('masq with hairpin: false does not hairpin', async () => {
    lab.useMasqAddressing('gw1');
    const masq = await lab.startMasq('gw1', lab.masqConfig('gw1', 'mapping: endpoint-independent\nfiltering: endpoint-independent\nhairpin: false\n'));
    try {
      const c = discover();
      const v = cell(c);
      for (const [col, val] of [['mapping', v.m], ['filtering', v.f], ['hairpin', v.h]] as const) table.set('masq EIM / EIF, hairpin: false', col, val);
      assert.equal(c.hairpin, false);
      assert.deepEqual([c.mapping, c.filtering], ['endpoint-independent', 'endpoint-independent']);
    } finally {
      await masq.stop();
    }
  });

  for (const mode of ['masquerade', 'masquerade fully-random'] as KernelNatMode[]) {
    test(`kernel reference: nftables ${mode}`, () => {
      lab.useKernelNat('gw1', mode);
      const c = discover();
      const v = cell(c);
      for (const [col, val] of [['mapping', v.m], ['filtering', v.f], ['hairpin', v.h]] as const) table.set(`kernel ${mode}`, col, val);
      // ../shared/reference/kernel-lab.md
      assert.equal(c.mapping, mode === 'masquerade' ? 'endpoint-independent' : 'address-and-port-dependent');
      assert.equal(c.filtering, 'address-and-port-dependent');
      assert.equal(c.hairpin, false);
    });
  }
});
