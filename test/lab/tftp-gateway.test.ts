/**
 * TFTP through `masq gateway` with its TFTP ALG, with tftp-hpa's server
 * (in.tftpd) on the internet side and its client behind the NAT: a download
 * and an upload checked by hash. The server answers each request from a new
 * port (RFC 1350), which address-and-port-dependent filtering drops unless a
 * pinhole admits it. Side by side in the same run: the kernel's masquerade
 * with nf_nat_tftp, the kernel without the helper, and masq without the ALG.
 * masq is asserted; the rest is recorded.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { prerequisites } from './prereq.js';
import { LAB, LabTopology, type LabProcess } from './topology.js';
import { ComparisonTable, statusJson, tunMissing } from './fixtures/gateway-probes.js';
import { startMasqWithAlg } from './fixtures/alg-gateway.js';
import { sha256 } from './fixtures/ftp-lab.js';
import { waitListening } from './fixtures/sip-lab.js';

const pre = prerequisites({ root: true, tools: ['ip', 'nft', 'conntrack', 'ss', 'in.tftpd', 'tftp'] });
const tun = tunMissing();
const skip = pre.skip || (tun !== undefined && process.env.CI !== 'true' ? tun : false);

const SRV = LAB.servers.a;
const NATS = ['masq', 'kernel (masquerade + nf_nat_tftp)', 'kernel (masquerade, no helper)', 'masq without the TFTP ALG'] as const;
type Nat = (typeof NATS)[number];

const table = new ComparisonTable([...NATS]);

describe('TFTP through masq (TFTP ALG) and the kernel (nf_nat_tftp), real tftp-hpa', { skip }, () => {
  let lab: LabTopology;
  let masq: LabProcess | undefined;
  let root = '';
  let fileHash = '';

  before(async () => {
    pre.assert();
    if (tun) assert.fail(`TUN gateway prerequisite: ${tun}`);
    lab = LabTopology.create('tftp');
    chmodSync(lab.dir, 0o755);
    root = join(lab.dir, 'tftproot');
    mkdirSync(root, { recursive: true });
    chmodSync(root, 0o777);
    const data = randomBytes(200 * 1024);
    writeFileSync(join(root, 'file.bin'), data);
    chmodSync(join(root, 'file.bin'), 0o644);
    fileHash = sha256(data);
    // --create and --permissive: uploads of new files into the root, owned by the server's user.
    lab.spawn('srv', ['in.tftpd', '--foreground', '--address', `${SRV}:69`, '--secure', '--create', '--permissive', '--user', 'root', root], 'in.tftpd');
    await waitListening(lab, 'srv', 'udp', SRV, 69);
  });

  after(async () => {
    await masq?.stop();
    await lab?.destroy();
    if (table.size > 0) process.stdout.write(`\n${table.markdown('TFTP through the NAT (same lab, same run)')}\n\n`);
  });

  async function use(nat: Nat): Promise<void> {
    await masq?.stop();
    masq = undefined;
    if (nat.startsWith('kernel')) {
      lab.useKernelNat('gw1', 'masquerade');
      if (nat === 'kernel (masquerade + nf_nat_tftp)') {
        const script = [
          'table ip masq_lab_helpers {',
          '  ct helper tftp-udp { type "tftp" protocol udp; l3proto ip; }',
          '  chain prerouting { type filter hook prerouting priority filter; policy accept;',
          '    iifname "lan0" udp dport 69 ct helper set "tftp-udp"',
          '  }',
          '}',
        ].join('\n');
        lab.exec('gw1', ['nft', '-f', lab.writeFile('gw1-tftp-helper.nft', script)]);
      }
      return;
    }
    masq = await startMasqWithAlg(lab, nat === 'masq' ? 'tftp' : null);
  }

  for (const nat of NATS) {
    test(`through ${nat}: a download and an upload, by hash`, async () => {
      await use(nat);
      const n = NATS.indexOf(nat);
      const out = join(lab.dir, `download-${n}.bin`);
      // tftp's own limits, from its command input: retransmit each second, give up after 5 s.
      const tftp = (command: string) => lab.exec('h1', ['tftp', '-m', 'binary', SRV], { allowFail: true, timeoutMs: 60_000, input: `rexmt 1\ntimeout 5\n${command}\nquit\n` });
      const get = tftp(`get file.bin ${out}`);
      const downloaded = existsSync(out) && sha256(readFileSync(out)) === fileHash;
      const up = join(lab.dir, `upload-${n}.bin`);
      const upData = randomBytes(100 * 1024);
      writeFileSync(up, upData);
      const put = tftp(`put ${up} up-${n}.bin`);
      const uploadedFile = join(root, `up-${n}.bin`);
      const uploaded = existsSync(uploadedFile) && sha256(readFileSync(uploadedFile)) === sha256(upData);
      const why = (r: { stdout: string; stderr: string }) => /Transfer timed out|Error code [^\n]*/.exec(r.stdout + r.stderr)?.[0] ?? 'no answer';
      table.set('tftp get (200 KiB), by hash', nat, downloaded ? 'ok' : `FAILS (${why(get)})`);
      table.set('tftp put (100 KiB), by hash', nat, uploaded ? 'ok' : `FAILS (${why(put)})`);
      if (nat !== 'masq') return;
      assert.ok(downloaded, `download: ${get.stdout}${get.stderr}`);
      assert.ok(uploaded, `upload: ${put.stdout}${put.stderr}`);
      const c = statusJson(lab, 'gw1', '/counters').algs.find((a: { name: string }) => a.name === 'tftp').counters;
      assert.ok(c.readRequests >= 1 && c.writeRequests >= 1 && c.pinholes >= 2, JSON.stringify(c));
    });
  }
});
