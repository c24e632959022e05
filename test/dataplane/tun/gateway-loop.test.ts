import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { addOneToTtl, GatewayLoop, type PacketDevice } from '../../../src/dataplane/tun/gateway-loop.js';
import type { TunPacketHandler } from '../../../src/dataplane/tun/device.js';
import { NatEngine, Side } from '../../../src/nat/engine.js';
import { FLOW_OFFLOADED } from '../../../src/nat/offload.js';
import { ManualClock } from '../../../src/util/clock.js';
import { parseIpv4 } from '../../../src/wire/address.js';
import { buildIpv4Packet, defaultIpv4Header, fillIpv4HeaderChecksum, ipv4, ipv4HeaderChecksumValid, PROTO_TCP } from '../../../src/wire/ipv4.js';
import { buildUdpPacket, parseUdpPacket, udpChecksumValid } from '../../../src/wire/udp.js';
import { buildTcpPacket, tcpChecksumValid } from '../../../src/wire/tcp.js';
import { fold, pseudoHeaderSum } from '../../../src/wire/checksum.js';
import {
  readVnetHeader,
  VNET_F_DATA_VALID,
  VNET_F_NEEDS_CSUM,
  VNET_GSO_NONE,
  VNET_GSO_TCPV4,
  VNET_GSO_UDP_L4,
  VNET_HEADER_SIZE,
  writeVnetHeader,
  type VnetHeader,
} from '../../../src/dataplane/tun/vnet-header.js';

const H1 = parseIpv4('10.0.1.2');
const SRV = parseIpv4('198.51.100.10');
const PUB = parseIpv4('203.0.113.1');
const SLOT = 70_000; // room for a 64 KiB GSO packet and its header

/**
 * A TUN device in memory: delivers batches the way the addon does (with a virtio-net header before each
 * packet when vnetHeaderSize is 10), records what is written, headers apart.
 */
class FakeDevice implements PacketDevice {
  readonly buf: Uint8Array;
  readonly offsets = new Uint32Array(8);
  readonly lengths = new Uint32Array(8);
  handler: TunPacketHandler | null = null;
  /** Each writeBatch as the list of packets it carried (copies); write() as a one-packet entry marked single. */
  readonly writes: Array<{ batch: boolean; packets: Uint8Array[]; headers: (VnetHeader | null)[] }> = [];
  room = Infinity;

  constructor(
    readonly name: string,
    readonly vnetHeaderSize = 0,
    readonly slot = SLOT,
  ) {
    this.buf = new Uint8Array(8 * slot);
  }
  onPackets(h: TunPacketHandler) {
    this.handler = h;
  }
  writeBatch(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
    const n = Math.min(count, this.room);
    const hdr = this.vnetHeaderSize;
    this.writes.push({
      batch: true,
      packets: Array.from({ length: n }, (_, i) => buf.slice(offsets[i], offsets[i] + lengths[i])),
      headers: Array.from({ length: n }, (_, i) => (hdr === 0 ? null : readVnetHeader(buf, offsets[i] - hdr))),
    });
    return n;
  }
  write(packet: Uint8Array, header?: Uint8Array): boolean {
    if (this.vnetHeaderSize === 0) assert.equal(header, undefined, 'no header without offload');
    const h = this.vnetHeaderSize === 0 ? null : readVnetHeader(header ?? new Uint8Array(VNET_HEADER_SIZE), 0);
    this.writes.push({ batch: false, packets: [packet.slice()], headers: [h] });
    return true;
  }
  deliver(packets: Uint8Array[], headers: VnetHeader[] = []): void {
    const hdr = this.vnetHeaderSize;
    packets.forEach((p, i) => {
      const at = i * this.slot + hdr;
      this.offsets[i] = at;
      this.lengths[i] = p.length;
      this.buf.set(p, at);
      if (hdr !== 0) writeVnetHeader(this.buf, at - hdr, headers[i] ?? NO_OFFLOAD);
    });
    this.handler!(this.buf, this.offsets, this.lengths, packets.length);
  }
  written(): Uint8Array[] {
    return this.writes.flatMap((w) => w.packets);
  }
  writtenHeaders(): (VnetHeader | null)[] {
    return this.writes.flatMap((w) => w.headers);
  }
}

const NO_OFFLOAD: VnetHeader = { flags: 0, gsoType: VNET_GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 };

function setup(config: Record<string, unknown> = {}, slot = SLOT) {
  const clock = new ManualClock(1000);
  const engine = new NatEngine({ inside: ['10.0.1.0/24'], public: ['203.0.113.1'], ...config }, { clock });
  const inside = new FakeDevice('masq-in', 0, slot);
  const outside = new FakeDevice('masq-out');
  const errors: unknown[] = [];
  const loop = new GatewayLoop(engine, inside, outside, clock, { singleHop: true, onEngineError: (e) => errors.push(e) });
  loop.start();
  return { clock, engine, inside, outside, loop, errors };
}

/** An ALG on UDP 5060 that returns each packet 4 bytes longer, in a new buffer. */
function growSipBy4(engine: NatEngine): void {
  engine.registerHelper((_e, _flow, pkt) => {
    const bigger = new Uint8Array(pkt.length + 4);
    bigger.set(pkt);
    bigger[2] = (bigger.length >> 8) & 0xff;
    bigger[3] = bigger.length & 0xff;
    fillIpv4HeaderChecksum(bigger, 0);
    return bigger;
  }, [{ proto: 17, first: 5060, last: 5060 }]);
}

const udpOut = (sport: number, ttl = 63, payload = 'hello') =>
  buildUdpPacket({ src: H1, dst: SRV, srcPort: sport, dstPort: 7, payload: new TextEncoder().encode(payload) }, ttl);

describe('the gateway packet loop', () => {
  test('a batch in, translated in place, written back in one call with the drops left out', () => {
    const { inside, loop } = setup();
    const junk = new Uint8Array(40).fill(0xee);
    const stranger = buildUdpPacket({ src: parseIpv4('192.0.2.9'), dst: SRV, srcPort: 1, dstPort: 7, payload: new Uint8Array(4) });
    inside.deliver([udpOut(5000), junk, udpOut(5001), stranger, udpOut(5002)]);
    assert.equal(inside.writes.length, 1);
    assert.equal(inside.writes[0].batch, true);
    const out = inside.written();
    assert.deepEqual(out.map((p) => parseUdpPacket(p).srcPort), [5000, 5001, 5002]);
    for (const p of out) {
      assert.equal(ipv4.src(p, 0), PUB);
      assert.equal(ipv4.ttl(p, 0), 64, 'the TTL the kernel took on the way in is back');
      assert.ok(ipv4HeaderChecksumValid(p, 0));
      assert.ok(udpChecksumValid(p, 0));
    }
    assert.deepEqual(
      { ...loop.counters.snapshot() },
      {
        wakes: 1,
        packetsRead: 5,
        forwarded: 3,
        dropped: 2,
        resized: 0,
        emitted: 0,
        notWritten: 0,
        engineErrors: 0,
        // Three 33-byte datagrams, the 40 bytes of junk and the stranger's 32.
        bytesRead: 3 * 33 + 40 + 32,
        gsoPackets: 0,
        gsoBytes: 0,
        gsoDropped: 0,
        coalesced: 0,
        coalescedWrites: 0,
        busyPolls: 0,
        busyPollHits: 0,
        // One read of 5 packets: the (4, 8] bucket.
        batchSizes: [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
      },
    );
  });

  test('replies on the outside device are translated back to the inside host', () => {
    const { inside, outside } = setup();
    inside.deliver([udpOut(5000)]);
    const reply = buildUdpPacket({ src: SRV, dst: PUB, srcPort: 7, dstPort: 5000, payload: new Uint8Array(3) }, 60);
    outside.deliver([reply]);
    const [back] = outside.written();
    assert.equal(ipv4.dst(back, 0), H1);
    assert.equal(parseUdpPacket(back).dstPort, 5000);
    assert.equal(ipv4.ttl(back, 0), 61);
  });

  test('the device a packet came from is its side: an inside source on the outside device is not inside', () => {
    const { outside, engine } = setup();
    // A spoofed "inside" source arriving from the WAN, addressed to the public address.
    outside.deliver([buildUdpPacket({ src: H1, dst: PUB, srcPort: 5000, dstPort: 5000, payload: new Uint8Array(1) })]);
    assert.equal(outside.written().length, 0);
    assert.equal(engine.counters.dropCount('noMapping'), 1);
  });

  test('the kernel fast path hears of each translated flow until it takes it, and of nothing else', () => {
    const clock = new ManualClock(0);
    const engine = new NatEngine({ inside: ['10.0.1.0/24'], public: ['203.0.113.1'] }, { clock });
    const inside = new FakeDevice('i');
    const considered: number[] = [];
    const offload = { consider: (flow: number) => considered.push(flow) };
    new GatewayLoop(engine, inside, new FakeDevice('o'), clock, { singleHop: false, offload }).start();
    const toLan = buildUdpPacket({ src: H1, dst: parseIpv4('10.0.1.9'), srcPort: 1, dstPort: 2, payload: new Uint8Array(1) });
    inside.deliver([udpOut(5000), udpOut(5001), toLan, udpOut(5000)]);
    assert.equal(considered.length, 3, 'the packet routed inside to inside belongs to no flow');
    assert.equal(considered[0], considered[2]);
    assert.notEqual(considered[0], considered[1]);
    engine.flows.flags[considered[0]] |= FLOW_OFFLOADED;
    inside.deliver([udpOut(5000), udpOut(5001)]);
    assert.deepEqual(considered.slice(3), [considered[1]], 'a flow already offloaded is not offered again');
  });

  test('without singleHop the TTL is left alone', () => {
    const clock = new ManualClock(0);
    const engine = new NatEngine({ inside: ['10.0.1.0/24'], public: ['203.0.113.1'] }, { clock });
    const inside = new FakeDevice('i');
    new GatewayLoop(engine, inside, new FakeDevice('o'), clock, { singleHop: false }).start();
    inside.deliver([udpOut(5000, 63)]);
    assert.equal(ipv4.ttl(inside.written()[0], 0), 63);
  });

  test('what the engine originates is written to its side: an ICMP error for a SYN nobody expected', () => {
    const { outside, loop, clock, engine } = setup();
    const syn = buildTcpPacket({ src: SRV, dst: PUB, srcPort: 40000, dstPort: 8080, seq: 1, ack: 0, flags: 0x02, window: 1024, payload: new Uint8Array(0) }, 60);
    outside.deliver([syn]);
    assert.equal(outside.written().length, 0, 'held (RFC 5382 REQ-4), not answered at once');
    clock.advance(7000);
    engine.tick(clock.now());
    loop.sendEmitted();
    const [icmp] = outside.written();
    assert.equal(outside.writes[0].batch, false);
    assert.equal(ipv4.protocol(icmp, 0), 1);
    assert.equal(ipv4.dst(icmp, 0), SRV);
    assert.equal(loop.counters.emitted, 1);
  });

  test('a packet an ALG resized joins the batch, in order', () => {
    const { inside, engine, loop } = setup();
    growSipBy4(engine);
    const sip = buildUdpPacket({ src: H1, dst: SRV, srcPort: 5060, dstPort: 5060, payload: new Uint8Array(10) }, 63);
    inside.deliver([udpOut(5000), sip, udpOut(5001), udpOut(5002)]);
    assert.deepEqual(
      inside.writes.map((w) => [w.batch, w.packets.map((p) => p.length)]),
      [[true, [udpOut(5000).length, sip.length + 4, udpOut(5001).length, udpOut(5002).length]]],
    );
    assert.equal(parseUdpPacket(inside.written()[1]).srcPort, 5060);
    assert.equal(loop.counters.resized, 1);
  });

  test('a resized packet with no room left in the read buffer is written on its own, in order', () => {
    // Slots of 1,000 bytes, the last packet filling its slot: the buffer ends right after it, as after
    // a full wake of the largest packets.
    const { inside, engine, loop } = setup({}, 1000);
    growSipBy4(engine);
    const sip = buildUdpPacket({ src: H1, dst: SRV, srcPort: 5060, dstPort: 5060, payload: new Uint8Array(10) }, 63);
    const filler = udpOut(5001, 63, 'x'.repeat(1000 - 28));
    inside.deliver([udpOut(5000), sip, udpOut(5002), udpOut(5003), udpOut(5004), udpOut(5005), udpOut(5006), filler]);
    assert.deepEqual(
      inside.writes.map((w) => [w.batch, w.packets.length]),
      [
        [true, 1],
        [false, 1],
        [true, 6],
      ],
    );
    assert.equal(inside.written()[1].length, sip.length + 4);
    assert.equal(loop.counters.resized, 1);
  });

  test('an engine that throws on one packet: that packet is dropped and counted, the batch goes on', () => {
    const { inside, engine, loop, errors } = setup();
    const real = engine.process.bind(engine);
    engine.process = (pkt, side, now) => {
      if (parseUdpPacket(pkt).srcPort === 6666) throw new Error('bug');
      return real(pkt, side, now);
    };
    inside.deliver([udpOut(5000), udpOut(6666), udpOut(5001)]);
    assert.deepEqual(inside.written().map((p) => parseUdpPacket(p).srcPort), [5000, 5001]);
    assert.equal(loop.counters.engineErrors, 1);
    assert.equal(errors.length, 1);
  });

  test('a full device queue: what did not fit is counted', () => {
    const { inside, loop } = setup();
    inside.room = 2;
    inside.deliver([udpOut(5000), udpOut(5001), udpOut(5002)]);
    assert.equal(loop.counters.notWritten, 1);
  });

  test('no new view per packet while sizes repeat', () => {
    const { inside, engine } = setup();
    const seen: Uint8Array[] = [];
    const real = engine.process.bind(engine);
    engine.process = (pkt, side, now) => {
      seen.push(pkt);
      return real(pkt, side, now);
    };
    inside.deliver([udpOut(5000), udpOut(5001)]);
    inside.deliver([udpOut(5002), udpOut(5003, 63, 'longer payload')]);
    assert.equal(seen[2], seen[0], 'slot 0, same length: the same view');
    assert.notEqual(seen[3], seen[1], 'slot 1, new length: a new view');
    assert.equal(seen[3].length, udpOut(0, 63, 'longer payload').length);
  });
});

describe('addOneToTtl', () => {
  test('property: the header checksum stays valid; 255 and non-IPv4 are left alone', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.integer({ min: 0, max: 255 }), (bytes, ttl) => {
        const h = buildIpv4Packet(
          { ...defaultIpv4Header(((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0, ((bytes[4] << 24) | bytes[5]) >>> 0, PROTO_TCP), ttl, identification: (bytes[6] << 8) | bytes[7], tos: bytes[8] },
          bytes.subarray(0, 8),
        );
        const copy = new Uint8Array(4 + h.length);
        copy.set(h, 4);
        addOneToTtl(copy, 4, h.length);
        const after = copy.subarray(4);
        assert.ok(ipv4HeaderChecksumValid(after, 0));
        assert.equal(ipv4.ttl(after, 0), ttl === 255 ? 255 : ttl + 1);
        assert.deepEqual([...copy.subarray(0, 4)], [0, 0, 0, 0]);
      }),
    );
    const v6 = new Uint8Array(40);
    v6[0] = 0x60;
    v6[8] = 7;
    addOneToTtl(v6, 0, 40);
    assert.equal(v6[8], 7);
    const short = new Uint8Array(19).fill(0x45);
    addOneToTtl(short, 0, 19);
    assert.ok(short.every((b) => b === 0x45));
  });
});

// ---------------------------------------------------------------- offload

const UDP_PARTIAL: VnetHeader = { flags: VNET_F_NEEDS_CSUM, gsoType: VNET_GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart: 20, csumOffset: 6 };
const TCP_GSO: VnetHeader = { flags: VNET_F_NEEDS_CSUM, gsoType: VNET_GSO_TCPV4, hdrLen: 40, gsoSize: 1460, csumStart: 20, csumOffset: 16 };

/** Where the transport checksum of a TCP or UDP packet is. */
const csumAt = (p: Uint8Array) => 20 + (p[9] === PROTO_TCP ? 16 : 6);

/** The pseudo-header sum, uncomplemented, as a sender with checksum offload leaves it in the field. */
function partialSum(p: Uint8Array): number {
  const total = (p[2] << 8) | p[3];
  return fold(pseudoHeaderSum(ipv4.src(p, 0), ipv4.dst(p, 0), p[9], total - 20));
}

/** The packet as a kernel with checksum offload hands it over: the checksum field holds the pseudo-header sum. */
function withPartialChecksum(p: Uint8Array): Uint8Array {
  const q = p.slice();
  const sum = partialSum(q);
  q[csumAt(q)] = sum >> 8;
  q[csumAt(q) + 1] = sum & 0xff;
  return q;
}

function storedChecksum(p: Uint8Array): number {
  return (p[csumAt(p)] << 8) | p[csumAt(p) + 1];
}

/** A TCP super-packet from h1: one IP header over `payload` bytes, as TSO leaves it. */
function tcpSuperPacket(payload: number, dstPort = 80): Uint8Array {
  const data = new Uint8Array(payload).map((_, i) => i * 7);
  const p = buildTcpPacket({ src: H1, dst: SRV, srcPort: 40000, dstPort, seq: 1000, ack: 1, flags: 0x18, window: 512, payload: data }, 63);
  return withPartialChecksum(p);
}

function setupOffload(config: Record<string, unknown> = {}) {
  const clock = new ManualClock(1000);
  const engine = new NatEngine({ inside: ['10.0.1.0/24'], public: ['203.0.113.1'], ...config }, { clock });
  const inside = new FakeDevice('masq-in', VNET_HEADER_SIZE);
  const outside = new FakeDevice('masq-out', VNET_HEADER_SIZE);
  const loop = new GatewayLoop(engine, inside, outside, clock, { singleHop: true, mtu: 1500 });
  loop.start();
  return { clock, engine, inside, outside, loop };
}

/** An ALG on `proto`/`port` that changes nothing: the engine completes a partial checksum before calling it. */
function passThroughAlg(engine: NatEngine, proto: number, port: number, resize = 0) {
  engine.registerHelper((_e, _flow, pkt) => {
    if (resize === 0) return pkt;
    const bigger = new Uint8Array(pkt.length + resize);
    bigger.set(pkt);
    bigger[2] = (bigger.length >> 8) & 0xff;
    bigger[3] = bigger.length & 0xff;
    fillIpv4HeaderChecksum(bigger, 0);
    if (proto === PROTO_TCP) {
      bigger[36] = bigger[37] = 0;
      const total = bigger.length;
      const sum = fold(pseudoHeaderSum(ipv4.src(bigger, 0), ipv4.dst(bigger, 0), 6, total - 20) + sumBytes(bigger, 20, total));
      const c = ~sum & 0xffff;
      bigger[36] = c >> 8;
      bigger[37] = c & 0xff;
    }
    return bigger;
  }, [{ proto, first: port, last: port }]);
}

function sumBytes(b: Uint8Array, start: number, end: number): number {
  let s = 0;
  for (let i = start; i < end; i += 2) s += (b[i] << 8) | (i + 1 < end ? b[i + 1] : 0);
  return s;
}

describe('the gateway packet loop with offload (virtio-net headers)', () => {
  test('a partial-checksum UDP packet: translated with the checksum kept partial, the header written back as read', () => {
    const { inside, engine } = setupOffload();
    const seen: boolean[] = [];
    const real = engine.process.bind(engine);
    engine.process = (pkt, side, now, partial) => {
      seen.push(partial === true);
      return real(pkt, side, now, partial);
    };
    inside.deliver([withPartialChecksum(udpOut(5000))], [UDP_PARTIAL]);
    assert.deepEqual(seen, [true], 'the engine was told the checksum is partial');
    const [out] = inside.written();
    assert.equal(ipv4.src(out, 0), PUB);
    assert.ok(ipv4HeaderChecksumValid(out, 0));
    assert.equal(storedChecksum(out), partialSum(out), 'the field holds the pseudo-header sum of the new addresses');
    assert.deepEqual(inside.writtenHeaders(), [UDP_PARTIAL]);
    assert.equal(inside.writes[0].batch, true);
  });

  test('a TCP GSO super-packet longer than the MTU goes through whole, header and all', () => {
    const { inside, loop } = setupOffload();
    const big = tcpSuperPacket(30_000);
    inside.deliver([big], [TCP_GSO]);
    const [out] = inside.written();
    assert.equal(out.length, big.length);
    assert.equal(ipv4.src(out, 0), PUB);
    assert.equal(storedChecksum(out), partialSum(out));
    assert.deepEqual(out.subarray(40), big.subarray(40), 'payload untouched');
    assert.deepEqual(inside.writtenHeaders(), [TCP_GSO]);
    assert.equal(loop.counters.gsoPackets, 1);
    assert.equal(loop.counters.gsoBytes, big.length);
    assert.equal(loop.counters.bytesRead, big.length);
    assert.equal(loop.counters.forwarded, 1);
  });

  test('a complete checksum (no NEEDS_CSUM, DATA_VALID) is updated in full and its header kept', () => {
    const { inside, engine } = setupOffload();
    const seen: boolean[] = [];
    const real = engine.process.bind(engine);
    engine.process = (pkt, side, now, partial) => {
      seen.push(partial === true);
      return real(pkt, side, now, partial);
    };
    const valid: VnetHeader = { ...NO_OFFLOAD, flags: VNET_F_DATA_VALID };
    inside.deliver([udpOut(5000)], [valid]);
    assert.deepEqual(seen, [false]);
    const [out] = inside.written();
    assert.ok(udpChecksumValid(out, 0));
    assert.deepEqual(inside.writtenHeaders(), [valid]);
  });

  test('an ALG completed the checksum of a plain packet in place: written with an all-zero header', () => {
    const { inside, engine } = setupOffload();
    passThroughAlg(engine, 17, 5060);
    const sip = withPartialChecksum(buildUdpPacket({ src: H1, dst: SRV, srcPort: 5060, dstPort: 5060, payload: new Uint8Array(20).fill(65) }, 63));
    inside.deliver([withPartialChecksum(udpOut(5000)), sip], [UDP_PARTIAL, UDP_PARTIAL]);
    const out = inside.written();
    assert.equal(inside.writes.length, 1, 'still one batch');
    assert.deepEqual(inside.writtenHeaders(), [UDP_PARTIAL, NO_OFFLOAD]);
    assert.ok(udpChecksumValid(out[1], 0), 'the ALG packet carries its complete checksum');
  });

  test('an ALG completed the checksum of a TCP GSO packet: stays GSO, flags cleared, the checksum complete', () => {
    const { inside, engine, loop } = setupOffload();
    passThroughAlg(engine, PROTO_TCP, 21);
    inside.deliver([tcpSuperPacket(20_000, 21)], [TCP_GSO]);
    const [out] = inside.written();
    assert.deepEqual(inside.writtenHeaders(), [{ ...TCP_GSO, flags: 0 }]);
    assert.ok(tcpChecksumValid(out, 0));
    assert.equal(loop.counters.gsoDropped, 0);
  });

  test('an ALG resized a packet: written with the batch, header matching the new packet', () => {
    const { inside, engine, loop } = setupOffload();
    passThroughAlg(engine, PROTO_TCP, 21, 4);
    inside.deliver([tcpSuperPacket(10_000, 21)], [TCP_GSO]);
    passThroughAlg(engine, 17, 5060, 4);
    const sip = withPartialChecksum(buildUdpPacket({ src: H1, dst: SRV, srcPort: 5060, dstPort: 5060, payload: new Uint8Array(10) }, 63));
    inside.deliver([sip], [UDP_PARTIAL]);
    assert.deepEqual(
      inside.writes.map((w) => w.batch),
      [true, true],
    );
    assert.deepEqual(inside.writtenHeaders(), [{ ...TCP_GSO, flags: 0 }, NO_OFFLOAD]);
    const [tcp, udp] = inside.written();
    assert.equal(tcp.length, 20 + 20 + 10_000 + 4);
    assert.ok(tcpChecksumValid(tcp, 0));
    assert.equal(udp.length, sip.length + 4);
    assert.equal(loop.counters.resized, 2);
  });

  test('a UDP GSO packet an ALG completed cannot stay GSO: longer than the MTU, it is dropped and counted', () => {
    const { inside, engine, loop } = setupOffload();
    passThroughAlg(engine, 17, 5060);
    const uso: VnetHeader = { ...UDP_PARTIAL, gsoType: VNET_GSO_UDP_L4, gsoSize: 1000, hdrLen: 28 };
    const big = withPartialChecksum(buildUdpPacket({ src: H1, dst: SRV, srcPort: 5060, dstPort: 5060, payload: new Uint8Array(3000) }, 63));
    const small = withPartialChecksum(buildUdpPacket({ src: H1, dst: SRV, srcPort: 5060, dstPort: 5060, payload: new Uint8Array(300) }, 63));
    inside.deliver([big, small], [uso, uso]);
    assert.equal(loop.counters.gsoDropped, 1);
    assert.deepEqual(inside.written().map((p) => p.length), [small.length]);
    assert.deepEqual(inside.writtenHeaders(), [NO_OFFLOAD]);
    assert.ok(udpChecksumValid(inside.written()[0], 0));
  });

  test('packets the engine originates go out with an all-zero header', () => {
    const { outside, loop, clock, engine } = setupOffload();
    const syn = buildTcpPacket({ src: SRV, dst: PUB, srcPort: 40000, dstPort: 8080, seq: 1, ack: 0, flags: 0x02, window: 1024, payload: new Uint8Array(0) }, 60);
    outside.deliver([syn], [NO_OFFLOAD]);
    clock.advance(7000);
    engine.tick(clock.now());
    loop.sendEmitted();
    assert.equal(outside.writes.length, 1);
    assert.equal(ipv4.protocol(outside.written()[0], 0), 1);
    assert.deepEqual(outside.writtenHeaders(), [NO_OFFLOAD]);
  });

  test('a device with an unexpected header size is refused', () => {
    const clock = new ManualClock(0);
    const engine = new NatEngine({ inside: ['10.0.1.0/24'], public: ['203.0.113.1'] }, { clock });
    assert.throws(() => new GatewayLoop(engine, new FakeDevice('i', 12), new FakeDevice('o'), clock, { singleHop: true }), RangeError);
  });

  test('property: whatever the header flags, a translated packet leaves with a checksum that its header makes right', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.integer({ min: 0, max: 1200 }), fc.integer({ min: 1024, max: 65535 }), (partial, size, sport) => {
        const { inside } = setupOffload();
        const p = buildUdpPacket({ src: H1, dst: SRV, srcPort: sport, dstPort: 9, payload: new Uint8Array(size).fill(size & 0xff) }, 63);
        inside.deliver([partial ? withPartialChecksum(p) : p], [partial ? UDP_PARTIAL : NO_OFFLOAD]);
        const [out] = inside.written();
        const [h] = inside.writtenHeaders();
        assert.ok(h);
        if ((h.flags & VNET_F_NEEDS_CSUM) !== 0) assert.equal(storedChecksum(out), partialSum(out));
        else assert.ok(udpChecksumValid(out, 0));
      }),
      { numRuns: 200 },
    );
  });
});

describe('the gateway packet loop, UDP coalescing on write', () => {
  function withId(p: Uint8Array, id: number): Uint8Array {
    const q = p.slice();
    q[4] = id >> 8;
    q[5] = id & 0xff;
    fillIpv4HeaderChecksum(q, 0);
    return q;
  }
  const datagramOf = (id: number, size = 100) =>
    withPartialChecksum(withId(buildUdpPacket({ src: H1, dst: SRV, srcPort: 5000, dstPort: 7, payload: new Uint8Array(size).fill(id & 0xff) }, 63), id));

  function setupCoalescing() {
    const clock = new ManualClock(1000);
    const engine = new NatEngine({ inside: ['10.0.1.0/24'], public: ['203.0.113.1'] }, { clock });
    const inside = new FakeDevice('masq-in', VNET_HEADER_SIZE);
    const loop = new GatewayLoop(engine, inside, new FakeDevice('masq-out', VNET_HEADER_SIZE), clock, { singleHop: true, coalesceUdp: true });
    loop.start();
    return { inside, loop };
  }

  test('runs of one flow go out as UDP GSO packets, in order with what lies between', () => {
    const { inside, loop } = setupCoalescing();
    const tcp = tcpSuperPacket(1000);
    inside.deliver(
      [datagramOf(10), datagramOf(11), datagramOf(12), tcp, datagramOf(13), datagramOf(14, 60)],
      [UDP_PARTIAL, UDP_PARTIAL, UDP_PARTIAL, TCP_GSO, UDP_PARTIAL, UDP_PARTIAL],
    );
    assert.deepEqual(
      inside.writes.map((w) => [w.batch, w.packets.length]),
      [
        [false, 1],
        [true, 1],
        [false, 1],
      ],
    );
    const [first, , second] = inside.written();
    const [h1, hTcp, h2] = inside.writtenHeaders();
    assert.deepEqual(h1, { flags: VNET_F_NEEDS_CSUM, gsoType: VNET_GSO_UDP_L4, hdrLen: 28, gsoSize: 100, csumStart: 20, csumOffset: 6 });
    assert.equal(first.length, 28 + 300);
    assert.equal(ipv4.src(first, 0), PUB, 'translated before it was merged');
    assert.equal((first[4] << 8) | first[5], 10, 'the first datagram identification');
    assert.deepEqual(hTcp, TCP_GSO);
    assert.equal(h2?.gsoSize, 100);
    assert.equal(second.length, 28 + 100 + 60);
    assert.equal(loop.counters.coalesced, 5);
    assert.equal(loop.counters.coalescedWrites, 2);
    assert.equal(loop.counters.forwarded, 6);
  });

  test('without coalescing, or on a device without headers, the batch is written as it is', () => {
    const { inside } = setupOffload();
    inside.deliver([datagramOf(1), datagramOf(2)], [UDP_PARTIAL, UDP_PARTIAL]);
    assert.deepEqual(inside.writes.map((w) => [w.batch, w.packets.length]), [[true, 2]]);
    const clock = new ManualClock(0);
    const engine = new NatEngine({ inside: ['10.0.1.0/24'], public: ['203.0.113.1'] }, { clock });
    const plain = new FakeDevice('i');
    new GatewayLoop(engine, plain, new FakeDevice('o'), clock, { singleHop: true, coalesceUdp: true }).start();
    plain.deliver([withId(udpOut(5000), 1), withId(udpOut(5000), 2)]);
    assert.deepEqual(plain.writes.map((w) => [w.batch, w.packets.length]), [[true, 2]]);
  });
});
