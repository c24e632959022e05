/**
 * ipautofw / ipmasqadm autofw command lines: every line of the CU-SeeMe HOWTO
 * read into masq's rules, every rule kind and flag, the errors that name the
 * option, and the rules working in the engine (a trigger refreshed only by its
 * control port, a kept source port under random allocation).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeAutofwRule, parseAutofwLine, type AutofwRule } from '../../src/nat/autofw.js';
import { NatConfigError, resolveNatConfig } from '../../src/nat/config.js';
import { Side, Verdict } from '../../src/nat/engine.js';
import { describe as show, makeEngine, udpPkt } from '../nat/packets.js';

function rules(line: string, idle?: number): AutofwRule[] {
  const r = parseAutofwLine(line, idle);
  assert.ok(r.ok, r.ok ? '' : r.error);
  return r.rules;
}

function error(line: string, idle?: number): string {
  const r = parseAutofwLine(line, idle);
  assert.ok(!r.ok, `expected an error for ${line}`);
  return r.error;
}

test('the HOWTO lines, as written', () => {
  assert.deepEqual(rules('ipautofw -A -r udp 7648 7649 -c udp 7648 -u'), [
    {
      kind: 'trigger',
      rule: { protocol: 'udp', port: [7648, 7648], open: { protocol: 'udp', ports: [7648, 7649] }, idleTimeout: 300, onlyFromContacted: true, refresh: 'any-use' },
    },
  ]);
  assert.deepEqual(rules('ipautofw -A -r udp 7648 7649 -h 192.168.1.5'), [{ kind: 'forward', rule: { protocol: 'udp', port: [7648, 7649], to: '192.168.1.5' } }]);
  assert.deepEqual(rules('/sbin/ipautofw -A -r udp 24032 24032 -h 192.168.1.5'), [{ kind: 'forward', rule: { protocol: 'udp', port: [24032, 24032], to: '192.168.1.5' } }]);
  assert.deepEqual(rules('ipmasqadm autofw -A -r udp 7648 7648 -h 192.168.1.5'), [{ kind: 'forward', rule: { protocol: 'udp', port: [7648, 7648], to: '192.168.1.5' } }]);
  assert.deepEqual(rules('ipmasqadm autofw -A -r tcp 7648 7648 -h 192.168.1.5'), [{ kind: 'forward', rule: { protocol: 'tcp', port: [7648, 7648], to: '192.168.1.5' } }]);
  assert.deepEqual(rules('/usr/sbin/ipmasqadm autofw -A -d udp 7648 7648  # lock the port'), [{ kind: 'keepSourcePort', rule: { protocol: 'udp', port: [7648, 7648] } }]);
});

test('every flag: without -u the 15 s timer refreshed by the control port; -i insecure; -p port bouncing; idleTimeout', () => {
  const [t] = rules('ipautofw -A -r udp 7648 7649 -c udp 7648');
  assert.deepEqual(t, {
    kind: 'trigger',
    rule: { protocol: 'udp', port: [7648, 7648], open: { protocol: 'udp', ports: [7648, 7649] }, idleTimeout: 15, onlyFromContacted: true, refresh: 'control-port' },
  });
  const [i] = rules('ipautofw -A -r tcp 6000 6010 -c tcp 6667 -u -i -v');
  assert.equal(i.kind === 'trigger' && i.rule.onlyFromContacted, false);
  assert.equal(i.kind === 'trigger' && i.rule.protocol, 'tcp');
  assert.deepEqual(rules('ipautofw -A -p udp 5000 10.0.0.9:6000'), [{ kind: 'forward', rule: { protocol: 'udp', port: [5000, 5000], to: '10.0.0.9', toPort: 6000 } }]);
  const [idle] = rules('ipautofw -A -r udp 7648 7649 -c udp 7648 -u', 42);
  assert.equal(idle.kind === 'trigger' && idle.rule.idleTimeout, 42);
});

test('errors name the option (and what masq reads instead)', () => {
  assert.match(error('ipautofw -A -r udp 7648 7649 -c udp 7648 -s'), /option -s is not supported \(masq reads -A -r -c -h -d -p -u -i -v\)/);
  assert.match(error('ipautofw -D -r udp 7648 7649 -h 10.0.0.2'), /^-D deletes a rule/);
  assert.match(error('ipautofw -F'), /^-F flushes the table/);
  assert.match(error('ipautofw -L'), /^-L lists the table/);
  assert.match(error('iptables -A FORWARD'), /starting with ipautofw or ipmasqadm autofw/);
  assert.match(error('ipmasqadm portfw -a -P udp -L 1.2.3.4 7648 -R 10.0.0.2 7648'), /starting with ipautofw or ipmasqadm autofw/);
  assert.match(error('ipautofw -A -r icmp 1 2 -h 10.0.0.2'), /^-r: expected tcp or udp, got "icmp"/);
  assert.match(error('ipautofw -A -r udp 7649 7648 -h 10.0.0.2'), /ends before it starts/);
  assert.match(error('ipautofw -A -r udp 0 7648 -h 10.0.0.2'), /^-r: expected a port 1-65535, got "0"/);
  assert.match(error('ipautofw -A -r udp 7648 -h 10.0.0.2'), /^-r: expected a port 1-65535, got "-h"/);
  assert.match(error('ipautofw -A -r udp 7648 7649 -h host.example'), /^-h: expected an IPv4 address/);
  assert.match(error('ipautofw -A -r udp 7648 7649'), /-r needs -c PROTO PORT/);
  assert.match(error('ipautofw -A -r udp 7648 7649 -c udp 7648 -h 10.0.0.2'), /^-h with -c is not supported/);
  assert.match(error('ipautofw -A -r udp 7648 7649 -h 10.0.0.2 -u'), /^-u has no meaning with -r ... -h/);
  assert.match(error('ipautofw -A -d udp 7648 7648 -c udp 7648'), /^-c has no meaning with -d/);
  assert.match(error('ipautofw -A -p udp 5000 10.0.0.9:6000 -i'), /^-i has no meaning with -p/);
  assert.match(error('ipautofw -A -r udp 1 2 -d udp 3 4'), /^-d cannot be used with -r/);
  assert.match(error('ipautofw -A -u'), /^no rule type/);
  assert.match(error('ipautofw -A -r udp 7648 7649 -h 10.0.0.2 extra'), /unexpected "extra"/);
  assert.match(error('ipautofw -A -r udp 7648 7649 -h 10.0.0.2', 30), /idleTimeout applies only to a range with a control port/);
});

test('the derived rules, described as the configuration that says the same', () => {
  const [t] = rules('ipautofw -A -r udp 7648 7649 -c udp 7648 -u');
  assert.equal(
    describeAutofwRule(t),
    'triggers: { protocol: udp, port: 7648, open: { protocol: udp, ports: 7648-7649 }, idleTimeout: 300, onlyFromContacted: true, refresh: any-use }' +
      '  # udp 7648-7649 to the workstation that last sent to udp 7648, only from the remote it sent to, released 300 s after its last use',
  );
  assert.match(describeAutofwRule(rules('ipautofw -A -r udp 7648 7649 -h 10.0.0.5')[0]), /^forwards: \{ protocol: udp, port: 7648-7649, to: 10\.0\.0\.5 \}/);
  assert.match(describeAutofwRule(rules('ipautofw -A -d udp 7648 7648')[0]), /^keepSourcePorts: \{ protocol: udp, port: 7648 \}/);
});

test('in the configuration: lines become rules after the written ones; problems name the line', () => {
  const c = resolveNatConfig({
    inside: ['10.0.0.0/24'],
    public: ['203.0.113.1'],
    triggers: [{ protocol: 'tcp', port: 6667, open: { ports: '7000-7009' } }],
    autofw: ['ipautofw -A -r udp 7648 7649 -c udp 7648 -u', { rule: 'ipautofw -A -r udp 24032 24032 -h 10.0.0.5' }, 'ipmasqadm autofw -A -d udp 7648 7648'],
  });
  assert.equal(c.triggers.length, 2);
  assert.equal(c.triggers[1].index, 1);
  assert.equal(c.triggers[1].idleMs, 300_000);
  assert.equal(c.triggers[1].onlyFromContacted, true);
  assert.equal(c.triggers[1].refreshByUse, true);
  assert.equal(c.triggers[0].refreshByUse, true, 'a written trigger keeps refreshing by use');
  assert.deepEqual(c.forwards.map((f) => [f.proto, f.first, f.last]), [[17, 24032, 24032]]);
  assert.deepEqual(c.keepSourcePorts, [{ proto: 17, first: 7648, last: 7648 }]);
  assert.deepEqual(c.autofw.map((a) => a.index), [0, 1, 2]);

  const bad = (autofw: unknown[], extra: Record<string, unknown> = {}) => {
    try {
      resolveNatConfig({ inside: ['10.0.0.0/24'], public: ['203.0.113.1'], autofw, ...extra });
    } catch (err) {
      assert.ok(err instanceof NatConfigError);
      return err.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    }
    assert.fail('expected a NatConfigError');
  };
  assert.deepEqual(bad(['ipautofw -A -r udp 7648 7649 -h 10.0.0.5', 'ipautofw -A -r udp 7648 7649 -c udp 7648 -x']), ['autofw.1: option -x is not supported (masq reads -A -r -c -h -d -p -u -i -v)']);
  assert.deepEqual(bad(['ipautofw -A -r udp 7648 7649 -h 192.168.1.5']), ['autofw.0: 192.168.1.5 is not inside any inside prefix']);
  assert.deepEqual(bad(['ipautofw -A -r udp 7648 7649 -h 10.0.0.5', 'ipautofw -A -r udp 7649 7650 -h 10.0.0.6']), ['autofw.1: two forwards claim udp port 7649']);
  assert.deepEqual(bad(['ipautofw -A -r udp 7648 7649 -c udp 7648'], { forwards: [{ protocol: 'udp', port: 7649, to: '10.0.0.9' }] }), ['autofw.0: overlaps a static forward']);
  assert.deepEqual(bad([{ rule: 'ipautofw -A -r udp 7648 7649 -c udp 7648', idleTimeout: -1 }]), ['autofw.0.idleTimeout: Too small: expected number to be >0']);
});

test('without -u: the range stays with the workstation only while it keeps sending to the control port', () => {
  const { engine, clock } = makeEngine({ autofw: ['ipautofw -A -r udp 7648 7649 -c udp 7648'] });
  const call = (at: number) => {
    clock.advance(at);
    return engine.process(udpPkt('10.0.0.2:7648', '198.51.100.10:7648', 'hello'), Side.Inside);
  };
  assert.equal(call(0), Verdict.ToOutside);
  // Inbound use within the 15 s does not refresh it (refresh: control-port).
  clock.advance(10_000);
  assert.equal(engine.process(udpPkt('198.51.100.10:7649', '203.0.113.1:7649', 'x'), Side.Outside), Verdict.ToInside);
  clock.advance(6_000);
  engine.tick();
  assert.equal(engine.process(udpPkt('198.51.100.10:7000', '203.0.113.1:7648', 'call'), Side.Outside), Verdict.Drop, '16 s after the last control-port packet');
  // The workstation sends to the control port again: the range is its again.
  assert.equal(call(0), Verdict.ToOutside);
  assert.equal(engine.process(udpPkt('198.51.100.10:7001', '203.0.113.1:7648', 'call'), Side.Outside), Verdict.ToInside);
  // Secure: a remote it did not contact gets nothing.
  assert.equal(engine.process(udpPkt('198.51.100.99:7648', '203.0.113.1:7648', 'call'), Side.Outside), Verdict.Drop);
});

test('keepSourcePorts: traffic to the kept port leaves from its own source port under random allocation; a taken port still moves', () => {
  const { engine } = makeEngine({ ports: { allocation: 'random' }, autofw: ['ipmasqadm autofw -A -d udp 7648 7648'] });
  engine.process(udpPkt('10.0.0.2:7648', '198.51.100.10:7648', 'x'), Side.Inside);
  assert.equal(show(engine.output), '203.0.113.1:7648 > 198.51.100.10:7648');
  engine.process(udpPkt('10.0.0.2:7650', '198.51.100.10:9000', 'x'), Side.Inside);
  assert.notEqual(show(engine.output), '203.0.113.1:7650 > 198.51.100.10:9000', 'other destinations: random (this seed)');
  engine.process(udpPkt('10.0.0.3:7648', '198.51.100.10:7648', 'x'), Side.Inside);
  assert.notEqual(show(engine.output).split(' ')[0], '203.0.113.1:7648', 'never two workstations on one public port');
});
