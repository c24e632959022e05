/**
 * Seed packets for the engine targets: built by hand (every path of the
 * engine: new flows out, replies in, forwards, a trigger, fragments, ICMP
 * errors quoting flows, IP options, TCP options), and the packets of the
 * shared captures when they are here.
 */
import { parseIpv4 } from '../../../src/wire/address.js';
import { buildUdpPacket } from '../../../src/wire/udp.js';
import { buildTcpPacket, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../../src/wire/tcp.js';
import { buildIcmpEcho, buildIcmpError } from '../../../src/wire/icmp.js';
import { fragmentIpv4 } from '../../../src/wire/fragment.js';
import { buildIpv4Packet, defaultIpv4Header, PROTO_TCP } from '../../../src/wire/ipv4.js';
import { ALL_CAPTURES, capturePackets } from '../captures.js';
import { AIM, control, withControl } from './packet-run.js';
import { PUBLIC } from './engine-state.js';
import { utf8 } from '../target.js';

const A = (s: string) => parseIpv4(s);
const IN = '10.0.0.2';
const REMOTE = '198.51.100.10';

export function udp(from: string, fromPort: number, to: string, toPort: number, payload: Uint8Array | string = 'x'): Uint8Array {
  return buildUdpPacket({ src: A(from), dst: A(to), srcPort: fromPort, dstPort: toPort, payload: typeof payload === 'string' ? utf8(payload) : payload });
}

export function tcp(from: string, fromPort: number, to: string, toPort: number, flags: number, payload: Uint8Array = new Uint8Array(0), options?: Uint8Array, seq = 1000, ack = 0): Uint8Array {
  return buildTcpPacket({ src: A(from), dst: A(to), srcPort: fromPort, dstPort: toPort, seq, ack, flags, window: 65535, payload, options });
}

export const out = (p: Uint8Array, extra = 0) => withControl(control(false, extra), p);
export const inn = (p: Uint8Array, extra = 0) => withControl(control(true, extra), p);

export function udpSeeds(): Uint8Array[] {
  const o = udp(IN, 5000, REMOTE, 3478, 'hello');
  return [
    out(o),
    inn(udp(REMOTE, 3478, PUBLIC, 5000, 'reply')),
    inn(udp(REMOTE, 3478, PUBLIC, 5000, 'reply'), AIM),
    inn(udp(REMOTE, 9999, PUBLIC, 5060, 'forwarded')),
    out(udp(IN, 5000, PUBLIC, 5060, 'hairpin')),
    out(udp(IN, 5000, '10.0.0.3', 5000, 'inside to inside')),
    out(udp(IN, 0, REMOTE, 0, '')),
    out(udp('10.0.0.7', 7000, REMOTE, 7000, 'x'.repeat(1400))),
    ...fragmentIpv4(udp(IN, 5001, REMOTE, 53, 'f'.repeat(600)), 256).map((f) => out(f)),
    inn(buildIcmpError(A(REMOTE), 3, 3, udp(PUBLIC, 5000, REMOTE, 3478, 'hello'), 8), AIM),
    out(buildIcmpError(A(IN), 3, 3, udp(REMOTE, 3478, IN, 5000, 'reply'), 8)),
  ];
}

export function tcpSeeds(): Uint8Array[] {
  const mss = Uint8Array.of(2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0);
  const sack = Uint8Array.of(1, 1, 5, 10, 0, 0, 0x10, 0, 0, 0, 0x20, 0);
  return [
    out(tcp(IN, 40000, REMOTE, 80, TCP_SYN, undefined, mss)),
    inn(tcp(REMOTE, 80, PUBLIC, 40000, TCP_SYN | TCP_ACK, undefined, mss, 5000, 1001), AIM),
    out(tcp(IN, 40000, REMOTE, 80, TCP_ACK, undefined, undefined, 1001, 5001)),
    out(tcp(IN, 40000, REMOTE, 80, TCP_ACK | TCP_PSH, utf8('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), sack, 1001, 5001)),
    inn(tcp(REMOTE, 80, PUBLIC, 40000, TCP_FIN | TCP_ACK, undefined, undefined, 5001, 1030), AIM),
    out(tcp(IN, 40000, REMOTE, 80, TCP_RST, undefined, undefined, 1030, 0)),
    inn(tcp(REMOTE, 1234, PUBLIC, 8003, TCP_SYN)),
    inn(tcp(REMOTE, 1234, PUBLIC, 9999, TCP_SYN)),
    out(tcp(IN, 40001, REMOTE, 6667, TCP_SYN)),
    inn(udp(REMOTE, 7005, PUBLIC, 7005, 'triggered')),
    out(tcp(IN, 40000, REMOTE, 5060, TCP_ACK | TCP_PSH, utf8('OPTIONS sip:a@b SIP/2.0\r\n\r\n'))),
  ];
}

export function icmpSeeds(): Uint8Array[] {
  const echo = buildIcmpEcho(A(IN), A(REMOTE), 8, 77, 1, utf8('ping'));
  return [
    out(echo),
    inn(buildIcmpEcho(A(REMOTE), A(PUBLIC), 0, 77, 1, utf8('ping')), AIM),
    inn(buildIcmpEcho(A(REMOTE), A(PUBLIC), 8, 1, 1, utf8('ping to the gateway'))),
    out(buildIpv4Packet(defaultIpv4Header(A(IN), A(REMOTE), 1), Uint8Array.of(13, 0, 0, 0, 0, 9, 0, 1, ...new Array(12).fill(0)))),
    inn(buildIcmpError(A(REMOTE), 11, 0, tcp(PUBLIC, 40000, REMOTE, 80, TCP_SYN), 28), AIM),
    inn(buildIcmpError(A('198.51.100.1'), 3, 4, udp(PUBLIC, 5000, REMOTE, 3478, 'x'.repeat(100)), 120), AIM),
    inn(buildIcmpError(A(REMOTE), 3, 1, buildIcmpEcho(A(PUBLIC), A(REMOTE), 8, 77, 1), 8), AIM),
    out(buildIcmpError(A(IN), 3, 3, tcp(REMOTE, 80, IN, 40000, TCP_SYN | TCP_ACK), 8)),
    out(buildIcmpError(A(IN), 12, 0, buildIcmpError(A(REMOTE), 3, 3, udp(IN, 1, REMOTE, 2), 8), 36)),
  ];
}

export function ipv4Seeds(): Uint8Array[] {
  const withOptions = buildIpv4Packet({ ...defaultIpv4Header(A(IN), A(REMOTE), 17), options: Uint8Array.of(7, 7, 4, 0, 0, 0, 0, 1) }, Uint8Array.of(0x13, 0x88, 0x0d, 0x96, 0, 9, 0, 0, 0x41));
  const gre = buildIpv4Packet(defaultIpv4Header(A(IN), A(REMOTE), 47), utf8('gre payload'));
  const tcpFrags = fragmentIpv4(tcp(IN, 40000, REMOTE, 80, TCP_ACK, utf8('y'.repeat(300))), 128);
  return [out(withOptions), out(gre), ...tcpFrags.reverse().map((f) => out(f)), ...udpSeeds().slice(0, 3), ...tcpSeeds().slice(0, 2), ...icmpSeeds().slice(0, 2)];
}

export function ipv6Seeds(): Uint8Array[] {
  const h = new Uint8Array(48);
  h[0] = 0x60;
  h[5] = 8;
  h[6] = 17;
  h[7] = 64;
  h[8] = 0xfd;
  h[24] = 0x20;
  h[25] = 0x01;
  const withFragment = new Uint8Array(56);
  withFragment.set(h.subarray(0, 40));
  withFragment[5] = 16;
  withFragment[6] = 44;
  withFragment[40] = 17;
  withFragment[43] = 1;
  return [out(h), inn(h), out(withFragment)];
}

/** The captures' packets, each once from inside and once from outside (aimed at the last flow). */
export function capturePacketSeeds(filter: (p: Uint8Array) => boolean, maxPerCapture = 64): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const name of ALL_CAPTURES) {
    let n = 0;
    for (const p of capturePackets(name)) {
      if (!filter(p) || p.length > 2048) continue;
      out.push(withControl(control(false), p), withControl(control(true, AIM), p));
      if (++n >= maxPerCapture) break;
    }
  }
  return out;
}

export const isIpv4Proto = (proto: number) => (p: Uint8Array) => p.length >= 20 && p[0] >> 4 === 4 && p[9] === proto;
export const IS_TCP = isIpv4Proto(PROTO_TCP);
