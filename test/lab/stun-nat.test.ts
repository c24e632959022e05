/**
 * Behaviour discovery through the Linux kernel's own NAT, with an independent
 * classifier to agree with: a client namespace (10.0.1.2) behind a gateway
 * namespace doing nftables masquerade (WAN 203.0.113.1) in front of a server
 * namespace (198.51.100.10 and .11).
 *
 * For each NAT mode, `masq stun probe` and coturn's `turnutils_natdiscovery`
 * must classify the NAT the same way, against `masq stun serve` and against
 * coturn's turnserver. Reference (../shared/reference/kernel-lab.md):
 * masquerade = endpoint-independent mapping, address-and-port-dependent
 * filtering, no hairpinning; fully-random = address-and-port-dependent mapping.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Daemon, DEBIAN_PYTHON, deleteNamespaces, masqArgs, missingPrereqs, run, uniqueNs } from '../stun/fixtures/lab-env.js';

const skip = missingPrereqs(['root', 'netns', 'nft', 'turnserver', 'turnutils_natdiscovery', 'aioice']);
const CLI = uniqueNs('scli');
const GW = uniqueNs('sgw');
const SRV = uniqueNs('ssrv');
const A = '198.51.100.10';
const B = '198.51.100.11';
const PUBLIC = '203.0.113.1';
const FAST = ['--rto', '200', '--rc', '3', '--rm', '4'];

function natdiscoveryVerdicts(out: string): { mapping: string | null; filtering: string | null } {
  const name = (s: string | undefined) =>
    s === undefined ? null : s === 'Endpoint Independent' ? 'endpoint-independent' : s === 'Address Dependent' ? 'address-dependent' : 'address-and-port-dependent';
  return {
    mapping: name(/NAT with (Endpoint Independent|Address Dependent|Address and Port Dependent) Mapping!/.exec(out)?.[1]),
    filtering: name(/NAT with (Endpoint Independent|Address Dependent|Address and Port Dependent) Filtering!/.exec(out)?.[1]),
  };
}

function setNatMode(mode: 'masquerade' | 'masquerade fully-random'): void {
  run('nft', ['flush', 'ruleset'], { ns: GW });
  run('nft', ['add', 'table', 'ip', 'nat'], { ns: GW });
  run('nft', ['add', 'chain', 'ip', 'nat', 'post', '{ type nat hook postrouting priority 100 ; }'], { ns: GW });
  run('nft', ['add', 'rule', 'ip', 'nat', 'post', 'oifname', 'g1', ...mode.split(' ')], { ns: GW });
  // Old mappings would make the next mode look like the previous one.
  run('conntrack', ['-F'], { ns: GW, allowFail: true });
}

/** The probe's JSON (stdout); --quiet keeps its progress lines (stderr) out of what run() returns. */
function probe(server: string, extra: string[] = []) {
  const [cmd, args] = masqArgs('probe', server, '--json', '--quiet', ...FAST, ...extra);
  return JSON.parse(run(cmd, args, { ns: CLI, timeoutMs: 120_000 }));
}

describe('STUN behaviour discovery through the kernel NAT', { skip }, () => {
  before(() => {
    deleteNamespaces([CLI, GW, SRV]);
    for (const ns of [CLI, GW, SRV]) {
      run('ip', ['netns', 'add', ns]);
      run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    run('ip', ['link', 'add', 'name', 'c0', 'netns', CLI, 'type', 'veth', 'peer', 'name', 'g0', 'netns', GW]);
    run('ip', ['link', 'add', 'name', 'g1', 'netns', GW, 'type', 'veth', 'peer', 'name', 's0', 'netns', SRV]);
    run('ip', ['-n', CLI, 'addr', 'add', '10.0.1.2/24', 'dev', 'c0']);
    run('ip', ['-n', GW, 'addr', 'add', '10.0.1.1/24', 'dev', 'g0']);
    run('ip', ['-n', GW, 'addr', 'add', `${PUBLIC}/24`, 'dev', 'g1']);
    run('ip', ['-n', SRV, 'addr', 'add', '203.0.113.2/24', 'dev', 's0']);
    run('ip', ['-n', SRV, 'addr', 'add', `${A}/24`, 'dev', 's0']);
    run('ip', ['-n', SRV, 'addr', 'add', `${B}/24`, 'dev', 's0']);
    for (const [ns, dev] of [[CLI, 'c0'], [GW, 'g0'], [GW, 'g1'], [SRV, 's0']]) run('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    run('ip', ['-n', CLI, 'route', 'add', 'default', 'via', '10.0.1.1']);
    run('ip', ['-n', GW, 'route', 'add', '198.51.100.0/24', 'via', '203.0.113.2']);
    run('sysctl', ['-qw', 'net.ipv4.ip_forward=1'], { ns: GW });
  });
  after(() => deleteNamespaces([CLI, GW, SRV]));

  for (const serverKind of ['masq', 'coturn'] as const) {
    describe(`against ${serverKind}`, () => {
      let server: Daemon;
      before(async () => {
        if (serverKind === 'masq') {
          const [cmd, args] = masqArgs('serve', '--listen', `${A}:3478`, '--alternate', `${B}:3479`, '--json-log', '--stats-interval', '0');
          server = new Daemon(cmd, args, SRV);
          await server.waitFor(/"event":"listening"/);
        } else {
          server = new Daemon(
            'turnserver',
            ['-n', '--stun-only', '--no-cli', '--no-tls', '--no-dtls', '--no-tcp', '-L', A, '-L', B, '--listening-port', '3478', '--alt-listening-port', '3479', '--log-file', 'stdout'],
            SRV,
          );
          await server.waitFor(/UDP listener opened on : 198\.51\.100\.11:3479|Total (UDP|General) servers/);
          await new Promise((r) => setTimeout(r, 500));
        }
      });
      after(async () => {
        await server.stop();
      });

      test('masquerade: both classifiers say endpoint-independent mapping, address-and-port-dependent filtering', () => {
        setNatMode('masquerade');
        const r = probe(`${A}:3478`);
        assert.equal(r.natDetected, true);
        assert.equal(r.mapped.address, PUBLIC);
        assert.equal(r.mapping.value, 'endpoint-independent');
        assert.equal(r.filtering.value, 'address-and-port-dependent');
        assert.deepEqual(r.hairpinning, { value: false });
        assert.deepEqual(r.portPreservation, { value: true });
        const nd = natdiscoveryVerdicts(run('turnutils_natdiscovery', ['-m', '-f', '-p', '3478', A], { ns: CLI, timeoutMs: 120_000 }));
        assert.deepEqual(nd, { mapping: r.mapping.value, filtering: r.filtering.value });
      });

      test('masquerade fully-random: both say address-and-port-dependent mapping', () => {
        setNatMode('masquerade fully-random');
        const r = probe(`${A}:3478`);
        assert.equal(r.natDetected, true);
        assert.equal(r.mapping.value, 'address-and-port-dependent');
        assert.equal(r.filtering.value, 'address-and-port-dependent');
        const nd = natdiscoveryVerdicts(run('turnutils_natdiscovery', ['-m', '-f', '-p', '3478', A], { ns: CLI, timeoutMs: 120_000 }));
        assert.deepEqual(nd, { mapping: r.mapping.value, filtering: r.filtering.value });
      });
    });
  }

  describe('with masq stun serve', () => {
    let server: Daemon;
    before(async () => {
      const [cmd, args] = masqArgs('serve', '--listen', `${A}:3478`, '--alternate', `${B}:3479`, '--json-log', '--stats-interval', '0');
      server = new Daemon(cmd, args, SRV);
      await server.waitFor(/"event":"listening"/);
      setNatMode('masquerade');
    });
    after(async () => {
      await server.stop();
    });

    test('aioice behind the NAT learns the NAT public address as its server-reflexive candidate', () => {
      const script = [
        'import asyncio, aioice',
        'async def main():',
        `    c = aioice.Connection(ice_controlling=True, stun_server=("${A}", 3478))`,
        '    await c.gather_candidates()',
        '    for cand in c.local_candidates: print(cand.to_sdp())',
        '    await c.close()',
        'asyncio.run(main())',
      ].join('\n');
      const out = run(DEBIAN_PYTHON, ['-c', script], { ns: CLI, timeoutMs: 30_000 });
      const srflx = / (\S+) (\d+) typ srflx raddr (\S+) rport (\d+)/.exec(out);
      assert.ok(srflx, out);
      assert.equal(srflx[1], PUBLIC);
      assert.equal(srflx[3], '10.0.1.2');
      assert.equal(srflx[2], srflx[4], 'masquerade preserves the port');
    });

    test('mapping lifetime: the search brackets the gateway conntrack UDP timeout', () => {
      // Per-namespace conntrack timeout for an unreplied-then-replied UDP flow: 3 s.
      run('sysctl', ['-qw', 'net.netfilter.nf_conntrack_udp_timeout=3'], { ns: GW });
      const r = probe(`${A}:3478`, ['--lifetime', '--lifetime-max', '8', '--lifetime-resolution', '1', '--no-hairpin']);
      const life = r.mappingLifetime.value;
      assert.ok(life, JSON.stringify(r.mappingLifetime));
      assert.ok(life.goneAfterMs !== null, JSON.stringify(life));
      assert.ok(life.aliveAfterMs <= 4_000 && life.goneAfterMs >= 2_000, JSON.stringify(life));
      assert.ok(life.goneAfterMs - life.aliveAfterMs <= 1_000);
    });
  });
});
