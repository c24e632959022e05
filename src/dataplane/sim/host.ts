/**
 * A simulated end host: UDP sockets (the same UdpSocket/NetEnv interface as real
 * sockets, so protocol code runs here unchanged), a small TCP, and the ICMP a
 * host answers: echo replies and port unreachable for closed UDP ports.
 */
import { ipv4ToString, parseIpv4 } from '../../wire/address.js';
import {
  buildIcmpEcho,
  buildIcmpError,
  ICMP,
  ICMP_DEST_UNREACHABLE,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_HEADER,
  icmp,
  isIcmpError,
  UNREACH_PORT,
} from '../../wire/icmp.js';
import { ipv4, PROTO_ICMP, PROTO_TCP, PROTO_UDP } from '../../wire/ipv4.js';
import { buildUdpPacket, udp, UDP_HEADER } from '../../wire/udp.js';
import { Reassembler } from '../../wire/reassembly.js';
import type { Endpoint, NetEnv, UdpBindOptions, UdpSocket } from '../../net/udp.js';
import type { VirtualScheduler } from './scheduler.js';
import { SimNode, type SimInterface } from './node.js';
import { SimTcpStack } from './tcp.js';

export class AddressInUseError extends Error {
  override name = 'AddressInUseError';
}

/** An ICMP error a host received: what it said and about which packet. */
export interface ReceivedIcmpError {
  from: string;
  type: number;
  code: number;
  /** The quoted packet (IP header and what follows). */
  quoted: Uint8Array;
  time: number;
}

class SimUdpSocket implements UdpSocket {
  handler: (data: Uint8Array, from: Endpoint) => void = () => {};
  closed = false;
  constructor(
    private readonly host: SimHost,
    readonly local: Endpoint,
    readonly localAddr: number,
  ) {}
  send(data: Uint8Array, to: Endpoint): void {
    if (this.closed) throw new Error('socket closed');
    this.host.sendUdp(this.localAddr, this.local.port, parseIpv4(to.address), to.port, data);
  }
  onMessage(handler: (data: Uint8Array, from: Endpoint) => void): void {
    this.handler = handler;
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.host.unbind(this);
  }
}

export class SimHost extends SimNode {
  private readonly sockets = new Map<number, SimUdpSocket[]>();
  private nextEphemeral: number;
  readonly tcp: SimTcpStack;
  readonly icmpErrors: ReceivedIcmpError[] = [];
  private readonly pingWaiters = new Map<number, (rtt: number) => void>();
  private pingSeq = 0;
  /** Answer UDP to a closed port with ICMP port unreachable (as Linux does). */
  portUnreachable = true;
  /** Datagrams that arrived for no socket. */
  unclaimed = 0;
  readonly env: NetEnv;
  private readonly reassembler = new Reassembler();

  constructor(
    name: string,
    readonly scheduler: VirtualScheduler,
    readonly random: () => number,
  ) {
    super(name);
    this.nextEphemeral = 32768 + Math.floor(random() * 28000);
    this.tcp = new SimTcpStack(this);
    this.env = {
      scheduler,
      random,
      bindUdp: (options?: UdpBindOptions) => Promise.resolve(this.bindUdp(options)),
    };
  }

  /** Binds a UDP socket now (the NetEnv version wraps this in a promise). */
  bindUdp(options: UdpBindOptions = {}): UdpSocket {
    const addr = options.address && options.address !== '0.0.0.0' ? parseIpv4(options.address) : 0;
    if (addr !== 0 && !this.ownsAddress(addr)) throw new Error(`${this.name} has no address ${options.address}`);
    let port = options.port ?? 0;
    if (port === 0) port = this.ephemeralPort((p) => !this.sockets.has(p));
    const existing = this.sockets.get(port) ?? [];
    if (existing.some((s) => s.localAddr === 0 || addr === 0 || s.localAddr === addr)) {
      throw new AddressInUseError(`${this.name}: UDP port ${port} in use`);
    }
    const shown = addr === 0 ? this.address : ipv4ToString(addr);
    const s = new SimUdpSocket(this, { address: shown, port }, addr);
    existing.push(s);
    this.sockets.set(port, existing);
    return s;
  }

  /** A free ephemeral port (sequential from a random start, like Linux). */
  ephemeralPort(free: (p: number) => boolean): number {
    for (let i = 0; i < 28232; i++) {
      const p = this.nextEphemeral;
      this.nextEphemeral = p >= 60999 ? 32768 : p + 1;
      if (free(p)) return p;
    }
    throw new Error(`${this.name}: out of ephemeral ports`);
  }

  unbind(s: SimUdpSocket): void {
    const list = this.sockets.get(s.local.port);
    if (!list) return;
    const rest = list.filter((x) => x !== s);
    if (rest.length) this.sockets.set(s.local.port, rest);
    else this.sockets.delete(s.local.port);
  }

  /** The source address for traffic to `dst`: the outgoing interface's primary. */
  sourceFor(dst: number): number {
    const r = this.lookup(dst);
    return r ? r.iface.addrs[0] : this.interfaces[0].addrs[0];
  }

  sendUdp(srcAddr: number, srcPort: number, dst: number, dstPort: number, payload: Uint8Array): void {
    const src = srcAddr === 0 ? this.sourceFor(dst) : srcAddr;
    this.send(buildUdpPacket({ src, dst, srcPort, dstPort, payload }));
  }

  /** Sends an echo request; resolves with the round-trip time, or null after timeoutMs. */
  ping(to: string, timeoutMs = 2000): Promise<number | null> {
    const dst = parseIpv4(to);
    const seq = ++this.pingSeq & 0xffff;
    const id = 0x4d51; // "MQ"
    const sent = this.scheduler.now();
    return new Promise((resolve) => {
      const timer = this.scheduler.setTimeout(() => {
        this.pingWaiters.delete(seq);
        resolve(null);
      }, timeoutMs);
      this.pingWaiters.set(seq, (at) => {
        this.scheduler.clearTimeout(timer);
        resolve(at - sent);
      });
      this.send(buildIcmpEcho(this.sourceFor(dst), dst, ICMP_ECHO_REQUEST, id, seq));
    });
  }

  protected deliverLocal(fragment: Uint8Array, _iface: SimInterface): void {
    const packet = this.reassembler.accept(fragment, this.scheduler.now());
    if (!packet) return;
    const proto = ipv4.protocol(packet, 0);
    const hl = ipv4.headerLength(packet, 0);
    const end = ipv4.totalLength(packet, 0);
    if (proto === PROTO_UDP) this.deliverUdp(packet, hl, end);
    else if (proto === PROTO_TCP) this.tcp.receive(packet);
    else if (proto === PROTO_ICMP && end - hl >= ICMP_HEADER) this.deliverIcmp(packet, hl, end);
  }

  private deliverUdp(packet: Uint8Array, hl: number, end: number): void {
    if (end - hl < UDP_HEADER) return;
    const dstPort = udp.dstPort(packet, hl);
    const dst = ipv4.dst(packet, 0);
    const s = this.sockets.get(dstPort)?.find((x) => x.localAddr === 0 || x.localAddr === dst);
    if (!s) {
      this.unclaimed++;
      if (this.portUnreachable) this.send(buildIcmpError(dst, ICMP_DEST_UNREACHABLE, UNREACH_PORT, packet, 8));
      return;
    }
    const len = Math.min(udp.length(packet, hl), end - hl);
    const from = { address: ipv4ToString(ipv4.src(packet, 0)), port: udp.srcPort(packet, hl) };
    s.handler(packet.slice(hl + UDP_HEADER, hl + len), from);
  }

  private deliverIcmp(packet: Uint8Array, hl: number, end: number): void {
    const type = icmp.type(packet, hl);
    const src = ipv4.src(packet, 0);
    if (type === ICMP_ECHO_REQUEST) {
      const data = packet.slice(hl + ICMP_HEADER, end);
      this.send(buildIcmpEcho(ipv4.dst(packet, 0), src, ICMP_ECHO_REPLY, icmp.identifier(packet, hl), icmp.sequence(packet, hl), data));
    } else if (type === ICMP_ECHO_REPLY) {
      this.pingWaiters.get(icmp.sequence(packet, hl))?.(this.scheduler.now());
      this.pingWaiters.delete(icmp.sequence(packet, hl));
    } else if (isIcmpError(type)) {
      this.icmpErrors.push({
        from: ipv4ToString(src),
        type,
        code: icmp.code(packet, hl),
        quoted: packet.slice(hl + ICMP.QUOTED, end),
        time: this.scheduler.now(),
      });
    }
  }
}
