import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  engineSlices,
  hostQueue,
  insideQueue,
  nonZeroEntries,
  outsideQueue,
  portSlices,
  steeringKey,
  steeringTable,
  STEERING_TABLE_SIZE,
} from '../../../src/dataplane/tun/steering.js';
import { buildIpv4Packet, defaultIpv4Header } from '../../../src/wire/ipv4.js';
import { buildUdpPacket } from '../../../src/wire/udp.js';
import { buildIcmpEcho, buildIcmpError, ICMP_DEST_UNREACHABLE, ICMP_ECHO_REPLY } from '../../../src/wire/icmp.js';
import { parseIpv4 } from '../../../src/wire/address.js';

const PUB = parseIpv4('203.0.113.1');
const FAR = parseIpv4('198.51.100.10');

describe('portSlices', () => {
  test('cover the range exactly, in order, each starting even (RTP/RTCP pairs stay whole)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1024, max: 65535 }), fc.integer({ min: 0, max: 64511 }), fc.integer({ min: 1, max: 16 }), (first, span, queues) => {
        const last = Math.min(65535, first + span);
        const slices = portSlices([first, last], queues);
        assert.equal(slices.length, queues);
        let next = first;
        for (const [q, [a, b]] of slices.entries()) {
          assert.equal(a, next, `slice ${q} starts where the previous ended`);
          assert.ok(b >= a - 1);
          const previous = slices[q - 1];
          if (q > 0 && b >= a && previous[1] >= previous[0]) assert.equal(a & 1, 0, `slice ${q} starts on an even port`);
          next = b + 1;
        }
        assert.equal(next, last + 1);
      }),
    );
  });

  test('two queues halve the default range', () => {
    assert.deepEqual(portSlices([1024, 65535], 2), [
      [1024, 33279],
      [33280, 65535],
    ]);
    assert.deepEqual(portSlices([1, 1023], 2), [
      [1, 511],
      [512, 1023],
    ]);
  });

  test('refuses a queue count below 1', () => {
    assert.throws(() => portSlices([1024, 2047], 0), /queues 0/);
  });
});

describe('hostQueue', () => {
  test('spreads consecutive inside hosts over the queues', () => {
    const counts = [0, 0];
    for (let i = 1; i <= 254; i++) counts[hostQueue(parseIpv4(`10.0.1.${i}`), 2)]++;
    assert.ok(counts[0] > 100 && counts[1] > 100, `${counts}`);
  });

  test('is the 16-bit fold the kernel takes modulo the queue count', () => {
    const a = parseIpv4('10.0.1.2');
    const h = (a ^ (a >>> 16)) >>> 0;
    assert.equal(hostQueue(a, 3), ((h ^ (h >>> 8)) & 0xffff) % 3);
  });
});

describe('steeringTable', () => {
  const slices = engineSlices({ range: [1024, 65535], lowRange: [1, 1023] }, 2);
  const table = steeringTable(slices, [{ protocols: [6], ports: [8000, 8001], to: parseIpv4('10.0.1.7') }]);

  test('every port of a slice goes to its queue, for TCP, UDP and ICMP identifiers', () => {
    assert.equal(table.length, STEERING_TABLE_SIZE);
    for (const [q, s] of slices.entries()) {
      for (const port of [s.range[0], s.range[1], s.lowRange[0], s.lowRange[1]]) {
        if (port >= 8000 && port <= 8001) continue;
        assert.equal(table[steeringKey(17, port)], q, `udp ${port}`);
        assert.equal(table[steeringKey(6, port)], q, `tcp ${port}`);
      }
      assert.equal(table[steeringKey(1, s.icmpRange[0])], q);
    }
  });

  test('a forward belongs to the queue of its inside host, for its protocol only', () => {
    const q = hostQueue(parseIpv4('10.0.1.7'), 2);
    assert.equal(table[steeringKey(6, 8000)], q);
    assert.equal(table[steeringKey(6, 8001)], q);
    assert.equal(table[steeringKey(17, 8000)], slices.findIndex((s) => s.range[0] <= 8000 && 8000 <= s.range[1]));
  });

  test('nonZeroEntries lists exactly what differs from the zeroed map', () => {
    const { keys, values } = nonZeroEntries(table);
    const rebuilt = new Uint32Array(STEERING_TABLE_SIZE);
    keys.forEach((k, i) => (rebuilt[k] = values[i]));
    assert.deepEqual(rebuilt, table);
    assert.ok(values.every((v) => v !== 0));
  });
});

describe('outsideQueue and insideQueue (the programs, in TypeScript)', () => {
  const slices = engineSlices({ range: [1024, 65535], lowRange: [1, 1023] }, 2);
  const table = steeringTable(slices, []);
  const udp = (dstPort: number) => buildUdpPacket({ src: FAR, dst: PUB, srcPort: 53, dstPort, payload: new Uint8Array(4) });

  test('UDP and TCP by destination port', () => {
    assert.equal(outsideQueue(udp(2000), table, 2), 0);
    assert.equal(outsideQueue(udp(40000), table, 2), 1);
  });

  test('an echo reply by its identifier, an ICMP error by the quoted source port', () => {
    assert.equal(outsideQueue(buildIcmpEcho(FAR, PUB, ICMP_ECHO_REPLY, 50000, 1), table, 2), 1);
    assert.equal(outsideQueue(buildIcmpEcho(FAR, PUB, ICMP_ECHO_REPLY, 1500, 1), table, 2), 0);
    const sent = buildUdpPacket({ src: PUB, dst: FAR, srcPort: 60000, dstPort: 53, payload: new Uint8Array(4) });
    assert.equal(outsideQueue(buildIcmpError(FAR, ICMP_DEST_UNREACHABLE, 3, sent), table, 2), 1);
  });

  test('non-first fragments, other protocols and truncated packets go to queue 0', () => {
    const frag = udp(40000);
    frag[7] = 10; // fragment offset 80 bytes
    assert.equal(outsideQueue(frag, table, 2), 0);
    const gre = buildIpv4Packet(defaultIpv4Header(FAR, PUB, 47), new Uint8Array(8));
    assert.equal(outsideQueue(gre, table, 2), 0);
    assert.equal(outsideQueue(udp(40000).subarray(0, 21), table, 2), 0);
  });

  test('inside packets by source host', () => {
    const from = (src: string) => buildUdpPacket({ src: parseIpv4(src), dst: FAR, srcPort: 5000, dstPort: 53, payload: new Uint8Array(0) });
    for (const h of ['10.0.1.2', '10.0.1.3', '10.0.2.77']) assert.equal(insideQueue(from(h), 2), hostQueue(parseIpv4(h), 2));
  });
});
