/**
 * `pcap translate` on damaged or unusual captures: one bit flip in a length or
 * a timestamp, times past 2554 or before 1970 that tshark reads, a record the
 * engine fails on. The capture is still translated; nothing is thrown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { translateCapture, translatedOrigLength } from '../../../src/dataplane/pcap/translate.js';
import { readCapture, writePcap, type CaptureRecord } from '../../../src/wire/capture.js';
import { readPcapng } from '../../../src/wire/pcapng.js';
import { decodeLinkFrame, LinkType } from '../../../src/wire/link-layer.js';
import { algHelpersFor } from '../../../src/cli/alg-options.js';
import type { NatEngine } from '../../../src/nat/engine.js';
import { describe, udpPkt } from '../../nat/packets.js';
import { Blocks } from '../../wire/pcapng-blocks.js';
import { sipRegisterPacket } from '../../fixtures/sip-register.js';

const config = { inside: ['192.168.1.0/24'], public: ['203.0.113.1'] };

function ether(ip: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + ip.length);
  f.set([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0]);
  f.set(ip, 14);
  return f;
}

function record(sec: number, ip: Uint8Array, origExtra = 0): CaptureRecord {
  const data = ether(ip);
  return { linkType: LinkType.ETHERNET, tsSec: sec, tsNsec: 0, data, origLength: data.length + origExtra, interfaceIndex: 0 };
}

const ipOf = (r: CaptureRecord) => decodeLinkFrame(r.linkType, r.data).payload;

test('an ALG rewrite that changes the length: the original length follows it, clamped to what the record holds', () => {
  const sip = algHelpersFor(['sip']);
  for (const [origExtra, label] of [
    [0, 'consistent'],
    [-1_000_000, 'original length below the captured length (a bit flip)'],
    [0xffffffff, 'original length at the 32-bit limit'],
  ] as const) {
    const rec = record(1, sipRegisterPacket());
    rec.origLength = Math.max(0, Math.min(0xffffffff, rec.data.length + origExtra));
    const { output, summary } = translateCapture(writePcap([rec]), { config, helpers: sip });
    const [out] = readCapture(output).records;
    assert.equal(summary.packetsOut, 1, label);
    const change = out.data.length - rec.data.length;
    assert.ok(change < 0, `${label}: the ALG shortened the message`);
    assert.ok(new TextDecoder().decode(ipOf(out)).includes('203.0.113.1:5060'), label);
    assert.equal(out.origLength, translatedOrigLength(rec.origLength, change, out.data.length), label);
    assert.ok(out.origLength >= out.data.length && out.origLength <= 0xffffffff, label);
  }
  assert.equal(translatedOrigLength(100, -3, 60), 97);
  assert.equal(translatedOrigLength(0, -3, 60), 60);
  assert.equal(translatedOrigLength(0xffffffff, 5, 60), 0xffffffff);
});

test('pcapng times tshark reads, past 2554 and before 1970: translated, and written back unchanged', () => {
  const int64 = (v: bigint) => [...new Uint8Array(new BigInt64Array([v]).buffer)];
  const q = udpPkt('192.168.1.2:5000', '198.51.100.10:53', 'q');
  const bytes = new Blocks()
    .shb(true)
    .idb(LinkType.ETHERNET, 0)
    .idb(LinkType.ETHERNET, 0, new Blocks().option(14, int64(-2_000_000_000n)))
    .epb(0, 0, 1_000_000, [...ether(q)]) // 1 s, microseconds
    .epb(0, 0x80000000, 5, [...ether(q)]) // the same with the top bit flipped: the year 294 thousand
    .epb(1, 0, 7, [...ether(q)]) // 7 us after 1970 minus 2e9 s: the year 1906
    .bytes();
  const input = readPcapng(bytes).records;
  const { output, summary } = translateCapture(bytes, { config });
  assert.deepEqual([summary.packetsIn, summary.packetsOut, summary.failed, summary.unwritable], [3, 3, 0, 0]);
  const out = readPcapng(output).records;
  // Output is in time order: 1906, 1970, the far future.
  const byTime = [input[2], input[0], input[1]];
  assert.deepEqual(
    out.map((r) => [r.tsSec, r.tsNsec, r.stored]),
    byTime.map((r) => [r.tsSec, r.tsNsec, r.stored]),
  );
  for (const r of out) assert.equal(describe(ipOf(r)), '203.0.113.1:5000 > 198.51.100.10:53');
});

test('a record the engine fails on is reported and counted; the others are still translated', () => {
  const bad = udpPkt('192.168.1.66:4000', '198.51.100.10:53', 'boom');
  const good = (n: number) => udpPkt(`192.168.1.${n}:5000`, '198.51.100.10:53', 'q');
  const input = writePcap([record(1, good(2)), record(2, bad), record(3, good(3))]);
  // A helper hook with a bug, below the ALG framework (which would catch it): it throws on one packet.
  const faulty = (engine: NatEngine) =>
    void engine.registerHelper(
      (_e, _flow, pkt) => {
        if (new TextDecoder().decode(pkt.subarray(28)) === 'boom') throw new Error('a handler failed');
        return pkt;
      },
      [{ proto: 17, first: 53, last: 53 }],
    );
  const { output, summary } = translateCapture(input, { config, helpers: [faulty] });
  assert.equal(summary.failed, 1);
  assert.ok(summary.captureIssues.some((i) => /record 2 not translated: a handler failed/.test(i)), summary.captureIssues.join('\n'));
  const out = readCapture(output).records.map(ipOf).map(describe);
  assert.ok(out.includes('203.0.113.1:5000 > 198.51.100.10:53'));
  assert.equal(summary.packetsOut + summary.dropped + summary.notIp + summary.failed + summary.unwritable, summary.packetsIn + summary.emitted);
});
