import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Side, Verdict } from '../../src/nat/engine.js';
import type { NatEvent } from '../../src/nat/events.js';
import { TCP_ACK, TCP_SYN } from '../../src/wire/tcp.js';
import { describe, makeEngine, tcpPkt, udpPkt } from './packets.js';

const IN = Side.Inside;
const OUT = Side.Outside;

test('a static forward reaches the inside server, and replies leave from the forwarded port', () => {
  const events: NatEvent[] = [];
  const { engine } = makeEngine({ forwards: [{ protocol: 'tcp', port: 8080, to: '10.0.0.5', toPort: 80 }] }, { onEvent: (e) => events.push(e) });
  const syn = tcpPkt('198.51.100.10:5555', '203.0.113.1:8080', TCP_SYN);
  assert.equal(engine.process(syn, OUT), Verdict.ToInside);
  assert.equal(describe(syn), '198.51.100.10:5555 > 10.0.0.5:80');
  const synack = tcpPkt('10.0.0.5:80', '198.51.100.10:5555', TCP_SYN | TCP_ACK);
  assert.equal(engine.process(synack, IN), Verdict.ToOutside);
  assert.equal(describe(synack), '203.0.113.1:8080 > 198.51.100.10:5555');
  assert.ok(events.some((e) => e.type === 'forward'));
  // a second client, too, and its flow is reported like the first's (it finds the mapping the first made)
  assert.equal(engine.process(tcpPkt('198.51.100.11:6666', '203.0.113.1:8080', TCP_SYN), OUT), Verdict.ToInside);
  assert.deepEqual(
    events.filter((e) => e.type === 'forward').map((e) => (e.type === 'forward' ? e.remotePort : 0)),
    [5555, 6666],
  );
});

test('a forwarded range keeps the offset; forwarded ports are never handed to dynamic mappings', () => {
  const { engine } = makeEngine({ forwards: [{ protocol: 'udp', port: '6000-6009', to: '10.0.0.5' }] });
  const p = udpPkt('198.51.100.10:1', '203.0.113.1:6007');
  assert.equal(engine.process(p, OUT), Verdict.ToInside);
  assert.equal(describe(p), '198.51.100.10:1 > 10.0.0.5:6007');
  const other = udpPkt('10.0.0.9:6003', '198.51.100.10:53');
  engine.process(other, IN);
  assert.notEqual(describe(other).split(' ')[0], '203.0.113.1:6003');
});

test('config: overlapping forwards and forwards to outside hosts are refused with the field named', () => {
  assert.throws(
    () => makeEngine({ forwards: [{ port: 80, to: '10.0.0.5' }, { port: '70-90', to: '10.0.0.6' }] }),
    /two forwards claim tcp port 80/,
  );
  assert.throws(() => makeEngine({ forwards: [{ port: 80, to: '192.168.1.1' }] }), /forwards\.0\.to: not inside/);
});

test('a port trigger forwards its range to the last inside host that used it, until idle', () => {
  const events: NatEvent[] = [];
  const { engine, clock } = makeEngine(
    { triggers: [{ protocol: 'tcp', port: 6667, open: { protocol: 'tcp', ports: '7000-7010' }, idleTimeout: 60 }] },
    { onEvent: (e) => events.push(e) },
  );
  // Nothing open before the trigger fires.
  assert.equal(engine.process(tcpPkt('198.51.100.10:4000', '203.0.113.1:7005', TCP_SYN), OUT), Verdict.Drop);
  engine.process(tcpPkt('10.0.0.2:40000', '198.51.100.10:6667', TCP_SYN), IN);
  assert.ok(events.some((e) => e.type === 'trigger-activated'));
  const dcc = tcpPkt('198.51.100.10:4000', '203.0.113.1:7005', TCP_SYN);
  assert.equal(engine.process(dcc, OUT), Verdict.ToInside);
  assert.equal(describe(dcc), '198.51.100.10:4000 > 10.0.0.2:7005');
  // Another host uses the trigger: it becomes the target.
  engine.process(tcpPkt('10.0.0.3:40000', '198.51.100.10:6667', TCP_SYN), IN);
  const dcc2 = tcpPkt('198.51.100.10:4001', '203.0.113.1:7006', TCP_SYN);
  assert.equal(engine.process(dcc2, OUT), Verdict.ToInside);
  assert.equal(describe(dcc2), '198.51.100.10:4001 > 10.0.0.3:7006');
  // Idle: closed again.
  clock.advance(61_000);
  engine.tick();
  assert.ok(events.some((e) => e.type === 'trigger-expired'));
  assert.equal(engine.process(tcpPkt('198.51.100.10:4002', '203.0.113.1:7007', TCP_SYN), OUT), Verdict.Drop);
});

test('a trigger stays open while its control connection carries traffic', () => {
  const { engine, clock } = makeEngine({ triggers: [{ protocol: 'tcp', port: 6667, open: { protocol: 'tcp', ports: '7000-7010' }, idleTimeout: 60 }] });
  engine.process(tcpPkt('10.0.0.2:40000', '198.51.100.10:6667', TCP_SYN), IN);
  for (let i = 0; i < 5; i++) {
    clock.advance(40_000);
    engine.process(tcpPkt('10.0.0.2:40000', '198.51.100.10:6667', TCP_ACK), IN);
  }
  assert.equal(engine.process(tcpPkt('198.51.100.10:4000', '203.0.113.1:7001', TCP_SYN), OUT), Verdict.ToInside);
});

test('a trigger with onlyFromContacted admits only the remote the host contacted', () => {
  const { engine } = makeEngine({
    triggers: [{ protocol: 'udp', port: 27015, open: { protocol: 'udp', ports: '27020-27030' }, onlyFromContacted: true }],
  });
  engine.process(udpPkt('10.0.0.2:5000', '198.51.100.10:27015'), IN);
  assert.equal(engine.process(udpPkt('198.51.100.99:1', '203.0.113.1:27021'), OUT), Verdict.Drop);
  assert.equal(engine.process(udpPkt('198.51.100.10:1', '203.0.113.1:27021'), OUT), Verdict.ToInside);
});
