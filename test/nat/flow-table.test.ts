/**
 * FlowTable on its own: columns, both lookup directions, the address index,
 * expiry lists, growth and slot reuse. The model-based property at the end
 * checks that any sequence of operations leaves the table agreeing with a plain
 * Map of flows, including the exact order in which a sweep expires them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FlowTable, NO_FLOW, FLOW_INBOUND, FLOW_EXPECTED, FLOW_REPLIED } from '../../src/nat/flow-table.js';
import { tupleHash } from '../../src/nat/hash-index.js';
import { collidingKeys } from './hash-collision.js';

const UDP = 17;
const TCP = 6;
/** Timeout classes as the engine orders them: UDP, TCP established, TCP transitory, ICMP. */
const TIMEOUTS = [1_000, 10_000, 200, 500];

interface Tuple {
  proto: number;
  inAddr: number;
  inPort: number;
  pubAddr: number;
  pubPort: number;
  remAddr: number;
  remPort: number;
}

const IN = 0x0a000002; // 10.0.0.2
const PUB = 0xcb007101; // 203.0.113.1
const REM = 0xc6336403; // 198.51.100.3

function tuple(over: Partial<Tuple> = {}): Tuple {
  return { proto: UDP, inAddr: IN, inPort: 5000, pubAddr: PUB, pubPort: 40000, remAddr: REM, remPort: 3478, ...over };
}

function addFlow(t: FlowTable, x: Tuple, now = 0, tclass = 0, mapping = 7, flags = 0): number {
  return t.add(x.proto, x.inAddr, x.inPort, x.pubAddr, x.pubPort, x.remAddr, x.remPort, mapping, tclass, flags, now);
}

const outbound = (t: FlowTable, x: Tuple) => t.findOutbound(x.proto, x.inAddr, x.inPort, x.remAddr, x.remPort);
const inbound = (t: FlowTable, x: Tuple) => t.findInbound(x.proto, x.remAddr, x.remPort, x.pubAddr, x.pubPort);

/** Ids handed to onExpired, removing each as the contract asks. */
function sweepIds(t: FlowTable, now: number, budget: number): number[] {
  const got: number[] = [];
  const n = t.sweep(now, budget, (id) => {
    got.push(id);
    t.remove(id);
  });
  assert.equal(n, got.length, 'sweep returns how many it expired');
  return got;
}

test('add stores every column, starts state, helper and counters at zero, and hands out ids 0, 1, 2', () => {
  const t = new FlowTable(100, TIMEOUTS, false);
  const a = addFlow(t, tuple(), 1234, 1, 42, FLOW_INBOUND | FLOW_EXPECTED);
  const b = addFlow(t, tuple({ inPort: 5001, pubPort: 40001 }), 1300);
  const c = addFlow(t, tuple({ inPort: 5002, pubPort: 40002 }), 1400);
  assert.deepEqual([a, b, c], [0, 1, 2]);
  assert.equal(t.size, 3);
  assert.equal(t.proto[a], UDP);
  assert.equal(t.inAddr[a], IN);
  assert.equal(t.inPort[a], 5000);
  assert.equal(t.pubAddr[a], PUB);
  assert.equal(t.pubPort[a], 40000);
  assert.equal(t.remAddr[a], REM);
  assert.equal(t.remPort[a], 3478);
  assert.equal(t.mapping[a], 42);
  assert.equal(t.tclass[a], 1);
  assert.equal(t.flags[a], FLOW_INBOUND | FLOW_EXPECTED);
  assert.equal(t.created[a], 1234);
  assert.equal(t.lastSeen[a], 1234);
  assert.equal(t.state[a], 0);
  assert.equal(t.helper[a], 0);
  assert.deepEqual([t.packetsOut[a], t.packetsIn[a], t.bytesOut[a], t.bytesIn[a]], [0, 0, 0, 0]);
  assert.ok(t.isLive(a) && t.isLive(b) && t.isLive(c));
});

test('addresses above 2^31 and port 65535 survive the unsigned columns', () => {
  const t = new FlowTable(10, TIMEOUTS, true);
  const x = tuple({ inAddr: 0xfffffffe, pubAddr: 0xffffffff, remAddr: 0x80000000, inPort: 65535, pubPort: 65535, remPort: 65535 });
  const id = addFlow(t, x);
  assert.equal(t.inAddr[id], 0xfffffffe);
  assert.equal(t.pubAddr[id], 0xffffffff);
  assert.equal(t.remAddr[id], 0x80000000);
  assert.equal(outbound(t, x), id);
  assert.equal(inbound(t, x), id);
  assert.equal(t.findByRemoteAddress(UDP, 0x80000000, 0xffffffff, 65535), id);
});

test('findOutbound keys on (proto, inside endpoint, remote endpoint); every field counts, the public endpoint does not', () => {
  const t = new FlowTable(100, TIMEOUTS, false);
  const x = tuple();
  const id = addFlow(t, x);
  assert.equal(outbound(t, x), id);
  assert.equal(outbound(t, { ...x, pubAddr: PUB + 1, pubPort: 1 }), id, 'public endpoint is not part of the outbound key');
  for (const miss of [
    { proto: TCP },
    { inAddr: IN + 1 },
    { inPort: 5001 },
    { remAddr: REM + 1 },
    { remPort: 3479 },
  ] as Partial<Tuple>[]) {
    assert.equal(outbound(t, { ...x, ...miss }), NO_FLOW, JSON.stringify(miss));
  }
});

test('findInbound keys on (proto, remote endpoint, public endpoint); every field counts, the inside endpoint does not', () => {
  const t = new FlowTable(100, TIMEOUTS, false);
  const x = tuple();
  const id = addFlow(t, x);
  assert.equal(inbound(t, x), id);
  assert.equal(inbound(t, { ...x, inAddr: IN + 9, inPort: 1 }), id, 'inside endpoint is not part of the inbound key');
  for (const miss of [
    { proto: TCP },
    { remAddr: REM + 1 },
    { remPort: 3479 },
    { pubAddr: PUB + 1 },
    { pubPort: 40001 },
  ] as Partial<Tuple>[]) {
    assert.equal(inbound(t, { ...x, ...miss }), NO_FLOW, JSON.stringify(miss));
  }
  // Remote and public swapped is another conversation.
  assert.equal(t.findInbound(UDP, PUB, 40000, REM, 3478), NO_FLOW);
});

test('one inside endpoint talking to several remotes: each flow is found on its own from both sides', () => {
  const t = new FlowTable(100, TIMEOUTS, true);
  const xs = [tuple(), tuple({ remPort: 3479 }), tuple({ remAddr: REM + 1 }), tuple({ proto: TCP })];
  const ids = xs.map((x) => addFlow(t, x));
  xs.forEach((x, i) => {
    assert.equal(outbound(t, x), ids[i]);
    assert.equal(inbound(t, x), ids[i]);
  });
});

test('findByRemoteAddress ignores the remote port, and keeps finding while any flow to that address is left', () => {
  const t = new FlowTable(100, TIMEOUTS, true);
  const a = addFlow(t, tuple({ remPort: 1000 }));
  const b = addFlow(t, tuple({ remPort: 2000 }));
  const other = addFlow(t, tuple({ remAddr: REM + 1 }));
  const found = t.findByRemoteAddress(UDP, REM, PUB, 40000);
  assert.ok(found === a || found === b, `found ${found}`);
  assert.equal(t.findByRemoteAddress(UDP, REM + 1, PUB, 40000), other);
  // Proto, public address and public port are all part of the key.
  assert.equal(t.findByRemoteAddress(TCP, REM, PUB, 40000), NO_FLOW);
  assert.equal(t.findByRemoteAddress(UDP, REM, PUB + 1, 40000), NO_FLOW);
  assert.equal(t.findByRemoteAddress(UDP, REM, PUB, 40001), NO_FLOW);
  assert.equal(t.findByRemoteAddress(UDP, REM + 2, PUB, 40000), NO_FLOW);
  t.remove(a);
  assert.equal(t.findByRemoteAddress(UDP, REM, PUB, 40000), b);
  t.remove(b);
  assert.equal(t.findByRemoteAddress(UDP, REM, PUB, 40000), NO_FLOW);
  assert.equal(t.findByRemoteAddress(UDP, REM + 1, PUB, 40000), other);
});

test('findByRemoteAddress without the address index is an error, and the index is not kept', () => {
  const t = new FlowTable(100, TIMEOUTS, false);
  addFlow(t, tuple());
  assert.equal(t.addrIndex, null);
  assert.throws(() => t.findByRemoteAddress(UDP, REM, PUB, 40000), /address index not enabled/);
  const withIndex = new FlowTable(100, TIMEOUTS, true);
  addFlow(withIndex, tuple());
  assert.equal(withIndex.addrIndex?.size, 1);
});

test('remove takes the flow out of every index, ids() and isLive, and the size', () => {
  const t = new FlowTable(100, TIMEOUTS, true);
  const x = tuple();
  const y = tuple({ inPort: 6000, pubPort: 41000 });
  const a = addFlow(t, x);
  const b = addFlow(t, y);
  t.remove(a);
  assert.equal(t.size, 1);
  assert.equal(outbound(t, x), NO_FLOW);
  assert.equal(inbound(t, x), NO_FLOW);
  assert.equal(t.findByRemoteAddress(UDP, REM, PUB, 40000), NO_FLOW);
  assert.equal(t.isLive(a), false);
  assert.deepEqual([...t.ids()], [b]);
  assert.equal(t.outIndex.size, 1);
  assert.equal(t.inIndex.size, 1);
  assert.equal(t.addrIndex?.size, 1);
  assert.equal(outbound(t, y), b);
  assert.equal(inbound(t, y), b);
});

test('isLive is false outside the ids handed out so far', () => {
  const t = new FlowTable(100, TIMEOUTS, false);
  assert.equal(t.isLive(0), false);
  const id = addFlow(t, tuple());
  assert.equal(t.isLive(id), true);
  assert.equal(t.isLive(-1), false);
  assert.equal(t.isLive(id + 1), false);
  assert.equal(t.isLive(t.capacity + 5), false);
});

test('a removed slot is reused (last freed first) before the table takes a fresh one, with its columns reset', () => {
  const t = new FlowTable(100, TIMEOUTS, false);
  const ids = [0, 1, 2, 3].map((i) => addFlow(t, tuple({ inPort: 5000 + i, pubPort: 40000 + i })));
  const victim = ids[1];
  t.state[victim] = 5;
  t.helper[victim] = 3;
  t.packetsOut[victim] = 10;
  t.packetsIn[victim] = 11;
  t.bytesOut[victim] = 1000;
  t.bytesIn[victim] = 1100;
  t.remove(ids[2]);
  t.remove(victim);
  const x = tuple({ inPort: 7000, pubPort: 47000 });
  const reused = addFlow(t, x, 50, 2, 9, FLOW_REPLIED);
  assert.equal(reused, victim, 'the last freed slot comes back first');
  assert.equal(t.state[reused], 0);
  assert.equal(t.helper[reused], 0);
  assert.deepEqual([t.packetsOut[reused], t.packetsIn[reused], t.bytesOut[reused], t.bytesIn[reused]], [0, 0, 0, 0]);
  assert.equal(t.flags[reused], FLOW_REPLIED);
  assert.equal(t.created[reused], 50);
  assert.equal(t.tclass[reused], 2);
  assert.equal(t.mapping[reused], 9);
  assert.equal(outbound(t, x), reused);
  assert.equal(outbound(t, tuple({ inPort: 5001, pubPort: 40001 })), NO_FLOW, 'the old tuple is gone with the slot');
  assert.equal(addFlow(t, tuple({ inPort: 7001, pubPort: 47001 })), ids[2]);
  assert.equal(addFlow(t, tuple({ inPort: 7002, pubPort: 47002 })), 4, 'then fresh ids again');
  assert.equal(t.size, 5);
});

test('more removals than the free list starts with (64) are all reused before the table grows', () => {
  const t = new FlowTable(1000, TIMEOUTS, false, 256);
  for (let i = 0; i < 256; i++) addFlow(t, tuple({ inPort: 1000 + i }));
  for (let i = 0; i < 200; i++) t.remove(i);
  const reused = new Set<number>();
  for (let i = 0; i < 200; i++) reused.add(addFlow(t, tuple({ inPort: 20000 + i })));
  assert.equal(reused.size, 200);
  assert.ok([...reused].every((id) => id < 200), 'only freed slots');
  assert.equal(t.capacity, 256);
  assert.equal(addFlow(t, tuple({ inPort: 30000 })), 256, 'then a fresh slot, growing');
  assert.equal(t.capacity, 512);
});

test('the counters columns belong to their flow: written by the caller, kept across growth', () => {
  const t = new FlowTable(1000, TIMEOUTS, false, 2);
  const a = addFlow(t, tuple());
  t.packetsOut[a] += 3;
  t.bytesOut[a] += 300;
  t.packetsIn[a] += 2;
  t.bytesIn[a] += 2_000_000_000_000; // Float64: no 32-bit wrap on a long flow
  for (let i = 1; i < 50; i++) addFlow(t, tuple({ inPort: 5000 + i, pubPort: 40000 + i }));
  assert.ok(t.capacity >= 50);
  assert.deepEqual([t.packetsOut[a], t.bytesOut[a], t.packetsIn[a], t.bytesIn[a]], [3, 300, 2, 2_000_000_000_000]);
  assert.equal(t.packetsOut[1], 0);
});

test('isExpired and expiresAt: the flow expires exactly at lastSeen + its class timeout', () => {
  const t = new FlowTable(100, TIMEOUTS, false);
  TIMEOUTS.forEach((timeout, c) => {
    const id = addFlow(t, tuple({ inPort: 5000 + c, pubPort: 40000 + c }), 100, c);
    assert.equal(t.expiresAt(id), 100 + timeout);
    assert.equal(t.isExpired(id, 100 + timeout - 1), false, `class ${c} just before`);
    assert.equal(t.isExpired(id, 100 + timeout), true, `class ${c} at the deadline`);
    t.touch(id, 150);
    assert.equal(t.expiresAt(id), 150 + timeout);
    assert.equal(t.isExpired(id, 100 + timeout), false, `class ${c} after a touch`);
  });
});

test('sweep expires the oldest first and stops at the first flow whose time is not up', () => {
  const t = new FlowTable(100, TIMEOUTS, false);
  const ids = [0, 10, 20, 30].map((at, i) => addFlow(t, tuple({ inPort: 5000 + i, pubPort: 40000 + i }), at));
  assert.deepEqual(sweepIds(t, 999, 100), []);
  assert.deepEqual(sweepIds(t, 1_010, 100), [ids[0], ids[1]]);
  assert.equal(t.size, 2);
  assert.deepEqual(sweepIds(t, 5_000, 100), [ids[2], ids[3]]);
  assert.equal(t.size, 0);
});

test('touch moves a flow to the tail of its list; touching the tail only refreshes it', () => {
  const t = new FlowTable(100, TIMEOUTS, false);
  const a = addFlow(t, tuple({ inPort: 1 }), 0);
  const b = addFlow(t, tuple({ inPort: 2 }), 10);
  const c = addFlow(t, tuple({ inPort: 3 }), 20);
  t.touch(a, 30); // a now last
  t.touch(a, 40); // a already the tail
  assert.equal(t.lastSeen[a], 40);
  assert.deepEqual(sweepIds(t, 1_020, 100), [b, c]);
  assert.deepEqual(sweepIds(t, 1_039, 100), []);
  assert.deepEqual(sweepIds(t, 1_040, 100), [a]);
});

test('touch of a flow in the middle keeps the list whole on both sides', () => {
  const t = new FlowTable(100, TIMEOUTS, false);
  const ids = [0, 1, 2, 3, 4].map((i) => addFlow(t, tuple({ inPort: 100 + i }), i));
  t.touch(ids[2], 10);
  t.touch(ids[0], 11);
  assert.deepEqual(sweepIds(t, 100_000, 100), [ids[1], ids[3], ids[4], ids[2], ids[0]]);
});

test('sweep respects its budget, also across classes, and the next sweep carries on', () => {
  const t = new FlowTable(100, TIMEOUTS, false);
  const udp = [0, 1, 2].map((i) => addFlow(t, tuple({ inPort: 100 + i }), i, 0));
  const trans = [0, 1].map((i) => addFlow(t, tuple({ proto: TCP, inPort: 200 + i }), i, 2));
  const est = addFlow(t, tuple({ proto: TCP, inPort: 300 }), 0, 1);
  assert.deepEqual(sweepIds(t, 5_000, 0), [], 'budget 0 expires nothing');
  assert.deepEqual(sweepIds(t, 5_000, 2), [udp[0], udp[1]]);
  // Classes are visited in order; the budget ends the walk wherever it runs out.
  assert.deepEqual(sweepIds(t, 5_000, 2), [udp[2], trans[0]]);
  assert.deepEqual(sweepIds(t, 5_000, 2), [trans[1]], 'the established flow is not due until 10 s');
  assert.equal(t.isLive(est), true);
  assert.deepEqual(sweepIds(t, 10_000, 2), [est]);
});

test('sweep classes have their own timeouts: a short class expires before an older flow of a long one', () => {
  const t = new FlowTable(100, TIMEOUTS, false);
  const est = addFlow(t, tuple({ proto: TCP, inPort: 1 }), 0, 1);
  const trans = addFlow(t, tuple({ proto: TCP, inPort: 2 }), 100, 2);
  assert.deepEqual(sweepIds(t, 300, 10), [trans]);
  assert.equal(t.isLive(est), true);
});

test('sweep reads the head again after each callback, so the callback may remove other flows too', () => {
  const t = new FlowTable(100, TIMEOUTS, false);
  const ids = [0, 1, 2, 3].map((i) => addFlow(t, tuple({ inPort: 100 + i }), i));
  const seen: number[] = [];
  const n = t.sweep(10_000, 100, (id) => {
    seen.push(id);
    t.remove(id);
    // A flow that takes a related one with it (as a helper's data flow may).
    if (id === ids[0]) t.remove(ids[1]);
  });
  assert.equal(n, 3);
  assert.deepEqual(seen, [ids[0], ids[2], ids[3]]);
  assert.equal(t.size, 0);
});

test('removing the head, middle or tail of an expiry list leaves the rest in order', () => {
  for (const gone of [0, 2, 4]) {
    const t = new FlowTable(100, TIMEOUTS, false);
    const ids = [0, 1, 2, 3, 4].map((i) => addFlow(t, tuple({ inPort: 100 + i }), i));
    t.remove(ids[gone]);
    assert.deepEqual(
      sweepIds(t, 10_000, 100),
      ids.filter((_, i) => i !== gone),
      `removed #${gone}`,
    );
  }
});

test('setClass moves the flow to the tail of another class, counts as activity, and its timeout then applies', () => {
  const t = new FlowTable(100, TIMEOUTS, false);
  const estOld = addFlow(t, tuple({ proto: TCP, inPort: 1 }), 0, 1);
  const f = addFlow(t, tuple({ proto: TCP, inPort: 2 }), 0, 2);
  const transOther = addFlow(t, tuple({ proto: TCP, inPort: 3 }), 50, 2);
  t.setClass(f, 1, 100);
  assert.equal(t.tclass[f], 1);
  assert.equal(t.lastSeen[f], 100);
  assert.equal(t.expiresAt(f), 100 + TIMEOUTS[1]);
  // Gone from the transitory list: only the other transitory flow expires at 250.
  assert.deepEqual(sweepIds(t, 250, 100), [transOther]);
  // In the established list behind the older flow.
  assert.deepEqual(sweepIds(t, 100 + TIMEOUTS[1], 100), [estOld, f]);
});

test('setClass back and forth, and to the same class, keeps each list whole', () => {
  const t = new FlowTable(100, TIMEOUTS, false);
  const a = addFlow(t, tuple({ inPort: 1 }), 0, 0);
  const b = addFlow(t, tuple({ inPort: 2 }), 1, 0);
  const c = addFlow(t, tuple({ inPort: 3 }), 2, 0);
  t.setClass(b, 3, 5);
  t.setClass(b, 0, 6);
  t.setClass(a, 0, 7); // same class: moves to the tail
  assert.deepEqual(sweepIds(t, 100_000, 100), [c, b, a]);
});

test('growth doubles the capacity up to the limit and keeps every column of every flow', () => {
  const t = new FlowTable(20, TIMEOUTS, true, 3);
  assert.equal(t.capacity, 3);
  const xs: Tuple[] = [];
  const caps: number[] = [];
  for (let i = 0; i < 20; i++) {
    const x = tuple({ inAddr: IN + i, inPort: 1000 + i, pubPort: 20000 + i, remPort: 30000 + i });
    xs.push(x);
    assert.equal(addFlow(t, x, i, i % 4, 100 + i, i & 31), i);
    t.state[i] = i + 1;
    t.helper[i] = i + 2;
    t.packetsOut[i] = i * 3;
    caps.push(t.capacity);
  }
  assert.deepEqual([...new Set(caps)], [3, 6, 12, 20], 'doubling, the last step cut at the limit');
  xs.forEach((x, i) => {
    assert.equal(outbound(t, x), i);
    assert.equal(inbound(t, x), i);
    assert.equal(t.findByRemoteAddress(UDP, REM, PUB, 20000 + i), i);
    assert.equal(t.inAddr[i], IN + i);
    assert.equal(t.mapping[i], 100 + i);
    assert.equal(t.tclass[i], i % 4);
    assert.equal(t.flags[i], i & 31);
    assert.equal(t.created[i], i);
    assert.equal(t.state[i], i + 1);
    assert.equal(t.helper[i], i + 2);
    assert.equal(t.packetsOut[i], i * 3);
  });
  // Expiry links survived the copy too.
  const order: number[] = [];
  t.sweep(1e9, 100, (id) => {
    order.push(id);
    t.remove(id);
  });
  assert.deepEqual(order, [0, 4, 8, 12, 16, 1, 5, 9, 13, 17, 2, 6, 10, 14, 18, 3, 7, 11, 15, 19]);
});

test('an initial capacity above the limit is cut to the limit', () => {
  const t = new FlowTable(10, TIMEOUTS, false, 1024);
  assert.equal(t.capacity, 10);
});

test('full at the limit: add refuses with NO_FLOW and changes nothing; a removal makes room without growing', () => {
  const t = new FlowTable(4, TIMEOUTS, false, 2);
  for (let i = 0; i < 4; i++) {
    assert.equal(t.full, false);
    addFlow(t, tuple({ inPort: 100 + i }));
  }
  assert.equal(t.full, true);
  assert.equal(t.size, 4);
  assert.equal(addFlow(t, tuple({ inPort: 999 })), NO_FLOW);
  assert.equal(t.size, 4);
  assert.equal(t.capacity, 4);
  assert.equal(outbound(t, tuple({ inPort: 999 })), NO_FLOW);
  assert.equal(t.outIndex.size, 4);
  t.remove(2);
  assert.equal(t.full, false);
  assert.equal(addFlow(t, tuple({ inPort: 999 })), 2);
  assert.equal(t.capacity, 4);
  assert.equal(t.full, true);
});

test('a table with limit 0 is full from the start', () => {
  const t = new FlowTable(0, TIMEOUTS, false);
  assert.equal(t.full, true);
  assert.equal(addFlow(t, tuple()), NO_FLOW);
  assert.equal(t.size, 0);
});

// A table built with capacity 0 once "grew" to min(limit, 0 * 2) = 0 and wrote the
// flow into zero-length columns: lost, while size said 1. It starts at one row now.
test('an initial capacity of 0 still stores flows', () => {
  const t = new FlowTable(10, TIMEOUTS, false, 0);
  const x = tuple();
  const id = addFlow(t, x);
  assert.equal(outbound(t, x), id);
});

test('ids() yields the live flows in ascending slot order', () => {
  const t = new FlowTable(100, TIMEOUTS, false, 4);
  for (let i = 0; i < 10; i++) addFlow(t, tuple({ inPort: 100 + i }));
  for (const id of [0, 3, 4, 9]) t.remove(id);
  assert.deepEqual([...t.ids()], [1, 2, 5, 6, 7, 8]);
  addFlow(t, tuple({ inPort: 999 })); // reuses 9, the last freed
  assert.deepEqual([...t.ids()], [1, 2, 5, 6, 7, 8, 9]);
});

test('bytes counts every column the table has, plus its indexes and free list', () => {
  for (const withAddr of [false, true]) {
    const t = new FlowTable(1000, TIMEOUTS, withAddr, 8);
    for (let i = 0; i < 30; i++) addFlow(t, tuple({ inPort: 100 + i }));
    // Every per-flow typed array the table owns, found by looking, not by a list kept here:
    // a column added later that bytes forgets makes this fail.
    const columns = Object.values(t).filter(
      (v): v is ArrayBufferView => ArrayBuffer.isView(v) && (v as Uint8Array).length === t.capacity,
    );
    assert.equal(columns.length, 20);
    const columnBytes = columns.reduce((s, c) => s + c.byteLength, 0);
    const indexes = t.outIndex.bytes + t.inIndex.bytes + (t.addrIndex?.bytes ?? 0);
    const freeList = 64 * 4;
    assert.equal(t.bytes, columnBytes + indexes + freeList);
  }
});

// ---------------------------------------------------------------------------
// Model-based: any sequence of operations against a Map of flows.

type Op =
  | { k: 'add'; proto: number; inHost: number; inPort: number; pubPort: number; remHost: number; remPort: number; tclass: number }
  | { k: 'remove'; pick: number }
  | { k: 'touch'; pick: number }
  | { k: 'setClass'; pick: number; tclass: number }
  | { k: 'advance'; ms: number }
  | { k: 'sweep'; budget: number };

interface ModelFlow extends Tuple {
  tclass: number;
  lastSeen: number;
  /** Order of the last add/touch/setClass: the position in the expiry list. */
  seq: number;
  mapping: number;
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant('add' as const),
      proto: fc.constantFrom(TCP, UDP),
      inHost: fc.integer({ min: 0, max: 3 }),
      inPort: fc.integer({ min: 1, max: 4 }),
      pubPort: fc.integer({ min: 1, max: 6 }),
      remHost: fc.integer({ min: 0, max: 3 }),
      remPort: fc.integer({ min: 1, max: 3 }),
      tclass: fc.integer({ min: 0, max: 3 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('remove' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('touch' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('setClass' as const), pick: fc.nat(), tclass: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 800 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('sweep' as const), budget: fc.integer({ min: 0, max: 5 }) }) },
);

const sameOut = (a: Tuple, b: Tuple) =>
  a.proto === b.proto && a.inAddr === b.inAddr && a.inPort === b.inPort && a.remAddr === b.remAddr && a.remPort === b.remPort;
const sameIn = (a: Tuple, b: Tuple) =>
  a.proto === b.proto && a.remAddr === b.remAddr && a.remPort === b.remPort && a.pubAddr === b.pubAddr && a.pubPort === b.pubPort;

function checkAgainstModel(t: FlowTable, model: Map<number, ModelFlow>, gone: Iterable<Tuple>, now: number): void {
  assert.equal(t.size, model.size);
  assert.equal(t.full, model.size >= t.limit);
  assert.deepEqual([...t.ids()], [...model.keys()].sort((a, b) => a - b));
  assert.equal(t.outIndex.size, model.size);
  assert.equal(t.inIndex.size, model.size);
  for (const [id, f] of model) {
    assert.equal(outbound(t, f), id);
    assert.equal(inbound(t, f), id);
    const byAddr = t.findByRemoteAddress(f.proto, f.remAddr, f.pubAddr, f.pubPort);
    const candidate = model.get(byAddr);
    assert.ok(
      candidate && candidate.proto === f.proto && candidate.remAddr === f.remAddr && candidate.pubAddr === f.pubAddr && candidate.pubPort === f.pubPort,
      'findByRemoteAddress gives a live flow of the same (proto, remote address, public endpoint)',
    );
    assert.equal(t.mapping[id], f.mapping);
    assert.equal(t.tclass[id], f.tclass);
    assert.equal(t.lastSeen[id], f.lastSeen);
    assert.equal(t.isExpired(id, now), f.lastSeen + TIMEOUTS[f.tclass] <= now);
  }
  const live = [...model.values()];
  for (const g of gone) {
    if (!live.some((f) => sameOut(f, g))) assert.equal(outbound(t, g), NO_FLOW);
    if (!live.some((f) => sameIn(f, g))) assert.equal(inbound(t, g), NO_FLOW);
    if (!live.some((f) => f.proto === g.proto && f.remAddr === g.remAddr && f.pubAddr === g.pubAddr && f.pubPort === g.pubPort)) {
      assert.equal(t.findByRemoteAddress(g.proto, g.remAddr, g.pubAddr, g.pubPort), NO_FLOW);
    }
  }
}

test('model: after any sequence of add/remove/touch/setClass/sweep, both lookups, ids and sweep order agree with a Map', () => {
  const LIMIT = 12;
  // What the runs went through, so a generator that stopped reaching a path fails the test.
  const reached = { refusedFull: 0, swept: 0, budgetCut: 0, grew: 0, reusedSlot: 0 };
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 150, size: 'max' }), (ops) => {
      const t = new FlowTable(LIMIT, TIMEOUTS, true, 2);
      const model = new Map<number, ModelFlow>();
      // Tuples of removed flows, each once: their lookups must miss unless a live flow took the key.
      const goneKeys = new Map<string, Tuple>();
      const remember = (f: Tuple) =>
        goneKeys.set(`${f.proto}/${f.inAddr}/${f.inPort}/${f.pubAddr}/${f.pubPort}/${f.remAddr}/${f.remPort}`, f);
      let now = 0;
      let seq = 0;
      let capacity = t.capacity;
      let maxId = -1;
      const pick = (n: number) => {
        const ids = [...model.keys()];
        return ids.length ? ids[n % ids.length] : -1;
      };
      for (const op of ops) {
        switch (op.k) {
          case 'add': {
            const x: Tuple = {
              proto: op.proto,
              inAddr: IN + op.inHost,
              inPort: op.inPort,
              pubAddr: PUB,
              pubPort: op.pubPort,
              remAddr: REM + op.remHost,
              remPort: op.remPort,
            };
            // The engine looks a flow up before it adds one: never two flows with one key.
            const live = [...model.values()];
            if (live.some((f) => sameOut(f, x) || sameIn(f, x))) break;
            const mapping = seq * 3;
            const id = addFlow(t, x, now, op.tclass, mapping);
            if (model.size >= LIMIT) {
              assert.equal(id, NO_FLOW);
              reached.refusedFull++;
              break;
            }
            assert.ok(id >= 0 && !model.has(id), `fresh id ${id}`);
            if (id < maxId) reached.reusedSlot++;
            if (t.capacity > capacity) reached.grew++;
            capacity = t.capacity;
            maxId = Math.max(maxId, id);
            model.set(id, { ...x, tclass: op.tclass, lastSeen: now, seq: seq++, mapping });
            break;
          }
          case 'remove': {
            const id = pick(op.pick);
            if (id < 0) break;
            t.remove(id);
            remember(model.get(id)!);
            model.delete(id);
            break;
          }
          case 'touch': {
            const id = pick(op.pick);
            if (id < 0) break;
            t.touch(id, now);
            Object.assign(model.get(id)!, { lastSeen: now, seq: seq++ });
            break;
          }
          case 'setClass': {
            const id = pick(op.pick);
            if (id < 0) break;
            t.setClass(id, op.tclass, now);
            Object.assign(model.get(id)!, { tclass: op.tclass, lastSeen: now, seq: seq++ });
            break;
          }
          case 'advance':
            now += op.ms;
            break;
          case 'sweep': {
            // Expected: class by class, oldest activity first, while due, within the budget.
            const want: number[] = [];
            for (let c = 0; c < TIMEOUTS.length && want.length < op.budget; c++) {
              const list = [...model.entries()].filter(([, f]) => f.tclass === c).sort(([, a], [, b]) => a.seq - b.seq);
              for (const [id, f] of list) {
                if (want.length >= op.budget || f.lastSeen + TIMEOUTS[c] > now) break;
                want.push(id);
              }
            }
            assert.deepEqual(sweepIds(t, now, op.budget), want);
            if (want.length) reached.swept++;
            if ([...model.entries()].some(([id, f]) => f.lastSeen + TIMEOUTS[f.tclass] <= now && !want.includes(id))) {
              reached.budgetCut++;
            }
            for (const id of want) {
              remember(model.get(id)!);
              model.delete(id);
            }
            break;
          }
        }
        checkAgainstModel(t, model, goneKeys.values(), now);
      }
    }),
    { numRuns: 200 },
  );
  for (const [path, n] of Object.entries(reached)) assert.ok(n > 0, `no run reached ${path}`);
});

// ---------------------------------------------------------------------------
// Equal hashes: only the field comparisons in the lookups tell these flows apart.

test('flows whose keys share a hash are told apart by their fields, in every lookup', () => {
  const base = tuple();
  // Two fields of each key vary together (one alone never collides).
  const cases: Array<{ name: string; keyOf: (n: number) => Tuple; hash: (x: Tuple) => number }> = [
    {
      name: 'outbound',
      keyOf: (n) => ({ ...base, inAddr: (0x0a000000 + (n & 0xfff)) >>> 0, remAddr: (0xc6330000 + (n >>> 12)) >>> 0 }),
      hash: (x) => tupleHash(x.proto, x.inAddr, x.inPort, x.remAddr, x.remPort),
    },
    {
      name: 'inbound',
      keyOf: (n) => ({ ...base, remAddr: (0xc6330000 + (n & 0xfff)) >>> 0, pubPort: 1024 + (n >>> 12) }),
      hash: (x) => tupleHash(x.proto, x.remAddr, x.remPort, x.pubAddr, x.pubPort),
    },
    {
      name: 'remote address',
      keyOf: (n) => ({ ...base, remAddr: (0xc6330000 + (n & 0xfff)) >>> 0, pubAddr: (0xcb000000 + (n >>> 12)) >>> 0 }),
      hash: (x) => tupleHash(x.proto, x.remAddr, 0, x.pubAddr, x.pubPort),
    },
  ];
  const byAddr = (t: FlowTable, x: Tuple) => t.findByRemoteAddress(x.proto, x.remAddr, x.pubAddr, x.pubPort);
  const finders = { outbound, inbound, 'remote address': byAddr } as const;
  for (const { name, keyOf, hash } of cases) {
    const [x1, x2] = collidingKeys(keyOf, hash);
    assert.equal(hash(x1), hash(x2));
    const find = finders[name as keyof typeof finders];
    const t = new FlowTable(10, TIMEOUTS, true);
    const a = addFlow(t, x1);
    assert.equal(find(t, x2), NO_FLOW, `${name}: the other key with the same hash`);
    const b = addFlow(t, x2);
    assert.equal(find(t, x1), a, `${name}: first`);
    assert.equal(find(t, x2), b, `${name}: second`);
    t.remove(a);
    assert.equal(find(t, x1), NO_FLOW, `${name}: first removed`);
    assert.equal(find(t, x2), b, `${name}: second kept`);
  }
});
