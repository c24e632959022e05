import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { insideQueue, outsideQueue } from '../../src/dataplane/tun/steering.js';
import { planQueues, slicedNatConfig } from '../../src/gateway/queues/plan.js';
import { resolveNatConfig } from '../../src/nat/config.js';
import { NatEngine, Side, Verdict } from '../../src/nat/engine.js';
import { ManualClock } from '../../src/util/clock.js';
import { parseIpv4 } from '../../src/wire/address.js';
import { buildIcmpEcho, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST } from '../../src/wire/icmp.js';
import { buildUdpPacket, parseUdpPacket } from '../../src/wire/udp.js';

const FAR = parseIpv4('198.51.100.10');
const PUB = parseIpv4('203.0.113.1');

function engines(queues: number, extra: Record<string, unknown> = {}) {
  const nat = resolveNatConfig({ inside: ['10.0.0.0/16'], public: ['203.0.113.1'], ...extra });
  const plan = planQueues(nat, queues);
  const clock = new ManualClock(0);
  return { plan, clock, engines: plan.slices.map((s) => new NatEngine(slicedNatConfig(nat, s), { clock })) };
}

describe('one engine per queue: both directions of a flow meet on one engine', () => {
  test('UDP: the answer to a translated datagram is steered to the engine that translated it', () => {
    for (const queues of [2, 3]) {
      const { plan, engines: e } = engines(queues);
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 0xfffe }), fc.integer({ min: 1, max: 65535 }), (host, srcPort) => {
          const src = parseIpv4('10.0.0.0') + host;
          const out = buildUdpPacket({ src, dst: FAR, srcPort, dstPort: 3478, payload: new Uint8Array(8) });
          const q = insideQueue(out, queues);
          assert.equal(e[q].process(out, Side.Inside, 0), Verdict.ToOutside);
          const sent = parseUdpPacket(e[q].output);
          const answer = buildUdpPacket({ src: FAR, dst: PUB, srcPort: 3478, dstPort: sent.srcPort, payload: new Uint8Array(8) });
          assert.equal(outsideQueue(answer, plan.table, queues), q, `public port ${sent.srcPort}`);
          assert.equal(e[q].process(answer, Side.Outside, 0), Verdict.ToInside);
        }),
        { numRuns: 300 },
      );
    }
  });

  test('ICMP echo: the reply is steered by the identifier the engine chose', () => {
    const { plan, engines: e } = engines(2);
    for (let host = 1; host <= 40; host++) {
      const src = parseIpv4('10.0.1.0') + host;
      const req = buildIcmpEcho(src, FAR, ICMP_ECHO_REQUEST, 7, 1);
      const q = insideQueue(req, 2);
      assert.equal(e[q].process(req, Side.Inside, 0), Verdict.ToOutside);
      const id = (e[q].output[24] << 8) | e[q].output[25];
      assert.equal(outsideQueue(buildIcmpEcho(FAR, PUB, ICMP_ECHO_REPLY, id, 1), plan.table, 2), q, `identifier ${id}`);
    }
  });

  test('a static forward: inbound to the engine of its inside host, whose answers come from that host', () => {
    const { plan, engines: e } = engines(2, { forwards: [{ protocol: 'udp', port: [40000, 40000], to: '10.0.1.7' }] });
    const inbound = buildUdpPacket({ src: FAR, dst: PUB, srcPort: 999, dstPort: 40000, payload: new Uint8Array(4) });
    const q = outsideQueue(inbound, plan.table, 2);
    assert.equal(e[q].process(inbound, Side.Outside, 0), Verdict.ToInside);
    const answer = buildUdpPacket({ src: parseIpv4('10.0.1.7'), dst: FAR, srcPort: 40000, dstPort: 999, payload: new Uint8Array(4) });
    assert.equal(insideQueue(answer, 2), q);
    assert.equal(e[q].process(answer, Side.Inside, 0), Verdict.ToOutside);
    assert.equal(parseUdpPacket(e[q].output).srcPort, 40000);
  });

  test('a port range too short for the queues is refused', () => {
    const nat = resolveNatConfig({ inside: ['10.0.0.0/16'], public: ['203.0.113.1'], ports: { range: [2000, 2001] } });
    assert.throws(() => planQueues(nat, 4), /too short for 4 queues/);
  });
});
