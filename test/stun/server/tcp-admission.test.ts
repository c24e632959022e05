import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TcpAdmission } from '../../../src/stun/server/tcp-admission.js';
import { ThrottledReport } from '../../../src/stun/server/throttled-report.js';

test('per-address cap: the address over its share is refused, others are not', () => {
  const a = new TcpAdmission<number>({ maxConnections: 100, maxPerAddress: 3 });
  for (let i = 0; i < 3; i++) assert.deepEqual(a.admit('10.0.0.1', i), { admitted: true });
  assert.deepEqual(a.admit('10.0.0.1', 3), { admitted: false, reason: 'per-address' });
  assert.deepEqual(a.admit('10.0.0.2', 4), { admitted: true });
  a.release('10.0.0.1', 0);
  assert.deepEqual(a.admit('10.0.0.1', 5), { admitted: true });
  assert.equal(a.connections, 4);
});

test('full table: a newcomer evicts the oldest connection of the heaviest address', () => {
  const a = new TcpAdmission<string>({ maxConnections: 4, maxPerAddress: 4 });
  for (const c of ['a1', 'a2', 'a3']) a.admit('A', c);
  a.admit('B', 'b1');
  const r = a.admit('C', 'c1');
  assert.deepEqual(r, { admitted: true, evicted: { address: 'A', connection: 'a1' } });
  assert.deepEqual([a.connectionsFrom('A'), a.connectionsFrom('B'), a.connectionsFrom('C'), a.connections], [2, 1, 1, 4]);
  // B now holds 1, the heaviest (A) 2: B gets no second slot at A's expense (2 is not 2 more than 1).
  assert.deepEqual(a.admit('B', 'b2'), { admitted: false, reason: 'full' });
  // A fresh address still does.
  assert.deepEqual(a.admit('D', 'd1'), { admitted: true, evicted: { address: 'A', connection: 'a2' } });
  // Now everyone holds one: full for all.
  assert.deepEqual(a.admit('E', 'e1'), { admitted: false, reason: 'full' });
  // An evicted connection released again (its socket's close) changes nothing.
  a.release('A', 'a1');
  assert.equal(a.connections, 4);
});

test('property: the counts stay consistent and within both caps, and a fresh address is refused only when no address holds two or more', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 1, max: 5 }),
      fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 6 })), { maxLength: 200 }),
      (maxConnections, maxPerAddress, ops) => {
        const a = new TcpAdmission<number>({ maxConnections, maxPerAddress });
        const live = new Map<number, string>();
        let next = 0;
        for (const [open, who] of ops) {
          const address = `10.0.0.${who}`;
          if (open) {
            const before = Math.max(0, ...[...new Set(live.values())].map((x) => a.connectionsFrom(x)));
            const fresh = a.connectionsFrom(address) === 0;
            const r = a.admit(address, next);
            if (r.admitted) {
              live.set(next, address);
              if (r.evicted) live.delete(r.evicted.connection);
            } else if (r.reason === 'full' && fresh) {
              assert.ok(before < 2, 'a fresh address was refused while some address held two or more');
            }
            next++;
          } else {
            const victim = [...live.entries()].find(([, addr]) => addr === address);
            if (victim) {
              a.release(address, victim[0]);
              live.delete(victim[0]);
            }
          }
          assert.equal(a.connections, live.size);
          assert.ok(a.connections <= maxConnections);
          for (const addr of new Set(live.values())) {
            const n = [...live.values()].filter((x) => x === addr).length;
            assert.equal(a.connectionsFrom(addr), n);
            assert.ok(n <= maxPerAddress);
          }
        }
      },
    ),
  );
});

test('limit reports: the first hit at once, then at most one per interval carrying the hits held back', () => {
  const got: Array<[string, number, number]> = [];
  const r = new ThrottledReport<'full' | 'per-address', number>(1000, (kind, count, detail) => got.push([kind, count, detail]));
  r.hit('full', 0, 1);
  r.hit('full', 10, 2);
  r.hit('full', 500, 3);
  r.hit('per-address', 600, 4);
  r.hit('full', 1000, 5);
  r.hit('full', 1500, 6);
  assert.deepEqual(got, [
    ['full', 1, 1],
    ['per-address', 1, 4],
    ['full', 3, 5],
  ]);
});
