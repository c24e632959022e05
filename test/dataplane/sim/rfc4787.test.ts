/**
 * RFC 4787 (NAT behavioural requirements for unicast UDP), requirement by
 * requirement, observed black-box through a sim network: inside hosts, the masq
 * engine in a NAT box, servers outside. REQ-7 (dynamic external address
 * conflicting with the inside network) is not claimed: masq's addresses are
 * configured, and the config refuses a public address inside an inside prefix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Simulator } from '../../../src/dataplane/sim/index.js';
import { fragmentIpv4 } from '../../../src/wire/fragment.js';
import { buildUdpPacket } from '../../../src/wire/udp.js';
import { buildIcmpError, ICMP_DEST_UNREACHABLE, UNREACH_HOST } from '../../../src/wire/icmp.js';
import { fillIpv4HeaderChecksum } from '../../../src/wire/ipv4.js';
import { parseIpv4 } from '../../../src/wire/address.js';
import { resolveNatConfig } from '../../../src/nat/config.js';
import { oneNat } from './topology.js';
import { Observer, text } from './observe.js';

test('RFC 4787 REQ-1: endpoint-independent mapping (the default)', async () => {
  const t = oneNat();
  const s1 = new Observer(t.server, 3478);
  const s2 = new Observer(t.server, 3479);
  const s3 = new Observer(t.server2, 3478);
  const a = new Observer(t.alice, 5000, false);
  a.sendTo('198.51.100.10:3478');
  a.sendTo('198.51.100.10:3479');
  a.sendTo('198.51.100.11:3478');
  await t.sim.run(100);
  assert.equal(new Set([s1.last, s2.last, s3.last]).size, 1, 'every remote sees the same public endpoint');
  assert.equal(s1.last, '203.0.113.1:5000');
});

test('RFC 4787 REQ-2: paired address pooling, also across protocols (RFC 7857 2.5)', async () => {
  const t = oneNat({ public: ['203.0.113.1', '203.0.113.2'], mapping: 'apdm' });
  const obs = [new Observer(t.server, 1000), new Observer(t.server, 1001), new Observer(t.server2, 1000)];
  for (const [host, base] of [[t.alice, 5000], [t.bob, 6000]] as const) {
    for (let i = 0; i < 3; i++) new Observer(host, base + i, false).sendTo(['198.51.100.10:1000', '198.51.100.10:1001', '198.51.100.11:1000'][i]);
  }
  let tcpFrom = '';
  t.server.tcp.listen(80, (c) => (tcpFrom = c.remote.address));
  t.alice.tcp.connect({ address: '198.51.100.10', port: 80 });
  await t.sim.run(200);
  // Each host's three mappings (to three destinations) use one public address.
  const byHost = new Map<string, Set<string>>();
  for (const o of obs) {
    for (const s of o.seen) {
      const port = Number(s.from.split(':')[1]);
      const host = t.nat.engine.listFlows().find((f) => f.public[1] === port && f.inside[0] !== 0);
      const inside = host ? host.inside[0] : -1;
      if (!byHost.has(String(inside))) byHost.set(String(inside), new Set());
      byHost.get(String(inside))!.add(s.from.split(':')[0]);
    }
  }
  assert.equal(byHost.size, 2);
  for (const addrs of byHost.values()) assert.equal(addrs.size, 1);
  const aliceUdp = [...byHost.entries()].find(([k]) => Number(k) === parseIpv4('192.168.1.2'))![1];
  assert.ok(aliceUdp.has(tcpFrom), `alice's TCP leaves from her UDP address (${tcpFrom})`);
});

test('RFC 4787 REQ-3: no port overloading; at exhaustion new flows fail (with ICMP, RFC 5508 REQ-8)', async () => {
  const t = oneNat({ ports: { range: [5000, 5001], parity: false } });
  const s = new Observer(t.server, 3478);
  const hosts = [t.alice, t.bob, t.sim.host('carol', t.alice.interfaces[0].segment, '192.168.1.4/24', '192.168.1.1')];
  for (const h of hosts) new Observer(h, 7000, false).sendTo('198.51.100.10:3478');
  await t.sim.run(100);
  assert.equal(new Set(s.sources).size, 2, 'two hosts got two distinct public ports');
  assert.equal(s.seen.length, 2, 'the third host was refused, not given a live port');
  const refused = hosts.find((h) => h.icmpErrors.length > 0)!;
  assert.equal(refused.icmpErrors[0].code, 13, 'told: administratively prohibited');
});

test('RFC 4787 REQ-3a: source ports below 1024 map below 1024, others above', async () => {
  const t = oneNat({ ports: { allocation: 'random' } });
  const s = new Observer(t.server, 53);
  new Observer(t.alice, 123, false).sendTo('198.51.100.10:53');
  await t.sim.run(100);
  new Observer(t.alice, 40000, false).sendTo('198.51.100.10:53');
  await t.sim.run(100);
  const [low, high] = s.sources.map((x) => Number(x.split(':')[1]));
  assert.ok(low >= 1 && low <= 1023, `low: ${low}`);
  assert.ok(high >= 1024, `high: ${high}`);
});

test('RFC 4787 REQ-4: port parity is preserved even when the port must change', async () => {
  const t = oneNat();
  const s = new Observer(t.server, 9);
  for (const h of [t.alice, t.bob]) {
    new Observer(h, 6000, false).sendTo('198.51.100.10:9');
    new Observer(h, 6001, false).sendTo('198.51.100.10:9');
  }
  await t.sim.run(100);
  const ports = s.sources.map((x) => Number(x.split(':')[1]));
  assert.equal(new Set(ports).size, 4);
  assert.deepEqual(ports.map((p) => p % 2), [0, 1, 0, 1]);
});

test('RFC 4787 REQ-5: the UDP mapping lives at least 2 minutes idle; 5 minutes by default (5c); configurable (5b)', async () => {
  const t = oneNat();
  const a = new Observer(t.alice, 5000, false);
  const s = new Observer(t.server, 3478, false);
  a.sendTo('198.51.100.10:3478');
  await t.sim.run(299_000);
  s.sendTo('203.0.113.1:5000', 'at 299 s');
  await t.sim.run(2_000);
  assert.equal(a.seen.length, 1, 'delivered after 299 s idle');
  await t.sim.run(301_000);
  s.sendTo('203.0.113.1:5000', 'at 602 s');
  await t.sim.run(1000);
  assert.equal(a.seen.length, 1, 'gone after 300 s');
  assert.throws(() => resolveNatConfig({ inside: ['10.0.0.0/8'], public: ['192.0.2.1'], timeouts: { udp: 119 } }), /at least 120 s/);
  assert.equal(resolveNatConfig({ inside: ['10.0.0.0/8'], public: ['192.0.2.1'], timeouts: { udp: 600 } }).udpMs, 600_000);
});

test('RFC 4787 REQ-6: outbound traffic refreshes the mapping; inbound refresh is configurable (6a)', async () => {
  for (const inboundRefresh of [false, true]) {
    const t = oneNat({ timeouts: { udpInboundRefresh: inboundRefresh } });
    const a = new Observer(t.alice, 5000, false);
    const s = new Observer(t.server, 3478, false);
    a.sendTo('198.51.100.10:3478');
    // Outbound every 200 s for 1000 s: still the same mapping.
    for (let i = 0; i < 5; i++) {
      await t.sim.run(200_000);
      a.sendTo('198.51.100.10:3478');
    }
    assert.equal(new Set(s.sources).size, 1);
    // Then inbound only, every 200 s: alive after 600 s only with inbound refresh.
    for (let i = 0; i < 3; i++) {
      await t.sim.run(200_000);
      s.sendTo(s.last!, 'in');
    }
    await t.sim.run(100);
    assert.equal(a.seen.length, inboundRefresh ? 3 : 1, `inbound refresh ${inboundRefresh}`);
  }
});

test('RFC 4787 REQ-8: endpoint-independent and address-dependent filtering are available (and address-and-port)', async () => {
  const expected = { eif: [true, true], adf: [true, false], apdf: [false, false] } as const;
  for (const [filtering, [otherPort, otherAddr]] of Object.entries(expected)) {
    const t = oneNat({ filtering });
    const a = new Observer(t.alice, 5000, false);
    new Observer(t.server, 3478);
    a.sendTo('198.51.100.10:3478');
    await t.sim.run(100);
    new Observer(t.server, 3479, false).sendTo('203.0.113.1:5000', 'other port');
    new Observer(t.server2, 3478, false).sendTo('203.0.113.1:5000', 'other address');
    await t.sim.run(100);
    const got = a.seen.map((s) => s.data);
    assert.equal(got.includes('other port'), otherPort, `${filtering}: same address, other port`);
    assert.equal(got.includes('other address'), otherAddr, `${filtering}: other address`);
  }
});

test('RFC 4787 REQ-9, REQ-9a: hairpinning, with the external source address and port', async () => {
  const t = oneNat({ filtering: 'adf' });
  const s = new Observer(t.server, 3478, false);
  const a = new Observer(t.alice, 5000, false);
  const b = new Observer(t.bob, 6000, false);
  a.sendTo('198.51.100.10:3478');
  b.sendTo('198.51.100.10:3478');
  await t.sim.run(100);
  const [aPub, bPub] = s.sources;
  // Address-dependent filtering: each must first send toward the other's public address.
  b.sendTo(aPub, 'opening');
  a.sendTo(bPub, 'hello via the public address');
  await t.sim.run(100);
  assert.deepEqual(b.seen.map((x) => x.from), [aPub], 'B sees A by its public endpoint, not 192.168.1.2');
  assert.equal(b.seen[0].data, 'hello via the public address');
});

test('RFC 4787 REQ-10: no UDP ALG unless configured: payloads carrying addresses pass unchanged', async () => {
  const t = oneNat();
  const s = new Observer(t.server, 5060, false);
  const invite = 'INVITE sip:bob@198.51.100.10 SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.2:5060\r\nContact: <sip:alice@192.168.1.2:5060>\r\nContent-Length: 0\r\n\r\n';
  new Observer(t.alice, 5060, false).sendTo('198.51.100.10:5060', invite);
  await t.sim.run(100);
  assert.equal(s.seen[0].data, invite);
});

test('RFC 4787 REQ-11: deterministic: a host whose port was taken still gets endpoint-independent mapping', async () => {
  const t = oneNat({ ports: { range: [5000, 5003], parity: false } });
  const servers = [new Observer(t.server, 1), new Observer(t.server, 2), new Observer(t.server2, 1)];
  // Alice takes 5000; Bob, also from 5000, is moved to another port, near exhaustion.
  new Observer(t.alice, 5000, false).sendTo('198.51.100.10:1');
  await t.sim.run(50);
  const b = new Observer(t.bob, 5000, false);
  for (const to of ['198.51.100.10:1', '198.51.100.10:2', '198.51.100.11:1']) b.sendTo(to);
  await t.sim.run(100);
  const bobSeen = servers.flatMap((o) => o.sources).filter((x) => x !== '203.0.113.1:5000');
  assert.equal(bobSeen.length, 3);
  assert.equal(new Set(bobSeen).size, 1, 'Bob keeps one public port for every destination');
});

test('RFC 4787 REQ-12, 12a, 12b: ICMP errors are translated, not filtered by source, and never end the mapping', async () => {
  const t = oneNat();
  const a = new Observer(t.alice, 5000, false);
  const s = new Observer(t.server, 3478, false);
  a.sendTo('198.51.100.10:3478');
  await t.sim.run(100);
  // A router on the path (here server2) reports host unreachable about alice's packet as it left the NAT.
  const quoted = buildUdpPacket({ src: parseIpv4('203.0.113.1'), dst: parseIpv4('198.51.100.10'), srcPort: 5000, dstPort: 3478, payload: text('x') });
  t.server2.send(buildIcmpError(parseIpv4('198.51.100.11'), ICMP_DEST_UNREACHABLE, UNREACH_HOST, quoted, 8));
  await t.sim.run(100);
  assert.equal(t.alice.icmpErrors.length, 1, '12a/12b: delivered although it came from a third address');
  assert.equal(t.alice.icmpErrors[0].from, '198.51.100.11');
  s.sendTo('203.0.113.1:5000', 'still here');
  await t.sim.run(100);
  assert.deepEqual(a.seen.map((x) => x.data), ['still here'], '12: the mapping survived');
});

test('RFC 4787 REQ-13, 13a: DF packets too big get "fragmentation needed"; others are fragmented', async () => {
  const sim = new Simulator({ seed: 1 });
  const internet = sim.segment('internet', { delayMs: 5, mtu: 576 });
  const lan = sim.segment('lan');
  sim.nat('nat', { inside: [lan, '192.168.1.1/24'], outside: [internet, '203.0.113.1/24'] });
  const pc = sim.host('pc', lan, '192.168.1.2/24', '192.168.1.1');
  const server = sim.host('server', internet, '198.51.100.10/16');
  const got: number[] = [];
  server.bindUdp({ port: 9 }).onMessage((d) => got.push(d.length));
  const big = () => buildUdpPacket({ src: parseIpv4('192.168.1.2'), dst: parseIpv4('198.51.100.10'), srcPort: 5000, dstPort: 9, payload: new Uint8Array(1200) });
  const df = big();
  df[6] |= 0x40;
  fillIpv4HeaderChecksum(df, 0);
  pc.send(df);
  await sim.run(100);
  assert.equal(pc.icmpErrors[0]?.type, 3);
  assert.equal(pc.icmpErrors[0]?.code, 4);
  pc.send(big());
  await sim.run(100);
  assert.deepEqual(got, [1200], 'fragmented by the NAT, reassembled by the server');
});

test('RFC 4787 REQ-14, 14a: fragments out of order are delivered; orphan floods do not block other traffic', async () => {
  const t = oneNat();
  const a = new Observer(t.alice, 5000, false);
  new Observer(t.server, 3478, false);
  a.sendTo('198.51.100.10:3478');
  await t.sim.run(100);
  // The server sends a 3000-byte datagram to alice's public endpoint, last fragment first.
  const dgram = buildUdpPacket({ src: parseIpv4('198.51.100.10'), dst: parseIpv4('203.0.113.1'), srcPort: 3478, dstPort: 5000, payload: new Uint8Array(3000).fill(7) });
  dgram[4] = 0x42;
  fillIpv4HeaderChecksum(dgram, 0);
  for (const f of fragmentIpv4(dgram, 1000).reverse()) t.server.send(f);
  await t.sim.run(100);
  assert.equal(a.seen.length, 1);
  assert.equal(a.seen[0].data.length, 3000);
  // 14a: a flood of fragments whose first fragment never comes...
  for (let i = 0; i < 5000; i++) {
    const orphan = fragmentIpv4(buildUdpPacket({ src: parseIpv4('198.51.100.11'), dst: parseIpv4('203.0.113.1'), srcPort: 1, dstPort: 5000, payload: new Uint8Array(1200) }), 600)[1];
    orphan[4] = i >> 8;
    orphan[5] = i & 0xff;
    fillIpv4HeaderChecksum(orphan, 0);
    t.server2.send(orphan);
  }
  await t.sim.run(100);
  // ...and ordinary traffic still flows.
  const echo = new Observer(t.server, 4000);
  const b = new Observer(t.bob, 6000, false);
  b.sendTo('198.51.100.10:4000', 'ping');
  await t.sim.run(100);
  assert.equal(echo.seen.length, 1);
  assert.deepEqual(b.seen.map((x) => x.data), ['ping']);
  assert.ok(t.nat.engine.counters.fragmentsHeld > 0);
  assert.ok(t.nat.engine.counters.dropCount('fragmentOrphan') > 0, 'excess orphans refused, not buffered without bound');
});
