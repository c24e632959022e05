/**
 * The named field offsets (IPV4, UDP, TCP, ICMP) against packets written out
 * byte by byte from the RFC header diagrams, and the accessors built on them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ICMP, icmp, icmpChecksumValid } from '../../src/wire/icmp.js';
import { IPV4, ipv4, ipv4HeaderChecksumValid, read16, read32 } from '../../src/wire/ipv4.js';
import { TCP, tcp } from '../../src/wire/tcp.js';
import { UDP, udp } from '../../src/wire/udp.js';

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((h) => parseInt(h, 16)));

test('IPv4 fields: the classic header 172.16.10.99 -> 172.16.10.12 (checksum b1e6)', () => {
  const h = hex('4500 003c 1c46 4000 4006 b1e6 ac10 0a63 ac10 0a0c');
  assert.ok(ipv4HeaderChecksumValid(h, 0));
  assert.equal(h[IPV4.VER_IHL], 0x45);
  assert.equal(read16(h, IPV4.TOTAL_LEN), 60);
  assert.equal(read16(h, IPV4.IDENT), 0x1c46);
  assert.equal(read16(h, IPV4.FLAGS_FRAG), 0x4000);
  assert.equal(h[IPV4.TTL], 64);
  assert.equal(h[IPV4.PROTO], 6);
  assert.equal(read16(h, IPV4.CHECKSUM), 0xb1e6);
  assert.equal(read32(h, IPV4.SRC), 0xac100a63);
  assert.equal(read32(h, IPV4.DST), 0xac100a0c);
  assert.equal(IPV4.OPTIONS, 20);
  assert.deepEqual(
    [ipv4.version(h, 0), ipv4.headerLength(h, 0), ipv4.totalLength(h, 0), ipv4.identification(h, 0), ipv4.dontFragment(h, 0), ipv4.moreFragments(h, 0)],
    [4, 20, 60, 0x1c46, true, false],
  );
  assert.deepEqual([ipv4.fragmentOffset(h, 0), ipv4.ttl(h, 0), ipv4.protocol(h, 0), ipv4.src(h, 0), ipv4.dst(h, 0)], [0, 64, 6, 0xac100a63, 0xac100a0c]);
});

test('UDP, TCP and ICMP fields: one distinct value per field, read back through the names and the accessors', () => {
  const u = hex('1234 5678 0010 abcd');
  assert.deepEqual([read16(u, UDP.SRC_PORT), read16(u, UDP.DST_PORT), read16(u, UDP.LENGTH), read16(u, UDP.CHECKSUM), UDP.PAYLOAD], [0x1234, 0x5678, 16, 0xabcd, 8]);
  assert.deepEqual([udp.srcPort(u, 0), udp.dstPort(u, 0), udp.length(u, 0), udp.checksum(u, 0)], [0x1234, 0x5678, 16, 0xabcd]);

  // src port, dst port, seq, ack, data offset 6 words, flags SYN|ACK, window, checksum, urgent, 4 option bytes.
  const t = hex('1234 5678 01020304 0a0b0c0d 60 12 faf0 beef 0007 020405b4');
  assert.deepEqual(
    [read16(t, TCP.SRC_PORT), read16(t, TCP.DST_PORT), read32(t, TCP.SEQ), read32(t, TCP.ACK), t[TCP.DATA_OFF] >> 4, t[TCP.FLAGS], read16(t, TCP.WINDOW), read16(t, TCP.CHECKSUM), read16(t, TCP.URGENT), t[TCP.OPTIONS]],
    [0x1234, 0x5678, 0x01020304, 0x0a0b0c0d, 6, 0x12, 0xfaf0, 0xbeef, 7, 2],
  );
  assert.deepEqual(
    [tcp.srcPort(t, 0), tcp.dstPort(t, 0), tcp.seq(t, 0), tcp.ack(t, 0), tcp.headerLength(t, 0), tcp.flags(t, 0), tcp.window(t, 0), tcp.checksum(t, 0), tcp.urgent(t, 0)],
    [0x1234, 0x5678, 0x01020304, 0x0a0b0c0d, 24, 0x12, 0xfaf0, 0xbeef, 7],
  );

  // Echo request, id 0x4d51, seq 1, "hi"; the same bytes as a port unreachable's second word.
  const e = hex('4500 001e 0000 0000 4001 0000 c0000201 c0000202 0800 0000 4d51 0001 6869');
  const o = 20;
  assert.deepEqual([e[o + ICMP.TYPE], e[o + ICMP.CODE], read16(e, o + ICMP.ID), read16(e, o + ICMP.SEQ), read32(e, o + ICMP.REST)], [8, 0, 0x4d51, 1, 0x4d510001]);
  assert.deepEqual([icmp.type(e, o), icmp.code(e, o), icmp.identifier(e, o), icmp.sequence(e, o), icmp.rest(e, o)], [8, 0, 0x4d51, 1, 0x4d510001]);
  assert.equal(ICMP.QUOTED, 8);
  assert.ok(!icmpChecksumValid(e, 0), 'the checksum field is still empty');
});
