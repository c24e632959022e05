/**
 * RFC 5382 (NAT behavioural requirements for TCP), with the TCP updates of
 * RFC 7857, observed black-box through a sim network running the masq engine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SimTcpConnection } from '../../../src/dataplane/sim/index.js';
import { buildIcmpError, ICMP_DEST_UNREACHABLE, UNREACH_HOST } from '../../../src/wire/icmp.js';
import { buildTcpPacket, TCP_SYN } from '../../../src/wire/tcp.js';
import { parseIpv4 } from '../../../src/wire/address.js';
import { oneNat } from './topology.js';
import { text } from './observe.js';

const decode = (d: Uint8Array) => new TextDecoder().decode(d);

test('RFC 5382 REQ-1: endpoint-independent mapping for TCP', async () => {
  const t = oneNat();
  const seen: string[] = [];
  t.server.tcp.listen(80, (c) => seen.push(`${c.remote.address}:${c.remote.port}`));
  t.server2.tcp.listen(80, (c) => seen.push(`${c.remote.address}:${c.remote.port}`));
  t.alice.tcp.connect({ address: '198.51.100.10', port: 80 }, { localPort: 40000 });
  t.alice.tcp.connect({ address: '198.51.100.11', port: 80 }, { localPort: 40000 });
  await t.sim.run(500);
  assert.deepEqual(seen, ['203.0.113.1:40000', '203.0.113.1:40000']);
});

test('RFC 5382 REQ-2: every valid sequence both ways: handshake, data, half-close, RST; inbound via a forward', async () => {
  const t = oneNat({ forwards: [{ protocol: 'tcp', port: 8080, to: '192.168.1.2', toPort: 80 }] });
  // Half-close: the client finishes sending; the server keeps talking, then closes.
  let clientGot = '';
  t.server.tcp.listen(80, (c) =>
    c.onEnd(() => {
      c.send('still talking after your FIN');
      c.close();
    }),
  );
  const c = t.alice.tcp.connect({ address: '198.51.100.10', port: 80 });
  c.onOpen(() => {
    c.send('request');
    c.close();
  });
  c.onData((d) => (clientGot += decode(d)));
  await t.sim.run(2000);
  assert.equal(clientGot, 'still talking after your FIN');
  // RST from outside reaches the inside host (translated).
  let resetSeen: string | undefined;
  t.server.tcp.listen(81, (s) => s.abort());
  t.alice.tcp.connect({ address: '198.51.100.10', port: 81 }).onClose((e) => (resetSeen = e));
  await t.sim.run(2000);
  assert.equal(resetSeen, 'reset');
  // Externally initiated: a client outside reaches alice's server through the forward.
  let served = '';
  t.alice.tcp.listen(80, (s) => s.onData((d) => (served += decode(d))));
  const ext = t.server2.tcp.connect({ address: '203.0.113.1', port: 8080 });
  ext.onOpen(() => ext.send('hello from outside'));
  await t.sim.run(2000);
  assert.equal(served, 'hello from outside');
});

test('RFC 5382 REQ-2a: simultaneous open through the NAT', async () => {
  const t = oneNat({ filtering: 'apdf' });
  // Crossing SYNs: alice and the server connect to each other at the same moment.
  const a = t.alice.tcp.connect({ address: '198.51.100.10', port: 5555 }, { localPort: 40000 });
  const s = t.server.tcp.connect({ address: '203.0.113.1', port: 40000 }, { localPort: 5555 });
  let got = '';
  a.onOpen(() => a.send('through a simultaneous open'));
  s.onData((d) => (got += decode(d)));
  await t.sim.run(20_000);
  assert.equal(a.state, 'ESTABLISHED');
  assert.equal(s.state, 'ESTABLISHED');
  assert.equal(got, 'through a simultaneous open');
});

test('RFC 5382 REQ-3: endpoint-independent or address-dependent filtering for TCP, configurable (3a), per protocol (RFC 7857 2.7)', async () => {
  for (const [filtering, expectOpen] of [['eif', true], ['adf', false], ['apdf', false]] as const) {
    const t = oneNat({ filtering });
    t.server.tcp.listen(80, () => {});
    t.alice.tcp.listen(40000, () => {});
    t.alice.tcp.connect({ address: '198.51.100.10', port: 80 }, { localPort: 40000 });
    await t.sim.run(500);
    const inbound = t.server2.tcp.connect({ address: '203.0.113.1', port: 40000 });
    await t.sim.run(3000);
    assert.equal(inbound.state === 'ESTABLISHED', expectOpen, `${filtering}: a new remote reaches the mapped port`);
    // A TCP mapping opens nothing for UDP (RFC 7857 2.7).
    let udpArrived = false;
    t.alice.bindUdp({ port: 40000 }).onMessage(() => (udpArrived = true));
    t.server2.bindUdp({ port: 9 }).send(text('udp?'), { address: '203.0.113.1', port: 40000 });
    await t.sim.run(100);
    assert.equal(udpArrived, false, `${filtering}: UDP does not ride on a TCP mapping`);
  }
});

test('RFC 5382 REQ-4: no answer to an unsolicited SYN for 6 s; then port unreachable', async () => {
  const t = oneNat();
  const syn = buildTcpPacket({ src: parseIpv4('198.51.100.10'), dst: parseIpv4('203.0.113.1'), srcPort: 5555, dstPort: 40000, seq: 1, ack: 0, flags: TCP_SYN, window: 65535, payload: new Uint8Array(0) });
  t.server.send(syn);
  await t.sim.run(5_990);
  assert.equal(t.server.icmpErrors.length, 0, 'silent for at least 6 s');
  assert.equal(t.server.tcp.resetsSent + t.alice.tcp.resetsSent, 0, 'and no RST either');
  await t.sim.run(3_000);
  assert.equal(t.server.icmpErrors.length, 1);
  assert.ok(t.server.icmpErrors[0].time >= 6_000);
  assert.deepEqual([t.server.icmpErrors[0].type, t.server.icmpErrors[0].code], [3, 3]);
});

test('RFC 5382 REQ-4 (simultaneous open) and REQ-4a: the held SYN is dropped silently; "drop" policy never answers', async () => {
  const t = oneNat();
  t.server.send(buildTcpPacket({ src: parseIpv4('198.51.100.10'), dst: parseIpv4('203.0.113.1'), srcPort: 5555, dstPort: 40000, seq: 1, ack: 0, flags: TCP_SYN, window: 65535, payload: new Uint8Array(0) }));
  await t.sim.run(1000);
  t.alice.tcp.connect({ address: '198.51.100.10', port: 5555 }, { localPort: 40000 });
  await t.sim.run(10_000);
  assert.equal(t.server.icmpErrors.length, 0);
  const d = oneNat({ unsolicitedSyn: 'drop' });
  d.server.tcp.connect({ address: '203.0.113.1', port: 40001 });
  await d.sim.run(60_000);
  assert.equal(d.server.icmpErrors.length, 0);
});

test('RFC 5382 REQ-5: established idle-timeout at least 2 h 4 min; transitory at least 4 min (configurable, 5a)', async () => {
  const t = oneNat();
  let conn: SimTcpConnection | undefined;
  let got = '';
  t.server.tcp.listen(80, (c) => (conn = c));
  const c = t.alice.tcp.connect({ address: '198.51.100.10', port: 80 });
  c.onData((d) => (got += decode(d)));
  await t.sim.run(1000);
  await t.sim.run(7_439_000);
  conn!.send('after 7439 s idle');
  await t.sim.run(1000);
  assert.equal(got, 'after 7439 s idle');
  // Transitory: a half-open connection (a SYN out, nothing back) keeps its mapping 4 min.
  for (const [wait, delivered] of [[239_000, true], [241_000, false]] as const) {
    const h = oneNat();
    const synOut = buildTcpPacket({ src: parseIpv4('192.168.1.2'), dst: parseIpv4('198.51.100.10'), srcPort: 41000, dstPort: 9, seq: 1, ack: 0, flags: TCP_SYN, window: 65535, payload: new Uint8Array(0) });
    h.alice.send(synOut); // raw: alice's own TCP knows nothing of it, and answers the SYN+ACK with RST
    await h.sim.run(wait);
    h.server.send(buildTcpPacket({ src: parseIpv4('198.51.100.10'), dst: parseIpv4('203.0.113.1'), srcPort: 9, dstPort: 41000, seq: 7, ack: 2, flags: TCP_SYN | 0x10, window: 65535, payload: new Uint8Array(0) }));
    await h.sim.run(100);
    assert.equal(h.alice.tcp.resetsSent === 1, delivered, `SYN+ACK after ${wait / 1000} s ${delivered ? 'delivered' : 'dropped'}`);
  }
});

test('RFC 5382 REQ-6, REQ-7: no TCP ALG by default; no port overloading for TCP', async () => {
  const t = oneNat({ ports: { range: [40000, 40001], parity: false } });
  const seen: string[] = [];
  let payload = '';
  t.server.tcp.listen(21, (c) => {
    seen.push(`${c.remote.address}:${c.remote.port}`);
    c.onData((d) => (payload += decode(d)));
  });
  const carol = t.sim.host('carol', t.alice.interfaces[0].segment, '192.168.1.4/24', '192.168.1.1');
  for (const h of [t.alice, t.bob, carol]) {
    const c = h.tcp.connect({ address: '198.51.100.10', port: 21 }, { localPort: 50000 });
    c.onOpen(() => c.send('PORT 192,168,1,2,195,80\r\n'));
  }
  await t.sim.run(3000);
  assert.equal(new Set(seen).size, 2, 'two connections, two public ports');
  assert.equal(seen.length, 2, 'the third was refused, not overloaded');
  assert.equal(payload, 'PORT 192,168,1,2,195,80\r\n'.repeat(2), 'payload untouched');
});

test('RFC 5382 REQ-8: hairpinning for TCP, with the external source', async () => {
  const t = oneNat({ filtering: 'eif' });
  let bobSaw = '';
  t.server.tcp.listen(80, () => {});
  t.bob.tcp.listen(6000, (c) => (bobSaw = `${c.remote.address}:${c.remote.port}`));
  t.bob.tcp.connect({ address: '198.51.100.10', port: 80 }, { localPort: 6000 });
  await t.sim.run(500);
  const a = t.alice.tcp.connect({ address: '203.0.113.1', port: 6000 }, { localPort: 5000 });
  await t.sim.run(2000);
  assert.equal(a.state, 'ESTABLISHED');
  assert.equal(bobSaw, '203.0.113.1:5000');
});

test('RFC 5382 REQ-9, REQ-10: ICMP Destination Unreachable is translated and ends neither mapping nor connection', async () => {
  const t = oneNat();
  let conn: SimTcpConnection | undefined;
  let got = '';
  t.server.tcp.listen(80, (c) => (conn = c));
  const c = t.alice.tcp.connect({ address: '198.51.100.10', port: 80 }, { localPort: 40000 });
  c.onData((d) => (got += decode(d)));
  await t.sim.run(500);
  const quoted = buildTcpPacket({ src: parseIpv4('203.0.113.1'), dst: parseIpv4('198.51.100.10'), srcPort: 40000, dstPort: 80, seq: 1, ack: 0, flags: 0x10, window: 1, payload: new Uint8Array(0) });
  t.server2.send(buildIcmpError(parseIpv4('198.51.100.11'), ICMP_DEST_UNREACHABLE, UNREACH_HOST, quoted, 20));
  await t.sim.run(100);
  assert.equal(t.alice.icmpErrors.length, 1, 'REQ-9: translated to alice');
  conn!.send('still connected');
  await t.sim.run(500);
  assert.equal(got, 'still connected', 'REQ-10');
});

test('RFC 7857 2.3: a RST is translated, and the session is kept for 4 minutes after it', async () => {
  const t = oneNat();
  t.server.tcp.listen(80, (s) => s.abort());
  t.alice.tcp.connect({ address: '198.51.100.10', port: 80 }, { localPort: 40000 });
  await t.sim.run(1000);
  const flow = () => t.nat.engine.listFlows().find((f) => f.inside[1] === 40000);
  assert.ok(flow(), 'still there right after the RST');
  await t.sim.run(230_000);
  assert.ok(flow(), 'still there 230 s later');
  await t.sim.run(20_000);
  assert.equal(flow(), undefined, 'gone after 4 minutes');
});
