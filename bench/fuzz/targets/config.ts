/**
 * The gateway configuration loader on YAML text (what `masq gateway --check`
 * reads): only GatewayConfigError comes out, every issue names a line within
 * the text, no process warning is printed, and nothing takes long (the alias bombs and quadratic checks of
 * issue 17 come back as slow inputs).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GatewayConfigError, parseGatewayConfig } from '../../../src/control/config/load.js';
import { FUZZ_DIR } from '../registry.js';
import { defineFuzzTarget, invariant, utf8 } from '../target.js';

const MINIMAL = 'interfaces:\n  inside: [lan0]\n  outside: wan0\ninside: [10.0.1.0/24]\npublic: [203.0.113.1]\n';
const HAND = [
  MINIMAL,
  `${MINIMAL}mapping: endpoint-independent\nfiltering: address-dependent\nports: { allocation: random, parity: false, range: [2000, 3000] }\n`,
  `${MINIMAL}algs:\n  - name: sip\n    ports: [udp/5060, tcp/5060-5061]\n    options: { media: any, maxCalls: 100 }\n`,
  `${MINIMAL}forwards:\n  - { protocol: udp, port: 5060, to: 10.0.1.5 }\n  - { protocol: tcp, port: [8000, 8010], to: 10.0.1.6, toPort: 80 }\ntriggers:\n  - { protocol: tcp, port: 6667, open: { protocol: both, ports: [7000, 7010] } }\n`,
  `base: &b { protocol: udp, port: 1, to: 10.0.1.5 }\n${MINIMAL}forwards:\n  - *b\n  - <<: *b\n    port: 2\n`,
  `a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b]\n${MINIMAL}`,
  `${MINIMAL}limits: { flows: 1000, flowsPerHost: 10, expectations: 100 }\ntimeouts: { udp: 300, tcpEstablished: 7440 }\n`,
  'interfaces: {inside: [lan0], outside: wan0}\ninside: ["10.0.0.0/8", 192.168.0.0/16]\npublic: [203.0.113.1, 203.0.113.2]\npooling: arbitrary\nhairpin: false\n',
];

function examples(): string[] {
  const dir = join(FUZZ_DIR, '../../examples');
  return readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort().map((f) => readFileSync(join(dir, f), 'utf8'));
}

/** Process warnings (the yaml package prints some itself): a configuration problem must come as an issue, not as one. */
const warnings: string[] = [];
process.on('warning', (w) => warnings.push(w.message));

export default defineFuzzTarget({
  name: 'config',
  description: 'gateway configuration YAML (parseGatewayConfig): GatewayConfigError only, issues on real lines, never slow',
  seeds: () => [...HAND, ...examples()].map(utf8),
  dictionary: ['&a ', '*a', '<<: ', '<<: *a', '{', '}', '[', ']', ': ', '- ', '\n  ', '!!str ', '!!binary ', '? ', '|\n', "'", '"', '#', '---\n', '...\n', 'algs:', 'forwards:', 'triggers:', 'limits:', 'udp/', 'tcp/', '65535', '0.0.0.0/0', '1e9', '~', 'null', 'true'],
  text: true,
  maxLength: 8192,
  slowMs: 250,
  ciCount: 1000,
  async run(b) {
    const text = new TextDecoder().decode(b);
    const lines = text.split('\n').length;
    try {
      parseGatewayConfig(text, 'fuzz.yaml');
    } catch (err) {
      if (!(err instanceof GatewayConfigError)) throw err;
      invariant(err.issues.length > 0, 'a GatewayConfigError with no issue');
      for (const i of err.issues) invariant(i.line >= 0 && i.line <= lines + 1, () => `an issue on line ${i.line} of a ${lines}-line text: ${i.message}`);
    }
    await new Promise((r) => setImmediate(r));
    const printed = warnings.splice(0);
    invariant(printed.length === 0, () => `a process warning: ${printed[0]}`);
  },
});
