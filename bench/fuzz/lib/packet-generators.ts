/**
 * Structure-aware packets (fast-check): right headers with addresses and
 * ports drawn from the ones the fuzz engine cares about (its inside hosts, its
 * public addresses, forwarded and triggered ports, the boundaries), then at
 * most one header field set to an arbitrary value.
 */
import fc from 'fast-check';
import { parseIpv4 } from '../../../src/wire/address.js';
import { buildUdpPacket } from '../../../src/wire/udp.js';
import { buildTcpPacket } from '../../../src/wire/tcp.js';
import { buildIcmpEcho, buildIcmpError } from '../../../src/wire/icmp.js';
import { fillIpv4HeaderChecksum } from '../../../src/wire/ipv4.js';
import { fragmentIpv4 } from '../../../src/wire/fragment.js';
import { withControl } from './packet-run.js';

const ADDRS = ['10.0.0.2', '10.0.0.3', '10.0.0.5', '192.168.1.2', '203.0.113.1', '203.0.113.2', '198.51.100.10', '198.51.100.77', '0.0.0.0', '255.255.255.255', '127.0.0.1', '224.0.0.1'].map(parseIpv4);
const PORTS = [0, 1, 53, 80, 1023, 1024, 3478, 5060, 6667, 7000, 7005, 8000, 8003, 8010, 40000, 65535];

const addr = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...ADDRS) }, { weight: 1, arbitrary: fc.nat().map((n) => n >>> 0) });
const port = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...PORTS) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 65535 }) });
const payload = fc.uint8Array({ maxLength: 96 });

const udpArb = fc.record({ src: addr, dst: addr, srcPort: port, dstPort: port, payload }).map((d) => buildUdpPacket(d));
const tcpArb = fc
  .record({ src: addr, dst: addr, srcPort: port, dstPort: port, seq: fc.nat(), ack: fc.nat(), flags: fc.integer({ min: 0, max: 255 }), window: fc.integer({ min: 0, max: 65535 }), payload, options: fc.option(fc.uint8Array({ maxLength: 40 }).map((o) => o.subarray(0, o.length & ~3)), { nil: undefined }) })
  .map((s) => buildTcpPacket(s));
const echoArb = fc.record({ src: addr, dst: addr, reply: fc.boolean(), id: port, seq: fc.integer({ min: 0, max: 65535 }) }).map((e) => buildIcmpEcho(e.src, e.dst, e.reply ? 0 : 8, e.id, e.seq));
const errorArb = fc
  .record({ src: addr, type: fc.constantFrom(3, 4, 5, 11, 12), code: fc.integer({ min: 0, max: 15 }), quoted: fc.oneof(udpArb, tcpArb, echoArb), quote: fc.constantFrom(0, 4, 8, 20, 28, 64, 512) })
  .map((e) => buildIcmpError(e.src, e.type, e.code, e.quoted, e.quote));

/** One header byte set to anything (checksum refilled or not), or the packet cut into fragments. */
function damage(p: Uint8Array): fc.Arbitrary<Uint8Array[]> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant(null).map(() => [p]) },
    {
      weight: 2,
      arbitrary: fc.record({ at: fc.integer({ min: 0, max: Math.min(p.length, 60) - 1 }), v: fc.integer({ min: 0, max: 255 }), refill: fc.boolean() }).map(({ at, v, refill }) => {
        const q = p.slice();
        q[at] = v;
        if (refill && (q[0] & 15) >= 5) fillIpv4HeaderChecksum(q, 0);
        return [q];
      }),
    },
    { weight: 1, arbitrary: fc.constantFrom(68, 96, 576).map((mtu) => (p.length > mtu ? fragmentIpv4(p, mtu) : [p])) },
  );
}

export function packetGenerator(kind: 'udp' | 'tcp' | 'icmp' | 'any'): fc.Arbitrary<Uint8Array> {
  const base = kind === 'udp' ? udpArb : kind === 'tcp' ? tcpArb : kind === 'icmp' ? fc.oneof(echoArb, errorArb) : fc.oneof(udpArb, tcpArb, echoArb, errorArb);
  return fc
    .tuple(base.chain(damage), fc.integer({ min: 0, max: 255 }), fc.nat())
    .map(([pieces, ctrl, which]) => withControl(ctrl, pieces[which % pieces.length]));
}
