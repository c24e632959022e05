/**
 * One relay port of a call: the port one leg sends a stream's RTP (or RTCP)
 * to. Packets it accepts (latch.ts decides) leave through its peer, the
 * matching port facing the other leg, toward that leg's media address. The
 * per-packet work of the user-space relay is `receive()`.
 */
import { Latch, type LatchMode } from './latch.js';

/** A bound UDP port of the relay. */
export interface RelayPortSocket {
  send(data: Uint8Array, address: string, port: number): void;
  close(): void;
}

export interface RelaySocketBinder {
  /** Binds the relay address at `port`; packets go to onPacket. Rejects when the port cannot be bound. */
  bind(port: number, onPacket: (data: Uint8Array, address: string, port: number) => void): Promise<RelayPortSocket>;
  /** The sockets' own counters (wakes, drops), where the implementation keeps them. */
  counters?(): object | null;
}

/** Counters of the whole relay, shared by every endpoint (one object, no per-packet allocation). */
export interface ForwardCounters {
  packets: number;
  bytes: number;
  /** Refused by the latch: not the learned source, or not eligible to be learned. */
  refusedSource: number;
  /** Not RTP/RTCP (version 2, long enough) where RTP was expected. */
  notRtp: number;
  /** Accepted but nowhere to send (the other leg has no usable address yet, or is on hold with c=0.0.0.0). */
  noDestination: number;
}

export class RelayEndpoint {
  readonly latch: Latch;
  socket: RelayPortSocket | null = null;
  /** The matching port facing the other leg; set once both exist. */
  peer: RelayEndpoint | null = null;
  /** Where packets for this endpoint's leg go until the leg's source is latched (from its SDP), or null. */
  expectedAddress: string | null = null;
  expectedPort = 0;
  /** This leg asked for no media (c=0.0.0.0): nothing is sent to it. */
  nullDestination = false;
  /** Packets and bytes received from this leg and accepted; forwarded to the other leg. */
  packetsIn = 0;
  bytesIn = 0;
  /** Packets from this leg the kernel forwarded (read from its counters). */
  kernelPacketsIn = 0;
  /** Packets that arrived here and were refused (latch) or not RTP. */
  dropped = 0;
  /** Clock time of the last accepted packet (user space), 0 if none. */
  lastPacketAt = 0;
  /** The kernel forwards this port's stream: packets no longer come here. */
  inKernel = false;
  /** Called when the latch's window closes: a source was learned, or the latched one confirmed itself. */
  onLatched: ((e: RelayEndpoint) => void) | null = null;

  constructor(
    /** The relay port (RTP even, RTCP odd). */
    readonly port: number,
    readonly kind: 'rtp' | 'rtcp',
    /** Check that packets look like RTP/RTCP (version 2) before they may latch or pass. */
    readonly checkRtp: boolean,
    latchMode: LatchMode,
    signallingAddress: string,
    private readonly counters: ForwardCounters,
    private readonly clock: { now(): number },
  ) {
    this.latch = new Latch(latchMode, signallingAddress, null);
  }

  /** The destination of packets for this endpoint's leg: the latched source, else the SDP's. */
  destination(): { address: string; port: number } | null {
    if (this.nullDestination) return null;
    if (this.latch.address !== null) return { address: this.latch.address, port: this.latch.port };
    return this.expectedAddress !== null ? { address: this.expectedAddress, port: this.expectedPort } : null;
  }

  /** One packet from the network, on this port. */
  receive(data: Uint8Array, address: string, port: number): void {
    // RTP and RTCP are version 2 with at least a fixed header (RTCP: 8 bytes).
    if (this.checkRtp && (data.length < (this.kind === 'rtp' ? 12 : 8) || data[0] >> 6 !== 2)) {
      this.counters.notRtp++;
      this.dropped++;
      return;
    }
    const latch = this.latch;
    const learning = latch.windowOpen;
    if (!latch.accept(address, port)) {
      this.counters.refusedSource++;
      this.dropped++;
      return;
    }
    this.packetsIn++;
    this.bytesIn += data.length;
    this.lastPacketAt = this.clock.now();
    if (learning && !latch.windowOpen && this.onLatched) this.onLatched(this);
    const peer = this.peer;
    if (peer === null || peer.socket === null) {
      this.counters.noDestination++;
      return;
    }
    // Toward the other leg: its latched source, else what its SDP says.
    let toAddress: string | null;
    let toPort: number;
    if (peer.nullDestination) {
      toAddress = null;
      toPort = 0;
    } else if (peer.latch.address !== null) {
      toAddress = peer.latch.address;
      toPort = peer.latch.port;
    } else {
      toAddress = peer.expectedAddress;
      toPort = peer.expectedPort;
    }
    if (toAddress === null) {
      this.counters.noDestination++;
      return;
    }
    peer.socket.send(data, toAddress, toPort);
    this.counters.packets++;
    this.counters.bytes += data.length;
  }
}
