/**
 * One remote peer: punching, the path, keepalives, and punching again.
 *
 * Punching: hellos to every candidate (the port mapping the peer's gateway
 * made for it first, then its predicted ports, its public endpoint, its local
 * ones), again and again with a doubling
 * interval. Any authenticated, fresh hello or acknowledgement that arrives
 * directly makes its source the path (the first one wins; a direct path
 * replaces a relayed one; nothing replaces a live direct path). Every hello is
 * answered to its source. Without a direct path after a while: the relay, and
 * birthday probing when one side's NAT maps per destination and the other's
 * does not; direct attempts go on slowly, so a direct path that appears later
 * takes over from the relay.
 *
 * Keepalives: a hello on the path every keepaliveMs; unanswered after a few
 * quick retries, the path is dead, and punching starts again (after asking the
 * server to introduce us afresh: our public endpoint may have changed).
 */
import type { Endpoint, NetEnv, UdpSocket } from '../../net/udp.js';
import { endpointToString, sameEndpoint } from '../../net/udp.js';
import type { TimerHandle } from '../../util/clock.js';
import { encodeMessage, HelloFlag, type Message, type PeerInfo } from '../protocol/messages.js';
import { SeqWindow } from '../protocol/replay.js';
import { birthdayDurationMs, RandomPorts, type BirthdaySlot } from './birthday.js';
import { birthdayRole, classifyNat, predictEndpoints, type NatKind } from './nat-kind.js';
import type { RelayClient } from './relay-client.js';
import type { PathInfo, PathKind, PeerStatus, PunchEvent, ResolvedPunchOptions } from './types.js';

/** What a link needs from the client that owns it. */
export interface LinkHost {
  readonly env: NetEnv;
  readonly selfId: string;
  readonly key: Uint8Array;
  readonly mainSocket: UdpSocket;
  readonly options: ResolvedPunchOptions;
  selfNat(): NatKind;
  /** Our public address as the server saw it (null before the join answer). */
  selfPublicAddress(): string | null;
  nextSeq(): number;
  relay(): RelayClient | null;
  /** The never-used spare socket of a port-preserving NAT, to the first link that asks. */
  claimSpare(): UdpSocket | null;
  readonly birthdaySlot: BirthdaySlot;
  /** A socket whose packets reach this client's dispatcher (for the hard side of a birthday attack). */
  bindExtraSocket(): Promise<UdpSocket>;
  releaseExtraSocket(s: UdpSocket): void;
  emit(e: PunchEvent): void;
  /** Ask the server to introduce us again (rate-limited by the host). */
  requestReintroduction(): void;
  /** The link ended on its own (the peer said goodbye): drop it. */
  forget(id: string): void;
}

type CandidateKind = 'local' | 'mapped' | 'public' | 'predicted';

interface Candidate {
  endpoint: Endpoint;
  kind: CandidateKind;
}

interface Path {
  socket: UdpSocket | null; // null: relayed
  remote: Endpoint;
  kind: PathKind;
  since: number;
  rttMs: number | null;
  lastRx: number;
}

interface Sent {
  at: number;
  socket: UdpSocket | null;
  to: Endpoint | null;
}

const OUTSTANDING_LIMIT = 4096;

export class PeerLink {
  readonly status: PeerStatus;
  private candidates: Candidate[] = [];
  private readonly window = new SeqWindow(8192);
  private readonly outstanding = new Map<number, Sent>();
  private path: Path | null = null;
  private helloTimer: TimerHandle | null = null;
  private relayTimer: TimerHandle | null = null;
  private relayHelloTimer: TimerHandle | null = null;
  private birthdayTimer: TimerHandle | null = null;
  private keepaliveTimer: TimerHandle | null = null;
  private keepaliveRetryTimer: TimerHandle | null = null;
  private punchStartedAt = 0;
  /** Where hellos go out from: the main socket, or the spare one (port-preserving NAT). */
  private punchSocket: UdpSocket | null = null;
  private helloRounds = 0;
  private birthday: { stop(): void; probed?: RandomPorts; sockets?: UdpSocket[] } | null = null;
  private closed = false;

  constructor(
    private readonly host: LinkHost,
    readonly id: string,
    info: PeerInfo | null,
  ) {
    const now = host.env.scheduler.now();
    this.punchSocket = host.mainSocket;
    this.status = {
      id,
      info: null,
      nat: { mapping: 'unknown' },
      state: 'punching',
      path: null,
      introducedAt: now,
      firstPathAt: null,
      firstDirectAt: null,
      history: [],
      birthdayProbes: 0,
      birthdaySockets: 0,
      repunches: 0,
    };
    if (info) this.setInfo(info);
  }

  get hasDirectPath(): boolean {
    return this.path !== null && this.path.socket !== null;
  }

  /** New or changed information from the server. Returns true if the candidates changed. */
  setInfo(info: PeerInfo): boolean {
    const before = this.candidates.map((c) => endpointToString(c.endpoint)).join(',');
    this.status.info = info;
    if (info.name !== undefined) this.status.name = info.name;
    this.status.nat = classifyNat(info);
    // Predicted ports first and in order: see predictEndpoints.
    const next: Candidate[] = [];
    const add = (endpoint: Endpoint, kind: CandidateKind) => {
      if (!next.some((c) => sameEndpoint(c.endpoint, endpoint))) next.push({ endpoint, kind });
    };
    // A port mapping is open to anyone: the surest candidate. The server pins it to the peer's
    // public address; an endpoint elsewhere is not the peer's and gets no hellos.
    if (info.mapped && info.mapped.address === info.public.address) add(info.mapped, 'mapped');
    if (info.spare) add(info.spare, 'predicted');
    for (const e of predictEndpoints(info, this.status.nat, this.host.options.predictionWindow)) add(e, 'predicted');
    add(info.public, 'public');
    // Local endpoints are whatever the peer claims, unproven: hellos go there only when the
    // peer shares our public address (behind the same NAT, the one case they serve). Otherwise
    // anyone in the session could aim every member's hellos at an address of its choice.
    if (info.public.address === this.host.selfPublicAddress()) for (const l of info.locals) add(l, 'local');
    this.candidates = next;
    return next.map((c) => endpointToString(c.endpoint)).join(',') !== before;
  }

  // ------------------------------------------------------------ punching

  /** Starts (or restarts) punching. */
  punch(): void {
    if (this.closed) return;
    this.clearPunchTimers();
    // Behind a port-preserving NAT, the first peer punched gets the spare socket,
    // whose first destination (this peer's first candidate) keeps its port.
    if (this.punchSocket === this.host.mainSocket && !this.hasDirectPath && this.host.selfNat().mapping === 'preserving') {
      this.punchSocket = this.host.claimSpare() ?? this.host.mainSocket;
    }
    this.punchStartedAt = this.host.env.scheduler.now();
    this.helloRounds = 0;
    this.helloRound();
    const o = this.host.options;
    this.relayTimer = this.host.env.scheduler.setTimeout(() => {
      this.relayTimer = null;
      void this.fallBackToRelay();
    }, o.relayAfterMs);
    this.birthdayTimer = this.host.env.scheduler.setTimeout(() => {
      this.birthdayTimer = null;
      void this.tryBirthday();
    }, o.birthday.startAfterMs);
  }

  private helloRound(): void {
    this.helloTimer = null;
    if (this.closed || this.hasDirectPath) return;
    for (const c of this.candidates) this.sendHello(this.punchSocket ?? this.host.mainSocket, c.endpoint, 0);
    this.helloRounds++;
    const o = this.host.options;
    const elapsed = this.host.env.scheduler.now() - this.punchStartedAt;
    const delay = elapsed < o.punchPhaseMs ? Math.min(o.helloRtoMs * 2 ** (this.helloRounds - 1), o.helloMaxIntervalMs) : o.upgradeIntervalMs;
    this.helloTimer = this.host.env.scheduler.setTimeout(() => this.helloRound(), delay);
  }

  private sendHello(socket: UdpSocket, to: Endpoint, flags: number, index?: number): void {
    const seq = this.host.nextSeq();
    this.remember(seq, { at: this.host.env.scheduler.now(), socket, to });
    const msg: Message = { kind: 'hello', from: this.host.selfId, to: this.id, seq, flags, ...(index !== undefined ? { index } : {}) };
    socket.send(encodeMessage(msg, this.host.key), to);
  }

  private sendRelayed(m: Message): boolean {
    const relay = this.host.relay();
    if (!relay) return false;
    return relay.send(this.id, encodeMessage(m, this.host.key));
  }

  private remember(seq: number, s: Sent): void {
    if (this.outstanding.size >= OUTSTANDING_LIMIT) this.outstanding.delete(this.outstanding.keys().next().value as number);
    this.outstanding.set(seq, s);
  }

  private async fallBackToRelay(): Promise<void> {
    if (this.closed || this.hasDirectPath) return;
    const relay = this.host.relay();
    if (!relay) return;
    const ok = await relay.ensureBound();
    if (this.closed || this.hasDirectPath) return;
    if (!ok) {
      this.relayTimer = this.host.env.scheduler.setTimeout(() => {
        this.relayTimer = null;
        void this.fallBackToRelay();
      }, 5000);
      return;
    }
    let interval = 250;
    const round = () => {
      this.relayHelloTimer = null;
      if (this.closed || this.path) return;
      const seq = this.host.nextSeq();
      this.remember(seq, { at: this.host.env.scheduler.now(), socket: null, to: null });
      this.sendRelayed({ kind: 'hello', from: this.host.selfId, to: this.id, seq, flags: HelloFlag.Relayed });
      interval = Math.min(interval * 2, 4000);
      this.relayHelloTimer = this.host.env.scheduler.setTimeout(round, interval);
    };
    round();
  }

  // ------------------------------------------------------------ birthday

  private async tryBirthday(): Promise<void> {
    if (this.closed || this.hasDirectPath || !this.status.info) return;
    const role = birthdayRole(this.host.selfNat(), this.status.nat);
    if (!role) return;
    const release = await this.host.birthdaySlot.acquire();
    if (this.closed || this.hasDirectPath || !this.status.info) {
      release();
      return;
    }
    const b = this.host.options.birthday;
    const sched = this.host.env.scheduler;
    const target = this.status.info.public;
    const timers: TimerHandle[] = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      for (const t of timers) sched.clearTimeout(t);
      this.birthday?.stop();
      this.birthday = null;
      release();
      if (!this.closed && !this.hasDirectPath) {
        this.birthdayTimer = sched.setTimeout(() => {
          this.birthdayTimer = null;
          void this.tryBirthday();
        }, b.retryAfterMs);
      }
    };
    this.onDirect = () => finish();
    this.host.emit({ type: 'peer', peer: this.snapshot() });
    if (role === 'hard') {
      const sockets: UdpSocket[] = [];
      const keep = new Set<UdpSocket>();
      this.birthday = {
        sockets,
        stop: () => {
          for (const s of sockets) if (!keep.has(s) && this.path?.socket !== s) this.host.releaseExtraSocket(s);
          sockets.length = 0;
        },
      };
      const gap = 1000 / b.socketsPerSecond;
      const resend = () => {
        if (done || this.hasDirectPath) return;
        sockets.forEach((s, i) => this.sendHello(s, target, HelloFlag.Birthday, i));
        timers.push(sched.setTimeout(resend, b.hardResendMs));
      };
      for (let i = 0; i < b.sockets && !done && !this.hasDirectPath; i++) {
        const s = await this.host.bindExtraSocket();
        if (done || this.closed) {
          this.host.releaseExtraSocket(s);
          break;
        }
        sockets.push(s);
        this.status.birthdaySockets++;
        this.sendHello(s, target, HelloFlag.Birthday, i);
        if (gap > 0) await new Promise<void>((r) => timers.push(sched.setTimeout(r, gap)));
      }
      if (!done) timers.push(sched.setTimeout(resend, b.hardResendMs));
    } else {
      const probed = new RandomPorts(b.portRange, this.host.env.random);
      this.birthday = { probed, stop: () => {} };
      const gap = 1000 / b.probesPerSecond;
      const probe = () => {
        if (done || this.hasDirectPath) return;
        if (probed.count >= b.maxProbes) return;
        const port = probed.next();
        if (port === null) return;
        this.status.birthdayProbes++;
        this.sendHello(this.host.mainSocket, { address: target.address, port }, HelloFlag.Birthday);
        timers.push(sched.setTimeout(probe, gap));
      };
      timers.push(sched.setTimeout(probe, b.easyDelayMs));
    }
    if (this.hasDirectPath || this.closed) finish();
    else timers.push(sched.setTimeout(finish, birthdayDurationMs(b)));
  }

  /** Called once when a direct path appears (ends a birthday attempt). */
  private onDirect: (() => void) | null = null;

  // ------------------------------------------------------------ receiving

  /** An authenticated peer message addressed to us, from this peer. */
  receive(m: Message, from: Endpoint, socket: UdpSocket | null): void {
    if (this.closed) return;
    if (m.kind !== 'hello' && m.kind !== 'hello-ack' && m.kind !== 'data' && m.kind !== 'bye') return;
    if (!this.window.accept(m.seq)) return;
    const now = this.host.env.scheduler.now();
    if (m.kind === 'bye') {
      this.close();
      this.host.forget(this.id);
      this.host.emit({ type: 'peer-left', peerId: this.id });
      return;
    }
    if (m.kind === 'hello') {
      const ack: Message = { kind: 'hello-ack', from: this.host.selfId, to: this.id, seq: this.host.nextSeq(), echoSeq: m.seq, observed: from, flags: m.flags };
      if (socket) socket.send(encodeMessage(ack, this.host.key), from);
      else this.sendRelayed(ack);
    }
    let rtt: number | null = null;
    if (m.kind === 'hello-ack') {
      const sent = this.outstanding.get(m.echoSeq);
      if (sent && sent.socket === socket && (socket === null || (sent.to !== null && sameEndpoint(sent.to, from)))) rtt = now - sent.at;
    }
    this.consider(from, socket, rtt, m.kind === 'hello' && (m.flags & HelloFlag.Birthday) !== 0);
    if (this.path && this.onPath(from, socket)) {
      this.path.lastRx = now;
      if (rtt !== null && this.status.path) this.path.rttMs = this.status.path.rttMs = rtt;
      if (this.keepaliveRetryTimer && (m.kind === 'hello-ack' || m.kind === 'data')) {
        this.host.env.scheduler.clearTimeout(this.keepaliveRetryTimer);
        this.keepaliveRetryTimer = null;
      }
    }
    if (m.kind === 'data') this.host.emit({ type: 'data', peerId: this.id, data: m.payload });
  }

  private onPath(from: Endpoint, socket: UdpSocket | null): boolean {
    const p = this.path;
    if (!p) return false;
    if (socket === null) return p.socket === null;
    return p.socket === socket && sameEndpoint(p.remote, from);
  }

  /** Path selection. */
  private consider(from: Endpoint, socket: UdpSocket | null, rtt: number | null, birthdayHello: boolean): void {
    const current = this.path;
    if (socket === null) {
      if (!current) this.adopt({ socket: null, remote: this.host.relay()?.endpoint ?? from, kind: 'relay', rtt });
      return;
    }
    if (current && current.socket !== null) return; // keep the live direct path: first one wins
    this.adopt({ socket, remote: from, kind: this.kindOf(from, socket, birthdayHello), rtt });
  }

  private kindOf(from: Endpoint, socket: UdpSocket, birthdayHello: boolean): PathKind {
    if (socket !== this.host.mainSocket) return socket === this.punchSocket ? 'predicted' : 'birthday';
    const c = this.candidates.find((x) => sameEndpoint(x.endpoint, from));
    if (c) return c.kind;
    const probed = this.birthday?.probed;
    const info = this.status.info;
    if ((probed?.has(from.port) || birthdayHello) && info && from.address === info.public.address) return 'birthday';
    return 'peer-reflexive';
  }

  private adopt(p: { socket: UdpSocket | null; remote: Endpoint; kind: PathKind; rtt: number | null }): void {
    const now = this.host.env.scheduler.now();
    const previous = this.status.path;
    this.path = { socket: p.socket, remote: p.remote, kind: p.kind, since: now, rttMs: p.rtt, lastRx: now };
    const direct = p.socket !== null;
    const info: PathInfo = { kind: p.kind, direct, remote: p.remote, local: p.socket?.local ?? this.host.relay()?.socket?.local ?? p.remote, since: now, rttMs: p.rtt };
    this.status.path = info;
    this.status.state = direct ? 'connected' : 'relayed';
    this.status.firstPathAt ??= now;
    if (direct) this.status.firstDirectAt ??= now;
    this.status.history.push({ at: now, kind: p.kind, remote: p.remote });
    if (direct) {
      if (this.helloTimer) this.host.env.scheduler.clearTimeout(this.helloTimer);
      this.helloTimer = null;
      if (this.relayHelloTimer) this.host.env.scheduler.clearTimeout(this.relayHelloTimer);
      this.relayHelloTimer = null;
      const end = this.onDirect;
      this.onDirect = null;
      end?.();
    }
    this.startKeepalive();
    // Adopted on the peer's hello: one hello back on the path measures its round
    // trip and, if our acknowledgement is lost, still gives the peer the path.
    if (p.rtt === null) {
      const seq = this.host.nextSeq();
      this.remember(seq, { at: now, socket: p.socket, to: p.socket ? p.remote : null });
      this.sendOnPath({ kind: 'hello', from: this.host.selfId, to: this.id, seq, flags: HelloFlag.Keepalive | (direct ? 0 : HelloFlag.Relayed) });
    }
    this.host.emit({ type: 'path', peer: this.snapshot(), path: { ...info }, previous });
  }

  /**
   * The peer was introduced again while we think our direct path lives: it may
   * have lost the path (or its NAT its mapping). One round of hellos to every
   * candidate re-opens our side, and a keepalive now tests the path.
   */
  checkNow(): void {
    if (this.closed || !this.path) return;
    for (const c of this.candidates) this.sendHello(this.punchSocket ?? this.host.mainSocket, c.endpoint, 0);
    if (!this.keepaliveRetryTimer) {
      if (this.keepaliveTimer) this.host.env.scheduler.clearTimeout(this.keepaliveTimer);
      this.keepalive();
    }
  }

  // ------------------------------------------------------------ keepalive

  private startKeepalive(): void {
    const sched = this.host.env.scheduler;
    if (this.keepaliveTimer) sched.clearTimeout(this.keepaliveTimer);
    if (this.keepaliveRetryTimer) sched.clearTimeout(this.keepaliveRetryTimer);
    this.keepaliveRetryTimer = null;
    this.keepaliveTimer = sched.setTimeout(() => this.keepalive(), this.host.options.keepaliveMs);
  }

  private sendOnPath(m: Message): void {
    const p = this.path;
    if (!p) return;
    if (p.socket) p.socket.send(encodeMessage(m, this.host.key), p.remote);
    else this.sendRelayed(m);
  }

  private keepalive(): void {
    this.keepaliveTimer = null;
    const p = this.path;
    if (this.closed || !p) return;
    const sched = this.host.env.scheduler;
    const sentAt = sched.now();
    let retries = 0;
    let wait = 1000;
    const send = () => {
      const seq = this.host.nextSeq();
      this.remember(seq, { at: sched.now(), socket: p.socket, to: p.socket ? p.remote : null });
      this.sendOnPath({ kind: 'hello', from: this.host.selfId, to: this.id, seq, flags: HelloFlag.Keepalive | (p.socket ? 0 : HelloFlag.Relayed) });
    };
    const check = () => {
      this.keepaliveRetryTimer = null;
      if (this.closed || this.path !== p) return;
      if (p.lastRx >= sentAt) return;
      if (retries >= this.host.options.keepaliveRetries) {
        this.lost();
        return;
      }
      retries++;
      send();
      wait *= 2;
      this.keepaliveRetryTimer = sched.setTimeout(check, wait);
    };
    send();
    this.keepaliveRetryTimer = sched.setTimeout(check, wait);
    this.keepaliveTimer = sched.setTimeout(() => this.keepalive(), this.host.options.keepaliveMs);
  }

  /** The path died: tell, forget it, punch again. */
  private lost(): void {
    const sched = this.host.env.scheduler;
    if (this.keepaliveTimer) sched.clearTimeout(this.keepaliveTimer);
    this.keepaliveTimer = null;
    const old = this.path;
    this.path = null;
    if (old?.socket && old.socket !== this.host.mainSocket) this.host.releaseExtraSocket(old.socket);
    this.status.path = null;
    this.status.state = 'punching';
    this.status.repunches++;
    this.host.emit({ type: 'path-lost', peer: this.snapshot() });
    this.host.requestReintroduction();
    this.punch();
  }

  // ------------------------------------------------------------ data, end

  send(data: Uint8Array): boolean {
    if (!this.path || this.closed) return false;
    this.sendOnPath({ kind: 'data', from: this.host.selfId, to: this.id, seq: this.host.nextSeq(), payload: data });
    return true;
  }

  sendBye(): void {
    if (this.path && !this.closed) this.sendOnPath({ kind: 'bye', from: this.host.selfId, to: this.id, seq: this.host.nextSeq() });
  }

  snapshot(): PeerStatus {
    return structuredClone({ ...this.status, path: this.status.path, history: this.status.history });
  }

  private clearPunchTimers(): void {
    const sched = this.host.env.scheduler;
    for (const t of [this.helloTimer, this.relayTimer, this.relayHelloTimer, this.birthdayTimer]) if (t) sched.clearTimeout(t);
    this.helloTimer = this.relayTimer = this.relayHelloTimer = this.birthdayTimer = null;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearPunchTimers();
    const sched = this.host.env.scheduler;
    if (this.keepaliveTimer) sched.clearTimeout(this.keepaliveTimer);
    if (this.keepaliveRetryTimer) sched.clearTimeout(this.keepaliveRetryTimer);
    const end = this.onDirect;
    this.onDirect = null;
    end?.();
    if (this.path?.socket && this.path.socket !== this.host.mainSocket) this.host.releaseExtraSocket(this.path.socket);
    this.path = null;
    this.status.state = 'gone';
  }
}
