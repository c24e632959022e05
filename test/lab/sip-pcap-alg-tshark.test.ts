/**
 * `masq pcap translate --alg sip` on real SIP captures, decoded by tshark:
 * outbound SIP carries the public address where it carried the inside one,
 * Content-Length matches every body, and nothing but addresses, ports and
 * lengths changed (the rest of each message is byte-for-byte the input's).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capturesDir, prerequisites, repoRoot } from './prereq.js';

const pre = prerequisites({ tools: ['tshark'], captures: true });
const PUBLIC = '203.0.113.1';

const CASES = [
  { file: 'sip.pcap', inside: '192.168.1.0/24', host: '192.168.1.2' },
  { file: 'sip_hello.pcapng', inside: '172.29.38.0/24', host: '172.29.38.91' },
  { file: 'FAX-Call-t38-CA-TDM-SIP-FB-1.pcap', inside: '192.168.100.0/24', host: '192.168.100.219' },
];

interface SipFrame {
  src: string;
  dst: string;
  text: string;
}

function sipFrames(file: string): SipFrame[] {
  const out = execFileSync('tshark', ['-r', file, '-Y', 'sip && udp', '-T', 'fields', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'udp.payload'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [src, dst, hex] = l.split('\t');
      return { src, dst, text: Buffer.from(hex.replace(/:/g, ''), 'hex').toString('latin1') };
    });
}

/** The message with every number and dotted address taken out: what must not change. */
const skeleton = (t: string) => t.replace(/[0-9]+(\.[0-9]+)*/g, '#');

describe('masq pcap translate --alg sip on real captures, checked by tshark', { skip: pre.skip }, () => {
  let dir = '';
  before(() => {
    pre.assert();
    dir = mkdtempSync(join(tmpdir(), `masq-sip-pcap-${process.pid}-`));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const c of CASES) {
    test(c.file, () => {
      const input = join(capturesDir, c.file);
      const output = join(dir, `out-${c.file}`);
      const summary = JSON.parse(
        execFileSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), 'pcap', 'translate', input, output, '--inside', c.inside, '--public', PUBLIC, '--alg', 'sip', '--json'], { encoding: 'utf8', cwd: repoRoot }),
      );
      // The host's own SIP, in and out (other legs in a capture are not ours and are dropped).
      const ours = sipFrames(input).filter((f) => f.src.split(',')[0] === c.host || f.dst.split(',')[0] === c.host);
      const written = sipFrames(output);
      // Pair each written message with the input message it came from, in order:
      // only an unsolicited inbound packet (before the host sent anything) may be missing.
      let j = 0;
      let outbound = 0;
      for (const [i, b] of written.entries()) {
        while (j < ours.length && skeleton(ours[j].text) !== skeleton(b.text)) j++;
        assert.ok(j < ours.length, `frame ${i}: written message matches an input message except for addresses, ports and lengths`);
        const a = ours[j++];
        // Content-Length equals the body length in every message written.
        const [head, ...bodyParts] = b.text.split('\r\n\r\n');
        const cl = /\r\n(?:Content-Length|l)\s*:\s*(\d+)/i.exec(head);
        if (cl) assert.equal(Number(cl[1]), Buffer.byteLength(bodyParts.join('\r\n\r\n'), 'latin1'), `frame ${i}: Content-Length`);
        if (a.src.split(',')[0] === c.host) {
          outbound++;
          assert.equal(b.src.split(',')[0], PUBLIC);
          // Where the phone named itself (sent-by, Contact, SDP), it now names the public address.
          for (const field of [/^Via: SIP\/2\.0\/UDP ([0-9.]+)/m, /^(?:Contact|m): <sip:[^@>]*@?([0-9.]+)/im, /^c=IN IP4 ([0-9.]+)/m, /^o=\S+ \S+ \S+ IN IP4 ([0-9.]+)/m]) {
            const found = field.exec(b.text.split('\r\n').join('\n'));
            if (found && field.exec(a.text.split('\r\n').join('\n'))?.[1] === c.host) assert.equal(found[1], PUBLIC, `frame ${i}: ${field}`);
          }
        }
      }
      const unsolicited = (summary.counters.drops.noMapping ?? 0) + (summary.counters.drops.filtered ?? 0);
      assert.ok(written.length >= ours.length - unsolicited, `${written.length} of ${ours.length} written`);
      assert.ok(outbound > 0);
    });
  }
});
