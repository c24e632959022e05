/**
 * The checksum-keeping setters: after any rewrite of addresses, ports,
 * identifiers, sequence numbers, TTL or length, the incrementally updated
 * checksums equal a full recomputation over the rewritten packet; a partial
 * (offloaded) checksum equals the new pseudo-header sum; None touches nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fold, pseudoHeaderSum } from '../../src/wire/checksum.js';
import { buildIcmpEcho, buildIcmpError, computeIcmpChecksum, ICMP, ICMP_DEST_UNREACHABLE, setIcmpId, UNREACH_PORT } from '../../src/wire/icmp.js';
import {
  fillIpv4HeaderChecksum,
  IPV4,
  ipv4,
  ipv4HeaderChecksumValid,
  PROTO_TCP,
  PROTO_UDP,
  read16,
  read32,
  setIpv4Address,
  setIpv4Dst,
  setIpv4Src,
  setIpv4TotalLength,
  setIpv4Ttl,
  write16,
} from '../../src/wire/ipv4.js';
import { L4Checksum, updateL4Checksum } from '../../src/wire/l4-checksum.js';
import { buildTcpPacket, computeTcpChecksum, setTcpAck, setTcpEndpoint, setTcpPort, setTcpSeq, TCP } from '../../src/wire/tcp.js';
import { buildUdpPacket, computeUdpChecksum, setUdpEndpoint, setUdpPort, UDP } from '../../src/wire/udp.js';

const addr = fc.nat({ max: 0xffffffff });
const port = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.nat({ max: 0xffffffff });
const payload = fc.uint8Array({ maxLength: 120 });

/** A UDP or TCP packet with random addresses, ports, numbers and payload. */
const transportPacket = fc
  .record({ tcp: fc.boolean(), src: addr, dst: addr, srcPort: port, dstPort: port, seq: u32, ack: u32, flags: fc.integer({ min: 0, max: 0x3f }), payload, ttl: fc.integer({ min: 1, max: 255 }) })
  .map((c) => ({
    tcp: c.tcp,
    pkt: c.tcp
      ? buildTcpPacket({ src: c.src, dst: c.dst, srcPort: c.srcPort, dstPort: c.dstPort, seq: c.seq, ack: c.ack, flags: c.flags, window: 1000, payload: c.payload }, c.ttl)
      : buildUdpPacket({ src: c.src, dst: c.dst, srcPort: c.srcPort, dstPort: c.dstPort, payload: c.payload }, c.ttl),
  }));

const headerChecksum = (pkt: Uint8Array) => read16(pkt, IPV4.CHECKSUM);
function recomputedHeaderChecksum(pkt: Uint8Array): number {
  const copy = pkt.slice();
  fillIpv4HeaderChecksum(copy, 0);
  return headerChecksum(copy);
}
const l4At = (tcp: boolean) => 20 + (tcp ? TCP.CHECKSUM : UDP.CHECKSUM);
const l4Checksum = (pkt: Uint8Array, tcp: boolean) => read16(pkt, l4At(tcp));
const fullL4 = (pkt: Uint8Array, tcp: boolean) => (tcp ? computeTcpChecksum(pkt, 0) : computeUdpChecksum(pkt, 0));
const partialL4 = (pkt: Uint8Array, tcp: boolean) =>
  fold(pseudoHeaderSum(ipv4.src(pkt, 0), ipv4.dst(pkt, 0), tcp ? PROTO_TCP : PROTO_UDP, ipv4.totalLength(pkt, 0) - 20));

test('IPv4 setters: address, TTL and total length keep the header checksum equal to a recomputation', () => {
  fc.assert(
    fc.property(transportPacket, addr, addr, fc.integer({ min: 0, max: 255 }), fc.integer({ min: 20, max: 0xffff }), ({ pkt }, a, b, ttl, len) => {
      const oldSrc = ipv4.src(pkt, 0);
      assert.equal(setIpv4Src(pkt, 0, a), oldSrc, 'returns the address it replaced');
      assert.equal(ipv4.src(pkt, 0), a);
      assert.equal(headerChecksum(pkt), recomputedHeaderChecksum(pkt));
      const oldDst = ipv4.dst(pkt, 0);
      assert.equal(setIpv4Dst(pkt, 0, b), oldDst);
      assert.equal(headerChecksum(pkt), recomputedHeaderChecksum(pkt));
      setIpv4Ttl(pkt, 0, ttl);
      assert.equal(ipv4.ttl(pkt, 0), ttl);
      assert.equal(headerChecksum(pkt), recomputedHeaderChecksum(pkt));
      setIpv4TotalLength(pkt, 0, len);
      assert.equal(ipv4.totalLength(pkt, 0), len);
      assert.equal(headerChecksum(pkt), recomputedHeaderChecksum(pkt));
      assert.ok(ipv4HeaderChecksumValid(pkt, 0));
    }),
  );
});

test('a NAT rewrite (address, then port with the pseudo-header) keeps a full UDP/TCP checksum equal to a recomputation', () => {
  fc.assert(
    fc.property(transportPacket, addr, port, fc.boolean(), ({ tcp, pkt }, newAddr, newPort, source) => {
      const field = source ? IPV4.SRC : IPV4.DST;
      const portField = source ? UDP.SRC_PORT : UDP.DST_PORT; // the same offsets in TCP
      const oldAddr = setIpv4Address(pkt, 0, field, newAddr);
      if (tcp) setTcpEndpoint(pkt, 20, portField, newPort, oldAddr, newAddr, L4Checksum.Full);
      else setUdpEndpoint(pkt, 20, portField, newPort, oldAddr, newAddr, L4Checksum.Full);
      assert.equal(read32(pkt, field), newAddr);
      assert.equal(read16(pkt, 20 + portField), newPort);
      assert.equal(headerChecksum(pkt), recomputedHeaderChecksum(pkt));
      assert.equal(l4Checksum(pkt, tcp), fullL4(pkt, tcp));
    }),
  );
});

test('updateL4Checksum, for a checksum field the caller finds (a quoted packet), equals a recomputation, UDP zero rule and all', () => {
  fc.assert(
    fc.property(transportPacket, addr, port, fc.boolean(), ({ tcp, pkt }, newAddr, newPort, noChecksum) => {
      if (!tcp && noChecksum) write16(pkt, l4At(false), 0);
      const oldAddr = setIpv4Address(pkt, 0, IPV4.SRC, newAddr);
      const oldPort = read16(pkt, 20 + UDP.SRC_PORT);
      write16(pkt, 20 + UDP.SRC_PORT, newPort);
      updateL4Checksum(pkt, l4At(tcp), L4Checksum.Full, !tcp, oldAddr, newAddr, oldPort, newPort);
      assert.equal(l4Checksum(pkt, tcp), !tcp && noChecksum ? 0 : fullL4(pkt, tcp));
      write16(pkt, l4At(tcp), partialL4(pkt, tcp));
      const again = setIpv4Address(pkt, 0, IPV4.DST, newAddr ^ 0x10101);
      updateL4Checksum(pkt, l4At(tcp), L4Checksum.Partial, !tcp, again, newAddr ^ 0x10101, 0, 0);
      assert.equal(l4Checksum(pkt, tcp), partialL4(pkt, tcp));
    }),
  );
});

test('a partial (offloaded) checksum follows the pseudo-header and ignores the port; None leaves the field alone', () => {
  fc.assert(
    fc.property(transportPacket, addr, port, ({ tcp, pkt }, newAddr, newPort) => {
      write16(pkt, l4At(tcp), partialL4(pkt, tcp));
      const oldAddr = setIpv4Address(pkt, 0, IPV4.DST, newAddr);
      if (tcp) setTcpEndpoint(pkt, 20, TCP.DST_PORT, newPort, oldAddr, newAddr, L4Checksum.Partial);
      else setUdpEndpoint(pkt, 20, UDP.DST_PORT, newPort, oldAddr, newAddr, L4Checksum.Partial);
      assert.equal(l4Checksum(pkt, tcp), partialL4(pkt, tcp));
      if (tcp) setTcpSeq(pkt, 20, 12345, L4Checksum.Partial);
      assert.equal(l4Checksum(pkt, tcp), partialL4(pkt, tcp));

      const before = l4Checksum(pkt, tcp);
      const old = setIpv4Address(pkt, 0, IPV4.SRC, newAddr ^ 1);
      if (tcp) setTcpEndpoint(pkt, 20, TCP.SRC_PORT, newPort ^ 1, old, newAddr ^ 1, L4Checksum.None);
      else setUdpEndpoint(pkt, 20, UDP.SRC_PORT, newPort ^ 1, old, newAddr ^ 1, L4Checksum.None);
      assert.equal(read16(pkt, 20), newPort ^ 1, 'the port is written all the same');
      assert.equal(l4Checksum(pkt, tcp), before);
    }),
  );
});

test('UDP: a datagram without a checksum (0) keeps none; one whose checksum comes to 0 carries 0xffff', () => {
  fc.assert(
    fc.property(transportPacket, addr, port, ({ tcp, pkt }, newAddr, newPort) => {
      if (tcp) return;
      write16(pkt, 20 + UDP.CHECKSUM, 0);
      const oldAddr = setIpv4Address(pkt, 0, IPV4.SRC, newAddr);
      setUdpEndpoint(pkt, 20, UDP.SRC_PORT, newPort, oldAddr, newAddr, L4Checksum.Full);
      assert.equal(read16(pkt, 20 + UDP.CHECKSUM), 0);
    }),
  );
  // A datagram whose checksum computes to 0: find a source port that makes it so, then move to it.
  const pkt = buildUdpPacket({ src: 0x0a000001, dst: 0x0a000002, srcPort: 1000, dstPort: 2000, payload: new Uint8Array(4) });
  const c = read16(pkt, 20 + UDP.CHECKSUM);
  const zeroingPort = (1000 + c) % 0xffff; // adds c to the sum: ~(s + c) = 0 when c = ~s
  setUdpPort(pkt, 20, UDP.SRC_PORT, zeroingPort, L4Checksum.Full);
  assert.equal(computeUdpChecksum(pkt, 0), 0xffff);
  assert.equal(read16(pkt, 20 + UDP.CHECKSUM), 0xffff);
});

test('TCP: ports, sequence and acknowledgement numbers keep a full checksum equal to a recomputation', () => {
  fc.assert(
    fc.property(transportPacket, port, port, u32, u32, ({ tcp, pkt }, sp, dp, seq, ack) => {
      if (!tcp) return;
      setTcpPort(pkt, 20, TCP.SRC_PORT, sp, L4Checksum.Full);
      assert.equal(l4Checksum(pkt, true), fullL4(pkt, true));
      setTcpPort(pkt, 20, TCP.DST_PORT, dp, L4Checksum.Full);
      assert.equal(l4Checksum(pkt, true), fullL4(pkt, true));
      setTcpSeq(pkt, 20, seq, L4Checksum.Full);
      assert.equal(read32(pkt, 20 + TCP.SEQ), seq);
      assert.equal(l4Checksum(pkt, true), fullL4(pkt, true));
      setTcpAck(pkt, 20, ack, L4Checksum.Full);
      assert.equal(read32(pkt, 20 + TCP.ACK), ack);
      assert.equal(l4Checksum(pkt, true), fullL4(pkt, true));
    }),
  );
});

/** One's complement has two zeros; a checksum of either verifies. */
const sameChecksum = (a: number, b: number) => a === b || ((a === 0 || b === 0) && (a | b) === 0xffff);

test('ICMP: a query identifier keeps the checksum equal to a recomputation; a short quote gets the identifier only', () => {
  fc.assert(
    fc.property(addr, addr, fc.constantFrom(0, 8), port, port, payload, port, (src, dst, type, id, seq, data, newId) => {
      const pkt = buildIcmpEcho(src, dst, type as 0 | 8, id, seq, data);
      setIcmpId(pkt, 20, newId);
      assert.equal(read16(pkt, 20 + ICMP.ID), newId);
      assert.ok(sameChecksum(read16(pkt, 20 + ICMP.CHECKSUM), computeIcmpChecksum(pkt, 0)));
    }),
  );
  const echo = buildIcmpEcho(1, 2, 8, 7, 1);
  const err = buildIcmpError(2, ICMP_DEST_UNREACHABLE, UNREACH_PORT, echo);
  const quoted = 20 + ICMP.QUOTED + 20;
  const before = read16(err, quoted + ICMP.CHECKSUM);
  setIcmpId(err, quoted, 99, false);
  assert.equal(read16(err, quoted + ICMP.ID), 99);
  assert.equal(read16(err, quoted + ICMP.CHECKSUM), before);
});
