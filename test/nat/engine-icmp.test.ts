import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Side, Verdict } from '../../src/nat/engine.js';
import { buildIcmpError, ICMP_DEST_UNREACHABLE, ICMP_TIME_EXCEEDED, UNREACH_PORT } from '../../src/wire/icmp.js';
import { parseIpv4 } from '../../src/wire/address.js';
import { assertChecksums, describe, echoPkt, makeEngine, tcpPkt, udpPkt } from './packets.js';
import { TCP_SYN, tcpChecksumValid } from '../../src/wire/tcp.js';

const IN = Side.Inside;
const OUT = Side.Outside;

/** The quoted packet inside an ICMP error, as text. */
const quoted = (err: Uint8Array) => describe(err.subarray(28));

test('ICMP echo: identifiers are mapped like ports and replies come back', () => {
  const { engine } = makeEngine();
  const a = echoPkt('10.0.0.2', '198.51.100.10', 777);
  const b = echoPkt('10.0.0.3', '198.51.100.10', 777);
  engine.process(a, IN);
  engine.process(b, IN);
  assertChecksums(a);
  assertChecksums(b);
  const idA = Number(describe(a).split(' id ')[1]);
  const idB = Number(describe(b).split(' id ')[1]);
  assert.notEqual(idA, idB, 'two hosts using one identifier get different public identifiers');
  const replyB = echoPkt('198.51.100.10', '203.0.113.1', idB, false);
  assert.equal(engine.process(replyB, OUT), Verdict.ToInside);
  assert.equal(describe(replyB), '198.51.100.10 > 10.0.0.3 id 777');
  assertChecksums(replyB);
});

test('ICMP query timeout is 60 s', () => {
  const { engine, clock } = makeEngine();
  const a = echoPkt('10.0.0.2', '198.51.100.10', 5);
  engine.process(a, IN);
  clock.advance(60_001);
  assert.equal(engine.process(echoPkt('198.51.100.10', '203.0.113.1', 5, false), OUT), Verdict.Drop);
});

test('inbound ICMP error about a UDP flow: outer and quoted headers translated, checksums valid', () => {
  const { engine } = makeEngine();
  const probe = udpPkt('10.0.0.2:33434', '198.51.100.10:33434', new Uint8Array(24));
  engine.process(probe, IN);
  // A router on the path answers time exceeded, quoting what it saw (our public source).
  const err = buildIcmpError(parseIpv4('192.0.2.254'), ICMP_TIME_EXCEEDED, 0, probe, 8);
  assert.equal(engine.process(err, OUT), Verdict.ToInside);
  assertChecksums(err);
  assert.equal(describe(err).split(' proto')[0], '192.0.2.254 > 10.0.0.2');
  assert.equal(quoted(err), '10.0.0.2:33434 > 198.51.100.10:33434');
  // The quoted UDP checksum (within the 8 quoted bytes) was fixed to the inside view.
  const inner = err.subarray(28);
  const original = udpPkt('10.0.0.2:33434', '198.51.100.10:33434', new Uint8Array(24));
  assert.deepEqual([...inner.subarray(20, 28)], [...original.subarray(20, 28)]);
  assert.equal(engine.counters.icmpErrorsTranslated, 1);
});

test('an ICMP error never deletes the mapping', () => {
  const { engine } = makeEngine();
  const probe = udpPkt('10.0.0.2:5000', '198.51.100.10:53');
  engine.process(probe, IN);
  const err = buildIcmpError(parseIpv4('198.51.100.10'), ICMP_DEST_UNREACHABLE, UNREACH_PORT, probe, 8);
  engine.process(err, OUT);
  assert.equal(engine.flows.size, 1);
  assert.equal(engine.process(udpPkt('198.51.100.10:53', '203.0.113.1:5000'), OUT), Verdict.ToInside);
});

test('inbound ICMP error about a TCP flow with a long quote fixes the quoted TCP checksum', () => {
  const { engine } = makeEngine();
  const syn = tcpPkt('10.0.0.2:40000', '198.51.100.10:80', TCP_SYN);
  engine.process(syn, IN);
  const err = buildIcmpError(parseIpv4('198.51.100.10'), ICMP_DEST_UNREACHABLE, UNREACH_PORT, syn, 20);
  assert.equal(engine.process(err, OUT), Verdict.ToInside);
  assertChecksums(err);
  assert.ok(tcpChecksumValid(err.subarray(28), 0), 'quoted TCP checksum matches the quoted inside view');
});

test('outbound ICMP error from an inside host about inbound traffic leaves from the public address', () => {
  const { engine } = makeEngine();
  engine.process(udpPkt('10.0.0.2:5000', '198.51.100.10:53'), IN);
  const reply = udpPkt('198.51.100.10:53', '203.0.113.1:5000');
  engine.process(reply, OUT); // now 198.51.100.10:53 > 10.0.0.2:5000
  const err = buildIcmpError(parseIpv4('10.0.0.2'), ICMP_DEST_UNREACHABLE, UNREACH_PORT, reply, 8);
  assert.equal(engine.process(err, IN), Verdict.ToOutside);
  assertChecksums(err);
  assert.equal(describe(err).split(' proto')[0], '203.0.113.1 > 198.51.100.10');
  assert.equal(quoted(err), '198.51.100.10:53 > 203.0.113.1:5000');
});

test('an ICMP error about an echo request finds the echo flow', () => {
  const { engine } = makeEngine();
  const ping = echoPkt('10.0.0.2', '198.51.100.10', 42);
  engine.process(ping, IN);
  const err = buildIcmpError(parseIpv4('192.0.2.1'), ICMP_TIME_EXCEEDED, 0, ping, 8);
  assert.equal(engine.process(err, OUT), Verdict.ToInside);
  assertChecksums(err);
  assert.equal(quoted(err), '10.0.0.2 > 198.51.100.10 id 42');
});

test('ICMP errors quoting unknown flows, or truncated, are dropped by reason', () => {
  const { engine } = makeEngine();
  const stranger = udpPkt('203.0.113.1:9', '198.51.100.10:53');
  const err = buildIcmpError(parseIpv4('198.51.100.10'), ICMP_DEST_UNREACHABLE, UNREACH_PORT, stranger, 8);
  assert.equal(engine.process(err, OUT), Verdict.Drop);
  assert.equal(engine.counters.dropCount('icmpNoFlow'), 1);
  const short = buildIcmpError(parseIpv4('198.51.100.10'), ICMP_DEST_UNREACHABLE, UNREACH_PORT, stranger, 0);
  assert.equal(engine.process(short, OUT), Verdict.Drop);
  assert.equal(engine.counters.dropCount('malformed'), 1);
});

test('inbound echo requests to the public address are not delivered inside', () => {
  const { engine } = makeEngine();
  assert.equal(engine.process(echoPkt('198.51.100.10', '203.0.113.1', 1), OUT), Verdict.Drop);
  assert.equal(engine.counters.dropCount('noMapping'), 1);
});
