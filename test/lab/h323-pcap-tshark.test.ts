/**
 * `masq pcap translate --alg h323` on the shared H.323 captures, read back by
 * tshark's own H.225.0/H.245 dissectors (an independent decoder):
 *
 * - every message an inside host sent decodes in the output exactly as it did
 *   in the input (same protocol stack, nothing newly malformed), and each
 *   transport address tshark finds in it is the input's with the inside
 *   host's address replaced by the public one; except on a TCP connection
 *   whose start is not in the capture (the Setup of frame 65), which the ALG
 *   framework passes unread by policy: no message boundary was verified there;
 * - h323-overflow.pcap (a malformed TPKT segment) reads the same before and
 *   after.
 *
 * Only what the inside hosts sent is compared: the capture was recorded
 * without a NAT, so the outside peers' messages name private addresses no
 * real peer behind a NAT would see, and in the output they are delivered to
 * the LAN side, where tshark has not seen the H.245 address that would tell
 * it to dissect their connection.
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
const INSIDE_HOSTS = ['10.1.3.143', '192.168.0.208', '17.2.0.124', '10.47.208.204'];
const ADDRESS_FIELDS = ['h225.ipV4', 'h225.h245Ip', 'h245.ip4_network'];

interface Frame {
  number: number;
  src: string;
  /** tshark's TCP stream index, or undefined for a datagram. */
  stream: number | undefined;
  syn: boolean;
  protocols: string;
  malformed: boolean;
  addresses: string[];
}

/** Each frame as tshark dissects it: source, protocol stack, malformed or not, the H.225.0/H.245 IPv4 addresses in order. */
function dissect(file: string): Frame[] {
  const fields = ['frame.number', 'ip.src', 'tcp.stream', 'tcp.flags.syn', 'frame.protocols', '_ws.malformed', ...ADDRESS_FIELDS];
  const text = execFileSync('tshark', ['-r', file, '-n', '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=,', ...fields.flatMap((f) => ['-e', f])], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const [number, src, stream, syn, protocols, malformed, ...addresses] = line.split('\t');
      return {
        number: Number(number),
        src,
        stream: stream === '' ? undefined : Number(stream),
        syn: syn === '1' || syn === 'True',
        protocols,
        malformed: malformed !== '',
        addresses: addresses.flatMap((a) => (a === '' ? [] : a.split(','))),
      };
    });
}

describe('masq pcap translate --alg h323 on real captures, checked by tshark', { skip: pre.skip }, () => {
  let dir = '';
  before(() => {
    pre.assert();
    dir = mkdtempSync(join(tmpdir(), `masq-h323-pcap-${process.pid}-`));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function translate(file: string, inside = INSIDE_HOSTS.map((h) => `${h}/32`).join(',')): string {
    const out = join(dir, file);
    const args = ['pcap', 'translate', join(capturesDir, file), out, '--inside', inside, '--public', PUBLIC, '--alg', 'h323', '--json'];
    const summary = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: repoRoot })) as {
      packetsIn: number;
      packetsOut: number;
      failed: number;
    };
    assert.equal(summary.failed, 0, `${file}: no record failed`);
    assert.equal(summary.packetsOut, summary.packetsIn, `${file}: every record written`);
    return out;
  }

  test('h323.pcap: what the inside hosts sent decodes as before, its addresses now the public one', () => {
    const before = dissect(join(capturesDir, 'h323.pcap'));
    const after = dissect(translate('h323.pcap'));
    assert.equal(after.length, before.length);
    const started = new Set(before.filter((f) => f.syn).map((f) => f.stream));
    let messages = 0;
    let publicAddresses = 0;
    let passedMidStream = 0;
    for (let i = 0; i < before.length; i++) {
      const a = before[i];
      const b = after[i];
      if (!INSIDE_HOSTS.includes(a.src)) continue;
      assert.equal(b.src, PUBLIC, `frame ${a.number} leaves from the public address`);
      assert.equal(b.protocols, a.protocols, `frame ${a.number}: tshark dissects the same protocols`);
      // tshark cannot read two of the original messages either (a Tandberg
      // RAS with H.460.18, a Setup with a long integer): nothing new may join them.
      assert.equal(b.malformed, a.malformed, `frame ${a.number}: malformed in the output only if in the input`);
      const read = a.stream === undefined || started.has(a.stream);
      if (!read && a.addresses.length) passedMidStream++;
      const expected = read ? a.addresses.map((x) => (INSIDE_HOSTS.includes(x) ? PUBLIC : x)) : a.addresses;
      assert.deepEqual(b.addresses, expected, `frame ${a.number}: the inside addresses, and only they, became the public one`);
      if (/h225|h245/.test(a.protocols)) messages++;
      publicAddresses += expected.filter((x) => x === PUBLIC).length;
    }
    // Known shape of the capture: Setups, Connects, OLC/OLCAck and RAS from
    // four inside hosts, so the comparison above cannot pass vacuously.
    assert.ok(messages >= 10, `H.225.0/H.245 messages from inside compared: ${messages}`);
    assert.ok(publicAddresses >= 8, `addresses tshark reads as the public one: ${publicAddresses}`);
    assert.equal(passedMidStream, 1, 'one message (frame 65) is on a connection picked up mid-stream');
    const stillMalformed = after.filter((f) => f.malformed && INSIDE_HOSTS.includes(before[f.number - 1].src)).map((f) => f.number);
    assert.deepEqual(stillMalformed, before.filter((f) => f.malformed && INSIDE_HOSTS.includes(f.src)).map((f) => f.number));
  });

  test('h323-overflow.pcap: the malformed segment reads the same before and after', () => {
    const before = dissect(join(capturesDir, 'h323-overflow.pcap'));
    const after = dissect(translate('h323-overflow.pcap', '192.168.1.1/32'));
    assert.equal(after.length, before.length);
    for (let i = 0; i < before.length; i++) {
      assert.equal(after[i].protocols, before[i].protocols, `frame ${before[i].number}`);
      assert.equal(after[i].malformed, before[i].malformed, `frame ${before[i].number}`);
      assert.deepEqual(after[i].addresses, before[i].addresses, `frame ${before[i].number}`);
    }
  });
});
