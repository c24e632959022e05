/** Packet builders and checks shared by the NAT tests. */
import assert from 'node:assert/strict';
import { ipv4ToString, parseIpv4 } from '../../src/wire/address.js';
import { ipv4, ipv4HeaderChecksumValid, PROTO_ICMP, PROTO_TCP, PROTO_UDP } from '../../src/wire/ipv4.js';
import { buildUdpPacket, udp, udpChecksumValid } from '../../src/wire/udp.js';
import { buildTcpPacket, tcp, tcpChecksumValid } from '../../src/wire/tcp.js';
import { buildIcmpEcho, icmp, icmpChecksumValid, isIcmpError } from '../../src/wire/icmp.js';
import { ManualClock } from '../../src/util/clock.js';
import { NatEngine, type NatEngineOptions } from '../../src/nat/engine.js';
import type { NatConfigInput } from '../../src/nat/config.js';

export function ep(text: string): [number, number] {
  const [a, p] = text.split(':');
  return [parseIpv4(a), Number(p ?? 0)];
}

export function udpPkt(from: string, to: string, payload: Uint8Array | string = 'x'): Uint8Array {
  const [src, srcPort] = ep(from);
  const [dst, dstPort] = ep(to);
  const data = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
  return buildUdpPacket({ src, dst, srcPort, dstPort, payload: data });
}

export function tcpPkt(
  from: string,
  to: string,
  flags: number,
  seq = 1000,
  ack = 0,
  payload: Uint8Array = new Uint8Array(0),
  options?: Uint8Array,
): Uint8Array {
  const [src, srcPort] = ep(from);
  const [dst, dstPort] = ep(to);
  return buildTcpPacket({ src, dst, srcPort, dstPort, seq, ack, flags, window: 65535, payload, options });
}

export function echoPkt(from: string, to: string, id: number, request = true, seq = 1): Uint8Array {
  return buildIcmpEcho(parseIpv4(from), parseIpv4(to), request ? 8 : 0, id, seq, new TextEncoder().encode('ping'));
}

/** "a.b.c.d:port > e.f.g.h:port" for UDP/TCP, "a > b id N" for ICMP queries. */
export function describe(pkt: Uint8Array): string {
  const hl = ipv4.headerLength(pkt, 0);
  const s = ipv4ToString(ipv4.src(pkt, 0));
  const d = ipv4ToString(ipv4.dst(pkt, 0));
  const p = ipv4.protocol(pkt, 0);
  if (p === PROTO_UDP) return `${s}:${udp.srcPort(pkt, hl)} > ${d}:${udp.dstPort(pkt, hl)}`;
  if (p === PROTO_TCP) return `${s}:${tcp.srcPort(pkt, hl)} > ${d}:${tcp.dstPort(pkt, hl)}`;
  if (p === PROTO_ICMP && !isIcmpError(icmp.type(pkt, hl))) return `${s} > ${d} id ${icmp.identifier(pkt, hl)}`;
  return `${s} > ${d} proto ${p}`;
}

/** Every checksum in the packet is right (IPv4 header, and UDP/TCP/ICMP). */
export function assertChecksums(pkt: Uint8Array): void {
  assert.ok(ipv4HeaderChecksumValid(pkt, 0), 'IPv4 header checksum');
  const p = ipv4.protocol(pkt, 0);
  const frag = ipv4.fragmentOffset(pkt, 0) !== 0 || ipv4.moreFragments(pkt, 0);
  if (frag) return;
  if (p === PROTO_UDP) assert.ok(udpChecksumValid(pkt, 0), 'UDP checksum');
  if (p === PROTO_TCP) assert.ok(tcpChecksumValid(pkt, 0), 'TCP checksum');
  if (p === PROTO_ICMP) assert.ok(icmpChecksumValid(pkt, 0), 'ICMP checksum');
}

export const BASE_CONFIG: NatConfigInput = {
  inside: ['10.0.0.0/24'],
  public: ['203.0.113.1'],
};

export function makeEngine(
  config: Partial<NatConfigInput> = {},
  options: Partial<NatEngineOptions> = {},
): { engine: NatEngine; clock: ManualClock } {
  const clock = new ManualClock(0);
  let seed = 1;
  const random = () => {
    // xorshift32: repeatable port choices in tests
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  const engine = new NatEngine({ ...BASE_CONFIG, ...config }, { clock, random, ...options });
  return { engine, clock };
}
