import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Side, Verdict } from '../../src/nat/engine.js';
import { parseIpv4 } from '../../src/wire/address.js';
import { PROTO_TCP, PROTO_UDP } from '../../src/wire/ipv4.js';
import { TCP_SYN } from '../../src/wire/tcp.js';
import { describe, makeEngine, tcpPkt, udpPkt } from './packets.js';

const IN = Side.Inside;
const OUT = Side.Outside;
const host = parseIpv4('10.0.0.5');
const SYMMETRIC = { mapping: 'apdm', filtering: 'apdf', ports: { allocation: 'random' } } as const;

function map(engine: ReturnType<typeof makeEngine>['engine'], over: Partial<Parameters<typeof engine.mapPort>[0]> = {}) {
  return engine.mapPort({ proto: PROTO_UDP, insideAddr: host, insidePort: 4000, publicPort: 0, lifetimeMs: 60_000, owner: 'test', ...over });
}

test('a port mapping lets anyone in, even through a symmetric NAT, and the host leaves from it', () => {
  const { engine } = makeEngine(SYMMETRIC);
  const m = map(engine, { publicPort: 40000 });
  assert.ok(typeof m === 'object', String(m));
  assert.equal(m.publicPort, 40000, 'the wanted port was free');
  for (const remote of ['198.51.100.10:1111', '198.51.100.77:2222']) {
    const p = udpPkt(remote, '203.0.113.1:40000');
    assert.equal(engine.process(p, OUT), Verdict.ToInside, remote);
    assert.equal(describe(p), `${remote} > 10.0.0.5:4000`);
  }
  // A new destination: with address-and-port-dependent mapping it would get a new port; the port mapping holds it.
  const out = udpPkt('10.0.0.5:4000', '192.0.2.9:5000');
  assert.equal(engine.process(out, IN), Verdict.ToOutside);
  assert.equal(describe(out), '203.0.113.1:40000 > 192.0.2.9:5000');
  // Another port of the same host still maps per destination.
  const other = udpPkt('10.0.0.5:4001', '192.0.2.9:5000');
  engine.process(other, IN);
  assert.notEqual(describe(other).split(' ')[0], '203.0.113.1:40000');
});

test('renewing keeps the public port; deleting closes it to newcomers; lifetime ends it', () => {
  const { engine, clock } = makeEngine(SYMMETRIC);
  const m = map(engine);
  assert.ok(typeof m === 'object');
  clock.advance(30_000);
  const again = map(engine, { lifetimeMs: 60_000 });
  assert.ok(typeof again === 'object');
  assert.equal(again.id, m.id);
  assert.equal(again.publicPort, m.publicPort);
  assert.equal(again.expiresAt, 90_000);
  assert.ok(engine.unmapPort(m.id));
  assert.equal(engine.process(udpPkt('198.51.100.10:1', `203.0.113.1:${m.publicPort}`), OUT), Verdict.Drop);
  assert.equal(engine.pool(parseIpv4('203.0.113.1'), PROTO_UDP).inUse(m.publicPort), false, 'the port went back to the pool');

  const t = map(engine, { proto: PROTO_TCP, insidePort: 8080, publicPort: 8080, lifetimeMs: 10_000 });
  assert.ok(typeof t === 'object');
  assert.equal(engine.process(tcpPkt('198.51.100.10:5555', '203.0.113.1:8080', TCP_SYN), OUT), Verdict.ToInside);
  clock.advance(11_000);
  engine.tick();
  assert.equal(engine.listPortMappings().length, 0, 'expired');
  assert.equal(engine.process(tcpPkt('198.51.100.11:5555', '203.0.113.1:8080', TCP_SYN), OUT), Verdict.Drop, 'no newcomer after expiry');
});

test('refusals: a taken exact port, an outside address, a protocol without ports', () => {
  const { engine } = makeEngine({ forwards: [{ protocol: 'udp', port: 5000, to: '10.0.0.9' }] });
  assert.equal(map(engine, { publicPort: 5000, exactPort: true }), 'port-taken', 'a static forward owns it');
  const moved = map(engine, { publicPort: 5000 });
  assert.ok(typeof moved === 'object' && moved.publicPort !== 5000, 'a suggestion is moved elsewhere');
  assert.equal(map(engine, { insideAddr: parseIpv4('198.51.100.1') }), 'not-inside');
  assert.equal(map(engine, { proto: 1 }), 'bad-protocol');
  assert.equal(map(engine, { insidePort: 4000, publicPort: 7000, exactPort: true }), 'port-taken', 'the endpoint is mapped elsewhere already');
});

test('a port mapping takes over the endpoint-independent mapping the host already has', () => {
  const { engine } = makeEngine({ mapping: 'eim' });
  const out = udpPkt('10.0.0.5:4000', '198.51.100.10:53');
  engine.process(out, IN);
  const pub = Number(describe(out).split(' ')[0].split(':')[1]);
  const m = map(engine);
  assert.ok(typeof m === 'object');
  assert.equal(m.publicPort, pub);
  assert.ok(engine.unmapPort(m.id));
  // The flow still holds its mapping.
  const again = udpPkt('10.0.0.5:4000', '198.51.100.10:53');
  engine.process(again, IN);
  assert.equal(describe(again).split(' ')[0], `203.0.113.1:${pub}`);
});
