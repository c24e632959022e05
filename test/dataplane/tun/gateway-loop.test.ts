import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { addOneToTtl, GatewayLoop, type PacketDevice } from '../../../src/dataplane/tun/gateway-loop.js';
import type { TunPacketHandler } from '../../../src/dataplane/tun/device.js';
import { NatEngine, Side } from '../../../src/nat/engine.js';
import { ManualClock } from '../../../src/util/clock.js';
import { parseIpv4 } from '../../../src/wire/address.js';
import { buildIpv4Packet, defaultIpv4Header, fillIpv4HeaderChecksum, ipv4, ipv4HeaderChecksumValid, PROTO_TCP } from '../../../src/wire/ipv4.js';
import { buildUdpPacket, parseUdpPacket, udpChecksumValid } from '../../../src/wire/udp.js';
import { buildTcpPacket } from '../../../src/wire/tcp.js';

const H1 = parseIpv4('10.0.1.2');
const SRV = parseIpv4('198.51.100.10');
const PUB = parseIpv4('203.0.113.1');
const SLOT = 2048;

/** A TUN device in memory: delivers batches the way the addon does, records what is written. */
class FakeDevice implements PacketDevice {
  readonly buf = new Uint8Array(64 * SLOT);
  readonly offsets = new Uint32Array(64);
  readonly lengths = new Uint32Array(64);
  handler: TunPacketHandler | null = null;
  /** Each writeBatch as the list of packets it carried (copies); write() as a one-packet entry marked single. */
  readonly writes: Array<{ batch: boolean; packets: Uint8Array[] }> = [];
  room = Infinity;

  constructor(readonly name: string) {}
  onPackets(h: TunPacketHandler) {
    this.handler = h;
  }
  writeBatch(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
    const n = Math.min(count, this.room);
    this.writes.push({ batch: true, packets: Array.from({ length: n }, (_, i) => buf.slice(offsets[i], offsets[i] + lengths[i])) });
    return n;
  }
  write(packet: Uint8Array): boolean {
    this.writes.push({ batch: false, packets: [packet.slice()] });
    return true;
  }
  deliver(packets: Uint8Array[]): void {
    packets.forEach((p, i) => {
      this.offsets[i] = i * SLOT;
      this.lengths[i] = p.length;
      this.buf.set(p, i * SLOT);
    });
    this.handler!(this.buf, this.offsets, this.lengths, packets.length);
  }
  written(): Uint8Array[] {
    return this.writes.flatMap((w) => w.packets);
  }
}

function setup(config: Record<string, unknown> = {}) {
  const clock = new ManualClock(1000);
  const engine = new NatEngine({ inside: ['10.0.1.0/24'], public: ['203.0.113.1'], ...config }, { clock });
  const inside = new FakeDevice('masq-in');
  const outside = new FakeDevice('masq-out');
  const errors: unknown[] = [];
  const loop = new GatewayLoop(engine, inside, outside, clock, { singleHop: true, onEngineError: (e) => errors.push(e) });
  loop.start();
  return { clock, engine, inside, outside, loop, errors };
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
      { wakes: 1, packetsRead: 5, forwarded: 3, dropped: 2, resized: 0, emitted: 0, notWritten: 0, engineErrors: 0 },
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

  test('a packet an ALG resized is written on its own, in order', () => {
    const { inside, engine, loop } = setup();
    engine.registerHelper((_e, _flow, pkt) => {
      const bigger = new Uint8Array(pkt.length + 4);
      bigger.set(pkt);
      bigger[2] = (bigger.length >> 8) & 0xff;
      bigger[3] = bigger.length & 0xff;
      fillIpv4HeaderChecksum(bigger, 0);
      return bigger;
    }, [{ proto: 17, first: 5060, last: 5060 }]);
    const sip = buildUdpPacket({ src: H1, dst: SRV, srcPort: 5060, dstPort: 5060, payload: new Uint8Array(10) }, 63);
    inside.deliver([udpOut(5000), sip, udpOut(5001), udpOut(5002)]);
    assert.deepEqual(
      inside.writes.map((w) => [w.batch, w.packets.length, w.packets[0].length]),
      [
        [true, 1, udpOut(5000).length],
        [false, 1, sip.length + 4],
        [true, 2, udpOut(5001).length],
      ],
    );
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
