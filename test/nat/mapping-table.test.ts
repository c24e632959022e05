/**
 * MappingTable on its own: the inside key (which carries the remote address
 * and/or port, or neither, by mapping behaviour), the public index, reference
 * counts, growth and slot reuse; then a model-based property against a Map.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MappingTable, NO_MAPPING } from '../../src/nat/mapping-table.js';
import { tupleHash } from '../../src/nat/hash-index.js';
import { collidingKeys } from './hash-collision.js';

const UDP = 17;
const TCP = 6;
const IN = 0x0a000002; // 10.0.0.2
const PUB = 0xcb007101; // 203.0.113.1
const REM = 0xc6336403; // 198.51.100.3

interface Mapping {
  proto: number;
  inAddr: number;
  inPort: number;
  keyRemAddr: number;
  keyRemPort: number;
  pubAddr: number;
  pubPort: number;
}

function mapping(over: Partial<Mapping> = {}): Mapping {
  return { proto: UDP, inAddr: IN, inPort: 5000, keyRemAddr: 0, keyRemPort: 0, pubAddr: PUB, pubPort: 40000, ...over };
}

const addMapping = (t: MappingTable, m: Mapping) => t.add(m.proto, m.inAddr, m.inPort, m.keyRemAddr, m.keyRemPort, m.pubAddr, m.pubPort);
const inside = (t: MappingTable, m: Mapping) => t.findInside(m.proto, m.inAddr, m.inPort, m.keyRemAddr, m.keyRemPort);
const pub = (t: MappingTable, m: Mapping) => t.findPublic(m.proto, m.pubAddr, m.pubPort);

test('add stores every column, starts refs at 0, and hands out ids 0, 1, 2', () => {
  const t = new MappingTable(16);
  const m = mapping({ keyRemAddr: REM, keyRemPort: 3478 });
  const ids = [addMapping(t, m), addMapping(t, mapping({ inPort: 5001, pubPort: 40001 })), addMapping(t, mapping({ inPort: 5002, pubPort: 40002 }))];
  assert.deepEqual(ids, [0, 1, 2]);
  assert.equal(t.size, 3);
  assert.equal(t.proto[0], UDP);
  assert.equal(t.inAddr[0], IN);
  assert.equal(t.inPort[0], 5000);
  assert.equal(t.keyRemAddr[0], REM);
  assert.equal(t.keyRemPort[0], 3478);
  assert.equal(t.pubAddr[0], PUB);
  assert.equal(t.pubPort[0], 40000);
  assert.equal(t.refs[0], 0);
  assert.ok(ids.every((id) => t.isLive(id)));
});

test('endpoint-independent keying (remote 0:0): one mapping for the inside endpoint, whatever the remote', () => {
  const t = new MappingTable(16);
  const m = mapping();
  const id = addMapping(t, m);
  assert.equal(inside(t, m), id);
  // The engine asks with the key its mapping behaviour gives: 0:0 under EIM.
  assert.equal(t.findInside(UDP, IN, 5000, REM, 0), NO_MAPPING, 'a remote in the key is another mapping');
  assert.equal(t.findInside(UDP, IN, 5000, 0, 3478), NO_MAPPING);
});

test('address-dependent keying (remote addr:0): one mapping per remote address for the same inside endpoint', () => {
  const t = new MappingTable(16);
  const a = addMapping(t, mapping({ keyRemAddr: REM, pubPort: 40000 }));
  const b = addMapping(t, mapping({ keyRemAddr: REM + 1, pubPort: 40001 }));
  assert.notEqual(a, b);
  assert.equal(t.findInside(UDP, IN, 5000, REM, 0), a);
  assert.equal(t.findInside(UDP, IN, 5000, REM + 1, 0), b);
  assert.equal(t.findInside(UDP, IN, 5000, REM + 2, 0), NO_MAPPING);
  assert.equal(t.findInside(UDP, IN, 5000, 0, 0), NO_MAPPING);
});

test('address-and-port-dependent keying (remote addr:port): the remote port separates mappings too', () => {
  const t = new MappingTable(16);
  const a = addMapping(t, mapping({ keyRemAddr: REM, keyRemPort: 1000, pubPort: 40000 }));
  const b = addMapping(t, mapping({ keyRemAddr: REM, keyRemPort: 1001, pubPort: 40001 }));
  assert.equal(t.findInside(UDP, IN, 5000, REM, 1000), a);
  assert.equal(t.findInside(UDP, IN, 5000, REM, 1001), b);
  assert.equal(t.findInside(UDP, IN, 5000, REM, 0), NO_MAPPING);
});

test('findInside: proto, inside address and inside port are each part of the key', () => {
  const t = new MappingTable(16);
  const m = mapping({ keyRemAddr: REM, keyRemPort: 1000 });
  const id = addMapping(t, m);
  assert.equal(inside(t, m), id);
  for (const miss of [{ proto: TCP }, { inAddr: IN + 1 }, { inPort: 5001 }, { keyRemAddr: REM + 1 }, { keyRemPort: 1001 }]) {
    assert.equal(inside(t, { ...m, ...miss }), NO_MAPPING, JSON.stringify(miss));
  }
  assert.equal(inside(t, { ...m, pubAddr: PUB + 5, pubPort: 1 }), id, 'the public endpoint is not part of the inside key');
});

test('findPublic keys on (proto, public addr, public port) only', () => {
  const t = new MappingTable(16);
  const m = mapping({ keyRemAddr: REM, keyRemPort: 1000 });
  const id = addMapping(t, m);
  const tcp = addMapping(t, mapping({ proto: TCP })); // same public port number, other protocol
  assert.equal(pub(t, m), id);
  assert.equal(t.findPublic(TCP, PUB, 40000), tcp);
  assert.equal(t.findPublic(UDP, PUB + 1, 40000), NO_MAPPING);
  assert.equal(t.findPublic(UDP, PUB, 40001), NO_MAPPING);
});

test('addresses above 2^31 and port 65535 keep their values and their lookups', () => {
  const t = new MappingTable(4);
  const m = mapping({ inAddr: 0xffffffff, inPort: 65535, keyRemAddr: 0x80000001, keyRemPort: 65535, pubAddr: 0xfffffffe, pubPort: 65535 });
  const id = addMapping(t, m);
  assert.equal(t.inAddr[id], 0xffffffff);
  assert.equal(t.keyRemAddr[id], 0x80000001);
  assert.equal(t.pubAddr[id], 0xfffffffe);
  assert.equal(inside(t, m), id);
  assert.equal(pub(t, m), id);
});

test('refs is the caller’s count of flows on the mapping: kept per slot, across growth, reset when the slot is reused', () => {
  const t = new MappingTable(2);
  const a = addMapping(t, mapping());
  t.refs[a] += 3;
  for (let i = 1; i < 20; i++) addMapping(t, mapping({ inPort: 5000 + i, pubPort: 40000 + i }));
  assert.ok(t.capacity >= 20);
  assert.equal(t.refs[a], 3);
  assert.equal(t.refs[1], 0);
  t.refs[a] = 0;
  t.remove(a);
  t.refs[a] = 9; // a stale count left in the freed slot
  const b = addMapping(t, mapping({ inPort: 9000, pubPort: 49000 }));
  assert.equal(b, a);
  assert.equal(t.refs[b], 0);
});

test('remove takes the mapping out of both indexes, ids() and isLive, and the size', () => {
  const t = new MappingTable(16);
  const m = mapping({ keyRemAddr: REM });
  const n = mapping({ inPort: 6000, pubPort: 41000 });
  const a = addMapping(t, m);
  const b = addMapping(t, n);
  t.remove(a);
  assert.equal(t.size, 1);
  assert.equal(inside(t, m), NO_MAPPING);
  assert.equal(pub(t, m), NO_MAPPING);
  assert.equal(t.isLive(a), false);
  assert.deepEqual([...t.ids()], [b]);
  assert.equal(t.insideIndex.size, 1);
  assert.equal(t.publicIndex.size, 1);
  assert.equal(inside(t, n), b);
  assert.equal(pub(t, n), b);
});

test('isLive is false for ids never handed out', () => {
  const t = new MappingTable(8);
  assert.equal(t.isLive(0), false);
  const id = addMapping(t, mapping());
  assert.equal(t.isLive(id), true);
  assert.equal(t.isLive(-1), false);
  assert.equal(t.isLive(1), false);
  assert.equal(t.isLive(100), false);
});

test('a removed slot is reused (last freed first) before a fresh one, with every column rewritten', () => {
  const t = new MappingTable(8);
  for (let i = 0; i < 4; i++) addMapping(t, mapping({ inPort: 5000 + i, pubPort: 40000 + i }));
  t.remove(1);
  t.remove(3);
  const m = mapping({ proto: TCP, inAddr: IN + 7, inPort: 7000, keyRemAddr: REM, keyRemPort: 80, pubAddr: PUB + 1, pubPort: 47000 });
  assert.equal(addMapping(t, m), 3);
  assert.deepEqual(
    [t.proto[3], t.inAddr[3], t.inPort[3], t.keyRemAddr[3], t.keyRemPort[3], t.pubAddr[3], t.pubPort[3]],
    [TCP, IN + 7, 7000, REM, 80, PUB + 1, 47000],
  );
  assert.equal(inside(t, m), 3);
  assert.equal(pub(t, m), 3);
  assert.equal(t.findPublic(UDP, PUB, 40003), NO_MAPPING, 'the old public endpoint is gone with the slot');
  assert.equal(addMapping(t, mapping({ inPort: 7001, pubPort: 47001 })), 1);
  assert.equal(addMapping(t, mapping({ inPort: 7002, pubPort: 47002 })), 4);
  assert.equal(t.size, 5);
  assert.equal(t.capacity, 8, 'reuse before growth');
});

test('more removals than the free list starts with (64) are all reused before the table grows', () => {
  const t = new MappingTable(128);
  for (let i = 0; i < 128; i++) addMapping(t, mapping({ inPort: 1000 + i, pubPort: 20000 + i }));
  for (let i = 0; i < 100; i++) t.remove(i);
  const reused = new Set<number>();
  for (let i = 0; i < 100; i++) reused.add(addMapping(t, mapping({ inPort: 30000 + i, pubPort: 40000 + i })));
  assert.equal(reused.size, 100);
  assert.ok([...reused].every((id) => id < 100), 'only freed slots');
  assert.equal(t.capacity, 128);
});

test('growth doubles the capacity without a limit and keeps every column and lookup', () => {
  const t = new MappingTable(3);
  const ms: Mapping[] = [];
  const caps: number[] = [];
  for (let i = 0; i < 40; i++) {
    const m = mapping({ inAddr: IN + i, inPort: 1000 + i, keyRemAddr: REM + (i % 3), keyRemPort: i % 2, pubPort: 20000 + i });
    ms.push(m);
    assert.equal(addMapping(t, m), i);
    t.refs[i] = i + 1;
    caps.push(t.capacity);
  }
  assert.deepEqual([...new Set(caps)], [3, 6, 12, 24, 48]);
  ms.forEach((m, i) => {
    assert.equal(inside(t, m), i);
    assert.equal(pub(t, m), i);
    assert.deepEqual(
      [t.proto[i], t.inAddr[i], t.inPort[i], t.keyRemAddr[i], t.keyRemPort[i], t.pubAddr[i], t.pubPort[i], t.refs[i]],
      [m.proto, m.inAddr, m.inPort, m.keyRemAddr, m.keyRemPort, m.pubAddr, m.pubPort, i + 1],
    );
  });
});

// The same capacity-0 growth as the flow table once had (0 * 2 = 0).
test('an initial capacity of 0 still stores mappings', () => {
  const t = new MappingTable(0);
  const m = mapping();
  const id = addMapping(t, m);
  assert.equal(inside(t, m), id);
  assert.equal(pub(t, m), id);
});

test('ids() yields the live mappings in ascending slot order', () => {
  const t = new MappingTable(4);
  for (let i = 0; i < 9; i++) addMapping(t, mapping({ inPort: 100 + i, pubPort: 40000 + i }));
  for (const id of [0, 4, 8]) t.remove(id);
  assert.deepEqual([...t.ids()], [1, 2, 3, 5, 6, 7]);
});

test('bytes counts every column the table has, plus its indexes and free list', () => {
  const t = new MappingTable(8);
  for (let i = 0; i < 30; i++) addMapping(t, mapping({ inPort: 100 + i, pubPort: 40000 + i }));
  const columns = Object.values(t).filter(
    (v): v is ArrayBufferView => ArrayBuffer.isView(v) && (v as Uint8Array).length === t.capacity,
  );
  assert.equal(columns.length, 8);
  const columnBytes = columns.reduce((s, c) => s + c.byteLength, 0);
  assert.equal(t.bytes, columnBytes + t.insideIndex.bytes + t.publicIndex.bytes + 64 * 4);
});

// ---------------------------------------------------------------------------
// Model-based: any sequence of adds and removes against a Map of mappings.

type Op =
  | { k: 'add'; proto: number; inHost: number; inPort: number; keyHost: number; keyPort: number; pubHost: number; pubPort: number }
  | { k: 'remove'; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('add' as const),
      proto: fc.constantFrom(TCP, UDP),
      inHost: fc.integer({ min: 0, max: 2 }),
      inPort: fc.integer({ min: 1024, max: 1027 }),
      // 0 is the wildcard of the key (EIM, or the port under ADM): mixed in on purpose.
      keyHost: fc.integer({ min: 0, max: 2 }),
      keyPort: fc.integer({ min: 0, max: 2 }),
      pubHost: fc.integer({ min: 0, max: 1 }),
      pubPort: fc.integer({ min: 1024, max: 1035 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('remove' as const), pick: fc.nat() }) },
);

const sameInside = (a: Mapping, b: Mapping) =>
  a.proto === b.proto && a.inAddr === b.inAddr && a.inPort === b.inPort && a.keyRemAddr === b.keyRemAddr && a.keyRemPort === b.keyRemPort;
const samePublic = (a: Mapping, b: Mapping) => a.proto === b.proto && a.pubAddr === b.pubAddr && a.pubPort === b.pubPort;

test('model: after any sequence of adds and removes, findInside, findPublic, ids, size and columns agree with a Map', () => {
  const reached = { grew: 0, reusedSlot: 0, removed: 0, lookupMissAfterRemove: 0 };
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 150, size: 'max' }), (ops) => {
      const t = new MappingTable(2);
      const model = new Map<number, Mapping>();
      const gone = new Map<string, Mapping>();
      let maxId = -1;
      let capacity = t.capacity;
      for (const op of ops) {
        if (op.k === 'add') {
          const m: Mapping = {
            proto: op.proto,
            inAddr: IN + op.inHost,
            inPort: op.inPort,
            keyRemAddr: op.keyHost === 0 ? 0 : REM + op.keyHost,
            keyRemPort: op.keyPort,
            pubAddr: PUB + op.pubHost,
            pubPort: op.pubPort,
          };
          // As in the engine: a mapping is added only when its inside key has none,
          // and only on a public endpoint no mapping holds (no port overloading).
          const live = [...model.values()];
          if (live.some((x) => sameInside(x, m) || samePublic(x, m))) continue;
          const id = addMapping(t, m);
          assert.ok(id >= 0 && !model.has(id));
          if (id <= maxId) reached.reusedSlot++;
          if (t.capacity > capacity) reached.grew++;
          capacity = t.capacity;
          maxId = Math.max(maxId, id);
          t.refs[id] = id * 7 + 1;
          model.set(id, m);
        } else {
          const ids = [...model.keys()];
          if (ids.length === 0) continue;
          const id = ids[op.pick % ids.length];
          gone.set(JSON.stringify(model.get(id)), model.get(id)!);
          t.remove(id);
          model.delete(id);
          reached.removed++;
        }
        assert.equal(t.size, model.size);
        assert.equal(t.insideIndex.size, model.size);
        assert.equal(t.publicIndex.size, model.size);
        assert.deepEqual([...t.ids()], [...model.keys()].sort((a, b) => a - b));
        for (const [id, m] of model) {
          assert.equal(inside(t, m), id);
          assert.equal(pub(t, m), id);
          assert.equal(t.refs[id], id * 7 + 1);
          assert.equal(t.keyRemAddr[id], m.keyRemAddr);
          assert.equal(t.keyRemPort[id], m.keyRemPort);
        }
        const live = [...model.values()];
        for (const g of gone.values()) {
          if (!live.some((x) => sameInside(x, g))) {
            assert.equal(inside(t, g), NO_MAPPING);
            reached.lookupMissAfterRemove++;
          }
          if (!live.some((x) => samePublic(x, g))) assert.equal(pub(t, g), NO_MAPPING);
        }
      }
    }),
    { numRuns: 200 },
  );
  for (const [path, n] of Object.entries(reached)) assert.ok(n > 0, `no run reached ${path}`);
});

// ---------------------------------------------------------------------------
// Equal hashes: only the field comparisons in the lookups tell these mappings apart.

test('mappings whose keys share a hash are told apart by their fields, inside and public', () => {
  const base = mapping();
  const cases = [
    {
      name: 'inside',
      // Two fields vary together: tupleHash never collides on one field alone.
      keyOf: (n: number): Mapping => ({ ...base, inAddr: (0x0a000000 + (n & 0xfff)) >>> 0, keyRemAddr: (0xc6330000 + (n >>> 12)) >>> 0, pubPort: 1024 + (n & 0xfff) }),
      hash: (m: Mapping) => tupleHash(m.proto, m.inAddr, m.inPort, m.keyRemAddr, m.keyRemPort),
      find: inside,
    },
    {
      name: 'public',
      keyOf: (n: number): Mapping => ({ ...base, pubAddr: (0xcb000000 + (n & 0xfff)) >>> 0, pubPort: 1024 + (n >>> 12), inPort: 1024 + (n & 0xfff) }),
      hash: (m: Mapping) => tupleHash(m.proto, m.pubAddr, m.pubPort, 0, 0),
      find: pub,
    },
  ];
  for (const { name, keyOf, hash, find } of cases) {
    const [m1, m2] = collidingKeys(keyOf, hash);
    assert.equal(hash(m1), hash(m2));
    const t = new MappingTable(4);
    const a = addMapping(t, m1);
    assert.equal(find(t, m2), NO_MAPPING, `${name}: the other key with the same hash`);
    const b = addMapping(t, m2);
    assert.equal(find(t, m1), a, `${name}: first`);
    assert.equal(find(t, m2), b, `${name}: second`);
    t.remove(a);
    assert.equal(find(t, m1), NO_MAPPING, `${name}: first removed`);
    assert.equal(find(t, m2), b, `${name}: second kept`);
  }
});
