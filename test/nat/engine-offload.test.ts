/**
 * Checksum offload (a TUN device with virtio-net headers): packets whose
 * TCP/UDP checksum field holds only the pseudo-header sum, for the kernel or
 * NIC to finish. After translation, finishing it as hardware does must give
 * the right checksum for the translated packet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Side, Verdict } from '../../src/nat/engine.js';
import { fold, pseudoHeaderSum, sumWords } from '../../src/wire/checksum.js';
import { ipv4, write16 } from '../../src/wire/ipv4.js';
import { computeTcpChecksum, TCP_ACK, TCP_SYN } from '../../src/wire/tcp.js';
import { computeUdpChecksum, udpChecksumValid } from '../../src/wire/udp.js';
import { attachAlg, findAlg } from '../../src/alg/registry.js';
import { makeEngine, tcpPkt, udpPkt } from './packets.js';

/** What the sender's kernel leaves in the field: the folded pseudo-header sum, not complemented. */
function makePartial(pkt: Uint8Array): void {
  const hl = ipv4.headerLength(pkt, 0);
  const len = ipv4.totalLength(pkt, 0) - hl;
  const at = hl + (pkt[9] === 17 ? 6 : 16);
  write16(pkt, at, fold(pseudoHeaderSum(ipv4.src(pkt, 0), ipv4.dst(pkt, 0), pkt[9], len)));
}

/** What the NIC does: sum the transport bytes (field included), complement, store (UDP sends 0 as 0xffff). */
function finish(pkt: Uint8Array): number {
  const hl = ipv4.headerLength(pkt, 0);
  const end = ipv4.totalLength(pkt, 0);
  const c = ~fold(sumWords(pkt, hl, end)) & 0xffff;
  return pkt[9] === 17 && c === 0 ? 0xffff : c;
}

test('offloaded UDP and TCP checksums come out right once finished, both ways', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 65535 }), fc.uint8Array({ maxLength: 300 }), fc.boolean(), (sport, dport, payload, tcp) => {
      const { engine } = makeEngine({ filtering: 'eif' });
      const out = tcp ? tcpPkt(`10.0.0.2:${sport}`, `198.51.100.10:${dport}`, TCP_SYN, 1, 0, payload) : udpPkt(`10.0.0.2:${sport}`, `198.51.100.10:${dport}`, payload);
      makePartial(out);
      assert.equal(engine.process(out, Side.Inside, 0, true), Verdict.ToOutside);
      assert.equal(engine.outputPartial, true);
      assert.equal(finish(out), tcp ? computeTcpChecksum(out, 0) : computeUdpChecksum(out, 0));
      const pubPort = (out[20] << 8) | out[21];
      const back = tcp ? tcpPkt(`198.51.100.10:${dport}`, `203.0.113.1:${pubPort}`, TCP_SYN | TCP_ACK, 9, 2, payload) : udpPkt(`198.51.100.10:${dport}`, `203.0.113.1:${pubPort}`, payload);
      makePartial(back);
      assert.equal(engine.process(back, Side.Outside, 0, true), Verdict.ToInside);
      assert.equal(finish(back), tcp ? computeTcpChecksum(back, 0) : computeUdpChecksum(back, 0));
    }),
    { numRuns: 300 },
  );
});

test('an ALG sees a completed checksum, and the engine says the output is no longer partial', () => {
  const { engine } = makeEngine();
  const def = findAlg('sip')!;
  attachAlg(engine, def);
  const p = udpPkt('10.0.0.2:5060', '198.51.100.10:5060', 'OPTIONS sip:x SIP/2.0\r\n\r\n');
  makePartial(p);
  engine.process(p, Side.Inside, 0, true);
  assert.equal(engine.outputPartial, false);
  assert.ok(udpChecksumValid(engine.output, 0));
});
