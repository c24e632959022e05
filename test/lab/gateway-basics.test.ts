/**
 * `masq gateway` as the router of a real LAN (test/lab/topology.ts), and the
 * same checks against the kernel's nftables masquerade in the same lab, so a
 * difference shows side by side (the table is printed at the end; a copy
 * lives in docs/gateway.md):
 *
 *   ping, ICMP errors (TTL exceeded, traceroute with UDP and ICMP probes),
 *   UDP and TCP (iperf3), a port forward to an inside TCP server, hairpinning
 *   to it, unsolicited inbound traffic, a port trigger opened by outbound
 *   traffic and closed after its idle time, UDP hole punching between two
 *   NATed LANs.
 *
 * Then masq alone: `masq conntrack`, malformed packets, and its life cycle:
 * stop removes exactly what start set up; a start that fails (status port in
 * use, a step failing half way, a leftover rule, a bad file) leaves nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { prerequisites } from './prereq.js';
import { LAB, LabTopology, type LabProcess } from './topology.js';
import { ComparisonTable, DEBIAN_PYTHON, probe, probePair, probeServer, routingState, statusJson, tunMissing } from './fixtures/gateway-probes.js';

const pre = prerequisites({ root: true, tools: ['ip', 'nft', 'conntrack', 'iperf3', 'traceroute', 'ping', DEBIAN_PYTHON] });
const tun = tunMissing();
const skip = pre.skip || (tun !== undefined && process.env.CI !== 'true' ? tun : false);

const A = LAB.servers.a;
const PUB1 = LAB.gw1.public;
const PUB2 = LAB.gw2.public;
const NATS = ['masq', 'kernel masquerade'] as const;
type Nat = (typeof NATS)[number];

const GW1_EXTRA = `
forwards:
  - { protocol: tcp, port: 8080, to: ${LAB.lan1.h1}, toPort: 8000 }
triggers:
  - protocol: tcp
    port: 6667
    open: { protocol: both, ports: 7000-7009 }
    idleTimeout: 3
`;

const table = new ComparisonTable([...NATS]);

function hops(traceroute: string): string[] {
  return traceroute
    .split('\n')
    .slice(1)
    .map((l) => /^\s*\d+\s+(\S+)/.exec(l)?.[1] ?? '?')
    .filter((h) => h !== '?');
}

describe('masq gateway in a lab, side by side with the kernel NAT', { skip }, () => {
  let lab: LabTopology;
  let beforeMasq = '';

  before(async () => {
    pre.assert();
    if (tun) assert.fail(`TUN gateway prerequisite: ${tun}`);
    lab = LabTopology.create('gwb');
    await probeServer(lab, 'srv', ['udp-echo', '--port', '7']);
    await probeServer(lab, 'srv', ['tcp-serve', '--port', '6667']);
    await probeServer(lab, 'h1', ['tcp-serve', '--port', '8000']);
    await probeServer(lab, 'h1', ['tcp-serve', '--port', '7000']);
    const iperf = lab.spawn('srv', ['iperf3', '-s', '-B', A, '-p', '5201', '--forceflush'], 'iperf3 -s');
    await iperf.waitFor(/Server listening/);
  });

  after(async () => {
    await lab?.destroy();
    if (table.size > 0) process.stdout.write(`\n${table.markdown('check (same lab, same run)')}\n\n`);
  });

  for (const nat of NATS) {
    describe(`through ${nat}`, () => {
      const masq: LabProcess[] = [];
      before(async () => {
        if (nat === 'masq') {
          lab.useMasqAddressing('gw1');
          lab.useMasqAddressing('gw2');
          beforeMasq = routingState(lab, 'gw1');
          masq.push(await lab.startMasq('gw1', lab.masqConfig('gw1', GW1_EXTRA)));
          masq.push(await lab.startMasq('gw2', lab.masqConfig('gw2')));
        } else {
          lab.useKernelNat('gw1', 'masquerade', [`iifname "wan0" tcp dport 8080 dnat to ${LAB.lan1.h1}:8000`]);
          lab.useKernelNat('gw2', 'masquerade');
        }
      });
      after(async () => {
        for (const p of masq) await p.stop();
      });
      const record = (row: string, value: string) => table.set(row, nat, value);

      test('ping', () => {
        const r = lab.exec('h1', ['ping', '-c', '3', '-i', '0.2', '-W', '2', A], { allowFail: true });
        record('ping', r.status === 0 ? 'yes' : 'no');
        assert.equal(r.status, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /3 received/);
      });

      test('ICMP time exceeded comes back through the NAT (ping -t 2)', () => {
        const r = lab.exec('h1', ['ping', '-c', '1', '-t', '2', '-W', '2', A], { allowFail: true });
        const ok = new RegExp(`From ${LAB.wan.router.replace(/\./g, '\\.')}.*Time to live exceeded`).test(r.stdout);
        record('ICMP time exceeded (ping -t 2)', ok ? 'yes' : 'no');
        assert.ok(ok, r.stdout + r.stderr);
      });

      for (const [name, flags] of [
        ['traceroute, UDP probes', []],
        ['traceroute, ICMP probes', ['-I']],
      ] as const) {
        test(name, () => {
          const r = lab.exec('h1', ['traceroute', '-n', '-q', '1', '-w', '2', '-m', '6', ...flags, A], { timeoutMs: 60_000 });
          const seen = hops(r.stdout);
          record(name, seen.join(' > '));
          // One hop for the gateway, as with a kernel router.
          assert.deepEqual(seen, [LAB.lan1.gateway, LAB.wan.router, A], r.stdout);
        });
      }

      test('UDP request and answer; the server sees the public address', () => {
        const r = probe(lab, 'h1', ['udp-ask', '--to', `${A}:7`, '--sport', '41000']);
        assert.ok(r.ok, JSON.stringify(r));
        const from = /from (\S+):(\d+)/.exec(String(r.reply));
        record('UDP: server sees', from ? `${from[1]}:${from[2]}` : 'nothing');
        assert.equal(from?.[1], PUB1);
      });

      test('iperf3 UDP', () => {
        const r = lab.exec('h1', ['iperf3', '-c', A, '-u', '-b', '50M', '-l', '1200', '-t', '2', '--json'], { timeoutMs: 30_000 });
        const sum = JSON.parse(r.stdout).end.sum;
        record('iperf3 UDP 50 Mbit/s, loss', `${Number(sum.lost_percent).toFixed(2)} %`);
        assert.ok(sum.packets > 0, r.stdout);
        assert.ok(sum.lost_percent < 20, `lost ${sum.lost_percent} %`);
      });

      test('iperf3 TCP', () => {
        const r = lab.exec('h1', ['iperf3', '-c', A, '-t', '2', '--json'], { timeoutMs: 30_000 });
        const end = JSON.parse(r.stdout).end;
        record('iperf3 TCP, 2 s (shared, noisy machine)', `${(end.sum_received.bits_per_second / 1e6).toFixed(0)} Mbit/s`);
        assert.ok(end.sum_received.bytes > 1_000_000, r.stdout);
      });

      test('port forward to an inside TCP server', async () => {
        const r = probe(lab, 'srv', ['tcp-ask', '--to', `${PUB1}:8080`]);
        record('port forward (tcp 8080 -> h1:8000)', r.ok ? 'yes' : 'no');
        assert.ok(r.ok, JSON.stringify(r));
        // Inbound is not source-translated: the inside server sees the real client.
        assert.match(String(r.line), new RegExp(`^hello ${A.replace(/\./g, '\\.')}:\\d+$`));
        if (nat === 'masq') await masq[0].waitFor(/"msg":"port forward used".*|"event":"forward"/, 5000);
      });

      test('hairpin: an inside host reaches the port forward by the public address', () => {
        const r = probe(lab, 'h2', ['tcp-ask', '--to', `${PUB1}:8080`, '--timeout', '2']);
        record('hairpin to the port forward', r.ok ? `yes (${r.line})` : 'no');
        // masq hairpins by default; the kernel's dnat rule here only matches the WAN.
        if (nat === 'masq') {
          assert.ok(r.ok, JSON.stringify(r));
          assert.match(String(r.line), new RegExp(`^hello ${PUB1.replace(/\./g, '\\.')}:\\d+$`));
        }
      });

      test('unsolicited inbound UDP gets nothing', () => {
        const r = probe(lab, 'srv', ['udp-ask', '--to', `${PUB1}:9999`, '--timeout', '1.5', '--tries', '1']);
        record('unsolicited inbound UDP answered', r.ok ? 'yes' : 'no');
        assert.equal(r.ok, false, JSON.stringify(r));
      });

      test('port trigger: opened by outbound traffic, closed after its idle time', { skip: nat !== 'masq' && 'the kernel has no port triggers' }, async () => {
        const before = probe(lab, 'srv', ['tcp-ask', '--to', `${PUB1}:7000`, '--timeout', '2']);
        assert.equal(before.ok, false, `port 7000 open before the trigger: ${JSON.stringify(before)}`);
        const irc = probe(lab, 'h1', ['tcp-ask', '--to', `${A}:6667`]);
        assert.ok(irc.ok, JSON.stringify(irc));
        await masq[0].waitFor(/"msg":"port trigger activated"/, 5000);
        const opened = probe(lab, 'srv', ['tcp-ask', '--to', `${PUB1}:7000`]);
        assert.ok(opened.ok, `port 7000 after the trigger: ${JSON.stringify(opened)}`);
        assert.match(String(opened.line), new RegExp(`^hello ${A.replace(/\./g, '\\.')}:`));
        // idleTimeout 3 s, the engine ticks every second: well within 15 s.
        await masq[0].waitFor(/"msg":"port trigger expired"/, 15_000);
        const closed = probe(lab, 'srv', ['tcp-ask', '--to', `${PUB1}:7000`, '--timeout', '2']);
        record('port trigger (opens, then closes when idle)', closed.ok ? 'opens, never closes' : 'yes');
        assert.equal(closed.ok, false, `port 7000 still open after the trigger expired: ${JSON.stringify(closed)}`);
      });

      test('UDP hole punching between the two NATed LANs', async () => {
        const [a, b] = await probePair(
          lab,
          ['h1', ['udp-punch', '--sport', '40000', '--peer', `${PUB2}:40000`, '--timeout', '8']],
          ['h3', ['udp-punch', '--sport', '40000', '--peer', `${PUB1}:40000`, '--timeout', '8']],
        );
        record('UDP hole punching LAN 1 <-> LAN 2, same port both sides', a.ok && b.ok ? 'yes' : 'no');
        // The kernel: whichever peer's packet reaches the other gateway first gets a local conntrack
        // entry there, and that gateway's own outbound mapping then moves off the port (see docs/gateway.md).
        if (nat !== 'masq') return;
        assert.ok(a.ok && b.ok, `${JSON.stringify(a)} ${JSON.stringify(b)}`);
        assert.equal(a.peer, `${PUB2}:40000`);
        assert.equal(b.peer, `${PUB1}:40000`);
      });

      if (nat === 'masq') {
        test('masq conntrack lists the live flows, as text and JSON', () => {
          probe(lab, 'h1', ['udp-ask', '--to', `${A}:7`, '--sport', '41001']);
          const text = lab.exec('gw1', lab.masqArgv('conntrack'));
          const line = text.stdout.split('\n').find((l) => l.includes(`sport=41001`));
          assert.ok(line, text.stdout);
          assert.match(line, new RegExp(`^udp\\s+17 \\d+ src=${LAB.lan1.h1} dst=${A} sport=41001 dport=7 packets=1 bytes=32 src=${A} dst=${PUB1} sport=7 dport=41001 packets=1 bytes=\\d+ \\[ASSURED\\] mark=0 use=1$`));
          assert.match(text.stderr, /flow entries have been shown/);
          const json = JSON.parse(lab.exec('gw1', lab.masqArgv('conntrack', '--json')).stdout);
          const flow = json.flows.find((f: any) => f.inside.port === 41001);
          assert.deepEqual([flow.proto, flow.public.address, flow.remote.port, flow.packets], ['udp', PUB1, 7, { out: 1, in: 1 }]);
        });

        test('malformed packets are counted and the gateway keeps forwarding', () => {
          const beforeCounters = statusJson(lab, 'gw1', '/counters');
          const r = probe(lab, 'h1', ['raw-junk', '--to', A, '--src', LAB.lan1.h1, '--count', '5']);
          assert.ok(r.ok);
          const ping = lab.exec('h1', ['ping', '-c', '1', '-W', '2', A], { allowFail: true });
          assert.equal(ping.status, 0, 'still forwarding after malformed packets');
          const afterCounters = statusJson(lab, 'gw1', '/counters');
          assert.equal((afterCounters.engine.drops.malformed ?? 0) - (beforeCounters.engine.drops.malformed ?? 0), 5);
          assert.equal(afterCounters.loop.engineErrors, 0);
          assert.ok(masq[0].running);
        });

        test('the status endpoint serves status, flows and expectations', () => {
          const status = statusJson(lab, 'gw1', '/status');
          assert.equal(status.mapping, 'endpoint-independent');
          assert.deepEqual(status.public, [PUB1]);
          assert.ok(status.routing.some((c: string) => c.startsWith('ip rule add pref 4787 iif lan0 from 10.0.1.0/24')));
          assert.ok(statusJson(lab, 'gw1', '/flows?limit=1').flows.length <= 1);
          assert.deepEqual(statusJson(lab, 'gw1', '/expectations'), { total: 0, expectations: [] });
        });

        test('SIGINT: the gateway removes exactly what it set up and exits 0', async () => {
          await masq[0].stop('SIGINT');
          await masq[1].stop('SIGTERM');
          assert.equal(masq[0].exitCode, 0, masq[0].output.slice(-2000));
          assert.equal(masq[1].exitCode, 0, masq[1].output.slice(-2000));
          assert.match(masq[0].output, /"msg":"gateway stopped"/);
          assert.match(masq[0].output, /"teardownFailures":0/);
          assert.equal(routingState(lab, 'gw1'), beforeMasq);
        });
      }
    });
  }

  describe('a start that fails leaves the host as it was', () => {
    let clean = '';
    before(() => {
      lab.useMasqAddressing('gw1');
      clean = routingState(lab, 'gw1');
    });

    const startFails = (configYaml: string, exitCode: number, message: RegExp) => {
      const file = lab.writeFile(`fail-${Date.now()}.yaml`, configYaml);
      const r = lab.exec('gw1', lab.masqArgv('gateway', '--config', file), { allowFail: true, timeoutMs: 60_000 });
      assert.equal(r.status, exitCode, r.stdout + r.stderr);
      assert.match(r.stderr, message);
      return r;
    };

    test('an invalid file: exit 2, the line and field named, nothing touched', () => {
      startFails(lab.masqConfig('gw1', 'mapping: full-cone\n'), 2, /:\d+:\d+: mapping: expected endpoint-independent/);
      assert.equal(routingState(lab, 'gw1'), clean);
    });

    test('the status port is taken: exit 1, TUN devices closed, no routing', async () => {
      const holder = lab.spawn('gw1', [DEBIAN_PYTHON, '-c', "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',8787))\ns.listen()\nprint('ready',flush=True)\ntime.sleep(120)"], 'port holder');
      await holder.waitFor(/ready/);
      try {
        startFails(lab.masqConfig('gw1'), 1, /8787.*EADDRINUSE/);
        assert.equal(routingState(lab, 'gw1'), clean);
      } finally {
        await holder.stop('SIGKILL');
      }
    });

    test('a routing step fails half way: the steps before it are undone', () => {
      // An `ip` that refuses the proxy ARP step (after the routes and rules are in place) and runs
      // everything else: a real failure at a real step, with no hook in masq.
      const fake = lab.writeFile('ip', '#!/bin/sh\ncase "$*" in *"neigh add proxy"*) echo "RTNETLINK answers: injected by the test" >&2; exit 2;; esac\nexec /usr/sbin/ip "$@"\n');
      lab.exec('gw1', ['chmod', '+x', fake]);
      const file = lab.writeFile('half.yaml', lab.masqConfig('gw1'));
      const r = lab.exec('gw1', ['env', `PATH=${lab.dir}:${process.env.PATH}`, ...lab.masqArgv('gateway', '--config', file)], {
        allowFail: true,
        timeoutMs: 60_000,
      });
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /routing setup failed at "answer ARP for 203\.0\.113\.1 on wan0": .*injected by the test/);
      assert.match(r.stderr, /the \d+ step\(s\) before it were undone/);
      assert.equal(routingState(lab, 'gw1'), clean);
    });

    test('a proxy ARP entry someone else made: refuses to start, leaves it alone', () => {
      lab.exec('gw1', ['ip', 'neigh', 'add', 'proxy', PUB1, 'dev', 'wan0']);
      const withEntry = routingState(lab, 'gw1');
      try {
        startFails(lab.masqConfig('gw1'), 1, /a proxy ARP entry for 203\.0\.113\.1 on wan0 exists/);
        assert.equal(routingState(lab, 'gw1'), withEntry);
      } finally {
        lab.exec('gw1', ['ip', 'neigh', 'del', 'proxy', PUB1, 'dev', 'wan0'], { allowFail: true });
      }
    });

    test('a rule left at masq\'s priority: refuses to start and says how to clean up', () => {
      lab.exec('gw1', ['ip', 'rule', 'add', 'pref', '4787', 'iif', 'lan0', 'from', LAB.lan1.prefix, 'lookup', '4787']);
      try {
        startFails(lab.masqConfig('gw1'), 1, /priority 4787 exists.*--cleanup/s);
        const file = lab.writeFile('cleanup.yaml', lab.masqConfig('gw1'));
        const r = lab.exec('gw1', lab.masqArgv('gateway', '--cleanup', '--config', file));
        assert.match(r.stdout, /ip rule del pref 4787 iif lan0 from 10\.0\.1\.0\/24 lookup 4787/);
      } finally {
        lab.exec('gw1', ['ip', 'rule', 'del', 'pref', '4787'], { allowFail: true });
      }
      assert.equal(routingState(lab, 'gw1'), clean);
    });
  });
});
