/**
 * RFC 5508 (NAT behavioural requirements for ICMP), observed black-box
 * through a sim network running the masq engine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildIcmpEcho, buildIcmpError, ICMP_DEST_UNREACHABLE, ICMP_TIME_EXCEEDED, UNREACH_HOST } from '../../../src/wire/icmp.js';
import { buildIpv4Packet, defaultIpv4Header, PROTO_UDP } from '../../../src/wire/ipv4.js';
import { buildUdpPacket } from '../../../src/wire/udp.js';
import { ipv4ToString, parseIpv4 } from '../../../src/wire/address.js';
import { internetChecksum } from '../../../src/wire/checksum.js';
import { oneNat } from './topology.js';
import { Observer } from './observe.js';

const A = '192.168.1.2';
const PUB = '203.0.113.1';
const S = '198.51.100.10';

/** Sends an echo request from alice with a chosen identifier (her own stack would pick one). */
function pingWithId(t: ReturnType<typeof oneNat>, id: number, to = S): void {
  t.alice.send(buildIcmpEcho(parseIpv4(A), parseIpv4(to), 8, id, 1));
}

test('RFC 5508 REQ-1: pings from inside get their replies; the identifier is mapped and restored', async () => {
  const t = oneNat();
  assert.notEqual(await t.sim.complete(t.alice.ping(S), 5000), null);
  assert.notEqual(await t.sim.complete(t.bob.ping(S), 5000), null);
  // Both hosts used the same identifier: the NAT told them apart.
  const ids = t.nat.engine.listFlows().filter((f) => f.proto === 1).map((f) => f.public[1]);
  assert.equal(new Set(ids).size, 2);
});

test('RFC 5508 REQ-1a: the query identifier mapping is external-host independent', async () => {
  const t = oneNat();
  const seen: number[] = [];
  for (const [host, addr] of [[t.server, S], [t.server2, '198.51.100.11']] as const) {
    const orig = host.receive.bind(host);
    host.receive = (p, i) => {
      if (p[9] === 1 && p[20] === 8) seen.push((p[24] << 8) | p[25]);
      orig(p, i);
    };
    pingWithId(t, 4242, addr);
  }
  await t.sim.run(100);
  assert.equal(seen.length, 2);
  assert.equal(seen[0], seen[1]);
});

test('RFC 5508 REQ-2: an ICMP query session lives at least 60 s', async () => {
  for (const [wait, delivered] of [[59_000, true], [61_000, false]] as const) {
    const t = oneNat();
    t.server.portUnreachable = false;
    pingWithId(t, 77);
    await t.sim.run(10);
    const before = t.alice.icmpErrors.length;
    // A late echo reply from the server (its stack answered at once; this one is sent by hand).
    await t.sim.run(wait);
    let delivered2 = false;
    const orig = t.alice.receive.bind(t.alice);
    t.alice.receive = (p, i) => {
      if (p[9] === 1 && p[20] === 0) delivered2 = true;
      orig(p, i);
    };
    const pubId = t.nat.engine.listFlows().find((f) => f.proto === 1)?.public[1] ?? 77;
    t.server.send(buildIcmpEcho(parseIpv4(S), parseIpv4(PUB), 0, pubId, 2));
    await t.sim.run(100);
    assert.equal(delivered2, delivered, `reply after ${wait / 1000} s`);
    assert.equal(t.alice.icmpErrors.length, before);
  }
});

test('RFC 5508 REQ-3, 3a: errors with a bad ICMP checksum or a bad quoted IP checksum are dropped', async () => {
  const t = oneNat();
  new Observer(t.server, 3478, false);
  const a = new Observer(t.alice, 5000, false);
  a.sendTo(`${S}:3478`);
  await t.sim.run(100);
  const quoted = buildUdpPacket({ src: parseIpv4(PUB), dst: parseIpv4(S), srcPort: 5000, dstPort: 3478, payload: new Uint8Array(4) });
  const badIcmp = buildIcmpError(parseIpv4(S), ICMP_DEST_UNREACHABLE, UNREACH_HOST, quoted);
  badIcmp[22] ^= 0xff; // ICMP checksum
  const badInner = buildIcmpError(parseIpv4(S), ICMP_DEST_UNREACHABLE, UNREACH_HOST, quoted);
  badInner[28 + 10] ^= 0xff; // quoted IP header checksum...
  badInner[22] = 0;
  badInner[23] = 0;
  const c = internetChecksum(badInner, 20, badInner.length); // ...under a valid ICMP checksum
  badInner[22] = c >> 8;
  badInner[23] = c & 0xff;
  t.server.send(badIcmp);
  t.server.send(badInner);
  await t.sim.run(100);
  assert.equal(t.alice.icmpErrors.length, 0);
  assert.equal(t.nat.engine.counters.dropCount('badChecksum'), 2);
});

test('RFC 5508 REQ-3b, 3c, 4: quoted IP options are walked past; a bad quoted transport checksum is not checked; type and code kept', async () => {
  const t = oneNat();
  new Observer(t.server, 3478, false);
  new Observer(t.alice, 5000, false).sendTo(`${S}:3478`);
  await t.sim.run(100);
  // The quoted packet carries 4 bytes of IP options and a wrong UDP checksum.
  const udp = new Uint8Array(12);
  udp.set([0x13, 0x88, 0x0d, 0x96, 0, 12, 0xde, 0xad]);
  const quoted = buildIpv4Packet({ ...defaultIpv4Header(parseIpv4(PUB), parseIpv4(S), PROTO_UDP), options: Uint8Array.of(0x94, 4, 0, 0) }, udp);
  t.server2.send(buildIcmpError(parseIpv4('198.51.100.11'), ICMP_TIME_EXCEEDED, 1, quoted, 8));
  await t.sim.run(100);
  assert.equal(t.alice.icmpErrors.length, 1);
  const e = t.alice.icmpErrors[0];
  assert.deepEqual([e.type, e.code], [ICMP_TIME_EXCEEDED, 1], 'REQ-4b');
  assert.equal(ipv4ToString(((e.quoted[12] << 24) | (e.quoted[13] << 16) | (e.quoted[14] << 8) | e.quoted[15]) >>> 0), A, 'REQ-4a: quoted source reverted');
  assert.equal((e.quoted[24] << 8) | e.quoted[25], 5000, 'quoted port reverted past the options');
});

test('RFC 5508 REQ-4: an error with no mapping is dropped', async () => {
  const t = oneNat();
  const quoted = buildUdpPacket({ src: parseIpv4(PUB), dst: parseIpv4(S), srcPort: 5000, dstPort: 3478, payload: new Uint8Array(4) });
  t.server.send(buildIcmpError(parseIpv4(S), ICMP_DEST_UNREACHABLE, UNREACH_HOST, quoted));
  await t.sim.run(100);
  assert.equal(t.alice.icmpErrors.length + t.bob.icmpErrors.length, 0);
  assert.equal(t.nat.engine.counters.dropCount('icmpNoFlow'), 1);
});

test('RFC 5508 REQ-5: an error from the private realm leaves translated, from the public address', async () => {
  const t = oneNat();
  const a = new Observer(t.alice, 5000, false);
  a.sendTo(`${S}:3478`);
  await t.sim.run(100);
  a.socket.close(); // alice's port is closed now: her stack answers port unreachable
  new Observer(t.server, 3478, false).sendTo(`${PUB}:5000`);
  await t.sim.run(100);
  assert.equal(t.server.icmpErrors.length, 1);
  const e = t.server.icmpErrors[0];
  assert.equal(e.from, PUB);
  assert.equal(ipv4ToString(((e.quoted[16] << 24) | (e.quoted[17] << 16) | (e.quoted[18] << 8) | e.quoted[19]) >>> 0), PUB, 'quoted destination is the public one');
});

test('RFC 5508 REQ-6: an error about a query session neither refreshes nor deletes it', async () => {
  const t = oneNat();
  t.server.portUnreachable = false;
  pingWithId(t, 99);
  await t.sim.run(10);
  const pubId = t.nat.engine.listFlows().find((f) => f.proto === 1)!.public[1];
  const echo = buildIcmpEcho(parseIpv4(PUB), parseIpv4(S), 8, pubId, 1);
  await t.sim.run(50_000);
  t.server2.send(buildIcmpError(parseIpv4('198.51.100.11'), ICMP_DEST_UNREACHABLE, UNREACH_HOST, echo));
  await t.sim.run(100);
  assert.ok(t.nat.engine.listFlows().some((f) => f.proto === 1), 'not deleted');
  await t.sim.run(10_000);
  assert.ok(!t.nat.engine.listFlows().some((f) => f.proto === 1), 'not refreshed: gone at 60 s');
});

test('RFC 5508 REQ-7, 7a: hairpinned ICMP errors reach the sender, outer destination = quoted source', async () => {
  const t = oneNat({ filtering: 'eif' });
  const b = new Observer(t.bob, 6000, false);
  b.sendTo(`${S}:3478`); // bob's mapping: 203.0.113.1:6000
  await t.sim.run(100);
  b.socket.close();
  new Observer(t.alice, 5000, false).sendTo(`${PUB}:6000`);
  await t.sim.run(100);
  assert.equal(t.alice.icmpErrors.length, 1, 'bob\'s port unreachable came back around');
  const e = t.alice.icmpErrors[0];
  assert.equal(ipv4ToString(((e.quoted[12] << 24) | (e.quoted[13] << 16) | (e.quoted[14] << 8) | e.quoted[15]) >>> 0), A);
  assert.equal(e.from, PUB, 'it comes from bob\'s public address');
});

test('RFC 5508 REQ-8: a flow refused for lack of resources is answered with "administratively prohibited"', async () => {
  const t = oneNat({ limits: { flowsPerHost: 1 } });
  new Observer(t.server, 1, false);
  new Observer(t.server, 2, false);
  new Observer(t.alice, 5000, false).sendTo(`${S}:1`);
  new Observer(t.alice, 5001, false).sendTo(`${S}:2`);
  await t.sim.run(100);
  assert.deepEqual(t.alice.icmpErrors.map((e) => [e.type, e.code]), [[3, 13]]);
});
