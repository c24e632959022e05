/**
 * Issue 17: a SIP message whose header section arrives one byte per TCP
 * segment is framed with work linear in its length. The framer used to scan
 * the held bytes from the message start on every segment (quadratic); it now
 * goes on where it stopped. Work is counted in bytes scanned, not time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attachAlg, findAlg } from '../../../src/alg/registry.js';
import { framingCounters } from '../../../src/alg/sip/framing.js';
import { Side, Verdict } from '../../../src/nat/engine.js';
import { parseTcpPacket, TCP_ACK, TCP_PSH, TCP_SYN } from '../../../src/wire/tcp.js';
import { makeEngine, tcpPkt } from '../../nat/packets.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

const PHONE = '10.0.0.2:40000';
const PROXY = '198.51.100.10:5060';
const PUBLIC = '203.0.113.1:40000';

/** An INVITE over TCP whose header section is at least `headerBytes` long (padding headers, one folded). */
function bigInvite(headerBytes: number): string {
  const sdp = 'v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\n';
  const head = [
    'INVITE sip:bob@198.51.100.10 SIP/2.0',
    'Via: SIP/2.0/TCP 10.0.0.2:40000;branch=z9hG4bKbig;rport',
    'From: <sip:alice@198.51.100.10>;tag=a1',
    'To: <sip:bob@198.51.100.10>',
    'Call-ID: big-header-call',
    'CSeq: 1 INVITE',
    'Contact: <sip:alice@10.0.0.2:40000;transport=tcp>',
    'Subject: a subject folded',
    '  over two lines',
    'Content-Type: application/sdp',
    `Content-Length:  ${enc(sdp).length}`,
  ];
  let size = head.join('\r\n').length;
  for (let k = 0; size < headerBytes; k++) {
    const line = `X-Pad-${k}: ${'p'.repeat(500)}`;
    head.splice(1, 0, line);
    size += line.length + 2;
  }
  return head.join('\r\n') + '\r\n\r\n' + sdp;
}

/** A SIP ALG on a fresh engine with an open TCP flow from the phone to the proxy. */
function openFlow() {
  const { engine } = makeEngine();
  const def = findAlg('sip')!;
  const alg = attachAlg(engine, def);
  engine.process(tcpPkt(PHONE, PROXY, TCP_SYN, 100, 0), Side.Inside);
  engine.process(tcpPkt(PROXY, PUBLIC, TCP_SYN | TCP_ACK, 900, 101), Side.Outside);
  engine.process(tcpPkt(PHONE, PROXY, TCP_ACK, 101, 901), Side.Inside);
  return { engine, alg };
}

/** Sends the bytes one per segment; returns what went out, having checked that nothing did before the last byte. */
function sendByteByByte(engine: ReturnType<typeof openFlow>['engine'], bytes: Uint8Array): string {
  const sent: string[] = [];
  for (let k = 0; k < bytes.length; k++) {
    const v = engine.process(tcpPkt(PHONE, PROXY, TCP_ACK | TCP_PSH, 101 + k, 901, bytes.subarray(k, k + 1)), Side.Inside);
    assert.equal(v, Verdict.ToOutside);
    for (const p of [engine.output, ...engine.drainEmitted().map((e) => e.packet)]) {
      const payload = parseTcpPacket(p).payload;
      if (k < bytes.length - 1) assert.equal(payload.length, 0, `byte ${k}: the incomplete message is held`);
      sent.push(dec(payload));
    }
  }
  return sent.join('');
}

test('a 32 KiB header section in one-byte segments is scanned once, not once per segment', () => {
  const { engine, alg } = openFlow();
  const text = bigInvite(32 * 1024);
  const bytes = enc(text);
  const headerLength = text.indexOf('\r\n\r\n') + 4;
  assert.ok(headerLength >= 32 * 1024);

  const before = framingCounters.bytesScanned;
  const out = sendByteByByte(engine, bytes);
  const scanned = framingCounters.bytesScanned - before;

  // Linear: each byte is moved over about once (a few are read again: a CR
  // waiting for its LF). Scanning from the start on every segment would be
  // about headerLength^2 / 2, over 500 million here.
  assert.ok(scanned >= headerLength, `scanned ${scanned} bytes`);
  assert.ok(scanned <= 2 * bytes.length, `scanned ${scanned} bytes for a ${bytes.length}-byte message in ${bytes.length} segments`);

  // And the message was framed right and rewritten whole.
  assert.match(out, /^INVITE sip:bob@198\.51\.100\.10 SIP\/2\.0\r\n/);
  assert.match(out, /Via: SIP\/2\.0\/TCP 203\.0\.113\.1:40000;branch=z9hG4bKbig/);
  assert.match(out, /c=IN IP4 203\.0\.113\.1/);
  assert.equal(out.length - out.indexOf('\r\n\r\n') - 4, Number(/Content-Length: +(\d+)/.exec(out)![1]));
  assert.equal(alg.counters().streamsNotThisProtocol, 0);
});

test('a long start line in one-byte segments is read once too (the check that the stream is SIP included)', () => {
  const { engine, alg } = openFlow();
  const text = `OPTIONS sip:${'u'.repeat(6000)}@198.51.100.10 SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.2:40000;branch=z9hG4bKo\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: long-start-line\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
  const before = framingCounters.bytesScanned;
  const out = sendByteByByte(engine, enc(text));
  const scanned = framingCounters.bytesScanned - before;
  assert.ok(scanned <= 3 * text.length, `scanned ${scanned} bytes for a ${text.length}-byte message`);
  assert.match(out, /Via: SIP\/2\.0\/TCP 203\.0\.113\.1:40000;branch=z9hG4bKo/);
  assert.equal(alg.counters().streamsNotThisProtocol, 0);
});

test('the same message whole in one segment costs the same scan', () => {
  const { engine } = openFlow();
  const text = bigInvite(32 * 1024);
  const headerLength = text.indexOf('\r\n\r\n') + 4;
  const before = framingCounters.bytesScanned;
  engine.process(tcpPkt(PHONE, PROXY, TCP_ACK | TCP_PSH, 101, 901, enc(text)), Side.Inside);
  const scanned = framingCounters.bytesScanned - before;
  assert.ok(scanned >= headerLength && scanned <= headerLength + 100, `scanned ${scanned} of a ${headerLength}-byte header section`);
});
