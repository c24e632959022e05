import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { commandText, planRouting, type RoutingFacts, type RoutingSpec } from '../../../src/dataplane/tun/gateway-routing.js';
import {
  applyRouting,
  cleanupLeftovers,
  GatewaySetupError,
  preflight,
  readRoutingFacts,
  SystemCommandError,
  type SystemAccess,
} from '../../../src/dataplane/tun/gateway-system.js';

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
const FACTS: RoutingFacts = { ipForward: 0, rpFilterAll: 0, rpFilter: {}, disableIpv6: {}, proxyDelay: 80 };

/** Records commands; fails the ones `fails` matches; answers `ip -j` queries from `host`. */
class FakeSystem implements SystemAccess {
  readonly ran: string[] = [];
  constructor(
    private readonly fails: (cmd: string) => boolean = () => false,
    readonly host: Record<string, unknown> = {},
    private readonly sysctls: Record<string, number> = {},
  ) {}
  run(argv: readonly string[]): string {
    const cmd = commandText(argv);
    if (argv[1] === '-j') {
      const key = Object.keys(this.host).find((k) => cmd.startsWith(k));
      if (key === undefined) throw new Error(`unexpected query ${cmd}`);
      const v = this.host[key];
      if (v instanceof Error) throw v;
      return JSON.stringify(v);
    }
    this.ran.push(cmd);
    if (this.fails(cmd)) throw new SystemCommandError(argv, 'RTNETLINK answers: File exists');
    return '';
  }
  readSysctl(key: string): number | undefined {
    return this.sysctls[key];
  }
}

const HEALTHY_HOST = {
  'ip -j link show': [{ ifname: 'lo' }, { ifname: 'lan0' }, { ifname: 'wan0' }],
  'ip -j addr show': [{ ifname: 'wan0', addr_info: [{ family: 'inet', local: '203.0.113.2' }] }],
  'ip -j neigh show proxy': [],
  'ip -j route show table 4787': [],
  'ip -j route show table 4788': new SystemCommandError(['ip'], 'Error: ipv4: FIB table does not exist.'),
  'ip -j rule show': [{ priority: 0 }, { priority: 32766 }, { priority: 32767 }],
};

describe('applying the routing plan', () => {
  test('all steps in order when nothing fails', () => {
    const sys = new FakeSystem();
    const steps = planRouting(SPEC, FACTS);
    const applied = applyRouting(steps, sys);
    assert.deepEqual(sys.ran, steps.map((s) => commandText(s.apply)));
    sys.ran.length = 0;
    assert.deepEqual(applied.undo(), []);
    assert.deepEqual(sys.ran, [...steps].reverse().map((s) => commandText(s.undo)));
    sys.ran.length = 0;
    applied.undo();
    assert.deepEqual(sys.ran, [], 'undo twice does nothing the second time');
  });

  test('a failure at step k undoes steps k-1..0 and nothing else, for every k', () => {
    const steps = planRouting(SPEC, FACTS);
    for (let k = 0; k < steps.length; k++) {
      const failing = commandText(steps[k].apply);
      const sys = new FakeSystem((cmd) => cmd === failing);
      assert.throws(
        () => applyRouting(steps, sys),
        (err: unknown) => err instanceof GatewaySetupError && err.message.includes(`failed at "${steps[k].what}"`) && err.message.includes(`the ${k} step(s) before it were undone`),
      );
      const expected = [...steps.slice(0, k + 1).map((s) => commandText(s.apply)), ...steps.slice(0, k).reverse().map((s) => commandText(s.undo))];
      assert.deepEqual(sys.ran, expected, `failure at step ${k}`);
    }
  });

  test('an undo that fails is reported, and the rest is still undone', () => {
    const steps = planRouting(SPEC, FACTS);
    const sys = new FakeSystem((cmd) => cmd === 'ip neigh add proxy 203.0.113.1 dev wan0' || cmd.startsWith('ip route del throw'));
    assert.throws(() => applyRouting(steps, sys), /undoing the steps before it also failed:\n {2}ip route del throw 10\.0\.1\.0\/24 table 4787 failed/);
    assert.ok(sys.ran.includes('ip route del default dev masq-in table 4787'), 'the steps after the failed undo still ran');
  });
});

describe('preflight: nothing changes when something would not work', () => {
  test('a healthy host passes; a table the kernel never saw counts as empty', () => {
    assert.doesNotThrow(() => preflight(SPEC, new FakeSystem(() => false, HEALTHY_HOST)));
  });

  test('every problem is listed at once', () => {
    const host = {
      ...HEALTHY_HOST,
      'ip -j link show': [{ ifname: 'lan0' }, { ifname: 'masq-out' }],
      'ip -j addr show': [{ ifname: 'wan0', addr_info: [{ family: 'inet', local: '203.0.113.1' }] }],
      'ip -j neigh show proxy': [{ dst: '203.0.113.1', dev: 'wan0' }],
      'ip -j route show table 4787': [{ dst: 'default' }],
      'ip -j rule show': [{ priority: 4787 }],
    };
    const sys = new FakeSystem(() => false, host);
    assert.throws(
      () => preflight(SPEC, sys),
      (err: unknown) => {
        assert.ok(err instanceof GatewaySetupError);
        for (const bit of [
          'interface wan0 does not exist',
          'interface masq-out already exists',
          'public address 203.0.113.1 is assigned to wan0',
          'a proxy ARP entry for 203.0.113.1 on wan0 exists',
          'routing table 4787 is not empty',
          'an ip rule with priority 4787 exists',
        ]) {
          assert.ok(err.message.includes(bit), `${bit}\n${err.message}`);
        }
        return true;
      },
    );
    assert.deepEqual(sys.ran, [], 'preflight only reads');
  });
});

describe('facts and leftovers', () => {
  test('facts come from the sysctls; a missing required one is an error', () => {
    const sysctls = {
      'net/ipv4/ip_forward': 1,
      'net/ipv4/conf/all/rp_filter': 2,
      'net/ipv4/conf/masq-in/rp_filter': 0,
      'net/ipv4/conf/masq-out/rp_filter': 1,
      'net/ipv6/conf/masq-in/disable_ipv6': 0,
      'net/ipv4/neigh/wan0/proxy_delay': 80,
    };
    assert.deepEqual(readRoutingFacts(SPEC, new FakeSystem(() => false, {}, sysctls)), {
      ipForward: 1,
      rpFilterAll: 2,
      rpFilter: { 'masq-in': 0, 'masq-out': 1 },
      disableIpv6: { 'masq-in': 0, 'masq-out': undefined },
      proxyDelay: 80,
    });
    assert.throws(() => readRoutingFacts(SPEC, new FakeSystem(() => false, {}, { ...sysctls, 'net/ipv4/ip_forward': undefined as never })), /net\.ipv4\.ip_forward/);
  });

  test('cleanup removes rules and ARP entries, leaves sysctls and links, ignores what is gone', () => {
    const sys = new FakeSystem((cmd) => cmd.startsWith('ip route del'));
    const removed = cleanupLeftovers(planRouting(SPEC, FACTS), sys);
    assert.deepEqual(removed, [
      'ip neigh del proxy 203.0.113.1 dev wan0',
      'ip rule del pref 4787 iif wan0 to 203.0.113.1/32 lookup 4788',
      'ip rule del pref 4787 iif lan0 from 10.0.1.0/24 lookup 4787',
    ]);
    assert.ok(!sys.ran.some((c) => c.startsWith('sysctl') || c.startsWith('ip link')));
  });
});
