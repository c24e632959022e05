import { test } from 'node:test';
import assert from 'node:assert/strict';
import { translateCapture } from '../../../src/dataplane/pcap/translate.js';
import { readCapture, writePcap, type CaptureRecord } from '../../../src/wire/capture.js';
import { decodeLinkFrame, LinkType } from '../../../src/wire/link-layer.js';
import { TCP_SYN } from '../../../src/wire/tcp.js';
import { assertChecksums, describe, tcpPkt, udpPkt } from '../../nat/packets.js';

const MAC_A = [0x02, 0, 0, 0, 0, 1];
const MAC_B = [0x02, 0, 0, 0, 0, 2];

function ether(ip: Uint8Array, fromInside: boolean): Uint8Array {
  const f = new Uint8Array(14 + ip.length);
  f.set(fromInside ? MAC_B : MAC_A, 0);
  f.set(fromInside ? MAC_A : MAC_B, 6);
  f[12] = 0x08;
  f.set(ip, 14);
  return f;
}

function capture(packets: Array<[number, Uint8Array, boolean]>): Uint8Array {
  const records: CaptureRecord[] = packets.map(([ms, ip, inside]) => {
    const data = ether(ip, inside);
    return { linkType: LinkType.ETHERNET, tsSec: Math.floor(ms / 1000), tsNsec: (ms % 1000) * 1e6, data, origLength: data.length, interfaceIndex: 0 };
  });
  return writePcap(records, { linkType: LinkType.ETHERNET });
}

const ipOf = (r: CaptureRecord) => decodeLinkFrame(r.linkType, r.data).payload;
const config = { inside: ['192.168.1.0/24'], public: ['203.0.113.1'] };

test('a LAN-side capture: requests leave translated; replies to the private host come back to it', () => {
  const input = capture([
    [1000, udpPkt('192.168.1.2:5060', '198.51.100.10:5060', 'REGISTER'), true],
    [1010, udpPkt('198.51.100.10:5060', '192.168.1.2:5060', 'SIP/2.0 200 OK'), false],
  ]);
  const { output, summary } = translateCapture(input, { config });
  const out = readCapture(output).records.map(ipOf);
  assert.equal(out.length, 2);
  assert.equal(describe(out[0]), '203.0.113.1:5060 > 198.51.100.10:5060');
  assert.equal(describe(out[1]), '198.51.100.10:5060 > 192.168.1.2:5060');
  out.forEach(assertChecksums);
  assert.equal(summary.lanSideReplies, 1);
  assert.equal(summary.flows, 1);
});

test('checksum offload artefacts are repaired before translation, and counted', () => {
  const pkt = udpPkt('192.168.1.2:5000', '198.51.100.10:53', 'q');
  pkt[26] = 0x12; // a partial (pseudo-header only) checksum, as offload leaves it
  pkt[27] = 0x34;
  const { output, summary } = translateCapture(capture([[0, pkt, true]]), { config });
  assertChecksums(ipOf(readCapture(output).records[0]));
  assert.equal(summary.checksumsRepaired.transport, 1);
  const kept = translateCapture(capture([[0, pkt, true]]), { config, repairChecksums: false });
  assert.equal(kept.summary.checksumsRepaired.transport, 0);
});

test('packets the engine originates (port unreachable after a held SYN) are written, framed', () => {
  const input = capture([
    [0, udpPkt('192.168.1.2:5000', '198.51.100.10:53', 'q'), true],
    [100, tcpPkt('198.51.100.10:4444', '203.0.113.1:40000', TCP_SYN), false],
    [7000, udpPkt('192.168.1.2:5000', '198.51.100.10:53', 'q'), true],
  ]);
  const { output, summary } = translateCapture(input, { config });
  assert.equal(summary.emitted, 1);
  const recs = readCapture(output).records;
  const icmp = recs.map(ipOf).find((p) => p[9] === 1)!;
  assert.ok(icmp, 'an ICMP error was written');
  assertChecksums(icmp);
  assert.equal(describe(icmp).split(' proto')[0], '203.0.113.1 > 198.51.100.10');
});

test('records are processed in time order even when the file is not sorted', () => {
  const input = capture([
    [2000, udpPkt('198.51.100.10:53', '192.168.1.2:5000', 'answer'), false],
    [1000, udpPkt('192.168.1.2:5000', '198.51.100.10:53', 'query'), true],
  ]);
  const { summary } = translateCapture(input, { config });
  assert.equal(summary.dropped, 0);
  assert.equal(summary.packetsOut, 2);
});
