/**
 * Every STUN message in ../shared/captures (real clients: Google Meet, Zoom,
 * WhatsApp, Signal, Teams, classic RFC 3489, TURN over TCP) decodes, re-encodes
 * to the same bytes, and carries a FINGERPRINT that verifies when it has one.
 */
import { test } from 'node:test';
import zlib from 'node:zlib';
import assert from 'node:assert/strict';
import { decodeStunMessage, encodeStunMessage, getAttribute } from '../../src/stun/message.js';
import { checkFingerprint } from '../../src/stun/integrity.js';
import { AttrType } from '../../src/stun/constants.js';
import { captureFiles, capturesPresent, isStunDatagram, stunInCapture, type CapturedStun } from './fixtures/capture-stun.js';

const skip = capturesPresent() ? false : 'no ../shared/captures directory';

function allStun(): CapturedStun[] {
  return captureFiles().flatMap((f) => stunInCapture(f));
}

test('the captures hold the STUN this test is about', { skip }, () => {
  const byFile = new Map<string, number>();
  for (const m of allStun()) byFile.set(m.file, (byFile.get(m.file) ?? 0) + 1);
  // Lower bounds from the files' content (tshark agrees, see test/lab/stun-tshark.test.ts).
  assert.ok((byFile.get('stun.pcap') ?? 0) >= 140);
  assert.equal(byFile.get('stun_classic.pcap'), 2);
  assert.ok((byFile.get('stun_tcp_multiple_msgs_same_pkt.pcap') ?? 0) >= 4);
  for (const f of ['stun_google_meet.pcapng', 'stun_zoom.pcapng', 'stun_wa_call.pcapng', 'stun_signal.pcapng', 'stun_msteams_unidir.pcapng']) {
    assert.ok((byFile.get(f) ?? 0) > 0, f);
  }
});

test('every captured STUN message decodes and re-encodes to the same bytes', { skip }, () => {
  let n = 0;
  let inner = 0;
  const check = (m: CapturedStun, bytes: Uint8Array) => {
    const d = decodeStunMessage(bytes);
    assert.deepEqual(encodeStunMessage(d), bytes, `${m.file} ${m.where}`);
    n++;
    // TURN Send/Data indications carry the peer's datagram in DATA: STUN in STUN.
    for (const a of d.attributes) {
      if (a.type === 'raw' && a.code === 0x0013 && isStunDatagram(a.value)) {
        inner++;
        check(m, a.value);
      }
    }
  };
  for (const m of allStun()) check(m, m.bytes);
  assert.ok(n > 600, `only ${n} messages`);
  assert.ok(inner > 0, 'expected STUN inside TURN DATA attributes');
});

test('FINGERPRINT verdicts on the captures agree with zlib, and all but one verify', { skip }, () => {
  let withFp = 0;
  const bad: string[] = [];
  for (const m of allStun()) {
    const d = decodeStunMessage(m.bytes);
    const r = checkFingerprint(d);
    if (r === 'absent') continue;
    withFp++;
    // Independent check: zlib's CRC-32 over everything before the (last) FINGERPRINT attribute.
    const b = m.bytes;
    const stated = ((b[b.length - 4] << 24) | (b[b.length - 3] << 16) | (b[b.length - 2] << 8) | b[b.length - 1]) >>> 0;
    const independent = ((zlib.crc32(b.subarray(0, b.length - 8)) ^ 0x5354554e) >>> 0) === stated;
    assert.equal(r === 'ok', independent, `${m.file} ${m.where}`);
    if (r !== 'ok') bad.push(`${m.file} ${m.where}`);
  }
  assert.ok(withFp > 200, `only ${withFp} messages carry FINGERPRINT`);
  // stun.pcap frame 195 (an ICE check with a Zoom-style username) carries a wrong CRC on the wire.
  assert.deepEqual(bad, ['stun.pcap frame 195']);
});

test('classic RFC 3489 exchange: no cookie, MAPPED-ADDRESS and CHANGE-REQUEST read', { skip }, () => {
  const [req, resp] = stunInCapture('stun_classic.pcap').map((m) => decodeStunMessage(m.bytes));
  assert.notEqual(req.cookie, 0x2112a442);
  assert.deepEqual(getAttribute(req, 'CHANGE-REQUEST'), { type: 'CHANGE-REQUEST', changeIp: false, changePort: false });
  assert.equal(resp.cls, 'success');
  assert.deepEqual(resp.transactionId, req.transactionId);
  assert.deepEqual(getAttribute(resp, 'MAPPED-ADDRESS')?.address, { address: '172.16.63.224', port: 55050 });
});

test('XOR-MAPPED-ADDRESS of real servers reads as what tshark shows (IPv4 and IPv6)', { skip }, () => {
  const mapped = new Set<string>();
  for (const m of allStun()) {
    const d = decodeStunMessage(m.bytes);
    const a = getAttribute(d, 'XOR-MAPPED-ADDRESS');
    if (a) mapped.add(`${a.address.address}:${a.address.port}`);
  }
  assert.ok(mapped.has('93.35.171.209:39033'), 'Google Meet IPv4');
  assert.ok(mapped.has('2001:b07:a3d:c112:48a1:1094:1227:281e:45572'), 'Google Meet IPv6');
  assert.ok(mapped.has('82.178.63.123:50006'), 'Teams');
});

test('TURN attributes the codec does not model survive as raw, with their codes', { skip }, () => {
  const codes = new Set<number>();
  for (const m of stunInCapture('stun_tcp_multiple_msgs_same_pkt.pcap')) {
    for (const a of decodeStunMessage(m.bytes).attributes) if (a.type === 'raw') codes.add(a.code);
  }
  assert.ok(codes.has(0x0019), 'REQUESTED-TRANSPORT kept raw');
  assert.ok(!codes.has(AttrType.SOFTWARE));
});
