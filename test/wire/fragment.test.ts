import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fragmentIpv4 } from '../../src/wire/fragment.js';
import { Reassembler } from '../../src/wire/reassembly.js';
import { ipv4HeaderChecksumValid } from '../../src/wire/ipv4.js';
import { buildUdpPacket } from '../../src/wire/udp.js';

test('fragment then reassemble gives back the packet, in any arrival order', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 4000 }), fc.integer({ min: 68, max: 1500 }), fc.integer(), (size, mtu, seed) => {
      const pkt = buildUdpPacket({ src: 1, dst: 2, srcPort: 3, dstPort: 4, payload: Uint8Array.from({ length: size }, (_, i) => i & 0xff) });
      const frags = fragmentIpv4(pkt, mtu);
      for (const f of frags) {
        assert.ok(f.length <= mtu);
        assert.ok(ipv4HeaderChecksumValid(f, 0));
      }
      // shuffle deterministically
      const order = frags.map((f, i) => ({ f, k: Math.imul(i + 1, seed | 1) >>> 0 })).sort((a, b) => a.k - b.k);
      const r = new Reassembler();
      let whole: Uint8Array | null = null;
      for (const { f } of order) {
        const got = r.accept(f, 0);
        if (got) whole = got;
      }
      assert.deepEqual(whole, pkt);
    }),
    { numRuns: 200 },
  );
});

test('DF packets are not fragmented', () => {
  const pkt = buildUdpPacket({ src: 1, dst: 2, srcPort: 3, dstPort: 4, payload: new Uint8Array(2000) });
  pkt[6] |= 0x40;
  assert.throws(() => fragmentIpv4(pkt, 1500), /DF/);
});

test('incomplete datagrams time out and are bounded', () => {
  const r = new Reassembler(2, 1000);
  const pkt = buildUdpPacket({ src: 1, dst: 2, srcPort: 3, dstPort: 4, payload: new Uint8Array(3000) });
  const [first] = fragmentIpv4(pkt, 1000);
  assert.equal(r.accept(first, 0), null);
  assert.equal(r.accept(first, 2000), null); // the earlier partial expired
  assert.equal(r.dropped, 1);
});
