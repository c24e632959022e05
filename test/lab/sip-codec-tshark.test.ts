/**
 * Real SIP from ../shared/captures, decoded independently by tshark: every
 * message parses (or is rejected for the reason the capture exists), and a
 * rewrite that treats the sender as the inside host changes only addresses,
 * ports and Content-Length, and leaves Content-Length equal to the body.
 *
 * Needs tshark: skipped when it (or the captures) are missing, except under
 * CI=true where a missing prerequisite fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import {
  parseSipMessage, rewriteSipMessage, applyEdits, processSipMessage, type RewriteContext, type SipMessage,
} from '../../src/alg/sip/index.js';
import { parseSdp } from '../../src/alg/sdp/index.js';
import { text } from '../alg/sip/fixtures.js';

const captures = join(dirname(fileURLToPath(import.meta.url)), '../../../shared/captures');
const ci = process.env.CI === 'true';
const hasTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;
const hasCaptures = existsSync(join(captures, 'sip.pcap'));
const skip = !hasTshark ? 'tshark not installed' : !hasCaptures ? `captures not found at ${captures}` : false;

test('prerequisites for the capture tests', { skip: ci ? false : skip }, () => {
  assert.ok(hasTshark, 'tshark is required under CI');
  assert.ok(hasCaptures, `captures are required under CI (${captures})`);
});

interface Packet {
  frame: number;
  src: string;
  payload: Uint8Array;
}

/** UDP payloads of the frames matching `filter`, decoded by tshark. */
function payloads(file: string, filter = 'sip'): Packet[] {
  const r = spawnSync('tshark', ['-r', join(captures, file), '-Y', filter, '-T', 'fields', '-e', 'frame.number', '-e', 'ip.src', '-e', 'udp.payload'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [frame, src, hex] = l.split('\t');
      return { frame: Number(frame), src, payload: Uint8Array.from(Buffer.from(hex, 'hex')) };
    });
}

function mustParse(p: Packet): SipMessage {
  const r = parseSipMessage(p.payload);
  if (!r.ok) assert.fail(`frame ${p.frame}: ${r.reason}`);
  return r.message;
}

const ADDRESS_OR_NUMBER = /^(?:\d{1,3}(?:\.\d{1,3}){3}|\d+|:\d+|)$/;

/** Outbound rewrite treating the packet's sender as the inside host; checks what changed. */
function rewriteFromSender(p: Packet, pub: string, mediaShift: number): { out: Uint8Array; changes: [string, string][] } | null {
  const m = mustParse(p);
  const ctx: RewriteContext = {
    direction: 'outbound',
    transport: 'udp',
    rewriteFromTo: true,
    isPrivate: (a) => a === p.src,
    mapSignalling: (a, port) => (a === p.src ? { addr: pub, port } : null),
    mapMedia: (s) => ({ addr: pub, port: s.port + mediaShift }),
  };
  const r = rewriteSipMessage(m, ctx);
  if (!r.ok) return null;
  const a = applyEdits(p.payload, r.edits);
  if (!a.ok) assert.fail(`frame ${p.frame}: ${a.reason}`);
  const changes = [...r.edits]
    .sort((x, y) => x.start - y.start)
    .map((e): [string, string] => [text(p.payload.subarray(e.start, e.end)), text(e.text)]);
  for (const [from, to] of changes) {
    assert.match(from, ADDRESS_OR_NUMBER, `frame ${p.frame}: changed "${from}"`);
    assert.match(to, ADDRESS_OR_NUMBER, `frame ${p.frame}: wrote "${to}"`);
    if (/\./.test(from)) assert.equal(from, p.src, `frame ${p.frame}: only the sender's address is replaced`);
  }
  const again = parseSipMessage(a.bytes);
  if (!again.ok) assert.fail(`frame ${p.frame}: rewritten message does not parse: ${again.reason}`);
  assert.deepEqual(again.message.headers.map((h) => h.canonical), m.headers.map((h) => h.canonical));
  if (again.message.contentLength !== null) {
    assert.equal(again.message.contentLength, again.message.body.end - again.message.body.start, `frame ${p.frame}: Content-Length`);
  }
  return { out: a.bytes, changes };
}

test('sip.pcap: every message parses; the INVITE offers c=IN IP4 192.168.1.2, m=audio 30000', { skip: skip || false }, () => {
  const packets = payloads('sip.pcap');
  assert.ok(packets.length >= 30);
  for (const p of packets) mustParse(p);
  const invite = packets.find((p) => text(p.payload).startsWith('INVITE '));
  assert.ok(invite);
  const m = mustParse(invite);
  const sdp = parseSdp(m.bytes, m.body.start, m.body.end);
  assert.ok(sdp.ok);
  const d = sdp.sdp;
  assert.equal(text(m.bytes.subarray(d.connection!.address.start, d.connection!.address.end)), '192.168.1.2');
  assert.equal(d.media[0].mediaName, 'audio');
  assert.equal(d.media[0].portNumber, 30000);
});

test('sip.pcap: the INVITE rewritten 192.168.1.2 -> 203.0.113.1, media +10000', { skip: skip || false }, () => {
  const invite = payloads('sip.pcap').find((p) => text(p.payload).startsWith('INVITE '))!;
  const r = rewriteFromSender(invite, '203.0.113.1', 10000);
  assert.ok(r);
  assert.deepEqual(r.changes, [
    ['192.168.1.2', '203.0.113.1'], // Via
    ['192.168.1.2', '203.0.113.1'], // Contact
    ['192.168.1.2', '203.0.113.1'], // o=
    ['192.168.1.2', '203.0.113.1'], // c=
    ['30000', '40000'], // m=audio
  ]);
  const out = text(r.out);
  assert.match(out, /\r\nc=IN IP4 203\.0\.113\.1\r\n/);
  assert.match(out, /\r\nm=audio 40000 RTP\/AVP 0 8 97 2 3\r\n/);
  assert.match(out, /Call-ID: 105090259-446faf7a@192\.168\.1\.2\r\n/, 'Call-ID is opaque');
  // A public address of another length moves the body: Content-Length follows.
  const longer = rewriteFromSender(invite, '203.0.113.100', 10000);
  assert.ok(longer);
  assert.match(text(longer.out), /Content-Length: 276\r\n/);
});

test('every SIP message in every capture: rewritten from its sender, only addresses and ports change', { skip: skip || false }, () => {
  const files = ['sip.pcap', 'sip_hello.pcapng', 'FAX-Call-t38-CA-TDM-SIP-FB-1.pcap'];
  let rewritten = 0;
  for (const file of files) {
    for (const p of payloads(file)) {
      const r = rewriteFromSender(p, '198.51.100.250', 2);
      if (r) rewritten++;
      else {
        // The only refusals expected are messages the RFC would reject anyway; show which.
        const m = mustParse(p);
        const why = rewriteSipMessage(m, { direction: 'outbound', transport: 'udp', rewriteFromTo: false, isPrivate: () => false, mapSignalling: () => null, mapMedia: () => null });
        assert.fail(`${file} frame ${p.frame} refused: ${why.ok ? '?' : why.reason}`);
      }
    }
  }
  assert.ok(rewritten > 120, `${rewritten} messages rewritten`);
});

test('sip_hello.pcapng: REGISTER, 401, 200 with the binding and its expiry', { skip: skip || false }, () => {
  const packets = payloads('sip_hello.pcapng');
  assert.equal(packets.length, 8);
  const summaries = packets.map((p) => {
    const r = rewriteSipMessage(mustParse(p), {
      direction: p.src === '172.29.38.91' ? 'outbound' : 'inbound',
      transport: 'udp',
      rewriteFromTo: false,
      isPrivate: (a) => a === '172.29.38.91',
      mapSignalling: (a, port) => ({ addr: a === '172.29.38.91' ? '203.0.113.1' : a, port }),
      mapMedia: () => null,
    });
    assert.ok(r.ok);
    return r.summary;
  });
  assert.deepEqual(summaries.map((s) => s.method ?? s.status), ['REGISTER', 401, 'REGISTER', 200, 'REGISTER', 401, 'REGISTER', 200]);
  const ok = summaries[3];
  assert.deepEqual(ok.cseq, { number: 28716, method: 'REGISTER' });
  assert.equal(ok.expires, 600);
  assert.deepEqual(ok.contacts, [{ uri: 'sip:26841945@10.231.142.84:5060', host: '10.231.142.84', port: 5060, expires: 600 }]);
  assert.equal(ok.branch, summaries[2].branch, 'the 200 answers the second REGISTER');
});

test('FAX T.38 call: several legs parse; m=image udptl is mapped as data, without RTCP', { skip: skip || false }, () => {
  const packets = payloads('FAX-Call-t38-CA-TDM-SIP-FB-1.pcap');
  assert.ok(packets.length >= 80);
  const t38 = packets.filter((p) => /\r\nm=image \d+ udptl t38\r\n/.test(text(p.payload)));
  assert.ok(t38.length >= 4, 'the re-INVITEs to T.38');
  for (const p of t38) {
    const media: string[] = [];
    const r = processSipMessage(p.payload, {
      direction: 'outbound',
      transport: 'udp',
      rewriteFromTo: false,
      isPrivate: (a) => a === p.src || text(p.payload).includes(`c=IN IP4 ${a}\r\n`),
      mapSignalling: (_a, port) => ({ addr: '203.0.113.1', port }),
      mapMedia: (s) => {
        media.push(`${s.mediaType}/${s.kind}/${s.proto}`);
        return { addr: '203.0.113.1', port: s.port + 1 };
      },
    });
    assert.ok(r.ok, `frame ${p.frame}`);
    assert.deepEqual(media, ['image/data/udptl']);
    assert.match(text(r.bytes), /\r\nm=image \d+ udptl t38\r\n/);
    assert.match(text(r.bytes), /\r\nc=IN IP4 203\.0\.113\.1\r\n/);
  }
});

test('sip_invalid-content-length.pcap: "Content-Length: bad" is rejected, never guessed', { skip: skip || false }, () => {
  const packets = payloads('sip_invalid-content-length.pcap');
  assert.equal(packets.length, 2);
  for (const p of packets) {
    const r = parseSipMessage(p.payload);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.reason, 'invalid Content-Length');
  }
});

test('sip_sip-junk-before-request.pcap: the junk datagram is not SIP, the REGISTER after it is', { skip: skip || false }, () => {
  const all = payloads('sip_sip-junk-before-request.pcap', 'udp');
  assert.equal(all.length, 2);
  assert.equal(parseSipMessage(all[0].payload).ok, false);
  const reg = mustParse(all[1]);
  assert.equal(reg.startLine.kind === 'request' && reg.startLine.methodName, 'REGISTER');
  // Without Via, CSeq, Call-ID it is not a message the rewriter can act on.
  const r = rewriteSipMessage(reg, { direction: 'outbound', transport: 'udp', rewriteFromTo: false, isPrivate: () => true, mapSignalling: () => null, mapMedia: () => null });
  assert.equal(r.ok, false);
});

/** A classic pcap (raw IPv4 link type) of UDP datagrams from 10.0.0.1:5060 to 10.0.0.2:5060. */
function pcapOf(payloads: Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const global = new DataView(new ArrayBuffer(24));
  global.setUint32(0, 0xa1b2c3d4, true);
  global.setUint16(4, 2, true);
  global.setUint16(6, 4, true);
  global.setUint32(16, 65535, true);
  global.setUint32(20, 228, true); // LINKTYPE_IPV4
  parts.push(new Uint8Array(global.buffer));
  payloads.forEach((p, k) => {
    const total = 20 + 8 + p.length;
    const rec = new DataView(new ArrayBuffer(16 + 28));
    rec.setUint32(0, 1000 + k, true);
    rec.setUint32(8, total, true);
    rec.setUint32(12, total, true);
    rec.setUint8(16, 0x45);
    rec.setUint16(18, total);
    rec.setUint8(24, 64);
    rec.setUint8(25, 17);
    [10, 0, 0, 1, 10, 0, 0, 2].forEach((v, i) => rec.setUint8(28 + i, v));
    let sum = 0;
    for (let i = 16; i < 36; i += 2) sum += rec.getUint16(i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    rec.setUint16(26, ~sum & 0xffff);
    rec.setUint16(36, 5060);
    rec.setUint16(38, 5060);
    rec.setUint16(40, 8 + p.length);
    parts.push(new Uint8Array(rec.buffer), p);
  });
  const out = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of parts) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}

test('tshark, an independent decoder, reads the rewritten INVITE as we wrote it', { skip: skip || false }, () => {
  const invite = payloads('sip.pcap').find((p) => text(p.payload).startsWith('INVITE '))!;
  const r = rewriteFromSender(invite, '203.0.113.100', 10000);
  assert.ok(r);
  const dir = mkdtempSync(join(tmpdir(), `masq-sip-${process.pid}-`));
  try {
    const file = join(dir, 'rewritten.pcap');
    writeFileSync(file, pcapOf([r.out]));
    const t = spawnSync('tshark', ['-r', file, '-d', 'udp.port==5060,sip', '-T', 'fields', '-E', 'separator=|',
      '-e', 'sip.Method', '-e', 'sip.Via', '-e', 'sip.Contact', '-e', 'sip.Content-Length', '-e', 'sdp.connection_info.address', '-e', 'sdp.media.port', '-e', 'sdp.owner.address', '-e', '_ws.expert.message'], { encoding: 'utf8' });
    assert.equal(t.status, 0, t.stderr);
    const [method, via, contact, cl, conn, port, owner, expert] = t.stdout.trim().split('|');
    assert.equal(method, 'INVITE');
    assert.match(via, /^SIP\/2\.0\/UDP 203\.0\.113\.100:5060;/);
    assert.equal(contact, '<sip:816666@203.0.113.100>');
    assert.equal(cl, '276');
    assert.equal(conn, '203.0.113.100');
    assert.equal(port, '40000');
    assert.equal(owner, '203.0.113.100');
    assert.doesNotMatch(expert ?? '', /malformed|Content-Length/i);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
