/**
 * The NAT configuration checks cost per rule and per address, never per port:
 * a forward of every port on every one of many public addresses is one range.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NatConfigError, resolveNatConfig } from '../../src/nat/config.js';

const publicAddrs = (n: number) => Array.from({ length: n }, (_, i) => `100.64.${i >> 8}.${i & 255}`);

function problems(input: unknown): string[] {
  try {
    resolveNatConfig(input);
    return [];
  } catch (err) {
    assert.ok(err instanceof NatConfigError);
    return err.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  }
}

test('20,000 public addresses with full-range forwards: conflicts found per range (a per-port walk would visit 2.6 billion ports)', { timeout: 60_000 }, () => {
  const base = { inside: ['10.0.1.0/24'], public: publicAddrs(20_000) };
  assert.deepEqual(problems({ ...base, forwards: [{ port: '1-65535', to: '10.0.1.5' }, { protocol: 'udp', port: '1-65535', to: '10.0.1.6' }] }), []);
  assert.deepEqual(
    problems({
      ...base,
      forwards: [
        { port: '1-65535', to: '10.0.1.5' },
        { port: '1000-2000', to: '10.0.1.6', address: '100.64.3.7' },
        { protocol: 'both', port: 1500, to: '10.0.1.7' },
      ],
    }),
    ['forwards: two forwards claim tcp port 1000', 'forwards: two forwards claim tcp port 1500'],
  );
});

test('forwards on single addresses conflict only on the same address; a forward on every address meets them all', () => {
  const base = { inside: ['10.0.1.0/24'], public: ['203.0.113.1', '203.0.113.2'] };
  assert.deepEqual(
    problems({
      ...base,
      forwards: [
        { port: 80, to: '10.0.1.5', address: '203.0.113.1' },
        { port: 80, to: '10.0.1.6', address: '203.0.113.2' },
      ],
    }),
    [],
  );
  assert.deepEqual(
    problems({
      ...base,
      forwards: [
        { port: '70-90', to: '10.0.1.5', address: '203.0.113.2' },
        { port: '85-95', to: '10.0.1.6' },
      ],
    }),
    ['forwards: two forwards claim tcp port 85'],
  );
});

test('inside prefixes are matched by length, not one by one: public and forward checks stay right', () => {
  const inside = Array.from({ length: 5000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`).concat(['172.16.0.0/12']);
  assert.deepEqual(
    problems({ inside, public: ['203.0.113.1', '10.3.4.5', '172.20.1.1'], forwards: [{ port: 80, to: '10.19.135.9' }, { port: 81, to: '10.200.0.1' }] }),
    ['public.1: a public address may not lie inside an inside prefix', 'public.2: a public address may not lie inside an inside prefix', 'forwards.1.to: not inside any inside prefix'],
  );
});

test('a trigger overlapping a forward is reported once', () => {
  assert.deepEqual(
    problems({
      inside: ['10.0.1.0/24'],
      public: ['203.0.113.1'],
      forwards: [{ protocol: 'both', port: '7000-7005', to: '10.0.1.5' }, { port: 7003, to: '10.0.1.5', address: '203.0.113.1' }],
      triggers: [{ port: 6667, open: { ports: '7005-7010' } }, { port: 6668, open: { ports: '7100-7110' } }],
    }),
    ['forwards: two forwards claim tcp port 7003', 'triggers.0.open: overlaps a static forward'],
  );
});
