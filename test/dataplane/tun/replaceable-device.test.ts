/**
 * The swap a deleted TUN device goes through (ReplaceableDevice,
 * DeviceRecovery), with fake devices: the loop's handler moves to the new
 * device, writes while none works are dropped and counted, counters never go
 * backwards, and recovery retries until a device opens, then re-runs only the
 * routing steps that name the device.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TunDevice, TunPacketHandler, TunStats } from '../../../src/dataplane/tun/device.js';
import { DeviceRecovery, stepsForDevice } from '../../../src/dataplane/tun/device-recovery.js';
import { planRouting } from '../../../src/dataplane/tun/gateway-routing.js';
import type { SystemAccess } from '../../../src/dataplane/tun/gateway-system.js';
import { ReplaceableDevice, type SwappableTun } from '../../../src/dataplane/tun/replaceable-device.js';

class FakeTun implements SwappableTun {
  readonly vnetHeaderSize = 0;
  readonly offloads = undefined;
  closed = false;
  handler: TunPacketHandler | undefined;
  fail: ((err: Error) => void) | undefined;
  written = 0;
  constructor(readonly name = 'masq-in') {}
  onPackets(h: TunPacketHandler) {
    this.handler = h;
  }
  onError(h: (err: Error) => void) {
    this.fail = h;
  }
  writeBatch(_b: Uint8Array, _o: Uint32Array, _l: Uint32Array, n: number) {
    this.written += n;
    return n;
  }
  write() {
    this.written++;
    return true;
  }
  stats(): TunStats {
    return { wakes: 1, packetsRead: 10, readTruncated: 0, packetsWritten: this.written, writeRejected: 0, writeQueueFull: 0, lastWriteError: undefined, busyPollHits: 0 };
  }
  close() {
    this.closed = true;
  }
}

const none = new Uint32Array(0);
const handler: TunPacketHandler = () => {};

describe('ReplaceableDevice', () => {
  test('a loss is reported once, drops writes, and the replacement gets the handler and adds to the counters', () => {
    const first = new FakeTun();
    const losses: Error[] = [];
    const d = new ReplaceableDevice(first, (e) => losses.push(e));
    d.onPackets(handler);
    assert.equal(d.writeBatch(new Uint8Array(0), none, none, 3), 3);
    first.fail!(new Error('gone'));
    first.fail!(new Error('gone again'));
    assert.equal(losses.length, 1);
    assert.ok(first.closed, 'the dead fd is closed at once, freeing the name');
    assert.equal(d.lost?.message, 'gone');
    assert.equal(d.writeBatch(new Uint8Array(0), none, none, 4), 4, 'consumed, not queued');
    assert.equal(d.write(new Uint8Array(1)), false);
    assert.equal(d.readNow(), 0);
    assert.equal(d.stats().packetsWritten, 3);
    assert.equal(d.stats().lostWrites, 5);

    const second = new FakeTun();
    d.replace(second);
    assert.equal(d.lost, null);
    assert.equal(second.handler, handler, 'the loop reads from the new device');
    d.writeBatch(new Uint8Array(0), none, none, 2);
    const s = d.stats();
    assert.equal(s.packetsWritten, 5, 'counters add up across devices');
    assert.equal(s.packetsRead, 20);
    assert.equal(s.replacements, 1);
    first.fail!(new Error('late news from the old device'));
    assert.equal(losses.length, 1, 'the old device no longer counts');
    second.fail!(new Error('gone twice'));
    assert.equal(losses.length, 2);
  });

  test('a replacement with another name is refused and closed', () => {
    const d = new ReplaceableDevice(new FakeTun(), () => {});
    const other = new FakeTun('masq-x');
    assert.throws(() => d.replace(other), /expected masq-in/);
    assert.ok(other.closed);
  });
});

describe('DeviceRecovery', () => {
  const steps = planRouting(
    { insideInterfaces: ['lan0'], outsideInterface: 'wan0', insidePrefixes: ['10.0.1.0/24'], publicAddrs: ['203.0.113.1'], publicDelivery: 'proxy-arp', tunInside: 'masq-in', tunOutside: 'masq-out', table: 4787, priority: 4787 },
    { ipForward: 0, rpFilterAll: 1, rpFilter: {}, disableIpv6: { 'masq-in': 0, 'masq-out': 0 }, proxyDelay: 80 },
  );

  test('the steps a deleted device takes with it are those that name it', () => {
    assert.deepEqual(
      stepsForDevice(steps, 'masq-in').map((s) => s.apply.join(' ')),
      ['sysctl -qw net/ipv6/conf/masq-in/disable_ipv6=1', 'sysctl -qw net/ipv4/conf/masq-in/rp_filter=2', 'ip link set dev masq-in up', 'ip route add default dev masq-in table 4787'],
    );
  });

  test('retries until a device opens, then re-runs the device steps and reports what failed', async () => {
    const d = new ReplaceableDevice(new FakeTun(), () => {});
    let opens = 0;
    const ran: string[] = [];
    const sys: SystemAccess = {
      run(argv) {
        ran.push(argv.join(' '));
        if (argv.some((a) => a.endsWith('rp_filter=2'))) throw new Error('no such sysctl');
        return '';
      },
      readSysctl: () => 0,
    };
    const retries: number[] = [];
    const done = new Promise<{ attempts: number; failedSteps: unknown[] }>((resolve) => {
      const r = new DeviceRecovery(d as unknown as ReplaceableDevice<TunDevice>, {
        reopen: () => {
          if (++opens < 3) throw new Error('name still held');
          return new FakeTun() as unknown as TunDevice;
        },
        steps: stepsForDevice(steps, 'masq-in'),
        sys,
        now: () => 0,
        firstMs: 1,
        intervalMs: 1,
        events: { retry: (_e, n) => retries.push(n), recovered: resolve },
      });
      d.device.fail!(new Error('gone'));
      r.begin();
      r.begin();
    });
    const info = await done;
    assert.equal(info.attempts, 3);
    assert.deepEqual(retries, [1, 2]);
    assert.equal(d.lost, null);
    assert.equal(ran.length, 4);
    assert.equal(info.failedSteps.length, 1);
  });
});
