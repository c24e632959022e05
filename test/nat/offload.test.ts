/**
 * Which flows the engine lets a kernel fast path carry, and how what the
 * kernel carried comes back to the flow (src/nat/offload.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Side, Verdict } from '../../src/nat/engine.js';
import { FLOW_OFFLOADED } from '../../src/nat/offload.js';
import { TCP_ACK, TCP_FIN, TCP_SYN } from '../../src/wire/tcp.js';
import { describe, makeEngine, tcpPkt, udpPkt } from './packets.js';

const IN = Side.Inside;
const OUT = Side.Outside;
const publicOf = (pkt: Uint8Array) => describe(pkt).split(' ')[0];

/** A UDP flow with `out` packets out and `back` replies; returns its id. */
function udpFlow(a: ReturnType<typeof makeEngine>, out: number, back: number, remote = '198.51.100.20:40000'): number {
  const { engine } = a;
  let pub = '';
  for (let i = 0; i < out; i++) {
    const p = udpPkt('10.0.0.2:30000', remote);
    assert.equal(engine.process(p, IN), Verdict.ToOutside);
    pub = publicOf(p);
  }
  for (let i = 0; i < back; i++) assert.equal(engine.process(udpPkt(remote, pub), OUT), Verdict.ToInside);
  return engine.lastFlow;
}

test('lastFlow names the flow of the packet just translated, and none after a pass or a drop', () => {
  const a = makeEngine();
  const id = udpFlow(a, 1, 0);
  assert.ok(id >= 0);
  assert.equal(a.engine.process(udpPkt('10.0.0.2:30000', '10.0.0.9:53'), IN), Verdict.ToInside); // inside to inside
  assert.equal(a.engine.lastFlow, -1);
  assert.equal(a.engine.process(udpPkt('198.51.100.99:1', '203.0.113.1:9'), OUT), Verdict.Drop);
  assert.equal(a.engine.lastFlow, -1);
});

test('a UDP flow may go once it has replies and enough packets', () => {
  const a = makeEngine();
  const id = udpFlow(a, 5, 0);
  assert.equal(a.engine.offloadable(id, 4), false, 'no reply yet');
  udpFlow(a, 0, 0);
  const again = udpFlow(a, 1, 1);
  assert.equal(again, id);
  assert.equal(a.engine.offloadable(id, 8), false, '7 packets, 8 asked');
  assert.equal(a.engine.offloadable(id, 7), true);
  a.engine.flows.flags[id] |= FLOW_OFFLOADED;
  assert.equal(a.engine.offloadable(id, 1), false, 'already offloaded');
});

test('a TCP flow may go only while established: not during the handshake, not once a FIN passed', () => {
  const a = makeEngine();
  const { engine } = a;
  const syn = tcpPkt('10.0.0.3:5000', '198.51.100.30:443', TCP_SYN);
  engine.process(syn, IN);
  const id = engine.lastFlow;
  const pub = publicOf(syn);
  engine.process(tcpPkt('198.51.100.30:443', pub, TCP_ACK), OUT);
  assert.equal(engine.offloadable(id, 1), false, 'no SYN from the remote yet');
  engine.process(tcpPkt('198.51.100.30:443', pub, TCP_SYN | TCP_ACK), OUT);
  engine.process(tcpPkt('10.0.0.3:5000', '198.51.100.30:443', TCP_ACK), IN);
  assert.equal(engine.offloadable(id, 1), true);
  engine.process(tcpPkt('10.0.0.3:5000', '198.51.100.30:443', TCP_FIN | TCP_ACK), IN);
  assert.equal(engine.offloadable(id, 1), false, 'closing');
});

test('a flow with an ALG on it, or a hairpinned one, never goes', () => {
  const a = makeEngine({ hairpin: true, forwards: [{ protocol: 'udp', port: 7000, to: '10.0.0.7', toPort: 7000 }] });
  const { engine } = a;
  engine.registerHelper((_e, _f, pkt) => pkt, [{ proto: 17, first: 5060, last: 5060 }], undefined, 'sip');
  const sip = udpFlow(a, 3, 3, '198.51.100.20:5060');
  assert.ok(engine.flows.helper[sip] !== 0);
  assert.equal(engine.offloadable(sip, 1), false);

  // An inside host reaching another through the public address: two translations, the kernel path has one.
  for (let i = 0; i < 3; i++) engine.process(udpPkt('10.0.0.2:31000', '203.0.113.1:7000'), IN);
  for (let i = 0; i < 3; i++) engine.process(udpPkt('10.0.0.7:7000', '203.0.113.1:31000'), IN);
  const hairpin = engine.flows.findOutbound(17, 0x0a000002, 31000, 0xcb007101, 7000);
  assert.ok(hairpin >= 0);
  assert.equal(engine.offloadable(hairpin, 1), false);
});

test('what the kernel carried counts on the flow and keeps it alive; UDP replies alone do not, unless configured', () => {
  for (const udpInboundRefresh of [false, true]) {
    const a = makeEngine({ timeouts: { udp: 120, udpInboundRefresh } });
    const id = udpFlow(a, 2, 2);
    const before = a.engine.flows.lastSeen[id];
    a.clock.advance(80_000);
    a.engine.creditOffloaded(id, { packetsOut: 0, bytesOut: 0, packetsIn: 10, bytesIn: 1000 });
    assert.equal(a.engine.flows.packetsIn[id], 12);
    assert.equal(a.engine.flows.bytesIn[id] > 1000, true);
    assert.equal(a.engine.flows.lastSeen[id] === before, !udpInboundRefresh);
    a.engine.creditOffloaded(id, { packetsOut: 5, bytesOut: 500, packetsIn: 0, bytesIn: 0 });
    assert.equal(a.engine.flows.packetsOut[id], 7);
    a.clock.advance(80_000);
    // 160 s after the flow's last packet through masq, 80 s after the outbound credit: alive with a 120 s timeout.
    assert.equal(a.engine.flows.isExpired(id, a.clock.now()), false);
  }
});

test('a flow handed over keeps its flag out of exported state: a standby has no kernel table carrying it', () => {
  const a = makeEngine();
  const id = udpFlow(a, 2, 2);
  a.engine.flows.flags[id] |= FLOW_OFFLOADED;
  const b = makeEngine();
  b.engine.applyState(a.engine.exportState());
  const copy = b.engine.flows.findOutbound(17, 0x0a000002, 30000, 0xc6336414, 40000);
  assert.ok(copy >= 0);
  assert.equal(b.engine.flows.flags[copy] & FLOW_OFFLOADED, 0);
});
