/**
 * Reprs: a plain value emitted into bytes parses back to itself, the checksum
 * written is the one a from-scratch computation gives (full), or the
 * pseudo-header sum an offloading NIC finishes (partial), and a damaged
 * message is refused with a WireError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fold, internetChecksum, pseudoHeaderSum, sumWords } from '../../src/wire/checksum.js';
import { WireError } from '../../src/wire/error.js';
import { emitIcmpHeader, ICMP, ICMP_HEADER, icmpChecksumValid, parseIcmpHeader, type IcmpRepr } from '../../src/wire/icmp.js';
import { buildIpv4Packet, defaultIpv4Header, emitIpv4Header, ipv4HeaderLengthOf, parseIpv4Header, PROTO_ICMP, PROTO_TCP, PROTO_UDP, type Ipv4Repr } from '../../src/wire/ipv4.js';
import { L4Checksum } from '../../src/wire/l4-checksum.js';
import { emitTcpHeader, parseTcpHeader, parseTcpOptions, TCP, tcpChecksumValid, tcpOptionsSpan, type TcpRepr } from '../../src/wire/tcp.js';
import { emitUdpHeader, parseUdpHeader, UDP, UDP_HEADER, udpChecksumValid, type UdpRepr } from '../../src/wire/udp.js';

const addr = fc.nat({ max: 0xffffffff });
const port = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.nat({ max: 0xffffffff });

/** The checksum of a segment and its IPv4 pseudo-header, from bytes laid out by hand. */
function referenceSum(src: number, dst: number, proto: number, segment: Uint8Array): number {
  const pseudo = new Uint8Array(12);
  new DataView(pseudo.buffer).setUint32(0, src);
  new DataView(pseudo.buffer).setUint32(4, dst);
  pseudo[9] = proto;
  new DataView(pseudo.buffer).setUint16(10, segment.length);
  const both = new Uint8Array(12 + segment.length);
  both.set(pseudo);
  both.set(segment, 12);
  return internetChecksum(both, 0, both.length);
}

/** What the NIC does with a partial checksum: sum the segment over it, complement. */
function finishPartial(segment: Uint8Array): number {
  return ~fold(sumWords(segment, 0, segment.length)) & 0xffff;
}

const udpCase = fc.record({ src: addr, dst: addr, srcPort: port, dstPort: port, payload: fc.uint8Array({ maxLength: 300 }) });

test('UDP repr: emit then parse gives the repr back; a full checksum verifies from scratch', () => {
  fc.assert(
    fc.property(udpCase, ({ src, dst, srcPort, dstPort, payload }) => {
      const r: UdpRepr = { srcPort, dstPort, length: UDP_HEADER + payload.length };
      const seg = new Uint8Array(r.length + 5); // room after it: parse must use the length field
      seg.set(payload, UDP.PAYLOAD);
      emitUdpHeader(r, seg, 0, src, dst, L4Checksum.Full);
      assert.deepEqual(parseUdpHeader(seg, 0, seg.length, src, dst, L4Checksum.Full), r);
      const c = seg[UDP.CHECKSUM] * 256 + seg[UDP.CHECKSUM + 1];
      assert.notEqual(c, 0);
      assert.ok(referenceSum(src, dst, PROTO_UDP, seg.subarray(0, r.length)) === 0 || c === 0xffff);
      const pkt = buildIpv4Packet(defaultIpv4Header(src, dst, PROTO_UDP), seg.subarray(0, r.length));
      assert.ok(udpChecksumValid(pkt, 0));
    }),
  );
});

test('UDP repr: partial leaves the pseudo-header sum, None leaves 0 ("no checksum")', () => {
  fc.assert(
    fc.property(udpCase, ({ src, dst, srcPort, dstPort, payload }) => {
      const r: UdpRepr = { srcPort, dstPort, length: UDP_HEADER + payload.length };
      const seg = new Uint8Array(r.length);
      seg.set(payload, UDP.PAYLOAD);
      emitUdpHeader(r, seg, 0, src, dst, L4Checksum.Partial);
      assert.equal(seg[6] * 256 + seg[7], fold(pseudoHeaderSum(src, dst, PROTO_UDP, r.length)));
      const finished = finishPartial(seg);
      seg[6] = 0;
      seg[7] = 0;
      assert.equal(finished, referenceSum(src, dst, PROTO_UDP, seg));
      emitUdpHeader(r, seg, 0, src, dst, L4Checksum.None);
      assert.equal(seg[6] | seg[7], 0);
      assert.deepEqual(parseUdpHeader(seg, 0, seg.length, src, dst), r, 'a datagram without a checksum parses');
    }),
  );
});

test('UDP parse refuses what does not fit or does not add up', () => {
  const seg = new Uint8Array(12);
  emitUdpHeader({ srcPort: 1, dstPort: 2, length: 12 }, seg, 0, 10, 20);
  assert.throws(() => parseUdpHeader(seg, 0, 7, 10, 20), WireError);
  assert.throws(() => parseUdpHeader(seg, 0, 11, 10, 20), /length field 12 does not fit/);
  assert.throws(() => parseUdpHeader(seg, 0, 12, 10, 21), /bad checksum/);
  assert.doesNotThrow(() => parseUdpHeader(seg, 0, 12, 10, 21, L4Checksum.Partial));
  fc.assert(
    fc.property(fc.nat({ max: 12 * 8 - 1 }), (bit) => {
      const copy = seg.slice();
      const at = bit >> 3;
      if (at >= UDP.LENGTH && at < UDP.CHECKSUM + 2) return; // length and checksum: covered above
      copy[at] ^= 1 << (bit & 7);
      assert.throws(() => parseUdpHeader(copy, 0, 12, 10, 20), /bad checksum/);
    }),
  );
});

const tcpCase = fc.record({
  src: addr,
  dst: addr,
  srcPort: port,
  dstPort: port,
  seq: u32,
  ack: u32,
  flags: fc.integer({ min: 0, max: 0xff }),
  window: port,
  urgent: port,
  optionWords: fc.integer({ min: 0, max: 10 }),
  payload: fc.uint8Array({ maxLength: 200 }),
});

test('TCP repr: emit then parse gives the repr back, options span and all; the checksum verifies from scratch', () => {
  fc.assert(
    fc.property(tcpCase, (c) => {
      const r: TcpRepr = { srcPort: c.srcPort, dstPort: c.dstPort, seq: c.seq, ack: c.ack, flags: c.flags, window: c.window, urgent: c.urgent, headerLength: 20 + 4 * c.optionWords };
      const seg = new Uint8Array(r.headerLength + c.payload.length);
      const span = tcpOptionsSpan(r);
      seg.fill(1, span.start, span.end); // NOPs
      seg.set(c.payload, r.headerLength);
      emitTcpHeader(r, seg, 0, seg.length, c.src, c.dst);
      assert.deepEqual(parseTcpHeader(seg, 0, seg.length, c.src, c.dst), r);
      assert.equal(referenceSum(c.src, c.dst, PROTO_TCP, seg), 0);
      assert.deepEqual(parseTcpOptions(seg, 0), []);
      const pkt = buildIpv4Packet(defaultIpv4Header(c.src, c.dst, PROTO_TCP), seg);
      assert.ok(tcpChecksumValid(pkt, 0));
    }),
  );
});

test('TCP repr: partial leaves the pseudo-header sum; parse refuses a bad checksum or data offset', () => {
  fc.assert(
    fc.property(tcpCase, fc.nat(), (c, flip) => {
      const r: TcpRepr = { srcPort: c.srcPort, dstPort: c.dstPort, seq: c.seq, ack: c.ack, flags: c.flags, window: c.window, urgent: c.urgent, headerLength: 20 };
      const seg = new Uint8Array(20 + c.payload.length);
      seg.set(c.payload, 20);
      emitTcpHeader(r, seg, 0, seg.length, c.src, c.dst, L4Checksum.Partial);
      assert.equal(seg[TCP.CHECKSUM] * 256 + seg[TCP.CHECKSUM + 1], fold(pseudoHeaderSum(c.src, c.dst, PROTO_TCP, seg.length)));
      const finished = finishPartial(seg);
      emitTcpHeader(r, seg, 0, seg.length, c.src, c.dst, L4Checksum.Full);
      assert.equal(finished, seg[TCP.CHECKSUM] * 256 + seg[TCP.CHECKSUM + 1]);
      const bit = flip % (seg.length * 8);
      const at = bit >> 3;
      if (at === TCP.DATA_OFF) return;
      seg[at] ^= 1 << (bit & 7);
      assert.throws(() => parseTcpHeader(seg, 0, seg.length, c.src, c.dst), /bad checksum/);
      assert.doesNotThrow(() => parseTcpHeader(seg, 0, seg.length, c.src, c.dst, L4Checksum.None));
    }),
  );
  const seg = new Uint8Array(24);
  seg[TCP.DATA_OFF] = 7 << 4;
  assert.throws(() => parseTcpHeader(seg, 0, 24, 1, 2, L4Checksum.None), /data offset 28 does not fit/);
  seg[TCP.DATA_OFF] = 4 << 4;
  assert.throws(() => parseTcpHeader(seg, 0, 24, 1, 2, L4Checksum.None), /data offset 16/);
  assert.throws(() => parseTcpHeader(seg, 0, 19, 1, 2), /shorter than a TCP header/);
  assert.throws(() => emitTcpHeader({ srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, window: 0, urgent: 0, headerLength: 22 }, seg, 0, 24, 1, 2), WireError);
});

const icmpRepr: fc.Arbitrary<IcmpRepr> = fc.oneof(
  fc.record({ kind: fc.constant('query' as const), type: fc.constantFrom(0, 8, 13, 14), code: fc.constant(0), id: port, seq: port }),
  fc.record({ kind: fc.constant('other' as const), type: fc.constantFrom(3, 4, 5, 11, 12, 9, 10, 42), code: fc.integer({ min: 0, max: 15 }), rest: u32 }),
);

test('ICMP repr: emit then parse gives the repr back, and the checksum verifies', () => {
  fc.assert(
    fc.property(icmpRepr, fc.uint8Array({ maxLength: 100 }), (r, body) => {
      const msg = new Uint8Array(ICMP_HEADER + body.length);
      msg.set(body, ICMP.QUOTED);
      emitIcmpHeader(r, msg, 0, msg.length);
      assert.deepEqual(parseIcmpHeader(msg, 0, msg.length), { ...r }); // fast-check's records have no prototype
      assert.equal(internetChecksum(msg, 0, msg.length), 0);
      assert.ok(icmpChecksumValid(buildIpv4Packet(defaultIpv4Header(1, 2, PROTO_ICMP), msg), 0));
      msg[msg.length - 1] ^= 0x80;
      assert.throws(() => parseIcmpHeader(msg, 0, msg.length), /bad checksum/);
      assert.doesNotThrow(() => parseIcmpHeader(msg, 0, msg.length, false));
    }),
  );
  assert.throws(() => parseIcmpHeader(new Uint8Array(7), 0, 7), /shorter than an ICMP header/);
});

test('IPv4 repr: emit then parse gives the repr back, with or without options', () => {
  const repr: fc.Arbitrary<Ipv4Repr> = fc.record({
    tos: fc.integer({ min: 0, max: 255 }),
    identification: port,
    dontFragment: fc.boolean(),
    moreFragments: fc.boolean(),
    fragmentOffset: fc.integer({ min: 0, max: 0x1fff }),
    ttl: fc.integer({ min: 0, max: 255 }),
    protocol: fc.integer({ min: 0, max: 255 }),
    src: addr,
    dst: addr,
    options: fc.integer({ min: 0, max: 10 }).chain((w) => fc.uint8Array({ minLength: 4 * w, maxLength: 4 * w })),
    payloadLength: fc.integer({ min: 0, max: 100 }),
  });
  fc.assert(
    fc.property(repr, (r) => {
      const b = new Uint8Array(ipv4HeaderLengthOf(r) + r.payloadLength);
      emitIpv4Header(r, b, 0);
      assert.deepEqual(parseIpv4Header(b), { ...r });
    }),
  );
});
