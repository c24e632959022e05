import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GatewayConfigError, parseGatewayConfig, type ConfigIssue } from '../../src/control/config/load.js';
import { z } from 'zod';
import { defineAlg, registerAlg } from '../../src/alg/registry.js';

const MINIMAL = `interfaces:
  inside: [lan0]
  outside: wan0
inside: [10.0.1.0/24]
public: [203.0.113.1]
`;

/** The issues a text produces (fails if it parses). */
function issuesOf(text: string): ConfigIssue[] {
  try {
    parseGatewayConfig(text, 'test.yaml');
  } catch (err) {
    assert.ok(err instanceof GatewayConfigError, String(err));
    return err.issues;
  }
  assert.fail('expected the configuration to be refused');
}

function oneIssue(text: string): ConfigIssue {
  const issues = issuesOf(text);
  assert.equal(issues.length, 1, JSON.stringify(issues, null, 1));
  return issues[0];
}

// An ALG for these tests only: validates an option, takes a port.
registerAlg(
  defineAlg({
    name: 'test-echo',
    description: 'test ALG',
    defaultPorts: [{ proto: 17, first: 7, last: 7 }],
    options: z.object({ loud: z.literal(true, { message: 'loud must be true' }) }).optional(),
    expectations: {},
    create: () => ({ name: 'test-echo', frame: () => ({ kind: 'need-more' }), handle: () => ({ kind: 'pass' }) }),
  }),
);

describe('gateway config: valid files', () => {
  test('a minimal file gets the defaults', () => {
    const c = parseGatewayConfig(MINIMAL, 'min.yaml');
    assert.equal(c.source, 'min.yaml');
    assert.deepEqual(c.config.interfaces, { inside: ['lan0'], outside: 'wan0' });
    assert.equal(c.config.publicDelivery, 'proxy-arp');
    assert.deepEqual(c.config.tun, { inside: 'masq-in', outside: 'masq-out', mtu: 1500, batchSize: 64, singleHop: true, offload: true, coalesceUdp: true, busyPollUs: 0, queueLength: 4096 });
    assert.deepEqual(c.config.routing, { table: 4787, priority: 4787 });
    assert.deepEqual(c.config.status, { listen: '127.0.0.1:8787', metrics: true, dashboard: true });
    assert.equal(c.config.log.level, 'info');
    assert.equal(c.nat.mapping, 'endpoint-independent');
    assert.equal(c.nat.filtering, 'address-and-port-dependent');
    assert.deepEqual(c.algs, []);
  });

  test('the NAT part is the engine\'s: short names, forwards, triggers resolved', () => {
    const c = parseGatewayConfig(
      `${MINIMAL}mapping: apdm
filtering: adf
forwards:
  - { protocol: both, port: 8080, to: 10.0.1.5, toPort: 80 }
triggers:
  - { port: 6667, open: { ports: 7000-7001 }, idleTimeout: 30 }
status: false
log: { level: debug }
`,
    );
    assert.equal(c.nat.mapping, 'address-and-port-dependent');
    assert.equal(c.nat.filtering, 'address-dependent');
    assert.equal(c.nat.forwards.length, 2); // tcp and udp
    assert.equal(c.nat.triggers[0].idleMs, 30_000);
    assert.equal(c.config.status, false);
    assert.equal(c.config.log.level, 'debug');
  });

  test('ALGs: named, on their default ports or the listed ones, with options', () => {
    const c = parseGatewayConfig(`${MINIMAL}algs:\n  - name: test-echo\n  - name: sip\n    ports: [udp/5070, tcp/5070-5071]\n`);
    assert.deepEqual(
      c.algs.map((a) => [a.definition.name, a.ports]),
      [
        ['test-echo', [{ proto: 17, first: 7, last: 7 }]],
        ['sip', [{ proto: 17, first: 5070, last: 5070 }, { proto: 6, first: 5070, last: 5071 }]],
      ],
    );
    const withOptions = parseGatewayConfig(`${MINIMAL}algs:\n  - name: test-echo\n    options: { loud: true }\n`);
    assert.deepEqual(withOptions.algs[0].options, { loud: true });
  });
});

describe('gateway config: every error names the line, column, field and what is expected', () => {
  test('YAML syntax', () => {
    const i = oneIssue(`${MINIMAL}forwards: [\n`);
    assert.equal(i.path, '(yaml)');
    assert.equal(i.line, 7);
    assert.equal(i.source, 'test.yaml');
  });

  test('a duplicate key is a YAML error at the second one', () => {
    const i = oneIssue(`${MINIMAL}mapping: eim\nmapping: adm\n`);
    assert.equal(i.line, 7);
    assert.match(i.message, /unique/);
  });

  test('an empty file, and a file that is not a mapping', () => {
    assert.match(oneIssue('').message, /empty/);
    assert.match(oneIssue('# only a comment\n').message, /empty/);
    const list = oneIssue('- a\n- b\n');
    assert.match(list.message, /mapping/);
    assert.equal(list.line, 1);
  });

  test('a bad enum value: line and column of the value, and the accepted values', () => {
    const i = oneIssue(`${MINIMAL}mapping: full-cone\n`);
    assert.deepEqual([i.line, i.col, i.path], [6, 10, 'mapping']);
    assert.match(i.message, /endpoint-independent \| address-dependent \| address-and-port-dependent/);
  });

  test('a wrong type deep in a list', () => {
    const i = oneIssue(`${MINIMAL}forwards:\n  - protocol: tcp\n    port: 8080\n    to: 10.0.1.5\n    toPort: eighty\n`);
    assert.deepEqual([i.line, i.col, i.path], [10, 13, 'forwards.0.toPort']);
    assert.match(i.message, /expected number/);
  });

  test('an unknown key, with a suggestion, at the key itself', () => {
    const i = oneIssue(`${MINIMAL}ports:\n  alocation: random\n`);
    assert.deepEqual([i.line, i.col, i.path], [7, 3, 'ports.alocation']);
    assert.match(i.message, /unknown key "alocation" \(did you mean "allocation"\?\)/);
    const top = oneIssue(`${MINIMAL}statsu: false\n`);
    assert.deepEqual([top.line, top.path], [6, 'statsu']);
    assert.match(top.message, /did you mean "status"/);
  });

  test('a missing required field points at its parent', () => {
    const i = oneIssue(`interfaces:\n  inside: [lan0]\ninside: [10.0.1.0/24]\npublic: [203.0.113.1]\n`);
    assert.deepEqual([i.line, i.col, i.path], [2, 3, 'interfaces.outside']);
    assert.match(i.message, /required, but missing \(expected string\)/);
  });

  test('several problems are all reported, in line order', () => {
    const issues = issuesOf(`interfaces:\n  inside: [lan0]\n  outside: wan0\ninside: [10.0.1.0/24]\npublic: [203.0.113.1]\ntun: { mtu: 20 }\nmapping: x\n`);
    assert.deepEqual(
      issues.map((i) => [i.line, i.path]),
      [
        [6, 'tun.mtu'],
        [7, 'mapping'],
      ],
    );
  });

  test('the NAT engine\'s own checks map to lines too', () => {
    const i = oneIssue(`${MINIMAL}forwards:\n  - { protocol: tcp, port: 8080, to: 192.168.9.9 }\n`);
    assert.deepEqual([i.line, i.path, i.message], [7, 'forwards.0.to', 'not inside any inside prefix']);
    const rfc = oneIssue(`${MINIMAL}timeouts:\n  udp: 30\n`);
    assert.deepEqual([rfc.line, rfc.path], [7, 'timeouts.udp']);
    assert.match(rfc.message, /RFC 4787/);
  });

  test('an unknown ALG names the known ones; a bad ALG port; a bad ALG option', () => {
    const unknown = oneIssue(`${MINIMAL}algs:\n  - name: h323x\n`);
    assert.deepEqual([unknown.line, unknown.col, unknown.path], [7, 11, 'algs.0.name']);
    assert.match(unknown.message, /unknown ALG "h323x"; known: .*sip/);
    const port = oneIssue(`${MINIMAL}algs:\n  - name: sip\n    ports: [udp/5060, sctp/5060]\n`);
    assert.deepEqual([port.line, port.path], [8, 'algs.0.ports.1']);
    assert.match(port.message, /expected udp\/PORT/);
    const option = oneIssue(`${MINIMAL}algs:\n  - name: test-echo\n    options: { loud: false }\n`);
    assert.deepEqual([option.line, option.path], [8, 'algs.0.options']);
    assert.match(option.message, /loud must be true/);
  });

  test('two ALGs on one port, and one ALG listed twice', () => {
    const clash = oneIssue(`${MINIMAL}algs:\n  - name: sip\n    ports: [udp/7]\n  - name: test-echo\n`);
    assert.equal(clash.path, 'algs.1.ports');
    assert.match(clash.message, /udp\/7 is already given to ALG sip/);
    const twice = issuesOf(`${MINIMAL}algs:\n  - name: sip\n  - name: sip\n`);
    assert.ok(twice.some((i) => i.path === 'algs.1.name' && /listed twice/.test(i.message)));
  });

  test('interfaces and TUN devices that cannot work together', () => {
    const both = oneIssue(`interfaces: { inside: [lan0, wan0], outside: wan0 }\ninside: [10.0.1.0/24]\npublic: [203.0.113.1]\n`);
    assert.deepEqual([both.line, both.path], [1, 'interfaces.inside.1']);
    const tun = oneIssue(`${MINIMAL}tun: { inside: lan0 }\n`);
    assert.equal(tun.path, 'tun.inside');
    const same = oneIssue(`${MINIMAL}tun: { inside: t0, outside: t0 }\n`);
    assert.equal(same.path, 'tun.outside');
    const long = oneIssue(`${MINIMAL}tun: { inside: a-name-much-too-long }\n`);
    assert.match(long.message, /1 to 15 characters/);
  });

  test('duplicate inside prefixes and public addresses', () => {
    const issues = issuesOf(`interfaces: { inside: [lan0], outside: wan0 }\ninside: [10.0.1.0/24, 10.0.1.9/24]\npublic: [203.0.113.1, 203.0.113.1]\n`);
    assert.deepEqual(
      issues.map((i) => i.path),
      ['inside.1', 'public.1'],
    );
  });

  test('the status endpoint on a loopback address, or elsewhere with a token; routing tables clear of the kernel\'s', () => {
    assert.match(oneIssue(`${MINIMAL}status: { listen: "0.0.0.0:8787" }\n`).message, /loopback/);
    assert.equal(oneIssue(`${MINIMAL}status: { listen: "0.0.0.0:8787" }\n`).path, 'status.listen');
    assert.doesNotThrow(() => parseGatewayConfig(`${MINIMAL}status: { listen: "0.0.0.0:8787", token: "0123456789abcdef0123" }\n`));
    assert.equal(oneIssue(`${MINIMAL}status: { listen: "0.0.0.0:8787", token: "short" }\n`).path, 'status.token');
    assert.equal(oneIssue(`${MINIMAL}status: { listen: "127.0.0.1:99999" }\n`).path, 'status.listen');
    assert.equal(oneIssue(`${MINIMAL}routing: { table: 252 }\n`).path, 'routing.table');
    assert.doesNotThrow(() => parseGatewayConfig(`${MINIMAL}status: { listen: "[::1]:8787" }\nrouting: { table: 251 }\n`));
  });
});
