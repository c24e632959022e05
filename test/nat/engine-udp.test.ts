import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Side, Verdict } from '../../src/nat/engine.js';
import { fillIpv4HeaderChecksum } from '../../src/wire/ipv4.js';
import { assertChecksums, describe, makeEngine, udpPkt } from './packets.js';

const IN = Side.Inside;
const OUT = Side.Outside;

test('outbound UDP leaves from the public address; the reply comes back translated', () => {
  const { engine } = makeEngine();
  const p = udpPkt('10.0.0.2:5000', '198.51.100.10:3478');
  assert.equal(engine.process(p, IN), Verdict.ToOutside);
  assert.equal(describe(p), '203.0.113.1:5000 > 198.51.100.10:3478');
  assertChecksums(p);
  const r = udpPkt('198.51.100.10:3478', '203.0.113.1:5000');
  assert.equal(engine.process(r, OUT), Verdict.ToInside);
  assert.equal(describe(r), '198.51.100.10:3478 > 10.0.0.2:5000');
  assertChecksums(r);
});

test('a UDP checksum of 0 stays 0 through translation', () => {
  const { engine } = makeEngine();
  const p = udpPkt('10.0.0.2:5000', '198.51.100.10:53');
  p[26] = 0;
  p[27] = 0;
  engine.process(p, IN);
  assert.equal(p[26] | p[27], 0);
  assertChecksums(p);
});

test('mapping: endpoint-independent reuses the public port for every destination', () => {
  const { engine } = makeEngine({ mapping: 'eim', ports: { allocation: 'random' } });
  const a = udpPkt('10.0.0.2:5000', '198.51.100.10:3478');
  const b = udpPkt('10.0.0.2:5000', '198.51.100.11:3479');
  engine.process(a, IN);
  engine.process(b, IN);
  assert.equal(describe(a).split(' ')[0], describe(b).split(' ')[0]);
});

test('mapping: address-dependent shares a port across ports of one address, not across addresses', () => {
  const { engine } = makeEngine({ mapping: 'adm' });
  const pk = (to: string) => {
    const p = udpPkt('10.0.0.2:5000', to);
    engine.process(p, IN);
    return describe(p).split(' ')[0];
  };
  const a = pk('198.51.100.10:3478');
  const b = pk('198.51.100.10:3479');
  const c = pk('198.51.100.11:3478');
  assert.equal(a, b);
  assert.notEqual(a, c);
});

test('mapping: address-and-port-dependent gives each destination its own port', () => {
  const { engine } = makeEngine({ mapping: 'apdm' });
  const ports = new Set<string>();
  for (const to of ['198.51.100.10:3478', '198.51.100.10:3479', '198.51.100.11:3478']) {
    const p = udpPkt('10.0.0.2:5000', to);
    engine.process(p, IN);
    ports.add(describe(p).split(' ')[0]);
  }
  assert.equal(ports.size, 3);
});

function filteringCase(filtering: string) {
  const { engine } = makeEngine({ filtering });
  engine.process(udpPkt('10.0.0.2:5000', '198.51.100.10:3478'), IN);
  return {
    samePortOtherSource: engine.process(udpPkt('198.51.100.10:9999', '203.0.113.1:5000'), OUT),
    otherAddress: engine.process(udpPkt('198.51.100.99:3478', '203.0.113.1:5000'), OUT),
    engine,
  };
}

test('filtering: endpoint-independent admits anyone to a live mapping', () => {
  const r = filteringCase('eif');
  assert.equal(r.samePortOtherSource, Verdict.ToInside);
  assert.equal(r.otherAddress, Verdict.ToInside);
});

test('filtering: address-dependent admits any port of a contacted address only', () => {
  const r = filteringCase('adf');
  assert.equal(r.samePortOtherSource, Verdict.ToInside);
  assert.equal(r.otherAddress, Verdict.Drop);
  assert.equal(r.engine.counters.dropCount('filtered'), 1);
});

test('filtering: address-and-port-dependent admits only the contacted endpoint', () => {
  const r = filteringCase('apdf');
  assert.equal(r.samePortOtherSource, Verdict.Drop);
  assert.equal(r.otherAddress, Verdict.Drop);
  assert.equal(r.engine.counters.dropCount('filtered'), 2);
});

test('no port overloading: exhaustion drops and counts, never shares a live port', () => {
  const { engine } = makeEngine({ ports: { range: [5000, 5001], parity: false } });
  const seen = new Set<string>();
  for (let h = 2; h < 5; h++) {
    const p = udpPkt(`10.0.0.${h}:5000`, '198.51.100.10:3478');
    const v = engine.process(p, IN);
    if (v === Verdict.ToOutside) seen.add(describe(p).split(' ')[0]);
  }
  assert.equal(seen.size, 2);
  assert.equal(engine.counters.dropCount('portsExhausted'), 1);
});

test('paired pooling: an inside host keeps one public address for all its mappings', () => {
  const { engine } = makeEngine({ public: ['203.0.113.1', '203.0.113.2'], mapping: 'apdm' });
  const addrOf = (from: string, to: string) => {
    const p = udpPkt(from, to);
    engine.process(p, IN);
    return describe(p).split(':')[0];
  };
  const h2 = new Set([addrOf('10.0.0.2:1111', '198.51.100.1:1'), addrOf('10.0.0.2:2222', '198.51.100.2:2'), addrOf('10.0.0.2:3333', '198.51.100.3:3')]);
  const h3 = new Set([addrOf('10.0.0.3:1111', '198.51.100.1:1'), addrOf('10.0.0.3:4444', '198.51.100.9:9')]);
  assert.equal(h2.size, 1);
  assert.equal(h3.size, 1);
  assert.notDeepEqual([...h2], [...h3], 'the two hosts are spread over the two addresses');
});

test('hairpinning: an inside host reaches another through the public address and sees the public source', () => {
  const { engine } = makeEngine({ filtering: 'eif' });
  // B opens a mapping (e.g. registers with a rendezvous server).
  const b = udpPkt('10.0.0.3:6000', '198.51.100.10:3478');
  engine.process(b, IN);
  const bPublic = describe(b).split(' ')[0];
  // A sends to B's public endpoint.
  const a = udpPkt('10.0.0.2:5000', bPublic);
  assert.equal(engine.process(a, IN), Verdict.ToInside);
  assert.equal(describe(a), '203.0.113.1:5000 > 10.0.0.3:6000');
  assertChecksums(a);
  assert.equal(engine.counters.hairpinned, 1);
  // B answers A's public endpoint: back to A, from B's public endpoint.
  const back = udpPkt('10.0.0.3:6000', '203.0.113.1:5000');
  assert.equal(engine.process(back, IN), Verdict.ToInside);
  assert.equal(describe(back), `${bPublic} > 10.0.0.2:5000`);
});

test('hairpinning off: packets to our own public address are dropped and counted', () => {
  const { engine } = makeEngine({ hairpin: false });
  assert.equal(engine.process(udpPkt('10.0.0.2:5000', '203.0.113.1:6000'), IN), Verdict.Drop);
  assert.equal(engine.counters.dropCount('hairpinDisabled'), 1);
});

test('UDP timeout: 300 s by default, refreshed by outbound traffic only', () => {
  const { engine, clock } = makeEngine();
  engine.process(udpPkt('10.0.0.2:5000', '198.51.100.10:3478'), IN);
  clock.advance(200_000);
  // Inbound traffic does not refresh by default.
  assert.equal(engine.process(udpPkt('198.51.100.10:3478', '203.0.113.1:5000'), OUT), Verdict.ToInside);
  clock.advance(100_001);
  assert.equal(engine.process(udpPkt('198.51.100.10:3478', '203.0.113.1:5000'), OUT), Verdict.Drop);
  assert.equal(engine.flows.size, 0);
});

test('UDP timeout: inbound refresh when configured', () => {
  const { engine, clock } = makeEngine({ timeouts: { udpInboundRefresh: true } });
  engine.process(udpPkt('10.0.0.2:5000', '198.51.100.10:3478'), IN);
  for (let i = 0; i < 5; i++) {
    clock.advance(200_000);
    assert.equal(engine.process(udpPkt('198.51.100.10:3478', '203.0.113.1:5000'), OUT), Verdict.ToInside);
  }
});

test('UDP timeout below 120 s is refused by the configuration (RFC 4787 REQ-5)', () => {
  assert.throws(() => makeEngine({ timeouts: { udp: 60 } }), /udp: must be at least 120 s/);
});

test('inside-to-inside traffic is routed untranslated', () => {
  const { engine } = makeEngine({ inside: ['10.0.0.0/24', '10.0.1.0/24'] });
  const p = udpPkt('10.0.0.2:5000', '10.0.1.2:53');
  assert.equal(engine.process(p, IN), Verdict.ToInside);
  assert.equal(describe(p), '10.0.0.2:5000 > 10.0.1.2:53');
});

test('spoofed sources and foreign destinations are dropped by reason', () => {
  const { engine } = makeEngine();
  assert.equal(engine.process(udpPkt('192.168.9.9:5000', '198.51.100.10:53'), IN), Verdict.Drop);
  assert.equal(engine.process(udpPkt('198.51.100.10:53', '203.0.113.99:5000'), OUT), Verdict.Drop);
  assert.equal(engine.counters.dropCount('notInsideSource'), 1);
  assert.equal(engine.counters.dropCount('notPublicDestination'), 1);
});

test('a bad IPv4 header checksum is dropped and counted', () => {
  const { engine } = makeEngine();
  const p = udpPkt('10.0.0.2:5000', '198.51.100.10:3478');
  p[10] ^= 0xff;
  assert.equal(engine.process(p, IN), Verdict.Drop);
  assert.equal(engine.counters.dropCount('badChecksum'), 1);
});

test('IPv6 passes untranslated and is counted', () => {
  const { engine } = makeEngine();
  const p = new Uint8Array(48);
  p[0] = 0x60;
  p[5] = 8;
  p[6] = 17;
  assert.equal(engine.process(p, IN), Verdict.ToOutside);
  assert.equal(engine.counters.snapshot().passes.ipv6, 1);
});

test('fragments: the first carries the ports; later fragments follow its translation', () => {
  const { engine } = makeEngine();
  const fragment = (ipId: number, offsetUnits: number, more: boolean, payload: number) => {
    const p = udpPkt('10.0.0.2:5000', '198.51.100.10:3478', new Uint8Array(payload));
    p[4] = ipId >> 8;
    p[5] = ipId & 0xff;
    p[6] = (more ? 0x20 : 0) | (offsetUnits >> 8);
    p[7] = offsetUnits & 0xff;
    fillIpv4HeaderChecksum(p, 0);
    return p;
  };
  assert.equal(engine.process(fragment(0x1234, 0, true, 16), IN), Verdict.ToOutside);
  // A later fragment: no UDP header of its own (its bytes are just data here).
  const second = fragment(0x1234, 3, false, 0);
  assert.equal(engine.process(second, IN), Verdict.ToOutside);
  assert.equal(describe(second).split(':')[0], '203.0.113.1');
  assertChecksums(second);
  // A later fragment arriving before its first one is held, then released with it (RFC 4787 REQ-14).
  const early = fragment(0x5555, 3, false, 0);
  assert.equal(engine.process(early, IN), Verdict.Drop);
  assert.equal(engine.counters.fragmentsHeld, 1);
  assert.equal(engine.drainEmitted().length, 0);
  assert.equal(engine.process(fragment(0x5555, 0, true, 16), IN), Verdict.ToOutside);
  const released = engine.drainEmitted();
  assert.equal(released.length, 1);
  assert.equal(released[0].side, Side.Outside);
  assert.equal(describe(released[0].packet).split(':')[0], '203.0.113.1');
  assertChecksums(released[0].packet);
});

test('fragments whose first fragment never comes are given up after the fragment timeout', () => {
  const { engine, clock } = makeEngine({ timeouts: { fragment: 5 } });
  const p = udpPkt('10.0.0.2:5000', '198.51.100.10:3478', new Uint8Array(8));
  p[7] = 3;
  fillIpv4HeaderChecksum(p, 0);
  engine.process(p, IN);
  clock.advance(5_001);
  engine.tick();
  assert.equal(engine.counters.dropCount('fragmentOrphan'), 1);
});
