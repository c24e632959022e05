import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GatewayConfigError, parseGatewayConfig, type ConfigIssue } from '../../src/control/config/load.js';

const BASE = `interfaces:
  inside: [lan0]
  outside: wan0
inside: [10.0.1.0/24]
public: [203.0.113.1]
`;
/** What several queues need switched off, each on its own line. */
const SUPPORTED = `state: false
hairpin: false
status:
  metrics: false
  dashboard: false
`;

function issuesOf(text: string): ConfigIssue[] {
  try {
    parseGatewayConfig(text, 'q.yaml');
  } catch (err) {
    assert.ok(err instanceof GatewayConfigError, String(err));
    return err.issues;
  }
  assert.fail('expected the configuration to be refused');
}

describe('dataplane.queues', () => {
  test('defaults to one queue, where nothing else is refused', () => {
    assert.equal(parseGatewayConfig(BASE).config.dataplane.queues, 1);
  });

  test('two queues load when the unsupported parts are off', () => {
    assert.equal(parseGatewayConfig(`${BASE}${SUPPORTED}dataplane:\n  queues: 2\n`).config.dataplane.queues, 2);
  });

  test('a bad count is named with its line', () => {
    const [issue] = issuesOf(`${BASE}dataplane:\n  queues: 0\n`);
    assert.equal(issue.path, 'dataplane.queues');
    assert.equal(issue.line, 7);
  });

  test('each unsupported feature is refused by name, at the queues line', () => {
    const cases: Array<[string, RegExp]> = [
      [SUPPORTED.replace('state: false\n', ''), /state: false/],
      [SUPPORTED.replace('hairpin: false\n', ''), /hairpin: false/],
      [SUPPORTED.replace('  metrics: false\n', ''), /status\.metrics: false/],
      [`${SUPPORTED}portmap:\n  pcp: true\n`, /portmap: false/],
      [`${SUPPORTED}triggers:\n  - { protocol: tcp, port: 6667, open: { ports: [113, 113] } }\n`, /triggers/],
    ];
    for (const [extra, message] of cases) {
      const issues = issuesOf(`${BASE}${extra}dataplane:\n  queues: 2\n`);
      const hit = issues.find((i) => message.test(i.message));
      assert.ok(hit, `${message}: ${JSON.stringify(issues)}`);
      assert.equal(hit.path, 'dataplane.queues');
    }
  });
});

describe('dataplane.kernelOffload', () => {
  test('off by default; true takes the defaults; an object sets them', () => {
    assert.equal(parseGatewayConfig(BASE).config.dataplane.kernelOffload, false);
    assert.equal(parseGatewayConfig(`${BASE}dataplane:\n  kernelOffload: true\n`).config.dataplane.kernelOffload, true);
    const k = parseGatewayConfig(`${BASE}dataplane:\n  kernelOffload: { afterPackets: 4, markBit: 0x10000000 }\n`).config.dataplane.kernelOffload;
    assert.deepEqual(k, { afterPackets: 4, table: 'masq_offload', markBit: 0x10000000, maxFlows: 65536, reconcileMs: 2000 });
  });

  test('a mark that is not one high bit, or a table nft would not take, is named with its line', () => {
    const [bit] = issuesOf(`${BASE}dataplane:\n  kernelOffload:\n    markBit: 0x30000000\n`);
    assert.match(bit.path, /^dataplane\.kernelOffload/);
    assert.equal(bit.line, 8);
    assert.match(bit.message, /one bit/);
    const [table] = issuesOf(`${BASE}dataplane:\n  kernelOffload:\n    table: "x; flush ruleset"\n`);
    assert.match(table.message, /table name/);
  });
});
