/**
 * The media relay: anchors every offer and answer on relay ports, learns
 * each leg's real media source (latch.ts), forwards RTP and RTCP between the
 * legs in user space (endpoint.ts), hands latched streams to the kernel when
 * it can (kernel forwarding), opens the firewall for the ports of live calls
 * only (pinholes), and ends calls that have gone silent, were never
 * answered, or have lasted too long.
 *
 * Both front ends use it: the SIP proxy for the calls it routes, and the ng
 * control protocol for a SIP proxy that drives the relay from outside
 * (Kamailio's rtpengine module).
 */
import type { Edit } from '../../alg/text/edit.js';
import type { Scheduler, TimerHandle } from '../../util/clock.js';
import type { UniformSource } from '../../util/random.js';
import { MediaCall, RelayStream, type CallState } from './call.js';
import { RelayEndpoint, type ForwardCounters, type RelaySocketBinder } from './endpoint.js';
import type { LatchMode } from './latch.js';
import { PortAllocator } from './port-allocator.js';
import { isPublicIpv4 } from './public-address.js';
import { anchorSdp, readSdpStreams, type SdpStream } from './sdp-anchor.js';

/**
 * The firewall: admits media on relay ports while a call holds them. open()
 * resolves once the ports admit packets: the relay waits for it before its
 * SDP names them, so a phone's first packets never meet a closed port.
 */
export interface PinholeControl {
  open(ports: readonly number[]): void | Promise<void>;
  close(ports: readonly number[]): void;
}

/** A latched stream (RTP or RTCP) as the kernel forwards it: from a to b and back, through the relay's two ports. */
export interface KernelPair {
  relayAddress: string;
  /** Leg 0: packets from address:port to relayPort go to leg 1. */
  a: { relayPort: number; address: string; port: number };
  b: { relayPort: number; address: string; port: number };
}

export interface KernelCounts {
  /** Packets and bytes the kernel forwarded from a (to b) and from b (to a), since the pair was installed. */
  aPackets: number;
  aBytes: number;
  bPackets: number;
  bBytes: number;
}

export interface KernelForwarding {
  /** Hands a pair to the kernel; false when it could not (the stream stays in user space). */
  install(pair: KernelPair): Promise<boolean>;
  /** Takes a pair back: afterwards its packets reach the relay's sockets again. */
  remove(pair: KernelPair): Promise<void>;
  /** Counts of every installed pair, by a.relayPort. */
  counts(): Promise<Map<number, KernelCounts>>;
}

export interface MediaTimeouts {
  /** A confirmed call whose streams carried nothing for this long ends (ms). */
  mediaMs: number;
  /** The same for a call whose every stream is on hold. */
  heldMs: number;
  /** A call offered and never answered (no final 2xx) ends after this long. */
  offerMs: number;
  /** Any call ends after this long. */
  maxCallMs: number;
}

export type EndReason = 'bye' | 'cancel' | 'rejected' | 'deleted' | 'media-timeout' | 'offer-timeout' | 'max-duration' | 'transaction-timeout' | 'shutdown';

export interface MediaRelayOptions {
  /** The relay's address in SDPs (and the address its ports are bound on). */
  address: string;
  ports: { min: number; max: number };
  latch: LatchMode;
  removeIce: boolean;
  timeouts: MediaTimeouts;
  binder: RelaySocketBinder;
  scheduler: Scheduler;
  random: UniformSource;
  pinholes?: PinholeControl;
  kernel?: KernelForwarding;
  /** How often kernel counters are read (ms); default 5000. */
  kernelPollMs?: number;
  log?(event: string, fields: Record<string, unknown>): void;
}

export interface RelayCounters extends ForwardCounters {
  callsCreated: number;
  callsEnded: number;
  endedBy: Record<EndReason, number>;
  /** Offers refused because no relay port pair was free. */
  portsExhausted: number;
  /** SDPs that did not parse (the message then passes with its SDP untouched, or is refused, by the caller's policy). */
  malformedSdp: number;
  /** Ports that could not be bound (held by another program). */
  bindFailures: number;
  kernelInstalled: number;
  kernelRemoved: number;
  kernelFailed: number;
  /** Packets and bytes the kernel forwarded (read from its counters). */
  kernelPackets: number;
  kernelBytes: number;
}

export type AnchorResult =
  | { ok: true; edits: Edit[]; call: MediaCall }
  | { ok: false; reason: 'ports-exhausted' | 'malformed-sdp' | 'no-call' | 'unknown-tag'; detail?: string };

export interface SdpInput {
  bytes: Uint8Array;
  start: number;
  end: number;
}

const MAX_BIND_ATTEMPTS = 8;

export class MediaRelay {
  readonly counters: RelayCounters;
  readonly allocator: PortAllocator;
  /** Told of a call the relay ended by itself (timeouts): the signalling side may hang it up. */
  onEnded: ((callId: string, reason: EndReason) => void) | null = null;
  private readonly calls = new Map<string, MediaCall>();
  /** Kernel pairs by leg 0's relay port. */
  private readonly kernelPairs = new Map<number, { pair: KernelPair; stream: RelayStream; kind: 0 | 1; seen: KernelCounts }>();
  private sweepTimer: TimerHandle | null = null;
  private pollTimer: TimerHandle | null = null;
  private closed = false;

  constructor(private readonly o: MediaRelayOptions) {
    this.allocator = new PortAllocator({ min: o.ports.min, max: o.ports.max, random: o.random });
    const endedBy = { bye: 0, cancel: 0, rejected: 0, deleted: 0, 'media-timeout': 0, 'offer-timeout': 0, 'max-duration': 0, 'transaction-timeout': 0, shutdown: 0 };
    this.counters = {
      packets: 0, bytes: 0, refusedSource: 0, notRtp: 0, noDestination: 0,
      callsCreated: 0, callsEnded: 0, endedBy, portsExhausted: 0, malformedSdp: 0, bindFailures: 0,
      kernelInstalled: 0, kernelRemoved: 0, kernelFailed: 0, kernelPackets: 0, kernelBytes: 0,
    };
    this.scheduleSweep();
    if (o.kernel) this.schedulePoll();
  }

  get address(): string {
    return this.o.address;
  }

  get callCount(): number {
    return this.calls.size;
  }

  get kernelEnabled(): boolean {
    return this.o.kernel !== undefined;
  }

  call(callId: string): MediaCall | undefined {
    return this.calls.get(callId);
  }

  allCalls(): IterableIterator<MediaCall> {
    return this.calls.values();
  }

  /**
   * An offer from the leg tagged `offererTag` (the From tag of an initial
   * INVITE; either side's in a re-offer). Returns the edits that anchor its
   * SDP for the other leg. `answererAddress`: where the offer is going, when
   * known (a registered phone's NAT address): the other leg may then be
   * learned from as soon as it sends, before its answer is seen.
   */
  async offer(callId: string, offererTag: string | null, signallingAddress: string, sdp: SdpInput, answererAddress?: string): Promise<AnchorResult> {
    const read = readSdpStreams(sdp.bytes, sdp.start, sdp.end);
    if (!read.ok) {
      this.counters.malformedSdp++;
      return { ok: false, reason: 'malformed-sdp', detail: read.reason };
    }
    const now = this.o.scheduler.now();
    let call = this.calls.get(callId);
    let created = false;
    if (call === undefined || call.ended) {
      call = new MediaCall(callId, now, offererTag, signallingAddress);
      if (answererAddress) call.legs[1].signallingAddress = answererAddress;
      this.calls.set(callId, call);
      this.counters.callsCreated++;
      created = true;
    }
    let leg = call.legOf(offererTag);
    if (leg < 0) {
      // A re-offer from a tag we do not know: the answering side before its first answer, or a new fork.
      if (call.legs[1].tag === null) {
        call.legs[1].tag = offererTag;
        leg = 1;
      } else {
        return { ok: false, reason: 'unknown-tag' };
      }
    }
    const other = 1 - leg;
    const added: RelayStream[] = [];
    const opening: Array<void | Promise<void>> = [];
    for (const s of read.streams) {
      if (!s.relayable) continue;
      if (s.disabled) {
        this.releaseStream(call, s.index);
        continue;
      }
      if (call.streams.has(s.index)) continue;
      const stream = await this.newStream(call, s, leg, signallingAddress);
      if (stream === null) {
        for (const a of added) this.releaseStream(call, a.index);
        if (created) this.forget(call);
        this.counters.portsExhausted++;
        return { ok: false, reason: 'ports-exhausted' };
      }
      added.push(stream);
      opening.push(this.o.pinholes?.open(stream.ports()));
    }
    await Promise.all(opening);
    // Ended while its pinholes were being opened (a CANCEL, a BYE, a timeout): its ports are gone.
    if (call.ended) return { ok: false, reason: 'no-call' };
    await this.learnAgain(call, leg, signallingAddress, read.streams);
    call.lastSignalAt = now;
    const edits = anchorSdp(sdp.bytes, read, {
      relayAddress: this.o.address,
      relayPort: (s) => call.streams.get(s.index)?.endpoints[other][0].port ?? null,
      removeIce: this.o.removeIce,
    });
    return { ok: true, edits, call };
  }

  /**
   * The answer to the pending offer, from the leg tagged `answererTag`.
   * `final`: a 2xx (the call is confirmed), not early media.
   */
  async answer(callId: string, answererTag: string | null, signallingAddress: string, sdp: SdpInput, final: boolean): Promise<AnchorResult> {
    const call = this.calls.get(callId);
    if (call === undefined || call.ended) return { ok: false, reason: 'no-call' };
    const read = readSdpStreams(sdp.bytes, sdp.start, sdp.end);
    if (!read.ok) {
      this.counters.malformedSdp++;
      return { ok: false, reason: 'malformed-sdp', detail: read.reason };
    }
    let leg = call.legOf(answererTag);
    if (leg < 0) {
      // The first answer names the answering leg; a later one with another tag is another fork answering.
      leg = 1;
      call.legs[1].tag = answererTag;
    }
    const other = 1 - leg;
    for (const s of read.streams) if (s.disabled) this.releaseStream(call, s.index);
    await this.learnAgain(call, leg, signallingAddress, read.streams);
    const now = this.o.scheduler.now();
    call.lastSignalAt = now;
    if (final && call.state !== 'confirmed') {
      call.state = 'confirmed';
      call.confirmedAt = now;
    } else if (!final && call.state === 'offered') {
      call.state = 'early';
    }
    const edits = anchorSdp(sdp.bytes, read, {
      relayAddress: this.o.address,
      relayPort: (s) => call.streams.get(s.index)?.endpoints[other][0].port ?? null,
      removeIce: this.o.removeIce,
    });
    return { ok: true, edits, call };
  }

  /** Confirms a call without an SDP in the 2xx (the answer came earlier, in a reliable 18x). */
  confirm(callId: string): void {
    const call = this.calls.get(callId);
    if (!call || call.ended || call.state === 'confirmed') return;
    call.state = 'confirmed';
    call.confirmedAt = this.o.scheduler.now();
  }

  /** Ends a call and frees its ports. */
  async end(callId: string, reason: EndReason): Promise<boolean> {
    const call = this.calls.get(callId);
    if (!call) return false;
    await this.endCall(call, reason, false);
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer) this.o.scheduler.clearTimeout(this.sweepTimer);
    if (this.pollTimer) this.o.scheduler.clearTimeout(this.pollTimer);
    for (const call of [...this.calls.values()]) await this.endCall(call, 'shutdown', false);
  }

  // ------------------------------------------------------------------ streams

  private endpoint(port: number, kind: 'rtp' | 'rtcp', s: SdpStream, signallingAddress: string): RelayEndpoint {
    return new RelayEndpoint(port, kind, s.rtp, this.o.latch, signallingAddress, this.counters, this.o.scheduler);
  }

  /** Allocates and binds the four ports of a new stream; null when the range is exhausted. */
  private async newStream(call: MediaCall, s: SdpStream, offerer: number, signallingAddress: string): Promise<RelayStream | null> {
    const sides: Array<[RelayEndpoint, RelayEndpoint]> = [];
    for (let side = 0; side < 2; side++) {
      const pair = await this.bindPair(s, side === offerer ? signallingAddress : call.legs[side].signallingAddress);
      if (pair === null) {
        for (const p of sides) this.closePair(p);
        return null;
      }
      sides.push(pair);
    }
    const stream = new RelayStream(s.index, s.media, sides[0], sides[1]);
    for (const leg of stream.endpoints) for (const e of leg) e.onLatched = () => this.maybeToKernel(stream);
    call.streams.set(s.index, stream);
    return stream;
  }

  private async bindPair(s: SdpStream, signallingAddress: string): Promise<[RelayEndpoint, RelayEndpoint] | null> {
    for (let attempt = 0; attempt < MAX_BIND_ATTEMPTS; attempt++) {
      const port = this.allocator.allocate(this.o.scheduler.now());
      if (port === null) return null;
      const rtp = this.endpoint(port, 'rtp', s, signallingAddress);
      const rtcp = this.endpoint(port + 1, 'rtcp', s, signallingAddress);
      try {
        rtp.socket = await this.o.binder.bind(port, (d, a, p) => rtp.receive(d, a, p));
        try {
          rtcp.socket = await this.o.binder.bind(port + 1, (d, a, p) => rtcp.receive(d, a, p));
        } catch (err) {
          rtp.socket.close();
          throw err;
        }
        return [rtp, rtcp];
      } catch (err) {
        this.counters.bindFailures++;
        this.allocator.markUnusable(port);
        this.o.log?.('relay-bind-failed', { port, reason: (err as Error).message });
      }
    }
    return null;
  }

  private closePair(p: [RelayEndpoint, RelayEndpoint]): void {
    const now = this.o.scheduler.now();
    for (const e of p) {
      e.socket?.close();
      e.socket = null;
    }
    this.allocator.freePair(p[0].port, now);
  }

  private releaseStream(call: MediaCall, index: number): void {
    const stream = call.streams.get(index);
    if (!stream) return;
    call.streams.delete(index);
    void this.fromKernel(stream);
    this.o.pinholes?.close(stream.ports());
    this.closePair(stream.endpoints[0]);
    this.closePair(stream.endpoints[1]);
  }

  /**
   * A leg's new SDP: where its media goes now, and its ports learn its
   * source again (strictly: from its signalling address or its SDP's public
   * address). A stream the kernel forwards comes back to user space first.
   */
  private async learnAgain(call: MediaCall, leg: number, signallingAddress: string, streams: SdpStream[]): Promise<void> {
    const l = call.legs[leg];
    l.signallingAddress = signallingAddress;
    l.announced = streams;
    for (const s of streams) {
      const stream = call.streams.get(s.index);
      if (!stream || s.disabled) continue;
      if (stream.kernel[0] || stream.kernel[1]) await this.fromKernel(stream);
      const sdpAddress = isPublicIpv4(s.address) ? s.address : null;
      const target = sdpAddress ?? signallingAddress;
      const [rtp, rtcp] = stream.endpoints[leg];
      rtp.latch.reopen(signallingAddress, sdpAddress);
      rtp.expectedAddress = target;
      rtp.expectedPort = s.port;
      rtp.nullDestination = s.nullAddress;
      const rtcpSdpAddress = isPublicIpv4(s.rtcpAddress) ? s.rtcpAddress : sdpAddress;
      rtcp.latch.reopen(signallingAddress, rtcpSdpAddress);
      rtcp.expectedAddress = rtcpSdpAddress ?? signallingAddress;
      rtcp.expectedPort = s.rtcpMux ? s.port : s.rtcpPort;
      rtcp.nullDestination = s.nullAddress;
    }
  }

  // ------------------------------------------------------------------ kernel

  /** Both legs of the stream's RTP (or RTCP) are latched: the kernel may take it. */
  private maybeToKernel(stream: RelayStream): void {
    const k = this.o.kernel;
    if (!k || this.closed) return;
    for (const kind of [0, 1] as const) {
      const a = stream.endpoints[0][kind];
      const b = stream.endpoints[1][kind];
      if (stream.kernel[kind] || !a.latch.latched || !b.latch.latched || a.latch.windowOpen || b.latch.windowOpen) continue;
      if (a.nullDestination || b.nullDestination) continue;
      const pair: KernelPair = {
        relayAddress: this.o.address,
        a: { relayPort: a.port, address: a.latch.address!, port: a.latch.port },
        b: { relayPort: b.port, address: b.latch.address!, port: b.latch.port },
      };
      stream.kernel[kind] = true;
      this.kernelPairs.set(a.port, { pair, stream, kind, seen: { aPackets: 0, aBytes: 0, bPackets: 0, bBytes: 0 } });
      void k.install(pair).then(
        (ok) => {
          if (ok && stream.kernel[kind] && this.kernelPairs.get(a.port)?.pair === pair) {
            a.inKernel = true;
            b.inKernel = true;
            this.counters.kernelInstalled++;
          } else if (!ok && this.kernelPairs.get(a.port)?.pair === pair) {
            stream.kernel[kind] = false;
            this.kernelPairs.delete(a.port);
            this.counters.kernelFailed++;
          }
        },
        () => {
          stream.kernel[kind] = false;
          this.kernelPairs.delete(a.port);
          this.counters.kernelFailed++;
        },
      );
    }
  }

  /** Takes the stream's pairs back from the kernel (re-INVITE, teardown), its last counts read first. */
  private async fromKernel(stream: RelayStream): Promise<void> {
    const k = this.o.kernel;
    if (!k || (!stream.kernel[0] && !stream.kernel[1])) return;
    await this.poll();
    for (const kind of [0, 1] as const) {
      if (!stream.kernel[kind]) continue;
      stream.kernel[kind] = false;
      const a = stream.endpoints[0][kind];
      const b = stream.endpoints[1][kind];
      const entry = this.kernelPairs.get(a.port);
      this.kernelPairs.delete(a.port);
      a.inKernel = false;
      b.inKernel = false;
      if (entry) {
        this.counters.kernelRemoved++;
        await k.remove(entry.pair).catch((err: Error) => this.o.log?.('kernel-remove-failed', { port: a.port, reason: err.message }));
      }
    }
  }

  private schedulePoll(): void {
    if (this.closed) return;
    this.pollTimer = this.o.scheduler.setTimeout(() => {
      void this.poll().finally(() => this.schedulePoll());
    }, this.o.kernelPollMs ?? 5000);
  }

  /** Kernel counters: packets, and the last time each stream carried any (for the media timeout). */
  async poll(): Promise<void> {
    const k = this.o.kernel;
    if (!k || this.kernelPairs.size === 0) return;
    let counts: Map<number, KernelCounts>;
    try {
      counts = await k.counts();
    } catch (err) {
      this.o.log?.('kernel-counters-failed', { reason: (err as Error).message });
      return;
    }
    const now = this.o.scheduler.now();
    for (const [port, entry] of this.kernelPairs) {
      const c = counts.get(port);
      if (!c) continue;
      const [a, b] = [entry.stream.endpoints[0][entry.kind], entry.stream.endpoints[1][entry.kind]];
      const da = c.aPackets - entry.seen.aPackets;
      const db = c.bPackets - entry.seen.bPackets;
      if (da > 0) {
        a.kernelPacketsIn += da;
        a.lastPacketAt = now;
      }
      if (db > 0) {
        b.kernelPacketsIn += db;
        b.lastPacketAt = now;
      }
      this.counters.kernelPackets += Math.max(0, da) + Math.max(0, db);
      this.counters.kernelBytes += Math.max(0, c.aBytes - entry.seen.aBytes) + Math.max(0, c.bBytes - entry.seen.bBytes);
      entry.seen = c;
    }
  }

  // ------------------------------------------------------------------ ending

  private scheduleSweep(): void {
    if (this.closed) return;
    this.sweepTimer = this.o.scheduler.setTimeout(() => {
      this.sweep();
      this.scheduleSweep();
    }, 1000);
  }

  /** Ends the calls that timed out; returns how many. */
  sweep(): number {
    const now = this.o.scheduler.now();
    const t = this.o.timeouts;
    let ended = 0;
    for (const call of [...this.calls.values()]) {
      let reason: EndReason | null = null;
      if (now - call.createdAt >= t.maxCallMs) reason = 'max-duration';
      else if (call.state !== 'confirmed') {
        if (now - call.createdAt >= t.offerMs) reason = 'offer-timeout';
      } else {
        const last = Math.max(call.lastPacketAt(), call.confirmedAt, call.lastSignalAt);
        if (now - last >= (call.held() ? t.heldMs : t.mediaMs)) reason = 'media-timeout';
      }
      if (reason !== null) {
        ended++;
        void this.endCall(call, reason, true);
      }
    }
    return ended;
  }

  private forget(call: MediaCall): void {
    if (this.calls.get(call.callId) === call) this.calls.delete(call.callId);
  }

  private async endCall(call: MediaCall, reason: EndReason, notify: boolean): Promise<void> {
    if (call.ended) return;
    call.ended = true;
    this.forget(call);
    this.counters.callsEnded++;
    this.counters.endedBy[reason]++;
    for (const index of [...call.streams.keys()]) this.releaseStream(call, index);
    this.o.log?.('call-media-ended', { callId: call.callId, reason });
    if (notify) this.onEnded?.(call.callId, reason);
  }
}

export type { CallState };
