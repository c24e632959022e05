/**
 * One fuzz input through the engine: a control byte, then an IP packet.
 *
 *   bit 0     from outside (else from inside)
 *   bit 1     the transport checksum is partial (checksum offload)
 *   bit 2     from outside: readdressed to the last public endpoint the
 *             engine gave out, from its remote (so replies reach real flows)
 *   bit 3     tick() first
 *   bits 4-7  n: the clock moves 2^(n+2) ms first (n = 0: not at all)
 *
 * The wire parsers read the packet first (only WireError may come out);
 * then the engine translates it (nothing may come out), and what it sends
 * must have the checksums it came with, and what it makes right ones.
 */
import { Side, Verdict } from '../../../src/nat/engine.js';
import { WireError } from '../../../src/wire/error.js';
import { fillIpv4HeaderChecksum, ipv4, parseIpv4Header, PROTO_ICMP, PROTO_TCP, PROTO_UDP } from '../../../src/wire/ipv4.js';
import { fillUdpChecksum, parseUdpPacket } from '../../../src/wire/udp.js';
import { fillTcpChecksum, parseTcpOptions, parseTcpPacket } from '../../../src/wire/tcp.js';
import { parseIcmpHeader } from '../../../src/wire/icmp.js';
import { parseIpv6 } from '../../../src/wire/ipv6.js';
import { expectOnly, invariant } from '../target.js';
import type { EngineState } from './engine-state.js';
import { assertForwardedChecksums, assertOriginatedChecksums, checksumsOf, transportChecksumOk, wellFormedIpv4 } from './packet-checks.js';

export const FROM_OUTSIDE = 1;
export const PARTIAL = 2;
export const AIM = 4;
export const TICK = 8;

export interface PacketState extends EngineState {
  /** The last public endpoint and remote of a translated outbound packet: [proto, pub, pubPort, remote, remotePort]. */
  last: [number, number, number, number, number] | null;
}

export function control(fromOutside: boolean, extra = 0): number {
  return (fromOutside ? FROM_OUTSIDE : 0) | extra;
}

/** A seed: the control byte, then the packet. */
export function withControl(ctrl: number, packet: Uint8Array): Uint8Array {
  const b = new Uint8Array(packet.length + 1);
  b[0] = ctrl;
  b.set(packet, 1);
  return b;
}

/** Every parser of the wire layer over the packet: their only way to fail is a WireError. */
export function parseAll(p: Uint8Array): void {
  if (p.length > 0 && p[0] >> 4 === 6) {
    expectOnly(() => parseIpv6(p), WireError);
    return;
  }
  const h = expectOnly(() => parseIpv4Header(p), WireError);
  if (!h) return;
  const hl = ipv4.headerLength(p, 0);
  if (h.protocol === PROTO_UDP) expectOnly(() => parseUdpPacket(p, 0), WireError);
  else if (h.protocol === PROTO_TCP) {
    const seg = expectOnly(() => parseTcpPacket(p, 0), WireError);
    if (seg) expectOnly(() => parseTcpOptions(p, hl), WireError);
  } else if (h.protocol === PROTO_ICMP) expectOnly(() => parseIcmpHeader(p, hl, h.payloadLength), WireError);
}

function readdress(p: Uint8Array, last: NonNullable<PacketState['last']>): void {
  if (!wellFormedIpv4(p)) return;
  const [proto, pub, pubPort, remote, remotePort] = last;
  const hl = ipv4.headerLength(p, 0);
  const hadTransport = transportChecksumOk(p) === true;
  p[9] = proto;
  for (let i = 0; i < 4; i++) {
    p[12 + i] = (remote >>> (24 - 8 * i)) & 0xff;
    p[16 + i] = (pub >>> (24 - 8 * i)) & 0xff;
  }
  const total = ipv4.totalLength(p, 0);
  if ((proto === PROTO_UDP || proto === PROTO_TCP) && total - hl >= 4) {
    p[hl] = remotePort >> 8;
    p[hl + 1] = remotePort & 0xff;
    p[hl + 2] = pubPort >> 8;
    p[hl + 3] = pubPort & 0xff;
  } else if (proto === PROTO_ICMP && total - hl >= 8) {
    p[hl] = 0; // echo reply with the identifier given out
    p[hl + 4] = pubPort >> 8;
    p[hl + 5] = pubPort & 0xff;
  }
  fillIpv4HeaderChecksum(p, 0);
  // Keep a right transport checksum right, so the checks after translation still apply.
  if (hadTransport || transportChecksumOk(p) === false) {
    if (proto === PROTO_UDP && total - hl >= 8 && ((p[hl + 4] << 8) | p[hl + 5]) <= total - hl && ((p[hl + 4] << 8) | p[hl + 5]) >= 8) fillUdpChecksum(p, 0);
    else if (proto === PROTO_TCP && total - hl >= 20 && (p[hl + 12] >> 4) * 4 >= 20 && (p[hl + 12] >> 4) * 4 <= total - hl) fillTcpChecksum(p, 0);
  }
}

function remember(state: PacketState, out: Uint8Array): void {
  if (!wellFormedIpv4(out)) return;
  const proto = ipv4.protocol(out, 0);
  const hl = ipv4.headerLength(out, 0);
  const l4 = ipv4.totalLength(out, 0) - hl;
  if ((proto === PROTO_UDP || proto === PROTO_TCP) && l4 >= 4) {
    state.last = [proto, ipv4.src(out, 0), (out[hl] << 8) | out[hl + 1], ipv4.dst(out, 0), (out[hl + 2] << 8) | out[hl + 3]];
  } else if (proto === PROTO_ICMP && l4 >= 8 && out[hl] === 8) {
    state.last = [proto, ipv4.src(out, 0), (out[hl + 4] << 8) | out[hl + 5], ipv4.dst(out, 0), 0];
  }
}

export function runPacket(input: Uint8Array, state: PacketState): void {
  if (input.length === 0) return;
  const ctrl = input[0];
  const { engine, clock } = state;
  const shift = ctrl >> 4;
  if (shift > 0) clock.advance(2 ** (shift + 2));
  if (ctrl & TICK) engine.tick(clock.now());
  const pkt = input.slice(1);
  const side = ctrl & FROM_OUTSIDE ? Side.Outside : Side.Inside;
  if (side === Side.Outside && ctrl & AIM && state.last) readdress(pkt, state.last);
  parseAll(pkt);
  const before = checksumsOf(pkt);
  const partial = (ctrl & PARTIAL) !== 0;
  const verdict = engine.process(pkt, side, clock.now(), partial);
  invariant(verdict === Verdict.Drop || verdict === Verdict.ToInside || verdict === Verdict.ToOutside, `verdict ${verdict}`);
  if (verdict !== Verdict.Drop) {
    const out = engine.output;
    if (!partial && !engine.outputPartial) assertForwardedChecksums(out, before, 'forwarded packet');
    if (side === Side.Inside && verdict === Verdict.ToOutside) remember(state, out);
  }
  for (const e of engine.drainEmitted()) {
    assertOriginatedChecksums(e.packet, 'emitted packet');
    if (e.packet.length >= 20 && ipv4.protocol(e.packet, 0) === PROTO_ICMP) {
      invariant(transportChecksumOk(e.packet) !== false, 'emitted ICMP packet: ICMP checksum wrong');
    }
  }
}
