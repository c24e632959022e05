/**
 * `masq pcap translate - -`: a capture from standard input, the translated
 * capture on standard output, the summary (with the ALG's counters) on
 * standard error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readCapture, writePcap } from '../../src/wire/capture.js';
import { decodeLinkFrame, LinkType } from '../../src/wire/link-layer.js';
import { sipRegisterPacket } from '../fixtures/sip-register.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('pcap translate - -: standard input to standard output, the ALG counters in the summary on stderr', () => {
  const ip = sipRegisterPacket();
  const frame = new Uint8Array(14 + ip.length);
  frame.set([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0]);
  frame.set(ip, 14);
  const input = writePcap([{ linkType: LinkType.ETHERNET, tsSec: 1, tsNsec: 0, data: frame, origLength: frame.length, interfaceIndex: 0 }]);
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'pcap', 'translate', '-', '-', '--inside', '192.168.1.0/24', '--public', '203.0.113.1', '--alg', 'sip'], {
    cwd: root,
    input,
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr.toString());
  const out = readCapture(new Uint8Array(r.stdout)).records;
  assert.equal(out.length, 1);
  const text = new TextDecoder().decode(decodeLinkFrame(out[0].linkType, out[0].data).payload);
  assert.ok(text.includes('Contact: <sip:alice@203.0.113.1:5060>'), text);
  const summary = r.stderr.toString();
  assert.match(summary, /wrote 1 of 1 packets to standard output/);
  assert.match(summary, /ALG sip: messages 1, rewritten 1/);
});
