/**
 * A crafted CU-SeeMe capture through `masq pcap translate --alg cuseeme`: two
 * workstations and a reflector, taken on the LAN side; every byte of every
 * translated datagram is checked against the bytes it should be (sequential
 * port allocation makes the public ports known in advance: 1024 and 1026).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCapture, writePcap, type CaptureRecord } from '../../../src/wire/capture.js';
import { decodeLinkFrame, LinkType } from '../../../src/wire/link-layer.js';
import { ipv4ToString } from '../../../src/wire/address.js';
import { parseUdpPacket } from '../../../src/wire/udp.js';
import { assertChecksums, udpPkt } from '../../nat/packets.js';
import { cuPacket, OPEN_CONTINUE, type CuFields } from './packets.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const A = '192.168.1.2';
const B = '192.168.1.3';
const R = '198.51.100.10';
const X = '198.51.100.20';
const PUB = '203.0.113.1';
const PA = 1024;
const PB = 1026;

function ether(ip: Uint8Array, fromInside: boolean): Uint8Array {
  const f = new Uint8Array(14 + ip.length);
  f.set(fromInside ? [2, 0, 0, 0, 0, 2] : [2, 0, 0, 0, 0, 1], 0);
  f.set(fromInside ? [2, 0, 0, 0, 0, 1] : [2, 0, 0, 0, 0, 2], 6);
  f[12] = 0x08;
  f.set(ip, 14);
  return f;
}

interface Step {
  from: string;
  to: string;
  inside: boolean;
  sent: CuFields | Uint8Array;
  /** The datagram that should leave masq: addresses, ports and payload. */
  want: { from: string; to: string; payload: CuFields | Uint8Array };
}

const bytes = (p: CuFields | Uint8Array) => (p instanceof Uint8Array ? p : cuPacket(p));

const STEPS: Step[] = [
  {
    // A's video to the reflector: its own address and port become the public ones.
    from: `${A}:7648`,
    to: `${R}:7648`,
    inside: true,
    sent: { dest: [R, 7648], own: [A, 7648], seq: 1 },
    want: { from: `${PUB}:${PA}`, to: `${R}:7648`, payload: { dest: [R, 7648], own: [PUB, PA], seq: 1 } },
  },
  {
    // B's OpenContinue lists A as it knows it (inside), itself, and X: A and B go out under their public endpoints.
    from: `${B}:7648`,
    to: `${R}:7648`,
    inside: true,
    sent: { dest: [R, 7648], own: [B, 7648], seq: 2, dataType: OPEN_CONTINUE, entries: [[A, 7648], [B, 7648], [X, 7648]] },
    want: {
      from: `${PUB}:${PB}`,
      to: `${R}:7648`,
      payload: { dest: [R, 7648], own: [PUB, PB], seq: 2, dataType: OPEN_CONTINUE, entries: [[PUB, PA], [PUB, PB], [X, 7648]] },
    },
  },
  {
    // X's OpenContinue relayed to A (captured on the LAN, addressed to A): the public entries come back as A and B.
    from: `${R}:7648`,
    to: `${A}:7648`,
    inside: false,
    sent: { dest: [PUB, PA], own: [X, 7648], seq: 3, dataType: OPEN_CONTINUE, entries: [[PUB, PB], [X, 7648], [PUB, PA]] },
    want: {
      from: `${R}:7648`,
      to: `${A}:7648`,
      payload: { dest: [A, 7648], own: [X, 7648], seq: 3, dataType: OPEN_CONTINUE, entries: [[B, 7648], [X, 7648], [A, 7648]] },
    },
  },
  {
    // A's video relayed to B: addressed to B, sent by A.
    from: `${R}:7648`,
    to: `${B}:7648`,
    inside: false,
    sent: { dest: [PUB, PB], own: [PUB, PA], seq: 4 },
    want: { from: `${R}:7648`, to: `${B}:7648`, payload: { dest: [B, 7648], own: [A, 7648], seq: 4 } },
  },
  {
    // A client_count beyond the datagram: passed exactly as it came (only the UDP/IP addressing changes).
    from: `${R}:7648`,
    to: `${B}:7648`,
    inside: false,
    sent: { dest: [PUB, PB], own: [X, 7648], seq: 5, dataType: OPEN_CONTINUE, entries: [[PUB, PB]], count: 9 },
    want: { from: `${R}:7648`, to: `${B}:7648`, payload: { dest: [PUB, PB], own: [X, 7648], seq: 5, dataType: OPEN_CONTINUE, entries: [[PUB, PB]], count: 9 } },
  },
];

test('masq pcap translate --alg cuseeme: every byte of every datagram', () => {
  const dir = mkdtempSync(join(tmpdir(), 'masq-cuseeme-pcap-'));
  try {
    const records: CaptureRecord[] = STEPS.map((s, i) => {
      const data = ether(udpPkt(s.from, s.to, bytes(s.sent)), s.inside);
      return { linkType: LinkType.ETHERNET, tsSec: 1, tsNsec: i * 1e6, data, origLength: data.length, interfaceIndex: 0 };
    });
    const input = join(dir, 'in.pcap');
    const output = join(dir, 'out.pcap');
    writeFileSync(input, writePcap(records, { linkType: LinkType.ETHERNET }));
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'pcap', 'translate', input, output, '--inside', '192.168.1.0/24', '--public', PUB, '--ports', 'sequential', '--alg', 'cuseeme', '--json'],
      { cwd: root, encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.packetsOut, STEPS.length);
    assert.equal(summary.dropped, 0);
    const out = readCapture(readFileSync(output)).records.map((rec) => decodeLinkFrame(rec.linkType, rec.data).payload);
    assert.equal(out.length, STEPS.length);
    out.forEach((ip, i) => {
      const s = STEPS[i];
      try { assertChecksums(ip); } catch (e) { throw new Error(`step ${i}: ${(e as Error).message}`); }
      const d = parseUdpPacket(ip);
      assert.equal(`${ipv4ToString(d.src)}:${d.srcPort}`, s.want.from, `step ${i}: UDP source`);
      assert.equal(`${ipv4ToString(d.dst)}:${d.dstPort}`, s.want.to, `step ${i}: UDP destination`);
      const want = bytes(s.want.payload);
      assert.equal(d.payload.length, want.length, `step ${i}: length`);
      for (let b = 0; b < want.length; b++) assert.equal(d.payload[b], want[b], `step ${i}: byte ${b} is ${d.payload[b]}, want ${want[b]}`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
