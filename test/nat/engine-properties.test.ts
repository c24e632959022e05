import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Side, Verdict } from '../../src/nat/engine.js';
import { ipv4ToString } from '../../src/wire/address.js';
import { ipv4HeaderChecksumValid } from '../../src/wire/ipv4.js';
import { TCP_ACK, TCP_SYN } from '../../src/wire/tcp.js';
import { assertChecksums, describe, makeEngine, tcpPkt, udpPkt } from './packets.js';

const behaviours = ['eim', 'adm', 'apdm'] as const;
const filters = ['eif', 'adf', 'apdf'] as const;
const allocations = ['preserve', 'sequential', 'random'] as const;

test('arbitrary bytes never throw out of the engine, from either side', () => {
  const { engine } = makeEngine({ filtering: 'eif', forwards: [{ protocol: 'udp', port: 5060, to: '10.0.0.5' }] });
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, inside) => {
      const v = engine.process(bytes, inside ? Side.Inside : Side.Outside);
      assert.ok(v === Verdict.Drop || v === Verdict.ToInside || v === Verdict.ToOutside);
    }),
    { numRuns: 5000 },
  );
});

test('mutated valid packets never throw, and whatever passes has valid checksums', () => {
  const { engine } = makeEngine({ filtering: 'eif' });
  const seeds = [
    udpPkt('10.0.0.2:5000', '198.51.100.10:3478', 'hello'),
    tcpPkt('10.0.0.2:40000', '198.51.100.10:80', TCP_SYN),
    udpPkt('198.51.100.10:3478', '203.0.113.1:5000', 'reply'),
  ];
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), (which, edits) => {
      const p = seeds[which].slice();
      for (const [at, v] of edits) p[at % p.length] = v;
      const v = engine.process(p, which === 2 ? Side.Outside : Side.Inside);
      // A header changed by the mutation is dropped on its checksum; anything translated stays consistent.
      if (v !== Verdict.Drop && (p[0] >> 4) === 4 && (p[6] & 0x3f) === 0 && p[7] === 0) {
        assert.ok(ipv4HeaderChecksumValid(p, 0));
      }
    }),
    { numRuns: 3000 },
  );
});

test('translate out then the reply in gives back the original endpoints, for every profile', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...behaviours),
      fc.constantFrom(...filters),
      fc.constantFrom(...allocations),
      fc.array(
        fc.record({
          host: fc.integer({ min: 1, max: 254 }),
          port: fc.integer({ min: 1, max: 65535 }),
          remote: fc.integer({ min: 1, max: 0xffffff }),
          remotePort: fc.integer({ min: 1, max: 65535 }),
          tcp: fc.boolean(),
        }),
        { minLength: 1, maxLength: 30 },
      ),
      (mapping, filtering, allocation, convs) => {
        const { engine } = makeEngine({ mapping, filtering, ports: { allocation } });
        for (const c of convs) {
          const inside = `10.0.0.${c.host}:${c.port}`;
          // remotes in 198.18.0.0/15-ish space outside the inside prefix and public address
          const remote = `${ipv4ToString((0xc6120000 + (c.remote & 0x1ffff)) >>> 0)}:${c.remotePort}`;
          const out = c.tcp ? tcpPkt(inside, remote, TCP_SYN) : udpPkt(inside, remote);
          if (engine.process(out, Side.Inside) !== Verdict.ToOutside) continue; // e.g. ports exhausted
          assertChecksums(out);
          const [pub] = describe(out).split(' > ');
          assert.ok(pub.startsWith('203.0.113.1:'));
          const back = c.tcp ? tcpPkt(remote, pub, TCP_SYN | TCP_ACK) : udpPkt(remote, pub);
          assert.equal(engine.process(back, Side.Outside), Verdict.ToInside);
          assert.equal(describe(back), `${remote} > ${inside}`);
          assertChecksums(back);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('two inside endpoints never share a live public endpoint', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...behaviours),
      fc.constantFrom(...allocations),
      fc.array(fc.tuple(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1000, max: 1010 }), fc.integer({ min: 1, max: 5 })), { maxLength: 60 }),
      (mapping, allocation, convs) => {
        const { engine } = makeEngine({ mapping, ports: { allocation, range: [2000, 2040] } });
        const owner = new Map<string, string>();
        for (const [h, port, r] of convs) {
          const inside = `10.0.0.${h}:${port}`;
          const p = udpPkt(inside, `198.51.100.${r}:53`);
          if (engine.process(p, Side.Inside) !== Verdict.ToOutside) continue;
          const pub = describe(p).split(' > ')[0];
          const prev = owner.get(pub);
          assert.ok(prev === undefined || prev === inside, `${pub} given to ${prev} and ${inside}`);
          owner.set(pub, inside);
        }
      },
    ),
    { numRuns: 300 },
  );
});
