/** The shipped sip-proxy example passes `masq sip-proxy --check`; a bad file fails it with exit 2, naming the problem. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const check = (file: string) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'sip-proxy', '--check', '--config', file], { cwd: root, encoding: 'utf8', timeout: 60_000 });

test('examples/sip-proxy/proxy.yaml passes --check', () => {
  const r = check('examples/sip-proxy/proxy.yaml');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /proxy\.yaml: OK/);
  assert.match(r.stdout, /relay 198\.51\.100\.10 ports 30000-40000/);
});

test('a TLS listener without a key fails --check (exit 2)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'masq-sipproxy-'));
  try {
    const text = readFileSync(join(root, 'examples/sip-proxy/proxy.yaml'), 'utf8').replace('  - { transport: tcp,', '  - { transport: tls, address: 198.51.100.10, certificate: /x.crt }\n  - { transport: tcp,');
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, text);
    const r = check(file);
    assert.equal(r.status, 2, r.stdout);
    assert.match(r.stderr, /a TLS listener needs certificate and key/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
