import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GatewayLoop, MAX_BUSY_POLL_US, type PacketDevice } from '../../../src/dataplane/tun/gateway-loop.js';
import type { TunPacketHandler } from '../../../src/dataplane/tun/device.js';
import { NatEngine } from '../../../src/nat/engine.js';
import { ManualClock } from '../../../src/util/clock.js';
import { parseIpv4 } from '../../../src/wire/address.js';
import { buildUdpPacket, parseUdpPacket } from '../../../src/wire/udp.js';

const H1 = parseIpv4('10.0.1.2');
const SRV = parseIpv4('198.51.100.10');
const PUB = parseIpv4('203.0.113.1');
const SLOT = 2048;

/** A device whose packets wait in a queue until a wake (wake()) or a readNow() takes them, as the addon's do. */
class QueueDevice implements PacketDevice {
  readonly vnetHeaderSize = 0;
  readonly buf = new Uint8Array(8 * SLOT);
  readonly offsets = new Uint32Array(8);
  readonly lengths = new Uint32Array(8);
  handler: TunPacketHandler | null = null;
  readonly waiting: Uint8Array[] = [];
  readonly written: Uint8Array[] = [];
  reads = 0;
  /** Called before each readNow: lets a test make packets arrive during a spin. */
  beforeRead: (() => void) | null = null;

  constructor(readonly name: string) {}
  onPackets(h: TunPacketHandler) {
    this.handler = h;
  }
  writeBatch(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
    for (let i = 0; i < count; i++) this.written.push(buf.slice(offsets[i], offsets[i] + lengths[i]));
    return count;
  }
  write(packet: Uint8Array): boolean {
    this.written.push(packet.slice());
    return true;
  }
  /** A wake from the event loop: what is waiting, at most 8 packets. */
  wake(): number {
    const batch = this.waiting.splice(0, 8);
    batch.forEach((p, i) => {
      this.offsets[i] = i * SLOT;
      this.lengths[i] = p.length;
      this.buf.set(p, i * SLOT);
    });
    if (batch.length > 0) this.handler!(this.buf, this.offsets, this.lengths, batch.length);
    return batch.length;
  }
  readNow(): number {
    this.reads++;
    this.beforeRead?.();
    return this.wake();
  }
}

function udp(srcPort: number): Uint8Array {
  return buildUdpPacket({ src: H1, dst: SRV, srcPort, dstPort: 5060, payload: new Uint8Array(20) }, 64);
}

/** Spin time that moves 10 µs per look: the tests do not depend on how fast (or busy) the machine is. */
function steppingClock(): () => number {
  let t = 0;
  return () => (t += 0.01);
}

function setup(busyPollUs: number) {
  const clock = new ManualClock(1000);
  const engine = new NatEngine({ inside: ['10.0.1.0/24'], public: ['203.0.113.1'] }, { clock });
  const inside = new QueueDevice('masq-in');
  const outside = new QueueDevice('masq-out');
  const loop = new GatewayLoop(engine, inside, outside, clock, { singleHop: false, busyPollUs, spinClock: steppingClock() });
  loop.start();
  return { inside, outside, loop };
}

describe('GatewayLoop busy polling', () => {
  test('off by default: a batch is handled and the loop goes back to the event loop without reading again', () => {
    const { inside, outside, loop } = setup(0);
    inside.waiting.push(udp(1000));
    inside.wake();
    assert.equal(inside.written.length, 1, 'written back to the device it came from; the kernel routes it');
    assert.equal(inside.reads + outside.reads, 0);
    assert.equal(loop.counters.busyPolls, 0);
  });

  test('packets that arrive on either device during the window are translated in the same spin', () => {
    const { inside, outside, loop } = setup(200);
    inside.waiting.push(udp(1000));
    let arrivals = 0;
    // The next two packets show up a few reads into the spin: one more from inside, then the reply.
    inside.beforeRead = () => {
      if (++arrivals === 3) inside.waiting.push(udp(1001));
    };
    outside.beforeRead = () => {
      if (arrivals === 6 && inside.written.length === 2 && outside.written.length === 0) {
        const out = parseUdpPacket(inside.written[0]);
        assert.equal(out.src, PUB);
        outside.waiting.push(buildUdpPacket({ src: SRV, dst: PUB, srcPort: 5060, dstPort: out.srcPort, payload: new Uint8Array(8) }, 64));
      }
    };
    inside.wake();
    assert.equal(inside.written.length, 2, 'both outbound packets translated');
    assert.equal(outside.written.length, 1, 'the reply came back in through the spin');
    assert.equal(parseUdpPacket(outside.written[0]).dst, H1);
    assert.equal(loop.counters.busyPolls, 1, 'one spin: packets read inside it start none of their own');
    assert.equal(loop.counters.busyPollHits, 2);
    assert.equal(loop.counters.wakes, 3);
  });

  test('the spin ends one window after the last packet', () => {
    const { inside, outside } = setup(300);
    inside.waiting.push(udp(1000));
    inside.wake();
    // 300 µs at 10 µs per look: 30 looks at both devices (the first look starts the window).
    assert.equal(inside.reads, 30);
    assert.equal(outside.reads, 30);
  });

  test('a device that never runs dry cannot hold the loop beyond the cap', () => {
    const { inside, outside, loop } = setup(100);
    inside.beforeRead = () => inside.waiting.push(udp(2000));
    inside.waiting.push(udp(1000));
    inside.wake();
    assert.equal(loop.counters.busyPolls, 1);
    assert.ok(loop.counters.busyPollHits > 0);
    assert.equal(inside.written.length, loop.counters.forwarded);
    assert.equal(outside.written.length, 0);
    // The cap is max(1 ms, 4 windows) = 1 ms: 100 looks at 10 µs each, every one a hit.
    assert.equal(inside.reads, 100);
    assert.equal(loop.counters.busyPollHits, 100);
  });

  test('a window out of range, or devices without readNow, are refused', () => {
    const clock = new ManualClock(1000);
    const engine = new NatEngine({ inside: ['10.0.1.0/24'], public: ['203.0.113.1'] }, { clock });
    const a = new QueueDevice('a');
    const b = new QueueDevice('b');
    assert.throws(() => new GatewayLoop(engine, a, b, clock, { singleHop: false, busyPollUs: MAX_BUSY_POLL_US + 1 }), RangeError);
    assert.throws(() => new GatewayLoop(engine, a, b, clock, { singleHop: false, busyPollUs: -1 }), RangeError);
    const noRead: PacketDevice = { name: 'c', vnetHeaderSize: 0, onPackets: () => undefined, writeBatch: () => 0, write: () => true };
    assert.throws(() => new GatewayLoop(engine, a, noRead, clock, { singleHop: false, busyPollUs: 50 }), /readNow/);
    assert.doesNotThrow(() => new GatewayLoop(engine, a, noRead, clock, { singleHop: false, busyPollUs: 0 }));
  });
});
