/**
 * `autofw:` in the gateway configuration file: `masq gateway --check` prints
 * the rules it read from each HOWTO line, with the line; a line with an option
 * masq does not support fails with the line and the option.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseGatewayConfig, GatewayConfigError } from '../../src/control/config/load.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const HEAD = 'interfaces: { inside: [lan0], outside: wan0 }\ninside: [10.0.1.0/24]\npublic: [203.0.113.1]\n';

function check(text: string) {
  const dir = mkdtempSync(join(tmpdir(), 'masq-autofw-'));
  try {
    const file = join(dir, 'gw.yaml');
    writeFileSync(file, text);
    return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'gateway', '--check', '--config', file], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('--check prints what each autofw line became, by its line in the file', () => {
  const r = check(
    `${HEAD}autofw:\n  - ipautofw -A -r udp 7648 7649 -c udp 7648 -u\n  - rule: ipautofw -A -r udp 7648 7649 -c tcp 7648 -i\n    idleTimeout: 60\n  - ipmasqadm autofw -A -d udp 7648 7648\n  - ipmasqadm autofw -A -r udp 24032 24032 -h 10.0.1.20\n`,
  );
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  const at = (text: string) => lines.findIndex((l) => l.includes(text));
  assert.match(r.stdout, /autofw: 4 line\(s\), read as/);
  assert.match(lines[at('line 5: ipautofw -A -r udp 7648 7649 -c udp 7648 -u') + 1], /-> triggers: \{ protocol: udp, port: 7648, open: \{ protocol: udp, ports: 7648-7649 \}, idleTimeout: 300, onlyFromContacted: true, refresh: any-use \}/);
  assert.match(lines[at('line 6: ipautofw -A -r udp 7648 7649 -c tcp 7648 -i') + 1], /-> triggers: \{ protocol: tcp, port: 7648, .*idleTimeout: 60, onlyFromContacted: false, refresh: control-port \}/);
  assert.match(lines[at('line 8: ipmasqadm autofw -A -d udp 7648 7648') + 1], /-> keepSourcePorts: \{ protocol: udp, port: 7648 \}/);
  assert.match(lines[at('line 9: ipmasqadm autofw -A -r udp 24032 24032 -h 10.0.1.20') + 1], /-> forwards: \{ protocol: udp, port: 24032, to: 10\.0\.1\.20 \}/);
  assert.match(r.stdout, /1 forward\(s\), 2 trigger\(s\)/);
});

test('an unsupported option fails --check with the file, the line and the option', () => {
  const r = check(`${HEAD}autofw:\n  - ipautofw -A -r udp 7648 7649 -h 10.0.1.20\n  - ipautofw -A -r udp 7650 7651 -c udp 7648 -x\n`);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /gw\.yaml:6:5: autofw\.1: option -x is not supported/);
});

test('every bad line at once, each at its line', () => {
  try {
    parseGatewayConfig(`${HEAD}autofw:\n  - ipautofw -F\n  - ipautofw -A -r udp 7648 7649 -h 192.168.9.9\n  - 42\n`, 'gw.yaml');
    assert.fail('expected problems');
  } catch (err) {
    assert.ok(err instanceof GatewayConfigError);
    assert.deepEqual(
      err.issues.map((i) => `${i.line}: ${i.path}: ${i.message}`),
      ['7: autofw.2: expected an ipautofw or ipmasqadm autofw command line, or { rule: LINE, idleTimeout: SECONDS }'],
    );
  }
  try {
    parseGatewayConfig(`${HEAD}autofw:\n  - ipautofw -F\n  - ipautofw -A -r udp 7648 7649 -h 192.168.9.9\n`, 'gw.yaml');
    assert.fail('expected problems');
  } catch (err) {
    assert.ok(err instanceof GatewayConfigError);
    assert.deepEqual(
      err.issues.map((i) => `${i.line}: ${i.path}: ${i.message}`),
      ['5: autofw.0: -F flushes the table: a configuration lists the rules to add, each with -A', '6: autofw.1: 192.168.9.9 is not inside any inside prefix'],
    );
  }
});
