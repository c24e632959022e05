/**
 * Enough TCP for a simulated host: the three-way handshake (and simultaneous
 * open, which TCP hole punching relies on), an in-order reliable byte stream
 * with retransmission, FIN and RST. No congestion control or windows: the sim
 * tests NAT behaviour, not throughput.
 */
import { ipv4ToString, parseIpv4 } from '../../wire/address.js';
import { ipv4 } from '../../wire/ipv4.js';
import { buildTcpPacket, tcp, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../wire/tcp.js';
import type { TimerHandle } from '../../util/clock.js';
import type { Endpoint } from '../../net/udp.js';
import type { VirtualScheduler } from './scheduler.js';

/** What the TCP stack needs of the host it runs on (a SimHost is one). */
export interface SimTcpHost {
  readonly name: string;
  readonly scheduler: VirtualScheduler;
  random(): number;
  /** A free ephemeral port among those `free` accepts. */
  ephemeralPort(free: (p: number) => boolean): number;
  /** The source address for traffic to `dst`. */
  sourceFor(dst: number): number;
  send(packet: Uint8Array): boolean;
}

export type TcpState =
  | 'SYN_SENT'
  | 'SYN_RECEIVED'
  | 'ESTABLISHED'
  | 'FIN_WAIT_1'
  | 'FIN_WAIT_2'
  | 'CLOSE_WAIT'
  | 'LAST_ACK'
  | 'CLOSING'
  | 'TIME_WAIT'
  | 'CLOSED';

const MSS = 1400;
const INITIAL_RTO_MS = 1000;
const MAX_RETRIES = 6;
const TIME_WAIT_MS = 1000;

interface Pending {
  seq: number;
  flags: number;
  data: Uint8Array;
  /** Sequence space used: data length, plus one for SYN or FIN. */
  span: number;
}

const seqLt = (a: number, b: number) => ((a - b) | 0) < 0;
const seqLe = (a: number, b: number) => ((a - b) | 0) <= 0;

export class SimTcpConnection {
  state: TcpState;
  private sndUna: number;
  private sndNxt: number;
  private rcvNxt = 0;
  private readonly queue: Pending[] = [];
  private timer: TimerHandle | null = null;
  private rto = INITIAL_RTO_MS;
  private retries = 0;
  private openHandler: () => void = () => {};
  private dataHandler: (data: Uint8Array) => void = () => {};
  private endHandler: () => void = () => {};
  private closeHandler: (error?: string) => void = () => {};
  /** Bytes received in order (for tests). */
  received = 0;

  constructor(
    private readonly stack: SimTcpStack,
    readonly local: Endpoint,
    readonly remote: Endpoint,
    state: TcpState,
    private readonly iss: number,
  ) {
    this.state = state;
    this.sndUna = iss;
    this.sndNxt = iss;
  }

  onOpen(h: () => void): this {
    this.openHandler = h;
    if (this.state === 'ESTABLISHED') queueMicrotask(h);
    return this;
  }
  onData(h: (data: Uint8Array) => void): this {
    this.dataHandler = h;
    return this;
  }
  /** The peer sent FIN: no more data will come. */
  onEnd(h: () => void): this {
    this.endHandler = h;
    return this;
  }
  /** The connection is gone: closed both ways, reset, or timed out (with a reason). */
  onClose(h: (error?: string) => void): this {
    this.closeHandler = h;
    return this;
  }

  send(data: Uint8Array | string): void {
    if (this.state !== 'ESTABLISHED' && this.state !== 'CLOSE_WAIT') throw new Error(`cannot send in ${this.state}`);
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    for (let o = 0; o < bytes.length; o += MSS) this.transmitNew(TCP_ACK, bytes.slice(o, o + MSS));
  }

  close(): void {
    if (this.state === 'ESTABLISHED') {
      this.state = 'FIN_WAIT_1';
      this.transmitNew(TCP_FIN | TCP_ACK, new Uint8Array(0));
    } else if (this.state === 'CLOSE_WAIT') {
      this.state = 'LAST_ACK';
      this.transmitNew(TCP_FIN | TCP_ACK, new Uint8Array(0));
    } else if (this.state === 'SYN_SENT' || this.state === 'SYN_RECEIVED') {
      this.finish();
    }
  }

  /** Sends RST and forgets the connection. */
  abort(): void {
    if (this.state === 'CLOSED') return;
    this.emit(TCP_RST | TCP_ACK, this.sndNxt, new Uint8Array(0));
    this.finish('aborted');
  }

  start(): void {
    // SYN_SENT: our SYN; SYN_RECEIVED: our SYN+ACK.
    this.transmitNew(this.state === 'SYN_SENT' ? TCP_SYN : TCP_SYN | TCP_ACK, new Uint8Array(0));
  }

  setRemoteIsn(isn: number): void {
    this.rcvNxt = (isn + 1) >>> 0;
  }

  handle(seq: number, ack: number, flags: number, payload: Uint8Array): void {
    if (flags & TCP_RST) {
      this.finish('reset');
      return;
    }
    if (this.state === 'SYN_SENT') {
      if (flags & TCP_SYN && flags & TCP_ACK && ack === ((this.iss + 1) >>> 0)) {
        this.rcvNxt = (seq + 1) >>> 0;
        this.acked(ack);
        this.established();
        this.emit(TCP_ACK, this.sndNxt, new Uint8Array(0));
      } else if (flags & TCP_SYN && !(flags & TCP_ACK)) {
        // Simultaneous open: both sides sent SYN. Answer SYN+ACK with our ISN.
        this.rcvNxt = (seq + 1) >>> 0;
        this.state = 'SYN_RECEIVED';
        this.queue[0].flags = TCP_SYN | TCP_ACK;
        this.emit(TCP_SYN | TCP_ACK, this.iss, new Uint8Array(0));
      }
      return;
    }
    if (this.state === 'SYN_RECEIVED') {
      if (flags & TCP_SYN && !(flags & TCP_ACK)) {
        this.emit(TCP_SYN | TCP_ACK, this.iss, new Uint8Array(0)); // our SYN+ACK was lost
        return;
      }
      if (flags & TCP_ACK && seqLt(this.iss, ack)) {
        this.acked(ack);
        this.established();
        if (flags & TCP_SYN) this.emit(TCP_ACK, this.sndNxt, new Uint8Array(0));
      } else {
        return;
      }
    } else if (flags & TCP_SYN) {
      // A retransmitted SYN+ACK after we are established: our ACK was lost.
      this.emit(TCP_ACK, this.sndNxt, new Uint8Array(0));
      return;
    }
    if (flags & TCP_ACK) this.acked(ack);
    const span = payload.length + (flags & TCP_FIN ? 1 : 0);
    if (span === 0) return;
    if (seq !== this.rcvNxt) {
      this.emit(TCP_ACK, this.sndNxt, new Uint8Array(0)); // duplicate or gap: say where we are
      return;
    }
    this.rcvNxt = (this.rcvNxt + span) >>> 0;
    if (payload.length) {
      this.received += payload.length;
      this.dataHandler(payload);
    }
    this.emit(TCP_ACK, this.sndNxt, new Uint8Array(0));
    if (flags & TCP_FIN) this.peerFinished();
  }

  private peerFinished(): void {
    if (this.state === 'ESTABLISHED') {
      this.state = 'CLOSE_WAIT';
      this.endHandler();
    } else if (this.state === 'FIN_WAIT_1') {
      this.state = 'CLOSING';
      this.endHandler();
    } else if (this.state === 'FIN_WAIT_2') {
      this.endHandler();
      this.timeWait();
    }
  }

  private established(): void {
    this.state = 'ESTABLISHED';
    this.stack.opened(this);
    this.openHandler();
  }

  private acked(ack: number): void {
    if (!seqLt(this.sndUna, ack) || seqLt(this.sndNxt, ack)) return;
    this.sndUna = ack;
    while (this.queue.length && seqLe((this.queue[0].seq + this.queue[0].span) >>> 0, ack)) this.queue.shift();
    this.retries = 0;
    this.rto = INITIAL_RTO_MS;
    this.restartTimer();
    if (this.sndUna === this.sndNxt) {
      if (this.state === 'FIN_WAIT_1') this.state = 'FIN_WAIT_2';
      else if (this.state === 'CLOSING') this.timeWait();
      else if (this.state === 'LAST_ACK') this.finish();
    }
  }

  private transmitNew(flags: number, data: Uint8Array): void {
    const span = data.length + (flags & (TCP_SYN | TCP_FIN) ? 1 : 0);
    const p: Pending = { seq: this.sndNxt, flags, data, span };
    this.sndNxt = (this.sndNxt + span) >>> 0;
    this.queue.push(p);
    this.emit(flags, p.seq, data);
    if (!this.timer) this.restartTimer();
  }

  private restartTimer(): void {
    const s = this.stack.host.scheduler;
    if (this.timer) s.clearTimeout(this.timer);
    this.timer = null;
    if (this.queue.length === 0 || this.state === 'CLOSED') return;
    this.timer = s.setTimeout(() => this.retransmit(), this.rto);
  }

  private retransmit(): void {
    this.timer = null;
    if (this.queue.length === 0 || this.state === 'CLOSED') return;
    if (++this.retries > MAX_RETRIES) {
      this.finish('timeout');
      return;
    }
    for (const p of this.queue) this.emit(p.flags, p.seq, p.data);
    this.rto = Math.min(this.rto * 2, 60_000);
    this.restartTimer();
  }

  private emit(flags: number, seq: number, data: Uint8Array): void {
    // Every segment but the opening bare SYN acknowledges what we have received.
    const withAck = flags !== TCP_SYN;
    this.stack.transmit(this, withAck ? flags | TCP_ACK : flags, seq, withAck ? this.rcvNxt : 0, data);
  }

  private timeWait(): void {
    this.state = 'TIME_WAIT';
    this.stack.host.scheduler.setTimeout(() => this.finish(), TIME_WAIT_MS);
  }

  private finish(error?: string): void {
    if (this.state === 'CLOSED') return;
    this.state = 'CLOSED';
    if (this.timer) this.stack.host.scheduler.clearTimeout(this.timer);
    this.timer = null;
    this.stack.forget(this);
    this.closeHandler(error);
  }
}

export interface SimTcpListener {
  readonly port: number;
  close(): void;
}

export class SimTcpStack {
  private readonly connections = new Map<string, SimTcpConnection>();
  private readonly listeners = new Map<number, (c: SimTcpConnection) => void>();
  /** Connections from listeners waiting for the handshake to finish. */
  private readonly embryonic = new Set<SimTcpConnection>();
  private readonly acceptors = new Map<SimTcpConnection, (c: SimTcpConnection) => void>();
  resetsSent = 0;

  constructor(readonly host: SimTcpHost) {}

  listen(port: number, onConnection: (c: SimTcpConnection) => void): SimTcpListener {
    if (this.listeners.has(port)) throw new Error(`${this.host.name}: TCP port ${port} already listening`);
    this.listeners.set(port, onConnection);
    return { port, close: () => this.listeners.delete(port) };
  }

  /** Opens a connection; `localPort` may equal a listening port (SO_REUSEADDR, as punching needs). */
  connect(to: Endpoint, options: { localPort?: number } = {}): SimTcpConnection {
    const dst = parseIpv4(to.address);
    const localPort =
      options.localPort ?? this.host.ephemeralPort((p) => !this.listeners.has(p) && ![...this.connections.values()].some((c) => c.local.port === p));
    const k = key(localPort, to.address, to.port);
    if (this.connections.has(k)) throw new Error(`${this.host.name}: connection ${k} exists`);
    const local = { address: ipv4ToString(this.host.sourceFor(dst)), port: localPort };
    const c = new SimTcpConnection(this, local, { ...to }, 'SYN_SENT', this.isn());
    this.connections.set(k, c);
    c.start();
    return c;
  }

  receive(packet: Uint8Array): void {
    const hl = ipv4.headerLength(packet, 0);
    const end = ipv4.totalLength(packet, 0);
    if (end - hl < 20) return;
    const thl = tcp.headerLength(packet, hl);
    if (thl < 20 || hl + thl > end) return;
    const srcAddr = ipv4ToString(ipv4.src(packet, 0));
    const sport = tcp.srcPort(packet, hl);
    const dport = tcp.dstPort(packet, hl);
    const seq = tcp.seq(packet, hl);
    const ack = tcp.ack(packet, hl);
    const flags = tcp.flags(packet, hl);
    const payload = packet.slice(hl + thl, end);
    const c = this.connections.get(key(dport, srcAddr, sport));
    if (c) {
      c.handle(seq, ack, flags, payload);
      return;
    }
    const accept = this.listeners.get(dport);
    if (accept && (flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN) {
      const local = { address: ipv4ToString(ipv4.dst(packet, 0)), port: dport };
      const conn = new SimTcpConnection(this, local, { address: srcAddr, port: sport }, 'SYN_RECEIVED', this.isn());
      conn.setRemoteIsn(seq);
      this.connections.set(key(dport, srcAddr, sport), conn);
      this.embryonic.add(conn);
      this.acceptors.set(conn, accept);
      conn.start();
      return;
    }
    if (flags & TCP_RST) return;
    // Nobody here: reset, as RFC 9293 says a closed port answers.
    this.resetsSent++;
    const rstSeq = flags & TCP_ACK ? ack : 0;
    const rstAck = (seq + payload.length + (flags & TCP_SYN ? 1 : 0) + (flags & TCP_FIN ? 1 : 0)) >>> 0;
    this.host.send(
      buildTcpPacket({
        src: ipv4.dst(packet, 0),
        dst: ipv4.src(packet, 0),
        srcPort: dport,
        dstPort: sport,
        seq: rstSeq,
        ack: rstAck,
        flags: flags & TCP_ACK ? TCP_RST : TCP_RST | TCP_ACK,
        window: 0,
        payload: new Uint8Array(0),
      }),
    );
  }

  transmit(c: SimTcpConnection, flags: number, seq: number, ack: number, data: Uint8Array): void {
    this.host.send(
      buildTcpPacket({
        src: parseIpv4(c.local.address),
        dst: parseIpv4(c.remote.address),
        srcPort: c.local.port,
        dstPort: c.remote.port,
        seq,
        ack,
        flags,
        window: 65535,
        payload: data,
      }),
    );
  }

  opened(c: SimTcpConnection): void {
    if (this.embryonic.delete(c)) {
      const accept = this.acceptors.get(c);
      this.acceptors.delete(c);
      accept?.(c);
    }
  }

  forget(c: SimTcpConnection): void {
    this.connections.delete(key(c.local.port, c.remote.address, c.remote.port));
    this.embryonic.delete(c);
    this.acceptors.delete(c);
  }

  get size(): number {
    return this.connections.size;
  }

  private isn(): number {
    return Math.floor(this.host.random() * 2 ** 32) >>> 0;
  }
}

function key(localPort: number, remoteAddr: string, remotePort: number): string {
  return `${localPort}|${remoteAddr}|${remotePort}`;
}
