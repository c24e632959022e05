/**
 * FTP through `masq gateway` with its FTP ALG, with real peers from Debian,
 * side by side with the kernel's masquerade and nf_nat_ftp in the same run
 * (test/lab/topology.ts):
 *
 *   - vsftpd on the internet side, curl and lftp behind the NAT: downloads
 *     and uploads in active mode (EPRT from curl, PORT from lftp) and passive
 *     mode (EPSV from curl, PASV from lftp), every file checked by hash;
 *   - vsftpd behind the NAT on a static forward of port 21, used from the
 *     internet in passive mode (EPSV and PASV: the 227 names the public
 *     address), downloads and uploads checked by hash;
 *   - masq without the ALG, as the control: active mode is refused (vsftpd
 *     sees the private address in PORT) and the forwarded server's passive
 *     data connections find nothing open.
 *
 * masq is asserted; the kernel is recorded next to it (the table is printed
 * at the end and kept in docs/ftp-rtsp-tftp.md).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { prerequisites } from './prereq.js';
import { LAB, LabTopology } from './topology.js';
import { ComparisonTable, tunMissing } from './fixtures/gateway-probes.js';
import { curlFtp, FTP_NATS, FtpGateway, type FtpNat, type FtpServer, lftp, sha256, startVsftpd } from './fixtures/ftp-lab.js';

const pre = prerequisites({ root: true, tools: ['ip', 'nft', 'conntrack', 'ss', 'vsftpd', 'curl', 'lftp'] });
const tun = tunMissing();
const skip = pre.skip || (tun !== undefined && process.env.CI !== 'true' ? tun : false);

const SRV = LAB.servers.a;
const H1 = LAB.lan1.h1;
const PUB = LAB.gw1.public;
const FILE_SIZE = 300 * 1024;
const COLUMNS: FtpNat[] = [...FTP_NATS, 'masq without the FTP ALG'];

const table = new ComparisonTable(COLUMNS);
const mark = (ok: boolean) => (ok ? 'ok' : 'FAILS');

describe('FTP through masq (FTP ALG) and the kernel (nf_nat_ftp), real vsftpd, curl and lftp', { skip }, () => {
  let lab: LabTopology;
  let gateway: FtpGateway;
  let outside: FtpServer;
  let inside: FtpServer;
  let outsideHash = '';
  let insideHash = '';

  before(async () => {
    pre.assert();
    if (tun) assert.fail(`TUN gateway prerequisite: ${tun}`);
    lab = LabTopology.create('ftp');
    gateway = new FtpGateway(lab);
    outside = await startVsftpd(lab, 'srv', 'outside', SRV, [40000, 40999]);
    inside = await startVsftpd(lab, 'h1', 'inside', H1, [41000, 41999]);
    outsideHash = outside.put('file.bin', FILE_SIZE);
    insideHash = inside.put('file.bin', FILE_SIZE);
  });

  after(async () => {
    await gateway?.stop();
    await lab?.destroy();
    if (table.size > 0) process.stdout.write(`\n${table.markdown('FTP through the NAT (same lab, same run)')}\n\n`);
  });

  for (const nat of COLUMNS) {
    describe(`through ${nat}`, () => {
      const isMasq = nat === 'masq';
      const record = (row: string, ok: boolean, detail = '') => table.set(row, nat, detail ? `${mark(ok)} (${detail})` : mark(ok));

      test('vsftpd outside, curl and lftp inside: active and passive, downloads and uploads, by hash', async () => {
        await gateway.use(nat);
        const url = `ftp://${SRV}/file.bin`;
        const cases: Array<[string, () => { ok: boolean; hash?: string; log: string }, () => boolean]> = [];
        const upload = (name: string, data: Uint8Array) => () => outside.uploaded(name) === sha256(data);
        const up1 = new Uint8Array(Buffer.from(`curl active upload ${nat} `.repeat(5000)));
        const up2 = new Uint8Array(Buffer.from(`curl passive upload ${nat} `.repeat(5000)));
        cases.push(['curl passive download (EPSV)', () => curlFtp(lab, 'h1', url, { active: false }), () => true]);
        cases.push(['curl passive download (PASV, 227)', () => curlFtp(lab, 'h1', url, { active: false, epsv: false }), () => true]);
        cases.push(['curl active download (EPRT)', () => curlFtp(lab, 'h1', url, { active: true }), () => true]);
        cases.push(['curl active download (PORT)', () => curlFtp(lab, 'h1', url, { active: true, epsv: false }), () => true]);
        cases.push(['curl active upload (EPRT)', () => curlFtp(lab, 'h1', `ftp://${SRV}/upload/a-${COLUMNS.indexOf(nat)}.bin`, { active: true, upload: up1 }), upload(`a-${COLUMNS.indexOf(nat)}.bin`, up1)]);
        cases.push(['curl passive upload (EPSV)', () => curlFtp(lab, 'h1', `ftp://${SRV}/upload/p-${COLUMNS.indexOf(nat)}.bin`, { active: false, upload: up2 }), upload(`p-${COLUMNS.indexOf(nat)}.bin`, up2)]);
        const results = new Map<string, boolean>();
        for (const [name, run, check] of cases) {
          const r = run();
          const ok = r.ok && (r.hash === undefined || r.hash === '' ? check() : r.hash === outsideHash);
          results.set(name, ok);
          record(name, ok);
          if (isMasq) assert.ok(ok, `${name} through masq:\n${r.log}`);
        }
        // lftp: PORT (active) and PASV (passive), a get and a put each.
        for (const active of [true, false]) {
          const name = `l${active ? 'a' : 'p'}-${COLUMNS.indexOf(nat)}`;
          lab.writeFile(`${name}.up`, `lftp upload ${name} `.repeat(4000));
          const r = lftp(lab, 'h1', SRV, [`get file.bin -o ${name}.bin`, `put ${name}.up -o upload/${name}.up`], active);
          const got = r.ok ? sha256(readFileSync(`${lab.dir}/${name}.bin`)) : '';
          const ok = r.ok && got === outsideHash && outside.uploaded(`${name}.up`) === sha256(new Uint8Array(Buffer.from(`lftp upload ${name} `.repeat(4000))));
          const row = `lftp ${active ? 'active (PORT)' : 'passive (PASV)'} get and put`;
          record(row, ok);
          if (isMasq) assert.ok(ok, `${row} through masq:\n${r.log}`);
        }
        if (isMasq) {
          const c = gateway.algCounters();
          assert.ok(c.eprtCommands >= 2 && c.portCommands >= 2, `EPRT and PORT seen: ${JSON.stringify(c)}`);
          assert.ok(c.dataPinholes >= 4, 'a pinhole per active transfer');
          assert.ok(c.dataDials >= 3, 'passive data connections tied to their control connection');
          assert.equal(c.thirdParty, 0);
        }
        if (nat === 'masq without the FTP ALG') {
          // The control: active mode needs the ALG (vsftpd refuses a PORT naming 10.0.1.2).
          assert.equal(results.get('curl active download (EPRT)'), false);
          assert.equal(results.get('curl passive download (EPSV)'), true);
        }
      });

      test('vsftpd inside on a static forward, used from outside in passive mode, by hash', async () => {
        await gateway.use(nat, H1);
        const url = `ftp://${PUB}/file.bin`;
        const epsv = curlFtp(lab, 'srv', url, { active: false });
        const pasv = curlFtp(lab, 'srv', url, { active: false, epsv: false });
        const data = new Uint8Array(Buffer.from(`forwarded upload ${nat} `.repeat(5000)));
        const n = `f-${COLUMNS.indexOf(nat)}.bin`;
        const put = curlFtp(lab, 'srv', `ftp://${PUB}/upload/${n}`, { active: false, epsv: false, upload: data });
        const putOk = put.ok && inside.uploaded(n) === sha256(data);
        const pasvLine = /< 227 .*/.exec(pasv.log)?.[0] ?? '';
        record('forwarded server, passive download (EPSV)', epsv.ok && epsv.hash === insideHash);
        record('forwarded server, passive download (PASV)', pasv.ok && pasv.hash === insideHash, pasvLine.replace(/^< /, '').trim());
        record('forwarded server, passive upload (PASV)', putOk);
        if (isMasq) {
          assert.ok(epsv.ok && epsv.hash === insideHash, `EPSV through masq:\n${epsv.log}`);
          assert.ok(pasv.ok && pasv.hash === insideHash, `PASV through masq:\n${pasv.log}`);
          assert.match(pasvLine, /\(203,0,113,1,\d+,\d+\)/, 'the 227 names the public address');
          assert.ok(putOk, `upload through masq:\n${put.log}`);
        }
        if (nat === 'masq without the FTP ALG') {
          assert.equal(pasv.ok, false, 'without the ALG the 227 names 10.0.1.2');
        }
      });
    });
  }
});
