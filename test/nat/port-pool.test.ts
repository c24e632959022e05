import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PortPool, type PortPoolOptions } from '../../src/nat/port-pool.js';

const base: PortPoolOptions = { allocation: 'preserve', parity: false, range: [1024, 65535], lowRange: [1, 1023], random: () => 0.5 };

test('preserve keeps the source port when free, else a free port chosen at random', () => {
  let r = 0.25;
  const p = new PortPool({ ...base, random: () => r });
  assert.equal(p.allocate(5000), 5000);
  const second = p.allocate(5000);
  assert.equal(second, 1024 + Math.floor(0.25 * (65535 - 1024 + 1)), 'RFC 6056: from the random source, not 5001');
  r = 0.75;
  assert.notEqual(p.allocate(5000), second + 1);
  p.release(5000);
  assert.equal(p.allocate(5000), 5000);
});

test('parity: RTP stays even and RTCP odd, also when the port has to change', () => {
  let r = 0;
  const p = new PortPool({ ...base, parity: true, random: () => (r = (r + 0.37) % 1) });
  assert.equal(p.allocate(30000), 30000);
  assert.equal(p.allocate(30001), 30001);
  for (let i = 0; i < 50; i++) {
    assert.equal(p.allocate(30000) % 2, 0);
    assert.equal(p.allocate(30001) % 2, 1);
  }
});

test('sequential hands out increasing ports regardless of the source port', () => {
  const p = new PortPool({ ...base, allocation: 'sequential', range: [2000, 2010] });
  assert.deepEqual([p.allocate(40000), p.allocate(40001), p.allocate(50000)], [2000, 2001, 2002]);
  // A low source port draws from the low range and does not move the cursor.
  assert.ok(p.allocate(53) < 1024);
  assert.equal(p.allocate(40000), 2003);
});

test('random: RFC 6056 start point from the random source, never a held port', () => {
  let r = 0;
  const p = new PortPool({ ...base, allocation: 'random', range: [1024, 1033], random: () => r });
  r = 0.5;
  const a = p.allocate(40000);
  assert.equal(a, 1029);
  assert.equal(p.allocate(40000), 1030);
  r = 0.55; // also points at 1029, held: moves on
  assert.equal(p.allocate(40000), 1031);
});

test('low source ports map into the low range (RFC 4787 REQ-3a)', () => {
  const p = new PortPool({ ...base, allocation: 'sequential' });
  const port = p.allocate(123);
  assert.ok(port >= 1 && port <= 1023, String(port));
});

test('exhaustion returns -1 instead of overloading a port', () => {
  const p = new PortPool({ ...base, range: [5000, 5003] });
  const got = [p.allocate(5000), p.allocate(5000), p.allocate(5000), p.allocate(5000)];
  assert.deepEqual(got.sort(), [5000, 5001, 5002, 5003]);
  assert.equal(p.allocate(5000), -1);
  assert.equal(p.available(5000), 0);
});

test('a held port is never handed out until every holder lets go', () => {
  const p = new PortPool(base);
  p.hold(6000);
  p.hold(6000);
  assert.notEqual(p.allocate(6000), 6000);
  p.release(6000);
  assert.ok(p.inUse(6000));
  assert.notEqual(p.allocate(6000), 6000);
  p.release(6000);
  assert.equal(p.allocate(6000), 6000);
  assert.throws(() => p.release(7000));
});

test('allocatePair gives an even port with its odd neighbour', () => {
  const p = new PortPool(base);
  p.hold(40001);
  const a = p.allocatePair(40000);
  assert.equal(a, 40002);
  assert.ok(p.inUse(40002) && p.inUse(40003));
});

test('a port takes as many references as the expectation limits allow; past 16 bits canHold says no', () => {
  const p = new PortPool(base);
  for (let i = 0; i < 0xffff; i++) p.hold(6000);
  assert.equal(p.canHold(6000), false);
  assert.throws(() => p.hold(6000), RangeError);
  p.release(6000);
  assert.equal(p.canHold(6000), true);
});
