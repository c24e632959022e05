import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Simulator } from '../../../src/dataplane/sim/index.js';
import { oneNat } from './topology.js';

const text = (s: string) => new TextEncoder().encode(s);

test('virtual time: a 10-minute wait costs no real time and runs are repeatable', async () => {
  const run = async (seed: number) => {
    const sim = new Simulator({ seed });
    const lan = sim.segment('lan', { delayMs: 5, jitterMs: 20, loss: 0.3 });
    const a = sim.host('a', lan, '10.0.0.1/24');
    const b = sim.host('b', lan, '10.0.0.2/24');
    const got: number[] = [];
    b.bindUdp({ port: 9 }).onMessage((d) => got.push(d[0]));
    const s = a.bindUdp({});
    for (let i = 0; i < 50; i++) s.send(Uint8Array.of(i), { address: '10.0.0.2', port: 9 });
    await sim.run(600_000);
    return got;
  };
  const t0 = Date.now();
  const first = await run(7);
  assert.deepEqual(await run(7), first, 'same seed, same losses and order');
  assert.notDeepEqual(await run(8), first);
  assert.ok(first.length > 20 && first.length < 50, `loss applied: ${first.length} of 50 arrived`);
  assert.ok(Date.now() - t0 < 5000);
});

test('UDP through the NAT: the server sees the public address; the reply comes back', async () => {
  const t = oneNat();
  const srv = t.server.bindUdp({ port: 3478 });
  let seenFrom = '';
  srv.onMessage((d, from) => {
    seenFrom = `${from.address}:${from.port}`;
    srv.send(d, from);
  });
  const a = t.alice.bindUdp({ port: 5000 });
  let echoed = '';
  a.onMessage((d) => (echoed = new TextDecoder().decode(d)));
  a.send(text('hello'), { address: '198.51.100.10', port: 3478 });
  await t.sim.run(100);
  assert.equal(seenFrom, '203.0.113.1:5000');
  assert.equal(echoed, 'hello');
});

test('TCP through the NAT: handshake, data both ways, clean close', async () => {
  const t = oneNat();
  t.server.tcp.listen(80, (c) => c.onData((d) => c.send(d)).onEnd(() => c.close()));
  const c = t.alice.tcp.connect({ address: '198.51.100.10', port: 80 });
  let reply = '';
  let closed: string | undefined = 'not yet';
  c.onOpen(() => c.send('x'.repeat(5000)));
  c.onData((d) => {
    reply += new TextDecoder().decode(d);
    if (reply.length === 5000) c.close();
  });
  c.onClose((e) => (closed = e));
  await t.sim.run(10_000);
  assert.equal(reply.length, 5000);
  assert.equal(closed, undefined);
});

test('TCP retransmits across a lossy link', async () => {
  const sim = new Simulator({ seed: 3 });
  const lan = sim.segment('lan', { delayMs: 5, loss: 0.2 });
  const a = sim.host('a', lan, '10.0.0.1/24');
  const b = sim.host('b', lan, '10.0.0.2/24');
  let got = 0;
  b.tcp.listen(7, (c) => c.onData((d) => (got += d.length)));
  const c = a.tcp.connect({ address: '10.0.0.2', port: 7 });
  c.onOpen(() => c.send(new Uint8Array(20_000)));
  await sim.run(120_000);
  assert.equal(got, 20_000);
});

test('TCP to a closed port is reset', async () => {
  const t = oneNat();
  const c = t.alice.tcp.connect({ address: '198.51.100.10', port: 81 });
  let err: string | undefined;
  c.onClose((e) => (err = e));
  await t.sim.run(1000);
  assert.equal(err, 'reset');
});

test('ping through the NAT and to the NAT box itself', async () => {
  const t = oneNat();
  assert.equal(await t.sim.complete(t.alice.ping('198.51.100.10'), 5000), 22);
  assert.equal(await t.sim.complete(t.alice.ping('192.168.1.1'), 5000), 2);
});

test('TTL: a packet with TTL 1 dies at the NAT box with Time Exceeded to the sender', async () => {
  const t = oneNat();
  const { buildUdpPacket } = await import('../../../src/wire/udp.js');
  const { parseIpv4 } = await import('../../../src/wire/address.js');
  t.alice.send(buildUdpPacket({ src: parseIpv4('192.168.1.2'), dst: parseIpv4('198.51.100.10'), srcPort: 33434, dstPort: 33434, payload: new Uint8Array(8) }, 1));
  await t.sim.run(100);
  assert.equal(t.alice.icmpErrors.length, 1);
  assert.equal(t.alice.icmpErrors[0].type, 11);
  assert.equal(t.alice.icmpErrors[0].from, '192.168.1.1');
});

test('a closed UDP port answers port unreachable, translated back through the NAT', async () => {
  const t = oneNat();
  t.alice.bindUdp({ port: 5000 }).send(text('anyone?'), { address: '198.51.100.10', port: 9999 });
  await t.sim.run(100);
  assert.equal(t.alice.icmpErrors.length, 1);
  assert.equal(t.alice.icmpErrors[0].type, 3);
  assert.equal(t.alice.icmpErrors[0].code, 3);
});

test('two hosts on one LAN talk directly, not through the NAT', async () => {
  const t = oneNat();
  const b = t.bob.bindUdp({ port: 6000 });
  let from = '';
  b.onMessage((_d, f) => (from = `${f.address}:${f.port}`));
  t.alice.bindUdp({ port: 5000 }).send(text('hi'), { address: '192.168.1.3', port: 6000 });
  await t.sim.run(100);
  assert.equal(from, '192.168.1.2:5000');
  assert.equal(t.nat.engine.counters.packetsOut, 0);
});

test('nested NATs: a home NAT behind a carrier NAT', async () => {
  const sim = new Simulator({ seed: 1 });
  const internet = sim.segment('internet', { delayMs: 10 });
  const carrier = sim.segment('carrier', { delayMs: 2 });
  const home = sim.segment('home', { delayMs: 1 });
  sim.nat('cgnat', { inside: [carrier, '100.64.0.1/10'], outside: [internet, '203.0.113.9/24'] });
  sim.nat('homenat', { inside: [home, '192.168.1.1/24'], outside: [carrier, '100.64.0.2/10'], gateway: '100.64.0.1' });
  const pc = sim.host('pc', home, '192.168.1.2/24', '192.168.1.1');
  const server = sim.host('server', internet, '198.51.100.10/16');
  const srv = server.bindUdp({ port: 3478 });
  let from = '';
  srv.onMessage((d, f) => {
    from = `${f.address}`;
    srv.send(d, f);
  });
  const s = pc.bindUdp({ port: 4000 });
  let back = false;
  s.onMessage(() => (back = true));
  s.send(text('x'), { address: '198.51.100.10', port: 3478 });
  await sim.run(200);
  assert.equal(from, '203.0.113.9');
  assert.ok(back);
});

test('oversized DF packets from inside get "fragmentation needed"; others are fragmented', async () => {
  const sim = new Simulator({ seed: 1 });
  const internet = sim.segment('internet', { delayMs: 10, mtu: 576 });
  const lan = sim.segment('lan');
  sim.nat('nat', { inside: [lan, '192.168.1.1/24'], outside: [internet, '203.0.113.1/24'] });
  const pc = sim.host('pc', lan, '192.168.1.2/24', '192.168.1.1');
  const server = sim.host('server', internet, '198.51.100.10/16');
  let got = 0;
  server.bindUdp({ port: 9 }).onMessage((d) => (got = d.length));
  const { buildUdpPacket } = await import('../../../src/wire/udp.js');
  const { parseIpv4 } = await import('../../../src/wire/address.js');
  const { fillIpv4HeaderChecksum } = await import('../../../src/wire/ipv4.js');
  const big = buildUdpPacket({ src: parseIpv4('192.168.1.2'), dst: parseIpv4('198.51.100.10'), srcPort: 5000, dstPort: 9, payload: new Uint8Array(1000) });
  const df = big.slice();
  df[6] |= 0x40;
  fillIpv4HeaderChecksum(df, 0);
  pc.send(df);
  await sim.run(100);
  assert.equal(pc.icmpErrors.length, 1);
  assert.equal(pc.icmpErrors[0].code, 4);
  assert.equal(got, 0);
  // Without DF the NAT fragments it, and the server reassembles the datagram.
  let frags = 0;
  sim.onPacket((seg, p) => {
    if (seg.name === 'internet' && ((p[6] & 0x20) !== 0 || (((p[6] & 0x1f) << 8) | p[7]) !== 0)) frags++;
  });
  pc.send(big);
  await sim.run(100);
  assert.ok(frags >= 2, `fragments on the internet link: ${frags}`);
  assert.equal(got, 1000);
});
