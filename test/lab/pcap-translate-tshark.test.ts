/**
 * `masq pcap translate` on real captures, with tshark as the independent
 * decoder: every checksum in the output is valid, no inside address leaks to
 * the outside, and the summary adds up. UDP, TCP, ICMP, VLAN and SLL covered.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capturesDir, prerequisites, repoRoot } from './prereq.js';
import { Blocks } from '../wire/pcapng-blocks.js';
import { udpPkt } from '../nat/packets.js';
import { writePcap } from '../../src/wire/capture.js';
import { sipRegisterPacket } from '../fixtures/sip-register.js';

const pre = prerequisites({ tools: ['tshark'], captures: true });

const CASES = [
  { file: 'sip.pcap', inside: '192.168.1.0/24', covers: 'UDP (SIP, RTP)' },
  { file: 'ftp.pcap', inside: '192.168.1.0/24', covers: 'TCP, checksum offload' },
  { file: 'stun_signal.pcapng', inside: '192.168.12.0/24', covers: 'ICMP errors' },
  { file: 'rtp.pcapng', inside: '10.140.0.0/16', covers: '802.1Q VLAN' },
  { file: 'stun.pcap', inside: '192.168.12.0/24', covers: 'VLAN, ICMP, IPv6 passing' },
  { file: 'rtsp.pcap', inside: '10.1.1.0/24', covers: 'Linux cooked (SLL), TCP' },
];

const PUBLIC = '203.0.113.1';

function masq(args: string[]): string {
  return execFileSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: repoRoot });
}

function tshark(file: string, filter: string, fields: string[]): string[][] {
  const out = execFileSync(
    'tshark',
    ['-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-Y', filter, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  return out.split('\n').filter(Boolean).map((l) => l.split('\t'));
}

function inPrefix(addr: string, cidr: string): boolean {
  const toNum = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  const [net, len] = cidr.split('/');
  const mask = Number(len) === 0 ? 0 : 2 ** 32 - 2 ** (32 - Number(len));
  return (toNum(addr) & mask) >>> 0 === (toNum(net) & mask) >>> 0;
}

describe('masq pcap translate on real captures, checked by tshark', { skip: pre.skip }, () => {
  let dir = '';
  before(() => {
    pre.assert();
    dir = mkdtempSync(join(tmpdir(), `masq-pcap-${process.pid}-`));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const c of CASES) {
    test(`${c.file}: ${c.covers}`, () => {
      const out = join(dir, `out-${c.file}`);
      const summary = JSON.parse(masq(['pcap', 'translate', join(capturesDir, c.file), out, '--inside', c.inside, '--public', PUBLIC, '--json']));
      assert.ok(summary.packetsOut > 0, 'something was written');
      assert.equal(summary.packetsOut + summary.dropped + summary.notIp, summary.packetsIn + summary.emitted);

      // tshark reads the output and finds no bad checksum anywhere (including ICMP and quoted headers).
      const bad = tshark(out, 'ip.checksum.status == "Bad" || udp.checksum.status == "Bad" || tcp.checksum.status == "Bad" || icmp.checksum.status == "Bad"', ['frame.number']);
      assert.deepEqual(bad, [], `frames with a bad checksum: ${bad.map((r) => r[0]).join(', ')}`);
      assert.equal(Number(execFileSync('tshark', ['-r', out, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' }).split('\n').filter(Boolean).length), summary.packetsOut);

      // Nothing leaves toward the outside with an inside source: outbound traffic carries the public address.
      const v4 = tshark(out, 'ip && !icmp.type == 3 && !icmp.type == 11', ['ip.src', 'ip.dst']);
      for (const [src, dst] of v4.map((r) => [r[0].split(',')[0], r[1].split(',')[0]])) {
        if (!inPrefix(dst, c.inside)) assert.ok(!inPrefix(src, c.inside), `inside source ${src} leaked toward ${dst}`);
      }
      assert.ok(v4.some(([src]) => src.split(',')[0] === PUBLIC), 'translated packets carry the public address');
    });
  }

  test('ICMP errors both ways: outer and quoted headers agree with the side they travel on', () => {
    const out = join(dir, 'icmp-check.pcapng');
    masq(['pcap', 'translate', join(capturesDir, 'stun_signal.pcapng'), out, '--inside', '192.168.12.0/24', '--public', PUBLIC, '--json']);
    // ip.dst lists the outer destination, then the quoted packet's destination;
    // ip.src the outer source, then the quoted source.
    const errors = tshark(out, 'icmp.type == 3', ['ip.dst', 'ip.src']).map(([d, s]) => ({ dst: d.split(','), src: s.split(',') }));
    const inward = errors.filter((e) => inPrefix(e.dst[0], '192.168.12.0/24'));
    const outward = errors.filter((e) => !inPrefix(e.dst[0], '192.168.12.0/24'));
    assert.ok(inward.length > 0 && outward.length > 0, 'the capture has errors both ways');
    for (const e of inward) assert.equal(e.src[1], e.dst[0], 'an inward error quotes a packet the inside host sent');
    for (const e of outward) {
      assert.equal(e.src[0], PUBLIC, 'an outward error leaves from the public address');
      assert.equal(e.dst[1], PUBLIC, 'and quotes the packet as the remote sent it, to the public address');
    }
  });
});

describe('masq pcap translate on damaged captures, checked by tshark', { skip: prerequisites({ tools: ['tshark'] }).skip }, () => {
  let dir = '';
  before(() => {
    prerequisites({ tools: ['tshark'] }).assert();
    dir = mkdtempSync(join(tmpdir(), `masq-pcap-damaged-${process.pid}-`));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const ether = (ip: Uint8Array) => [0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0, ...ip];
  const fields = (file: string, names: string[]) =>
    execFileSync('tshark', ['-r', file, '-T', 'fields', ...names.flatMap((f) => ['-e', f])], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t'));

  test('times tshark reads (past 2554, before 1970 by a negative if_tsoffset) come out as tshark read them', () => {
    const q = ether(udpPkt('192.168.1.2:5000', '198.51.100.10:53', 'q'));
    const int64 = (v: bigint) => [...new Uint8Array(new BigInt64Array([v]).buffer)];
    const input = join(dir, 'times.pcapng');
    const output = join(dir, 'times-out.pcapng');
    writeFileSync(
      input,
      new Blocks()
        .shb(true)
        .idb(1, 0)
        .idb(1, 0, new Blocks().option(14, int64(-2_000_000_000n)))
        .epb(1, 0, 7, q)
        .epb(0, 0, 1_000_000, q)
        .epb(0, 0x80000000, 5, q)
        .bytes(),
    );
    const summary = JSON.parse(masq(['pcap', 'translate', input, output, '--inside', '192.168.1.0/24', '--public', PUBLIC, '--json']));
    assert.deepEqual([summary.packetsOut, summary.failed, summary.unwritable], [3, 0, 0]);
    const before = fields(input, ['frame.time_epoch']).map((r) => r[0]);
    assert.equal(before.length, 3);
    assert.deepEqual(fields(output, ['frame.time_epoch', 'ip.src']), before.map((t) => [t, PUBLIC]));
  });

  test('an original length that disagrees with an ALG rewrite: the record is written, its lengths consistent', () => {
    const data = new Uint8Array(ether(sipRegisterPacket()));
    const input = join(dir, 'orig.pcap');
    const output = join(dir, 'orig-out.pcap');
    // origLength 0: one bit flip away from a small packet's length, and shorter than what was captured.
    writeFileSync(input, writePcap([{ linkType: 1, tsSec: 1, tsNsec: 0, data, origLength: 0, interfaceIndex: 0 }]));
    const summary = JSON.parse(masq(['pcap', 'translate', input, output, '--inside', '192.168.1.0/24', '--public', PUBLIC, '--alg', 'sip', '--json']));
    assert.equal(summary.packetsOut, 1);
    const [[len, capLen, contact]] = fields(output, ['frame.len', 'frame.cap_len', 'sip.contact.host']);
    assert.equal(len, capLen);
    assert.equal(contact, PUBLIC);
  });
});
