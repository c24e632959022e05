/**
 * Hole punching through real Linux NATs: two peers behind two gateway
 * namespaces, every ordered pair of four gateway modes (no NAT, `masquerade`,
 * `masquerade fully-random`, full cone), `masq punch` and then a
 * python3-aioice agent on the same pair.
 *
 * masq must connect every pair, directly wherever a direct path can exist
 * (fully-random against masquerade included, by birthday probing), and through
 * the relay only for fully-random against fully-random. aioice is measured, not
 * asserted (it has no relay here); the table of both is printed for
 * docs/punching.md.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { prerequisites, repoRoot } from './prereq.js';
import { KERNEL_NAT_MODES, PunchLab, SERVER_IP, type KernelNatMode } from './fixtures/punch-lab.js';
import { sessionSecretFromMaster } from '../../src/rendezvous/protocol/keys.js';

const pre = prerequisites({ root: true, tools: ['ip', 'nft', 'conntrack', 'turnserver'], python: ['aioice'] });

const masq = (...args: string[]): [string, string[]] => [process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args]];

/** What masq must achieve: direct, unless both sides map per destination at random. */
function masqExpectation(a: KernelNatMode, b: KernelNatMode): 'direct' | 'relayed' {
  return a === 'fully-random' && b === 'fully-random' ? 'relayed' : 'direct';
}

interface MasqSide {
  path: string;
  timeMs: number | null;
  birthdayProbes: number;
}

interface Row {
  a: KernelNatMode;
  b: KernelNatMode;
  masq: [MasqSide | null, MasqSide | null];
  aioice: [{ ok: boolean; ms: number; pair: { local: string; remote: string } | null } | null, unknown];
}

async function waitFor(output: () => string, pattern: RegExp, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (pattern.test(output())) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${pattern}: ${output()}`);
}

function parseLast(stdout: string): unknown {
  const line = stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line);
  } catch {
    return null;
  }
}

describe('hole punching through kernel NATs, masq beside aioice', { skip: pre.skip }, () => {
  const lab = new PunchLab();
  const rows: Row[] = [];
  // A master key: every pair gets its own session (and secret), so no peer of
  // an earlier pair (still in its session until it expires) is seen again.
  const master = randomBytes(32).toString('hex');
  const keyFile = `/tmp/${lab.tag}-master.key`;

  before(async () => {
    pre.assert();
    writeFileSync(keyFile, master, { mode: 0o600 });
    lab.build();
    const secret = ['--master-key-file', keyFile];
    const rv = lab.daemon(lab.ns.s, ...masq('rendezvous', 'serve', '--listen', `${SERVER_IP}:7000`, '--relay', `${SERVER_IP}:7100`, ...secret), repoRoot);
    const relay = lab.daemon(lab.ns.s, ...masq('relay', 'serve', '--listen', `${SERVER_IP}:7100`, ...secret), repoRoot);
    const stun = lab.daemon(
      lab.ns.s,
      'turnserver',
      ['-n', '--stun-only', '--no-cli', '--no-tls', '--no-dtls', '--no-tcp', '-L', SERVER_IP, '--listening-port', '3478', '--log-file', 'stdout'],
      repoRoot,
    );
    await waitFor(rv.output, /listening/, 30_000);
    await waitFor(relay.output, /listening/, 30_000);
    await waitFor(stun.output, /(listener opened|IPv4\. UDP listener)/i, 10_000).catch(() => {});
  });

  after(async () => {
    await lab.destroy();
    rmSync(keyFile, { force: true });
    if (rows.length) {
      const table = formatTable(rows);
      process.stdout.write(`\n${table}\n`);
    }
  });

  for (const a of KERNEL_NAT_MODES) {
    for (const b of KERNEL_NAT_MODES) {
      test(`${a} x ${b}: masq ${masqExpectation(a, b)}`, async () => {
        lab.setModes(a, b);
        const session = `lab-${a}-${b}`;
        const secret = sessionSecretFromMaster(new Uint8Array(Buffer.from(master, 'utf8')), session);
        const args = ['punch', '--server', `${SERVER_IP}:7000`, '--session', session, '--secret', secret, '--json', '--peers', '1', '--timeout', '40', '--wait-direct', '16', '--linger', '4'];
        const p1 = lab.run(lab.ns.h1, ...masq(...args, '--name', 'h1'), repoRoot, 90_000);
        await new Promise((r) => setTimeout(r, 300));
        const p2 = lab.run(lab.ns.h2, ...masq(...args, '--name', 'h2'), repoRoot, 90_000);
        const [r1, r2] = await Promise.all([p1, p2]);
        const side = (r: { stdout: string }, other: string): MasqSide | null => {
          const j = parseLast(r.stdout) as { peers?: Array<{ name: string | null; path: string; timeMs: number | null; birthdayProbes: number }> } | null;
          const p = j?.peers?.find((x) => x.name === other);
          return p ? { path: p.path, timeMs: p.timeMs, birthdayProbes: p.birthdayProbes } : null;
        };
        const m: [MasqSide | null, MasqSide | null] = [side(r1, 'h2'), side(r2, 'h1')];

        // The same pair with aioice (fresh conntrack state first).
        lab.setModes(a, b);
        const f1 = `/tmp/${lab.tag}-aioice-1.json`;
        const f2 = `/tmp/${lab.tag}-aioice-2.json`;
        rmSync(f1, { force: true });
        rmSync(f2, { force: true });
        const script = 'test/lab/fixtures/punch-aioice.py';
        const [i1, i2] = await Promise.all([
          lab.run(lab.ns.h1, '/usr/bin/python3', [script, 'controlling', f1, f2, SERVER_IP, '3478'], repoRoot, 60_000),
          lab.run(lab.ns.h2, '/usr/bin/python3', [script, 'controlled', f2, f1, SERVER_IP, '3478'], repoRoot, 60_000),
        ]);
        rmSync(f1, { force: true });
        rmSync(f2, { force: true });
        rows.push({ a, b, masq: m, aioice: [parseLast(i1.stdout) as Row['aioice'][0], parseLast(i2.stdout)] });

        const detail = `masq h1: ${r1.stdout.slice(-600)} ${r1.stderr.slice(-300)}\nmasq h2: ${r2.stdout.slice(-600)} ${r2.stderr.slice(-300)}`;
        assert.ok(m[0] && m[1], `both masq peers reported a path\n${detail}`);
        const expected = masqExpectation(a, b);
        for (const s of m) {
          if (expected === 'relayed') assert.equal(s!.path, 'relayed', detail);
          else assert.match(s!.path, /^direct /, detail);
        }
        assert.equal(r1.code, 0, detail);
        assert.equal(r2.code, 0, detail);
      });
    }
  }
});

function formatTable(rows: Row[]): string {
  const lines = [
    '| h1 gateway | h2 gateway | masq (h1 / h2 path) | masq time | aioice | aioice time |',
    '|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const [x, y] = r.masq;
    const masqPath = x && y ? (x.path === y.path ? x.path : `${x.path} / ${y.path}`) : 'failed';
    const probes = Math.max(x?.birthdayProbes ?? 0, y?.birthdayProbes ?? 0);
    const masqTime = x && y && x.timeMs !== null && y.timeMs !== null ? `${Math.max(x.timeMs, y.timeMs)} ms${probes ? ` (${probes} probes)` : ''}` : '-';
    const ai = r.aioice[0];
    const aiPath = ai?.ok ? `connected (${ai.pair?.remote.split(' ')[1] ?? '?'})` : 'failed';
    lines.push(`| ${r.a} | ${r.b} | ${masqPath} | ${masqTime} | ${aiPath} | ${ai?.ok ? `${ai.ms} ms` : '-'} |`);
  }
  const masqOk = rows.filter((r) => r.masq[0] && r.masq[1]).length;
  const masqDirect = rows.filter((r) => r.masq[0]?.path.startsWith('direct') && r.masq[1]?.path.startsWith('direct')).length;
  const aiOk = rows.filter((r) => r.aioice[0]?.ok).length;
  lines.push('', `masq: ${masqOk}/${rows.length} pairs connected, ${masqDirect} directly; aioice: ${aiOk}/${rows.length} connected.`);
  return lines.join('\n');
}
