/** NAT classification from observations, port prediction, birthday roles and helpers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { birthdayRole, classifyNat, predictEndpoints, type NatKind } from '../../src/rendezvous/client/nat-kind.js';
import { BirthdaySlot, birthdayDurationMs, DEFAULT_BIRTHDAY, RandomPorts } from '../../src/rendezvous/client/birthday.js';

const ep = (port: number, address = '203.0.113.1') => ({ address, port });

test('classification', () => {
  assert.deepEqual(classifyNat({ public: ep(5000, '192.0.2.1'), locals: [ep(5000, '192.0.2.1')] }), { mapping: 'none' });
  assert.deepEqual(classifyNat({ public: ep(5000), locals: [] }), { mapping: 'unknown' });
  assert.deepEqual(classifyNat({ public: ep(5000), observed: ep(5000), locals: [] }), { mapping: 'eim' });
  assert.deepEqual(classifyNat({ public: ep(5000), observed: ep(5002), locals: [] }), { mapping: 'sequential', delta: 2 });
  assert.deepEqual(classifyNat({ public: ep(5000), observed: ep(4999), locals: [] }), { mapping: 'sequential', delta: -1 });
  assert.deepEqual(classifyNat({ public: ep(5000), observed: ep(41000), locals: [] }), { mapping: 'random' });
  assert.deepEqual(classifyNat({ public: ep(5000), observed: ep(41000), locals: [], localPort: 5000 }), { mapping: 'preserving' });
  assert.deepEqual(classifyNat({ public: ep(5000), observed: ep(5001, '203.0.113.2'), locals: [] }), { mapping: 'random' });
  assert.deepEqual(classifyNat({ public: ep(5000), locals: [], spare: ep(5001) }), { mapping: 'preserving' });
});

test('prediction: the next ports in the order the NAT will give them, inside 1..65535', () => {
  const seq: NatKind = { mapping: 'sequential', delta: 2 };
  assert.deepEqual(
    predictEndpoints({ public: ep(5000), observed: ep(5002), locals: [] }, seq, 3).map((e) => e.port),
    [5004, 5006, 5008],
  );
  assert.deepEqual(predictEndpoints({ public: ep(65533), observed: ep(65534), locals: [] }, { mapping: 'sequential', delta: 1 }, 5).map((e) => e.port), [65535]);
  assert.deepEqual(predictEndpoints({ public: ep(5000), observed: ep(5000), locals: [] }, { mapping: 'eim' }, 3), []);
});

test('birthday roles: hard is the per-destination mapper, easy the endpoint-independent one; none otherwise', () => {
  const k = (mapping: NatKind['mapping']): NatKind => (mapping === 'sequential' ? { mapping, delta: 1 } : ({ mapping } as NatKind));
  assert.equal(birthdayRole(k('random'), k('eim')), 'hard');
  assert.equal(birthdayRole(k('eim'), k('random')), 'easy');
  assert.equal(birthdayRole(k('preserving'), k('unknown')), 'hard');
  assert.equal(birthdayRole(k('random'), k('random')), null);
  assert.equal(birthdayRole(k('eim'), k('eim')), null);
  assert.equal(birthdayRole(k('none'), k('random')), null);
});

test('random ports: distinct, inside the range, until the range is used up', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 0, max: 2 ** 31 }), (span, seed) => {
      let s = seed;
      const rnd = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      const r = new RandomPorts([1000, 1000 + span - 1], rnd);
      const seen = new Set<number>();
      for (let i = 0; i < span; i++) {
        const p = r.next()!;
        assert.ok(p >= 1000 && p < 1000 + span && !seen.has(p));
        seen.add(p);
      }
      assert.equal(r.next(), null);
    }),
    { numRuns: 200 },
  );
});

test('one birthday attack at a time, in order', async () => {
  const slot = new BirthdaySlot();
  const order: string[] = [];
  const first = await slot.acquire();
  const second = slot.acquire().then((release) => {
    order.push('second');
    release();
  });
  const third = slot.acquire().then((release) => {
    order.push('third');
    release();
  });
  await Promise.resolve();
  assert.deepEqual(order, []);
  assert.equal(slot.inUse, true);
  first();
  first(); // releasing twice changes nothing
  await Promise.all([second, third]);
  assert.deepEqual(order, ['second', 'third']);
  assert.equal(slot.inUse, false);
});

test('the default attempt: 1024 probes at 100/s fit in its duration; 256 ports give ~98% odds', () => {
  assert.ok(birthdayDurationMs(DEFAULT_BIRTHDAY) >= (1000 * DEFAULT_BIRTHDAY.maxProbes) / DEFAULT_BIRTHDAY.probesPerSecond);
  const span = DEFAULT_BIRTHDAY.portRange[1] - DEFAULT_BIRTHDAY.portRange[0] + 1;
  const odds = 1 - (1 - DEFAULT_BIRTHDAY.sockets / span) ** DEFAULT_BIRTHDAY.maxProbes;
  assert.ok(odds > 0.98 && odds < 0.99, String(odds));
});
