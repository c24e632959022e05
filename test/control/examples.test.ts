/** Every shipped example configuration passes `masq gateway --check`; a broken one fails it. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const examples = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.yaml'));

function check(file: string) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'gateway', '--check', '--config', file], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('examples/*.yaml', () => {
  test('there are examples: a home gateway, forwards and a trigger, SIP', () => {
    for (const name of ['home-gateway.yaml', 'gateway-forwards-trigger.yaml', 'sip-gateway.yaml']) assert.ok(examples.includes(name), name);
  });

  for (const name of examples) {
    test(`${name} passes --check`, () => {
      const r = check(join('examples', name));
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`examples/${name.replace('.', '\\.')}: OK`));
    });
  }

  test('--check fails (exit 2) with the line of the problem', () => {
    const dir = mkdtempSync(join(tmpdir(), 'masq-check-'));
    try {
      const file = join(dir, 'bad.yaml');
      writeFileSync(file, 'interfaces: { inside: [lan0], outside: wan0 }\ninside: [10.0.1.0/24]\npublic: [203.0.113.1]\nfiltering: full-cone\n');
      const r = check(file);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /bad\.yaml:4:12: filtering: expected endpoint-independent/);
      const missing = check(join(dir, 'absent.yaml'));
      assert.equal(missing.status, 2);
      // Reported as missing, not as a problem at line 1 of a file that is not there.
      assert.match(missing.stderr, /absent\.yaml: cannot read the file: no such file \(ENOENT\)/);
      assert.doesNotMatch(missing.stderr, /invalid configuration|:1:1/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--check on hostile files: exit 2, one line naming the place, no stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'masq-check-'));
    const head = 'interfaces: { inside: [lan0], outside: wan0 }\ninside: [10.0.1.0/24]\npublic: [203.0.113.1]\n';
    try {
      const cases: Array<[string, string, RegExp]> = [
        ['bomb.yaml', `${head}a0: &a0 [x, x, x, x, x, x, x, x, x]\n${[1, 2, 3, 4, 5, 6, 7, 8].map((i) => `a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]`).join('\n')}\n`, /bomb\.yaml:9:\d+: a5\.0: aliases expand the file/],
        ['merge.yaml', `${head}tun:\n  <<: *nowhere\n`, /merge\.yaml:5:7: tun\.<<: alias \*nowhere names no anchor/],
        ['big.yaml', `${head}${'#'.repeat(10 << 20)}\n`, /big\.yaml: the file is \d+ bytes; a configuration file may be at most 1048576 bytes/],
      ];
      for (const [name, text, expected] of cases) {
        writeFileSync(join(dir, name), text);
        const r = check(join(dir, name));
        assert.equal(r.status, 2, `${name}: ${r.stderr}`);
        assert.match(r.stderr, expected);
        assert.doesNotMatch(r.stderr, /\n\s+at /, `${name}: no stack trace`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
