import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { commandText, planRouting, teardownCommands, type RoutingFacts, type RoutingSpec } from '../../../src/dataplane/tun/gateway-routing.js';
import { parseGatewayConfig } from '../../../src/control/config/load.js';
import { routingSpecOf } from '../../../src/gateway/routing-spec.js';

const SPEC: RoutingSpec = {
  insideInterfaces: ['lan0'],
  outsideInterface: 'wan0',
  insidePrefixes: ['10.0.1.0/24'],
  publicAddrs: ['203.0.113.1'],
  publicDelivery: 'proxy-arp',
  tunInside: 'masq-in',
  tunOutside: 'masq-out',
  table: 4787,
  priority: 4787,
};

const FRESH_HOST: RoutingFacts = {
  ipForward: 0,
  rpFilterAll: 1,
  rpFilter: { 'masq-in': 0, 'masq-out': 0 },
  disableIpv6: { 'masq-in': 0, 'masq-out': 0 },
  proxyDelay: 80,
};

describe('the routing plan', () => {
  test('the commands for a proxy-arp gateway on a host with the usual defaults', () => {
    assert.deepEqual(planRouting(SPEC, FRESH_HOST).map((s) => commandText(s.apply)), [
      'sysctl -qw net/ipv4/ip_forward=1',
      'sysctl -qw net/ipv6/conf/masq-in/disable_ipv6=1',
      'sysctl -qw net/ipv4/conf/masq-in/rp_filter=2',
      'ip link set dev masq-in up',
      'sysctl -qw net/ipv6/conf/masq-out/disable_ipv6=1',
      'sysctl -qw net/ipv4/conf/masq-out/rp_filter=2',
      'ip link set dev masq-out up',
      'ip route add default dev masq-in table 4787',
      'ip route add blackhole default table 4787 metric 4294967295',
      'ip route add throw 10.0.1.0/24 table 4787',
      'ip route add default dev masq-out table 4788',
      'ip route add blackhole default table 4788 metric 4294967295',
      'ip rule add pref 4787 iif lan0 from 10.0.1.0/24 lookup 4787',
      'ip rule add pref 4787 iif wan0 to 203.0.113.1/32 lookup 4788',
      'ip neigh add proxy 203.0.113.1 dev wan0',
      'sysctl -qw net/ipv4/neigh/wan0/proxy_delay=0',
    ]);
  });

  test('a queue length raises each TUN device\'s txqueuelen as it comes up', () => {
    const up = planRouting({ ...SPEC, tunQueueLength: 4096 }, FRESH_HOST).filter((s) => s.apply[1] === 'link');
    assert.deepEqual(up.map((s) => commandText(s.apply)), ['ip link set dev masq-in txqueuelen 4096 up', 'ip link set dev masq-out txqueuelen 4096 up']);
    assert.deepEqual(up.map((s) => commandText(s.undo)), ['ip link set dev masq-in down', 'ip link set dev masq-out down']);
  });

  test('the configuration\'s queue length (tun.queueLength, 4096 unless set) reaches the plan', () => {
    const base = 'interfaces: { inside: [lan0], outside: wan0 }\ninside: [10.0.1.0/24]\npublic: [203.0.113.1]\n';
    assert.equal(routingSpecOf(parseGatewayConfig(base)).tunQueueLength, 4096);
    assert.equal(routingSpecOf(parseGatewayConfig(`${base}tun: { queueLength: 1000 }\n`)).tunQueueLength, 1000);
    assert.throws(() => parseGatewayConfig(`${base}tun: { queueLength: 8 }\n`), /queueLength/);
  });

  test('the kernel fast path: its table, and a mark rule per LAN consulted before masq\'s rules', () => {
    const loaded = parseGatewayConfig(
      'interfaces: { inside: [lan0, lan1], outside: wan0 }\ninside: [10.0.1.0/24]\npublic: [203.0.113.1]\ndataplane: { kernelOffload: true }\n',
      'test.yaml',
    );
    const spec = routingSpecOf(loaded);
    assert.deepEqual(spec.kernelOffload, { table: 'masq_offload', markBit: 0x40000000 });
    const steps = planRouting(spec, FRESH_HOST);
    const nft = steps.findIndex((s) => s.apply[0] === 'nft');
    assert.ok(nft >= 0);
    assert.match(steps[nft].apply[1], /^add table ip masq_offload\ndelete table ip masq_offload\ntable ip masq_offload \{/);
    assert.deepEqual(steps[nft].undo, ['nft', 'delete', 'table', 'ip', 'masq_offload']);
    const rules = steps.filter((s) => s.apply[1] === 'rule').map((s) => commandText(s.apply));
    assert.deepEqual(rules, [
      'ip rule add pref 4787 iif lan0 fwmark 0x40000000/0x40000000 lookup main',
      'ip rule add pref 4787 iif lan1 fwmark 0x40000000/0x40000000 lookup main',
      'ip rule add pref 4787 iif lan0 from 10.0.1.0/24 lookup 4787',
      'ip rule add pref 4787 iif lan1 from 10.0.1.0/24 lookup 4787',
      'ip rule add pref 4787 iif wan0 to 203.0.113.1/32 lookup 4788',
    ]);
    assert.ok(nft < steps.findIndex((s) => s.apply[1] === 'rule'), 'the table exists before any packet is routed into masq');
    assert.equal(routingSpecOf(parseGatewayConfig('interfaces: { inside: [lan0], outside: wan0 }\ninside: [10.0.1.0/24]\npublic: [203.0.113.1]\n', 't.yaml')).kernelOffload, undefined);
  });

  test('teardown restores each value it changed, and undoes in reverse', () => {
    assert.deepEqual(teardownCommands(planRouting(SPEC, FRESH_HOST)).map(commandText), [
      'sysctl -qw net/ipv4/neigh/wan0/proxy_delay=80',
      'ip neigh del proxy 203.0.113.1 dev wan0',
      'ip rule del pref 4787 iif wan0 to 203.0.113.1/32 lookup 4788',
      'ip rule del pref 4787 iif lan0 from 10.0.1.0/24 lookup 4787',
      'ip route del blackhole default table 4788 metric 4294967295',
      'ip route del default dev masq-out table 4788',
      'ip route del throw 10.0.1.0/24 table 4787',
      'ip route del blackhole default table 4787 metric 4294967295',
      'ip route del default dev masq-in table 4787',
      'ip link set dev masq-out down',
      'sysctl -qw net/ipv4/conf/masq-out/rp_filter=0',
      'sysctl -qw net/ipv6/conf/masq-out/disable_ipv6=0',
      'ip link set dev masq-in down',
      'sysctl -qw net/ipv4/conf/masq-in/rp_filter=0',
      'sysctl -qw net/ipv6/conf/masq-in/disable_ipv6=0',
      'sysctl -qw net/ipv4/ip_forward=0',
    ]);
  });

  test('nothing is changed that is already as needed; routed delivery answers no ARP', () => {
    const ready: RoutingFacts = { ipForward: 1, rpFilterAll: 0, rpFilter: { 'masq-in': 2, 'masq-out': 0 }, disableIpv6: { 'masq-in': 1, 'masq-out': undefined } };
    const commands = planRouting({ ...SPEC, publicDelivery: 'routed' }, ready).map((s) => commandText(s.apply));
    assert.ok(!commands.some((c) => c.startsWith('sysctl')), commands.join('\n'));
    assert.ok(!commands.some((c) => c.includes('neigh')));
    // Loose already (2) stays; strict from "all" alone is lowered on the device.
    const strictAll = planRouting(SPEC, { ...ready, rpFilterAll: 1 }).map((s) => commandText(s.apply));
    assert.ok(strictAll.includes('sysctl -qw net/ipv4/conf/masq-out/rp_filter=2'));
    assert.ok(strictAll.includes('sysctl -qw net/ipv4/conf/masq-in/rp_filter=2') === false);
  });

  test('several LANs, prefixes and public addresses: a rule for each pair, an ARP entry per address', () => {
    const loaded = parseGatewayConfig(
      'interfaces: { inside: [lan0, lan1], outside: wan0 }\ninside: [10.0.1.0/24, 10.0.2.0/24]\npublic: [203.0.113.1, 203.0.113.5]\nrouting: { table: 100, priority: 90 }\n',
    );
    const commands = planRouting(routingSpecOf(loaded), { ...FRESH_HOST, proxyDelay: 0 }).map((s) => commandText(s.apply));
    assert.deepEqual(
      commands.filter((c) => c.startsWith('ip rule')),
      [
        'ip rule add pref 90 iif lan0 from 10.0.1.0/24 lookup 100',
        'ip rule add pref 90 iif lan0 from 10.0.2.0/24 lookup 100',
        'ip rule add pref 90 iif lan1 from 10.0.1.0/24 lookup 100',
        'ip rule add pref 90 iif lan1 from 10.0.2.0/24 lookup 100',
        'ip rule add pref 90 iif wan0 to 203.0.113.1/32 lookup 101',
        'ip rule add pref 90 iif wan0 to 203.0.113.5/32 lookup 101',
      ],
    );
    assert.deepEqual(
      commands.filter((c) => c.includes('neigh') || c.includes('proxy_delay')),
      ['ip neigh add proxy 203.0.113.1 dev wan0', 'ip neigh add proxy 203.0.113.5 dev wan0'],
    );
    assert.ok(commands.includes('ip route add throw 10.0.2.0/24 table 100'));
  });

  test('property: every step\'s undo is the exact inverse of its apply, and teardown is the plan reversed', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9.-]{0,14}$/);
    const octet = fc.integer({ min: 0, max: 255 });
    const addr = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));
    // Distinct interface names, as the config loader guarantees.
    const spec = fc
      .record({
        names: fc.uniqueArray(name, { minLength: 6, maxLength: 6 }),
        lans: fc.integer({ min: 1, max: 3 }),
        insidePrefixes: fc.uniqueArray(fc.tuple(addr, fc.integer({ min: 8, max: 32 })).map(([a, l]) => `${a}/${l}`), { minLength: 1, maxLength: 3 }),
        publicAddrs: fc.uniqueArray(addr, { minLength: 1, maxLength: 3 }),
        publicDelivery: fc.constantFrom('proxy-arp' as const, 'routed' as const),
        table: fc.integer({ min: 1, max: 250 }),
        priority: fc.integer({ min: 1, max: 32765 }),
      })
      .map(({ names, lans, ...rest }): RoutingSpec => ({
        ...rest,
        insideInterfaces: names.slice(0, lans),
        outsideInterface: names[3],
        tunInside: names[4],
        tunOutside: names[5],
      }));
    const bit = fc.constantFrom(0, 1, 2);
    const facts = fc.record({
      ipForward: fc.constantFrom(0, 1),
      rpFilterAll: bit,
      rpFilter: fc.record({ a: bit }),
      disableIpv6: fc.record({ a: fc.constantFrom(0, 1, undefined) }),
      proxyDelay: fc.integer({ min: 0, max: 200 }),
    });
    fc.assert(
      fc.property(spec, facts, (s, f) => {
        const rf: RoutingFacts = {
          ...f,
          rpFilter: { [s.tunInside]: f.rpFilter.a, [s.tunOutside]: f.rpFilter.a },
          disableIpv6: { [s.tunInside]: f.disableIpv6.a, [s.tunOutside]: f.disableIpv6.a },
        };
        const steps = planRouting(s, rf);
        for (const step of steps) {
          const [a, u] = [step.apply, step.undo];
          if (a[0] === 'sysctl') {
            const [key, to] = a[2].split('=');
            const [ukey, from] = u[2].split('=');
            assert.equal(ukey, key);
            assert.notEqual(from, to, 'a sysctl step changes something');
          } else if (a[1] === 'link') {
            assert.deepEqual([a.slice(0, 5), a[5], u[5]], [u.slice(0, 5), 'up', 'down']);
          } else {
            assert.deepEqual([a[2], u[2]], ['add', 'del']);
            assert.deepEqual(u.filter((_, i) => i !== 2), a.filter((_, i) => i !== 2));
          }
        }
        assert.deepEqual(teardownCommands(steps), [...steps].reverse().map((st) => st.undo));
        // No two steps add the same thing (the kernel would refuse the second).
        const applies = steps.map((st) => commandText(st.apply));
        assert.equal(new Set(applies).size, applies.length);
      }),
      { numRuns: 300 },
    );
  });

  test('commandText quotes only what a shell would split', () => {
    assert.equal(commandText(['ip', 'rule', 'add', 'pref', '1', 'from', '10.0.0.0/8']), 'ip rule add pref 1 from 10.0.0.0/8');
    assert.equal(commandText(['echo', "it's", 'a b']), `echo 'it'\\''s' 'a b'`);
  });
});
