import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ipv4ToString, ipv6ToString, parseIpv4, parseIpv4Prefix, parseIpv6, prefixContains } from '../../src/wire/address.js';
import {
  buildIpv4Packet,
  defaultIpv4Header,
  emitIpv4Header,
  ipv4HeaderChecksumValid,
  ipv4Problem,
  parseIpv4Header,
  PROTO_UDP,
} from '../../src/wire/ipv4.js';
import { buildUdpPacket, parseUdpPacket, udpChecksumValid } from '../../src/wire/udp.js';
import {
  buildTcpPacket,
  OPT_MSS,
  OPT_SACK,
  OPT_SACK_PERMITTED,
  OPT_TIMESTAMPS,
  OPT_WINDOW_SCALE,
  parseTcpOptions,
  parseTcpPacket,
  TCP_ACK,
  TCP_SYN,
  tcpChecksumValid,
} from '../../src/wire/tcp.js';
import { buildIcmpEcho, buildIcmpError, icmpChecksumValid, ICMP_DEST_UNREACHABLE, UNREACH_PORT } from '../../src/wire/icmp.js';
import { parseIpv6 as parseIpv6Packet } from '../../src/wire/ipv6.js';

test('IPv4 address text round-trips and rejects junk', () => {
  fc.assert(fc.property(fc.nat({ max: 0xffffffff }), (a) => assert.equal(parseIpv4(ipv4ToString(a)), a)));
  for (const bad of ['1.2.3', '1.2.3.256', '01.2.3.4', 'a.b.c.d', '1.2.3.4.5', '']) assert.throws(() => parseIpv4(bad));
});

test('prefixes: containment and normalisation', () => {
  const p = parseIpv4Prefix('10.0.1.77/24');
  assert.equal(ipv4ToString(p.network), '10.0.1.0');
  assert.ok(prefixContains(p, parseIpv4('10.0.1.255')));
  assert.ok(!prefixContains(p, parseIpv4('10.0.2.1')));
  assert.ok(prefixContains(parseIpv4Prefix('0.0.0.0/0'), parseIpv4('8.8.8.8')));
  assert.throws(() => parseIpv4Prefix('10.0.0.0/33'));
});

test('IPv6 text: RFC 5952 canonical form and round trip', () => {
  assert.equal(ipv6ToString(parseIpv6('2001:db8:0:0:1:0:0:1')), '2001:db8::1:0:0:1');
  assert.equal(ipv6ToString(parseIpv6('::')), '::');
  assert.equal(ipv6ToString(parseIpv6('::ffff:192.0.2.1')), '::ffff:c000:201');
  fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => assert.deepEqual(parseIpv6(ipv6ToString(b)), b)));
  assert.throws(() => parseIpv6('1::2::3'));
});

test('IPv4 header with options: emit, parse, checksum', () => {
  const options = Uint8Array.from([0x94, 0x04, 0x00, 0x00]); // router alert
  const pkt = buildIpv4Packet({ ...defaultIpv4Header(parseIpv4('192.0.2.1'), parseIpv4('198.51.100.2'), PROTO_UDP), options, identification: 4242, dontFragment: true }, new Uint8Array(12));
  assert.ok(ipv4HeaderChecksumValid(pkt, 0));
  const r = parseIpv4Header(pkt);
  assert.deepEqual(r.options, options);
  assert.equal(r.identification, 4242);
  assert.equal(r.dontFragment, true);
  assert.equal(r.payloadLength, 12);
  const again = new Uint8Array(pkt.length);
  emitIpv4Header(r, again);
  again.set(pkt.subarray(24), 24);
  assert.deepEqual(again, pkt);
});

test('IPv4 sanity checks name the problem', () => {
  assert.equal(ipv4Problem(new Uint8Array(10), 0, 10), 'shorter than an IPv4 header');
  const pkt = buildUdpPacket({ src: 1, dst: 2, srcPort: 3, dstPort: 4, payload: new Uint8Array(4) });
  assert.equal(ipv4Problem(pkt, 0, pkt.length - 1), 'total length beyond the data');
  pkt[0] = 0x44;
  assert.equal(ipv4Problem(pkt, 0, pkt.length), 'header length below 20');
});

test('UDP: build, parse, checksum, zero checksum means none', () => {
  const pkt = buildUdpPacket({ src: parseIpv4('10.0.0.1'), dst: parseIpv4('10.0.0.2'), srcPort: 1234, dstPort: 53, payload: Uint8Array.of(1, 2, 3) });
  assert.ok(udpChecksumValid(pkt, 0));
  const d = parseUdpPacket(pkt);
  assert.equal(d.srcPort, 1234);
  assert.deepEqual([...d.payload], [1, 2, 3]);
  pkt[26] = 0;
  pkt[27] = 0;
  assert.ok(udpChecksumValid(pkt, 0));
  pkt[26] = 1;
  assert.ok(!udpChecksumValid(pkt, 0));
});

test('TCP: options kept intact, including SACK blocks', () => {
  const options = Uint8Array.from([
    2, 4, 0x05, 0xb4, // MSS 1460
    1, 3, 3, 7, // NOP, WS 7
    4, 2, // SACK permitted
    8, 10, 0, 0, 0, 1, 0, 0, 0, 2, // timestamps
    1, 1, 5, 10, 0, 0, 0x10, 0, 0, 0, 0x20, 0, // NOP NOP SACK one block
  ]);
  const pkt = buildTcpPacket({ src: 1, dst: 2, srcPort: 5, dstPort: 6, seq: 7, ack: 8, flags: TCP_SYN | TCP_ACK, window: 100, options, payload: new Uint8Array(3) });
  assert.ok(tcpChecksumValid(pkt, 0));
  const s = parseTcpPacket(pkt);
  assert.deepEqual(s.options, options);
  const opts = parseTcpOptions(pkt, 20);
  assert.deepEqual(
    opts.map((o) => o.kind),
    [OPT_MSS, OPT_WINDOW_SCALE, OPT_SACK_PERMITTED, OPT_TIMESTAMPS, OPT_SACK],
  );
  const sack = opts.find((o) => o.kind === OPT_SACK) as { blocks: Array<[number, number]> };
  assert.deepEqual(sack.blocks, [[0x1000, 0x2000]]);
});

test('ICMP echo and error builders produce valid checksums and quote 8 bytes', () => {
  const echo = buildIcmpEcho(1, 2, 8, 77, 1, new Uint8Array(5));
  assert.ok(icmpChecksumValid(echo, 0));
  const offending = buildUdpPacket({ src: 3, dst: 4, srcPort: 5, dstPort: 6, payload: new Uint8Array(100) });
  const err = buildIcmpError(4, ICMP_DEST_UNREACHABLE, UNREACH_PORT, offending);
  assert.ok(icmpChecksumValid(err, 0));
  assert.equal(err.length, 20 + 8 + 20 + 8);
});

test('IPv6: header and extension walk to the upper protocol', () => {
  const pkt = new Uint8Array(40 + 8 + 8);
  pkt[0] = 0x60;
  pkt[5] = 16; // payload length
  pkt[6] = 0; // hop-by-hop
  pkt[7] = 64;
  pkt.set(parseIpv6('2001:db8::1'), 8);
  pkt.set(parseIpv6('2001:db8::2'), 24);
  pkt[40] = 17; // next: UDP
  pkt[41] = 0; // 8 bytes
  const r = parseIpv6Packet(pkt);
  assert.equal(r.upperProtocol, 17);
  assert.equal(r.upperOffset, 48);
  assert.deepEqual(r.extensions, [0]);
  assert.throws(() => parseIpv6Packet(pkt.subarray(0, 44)));
});
