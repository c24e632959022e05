/**
 * The hole-punching client: joins a rendezvous session and connects to every
 * other participant, directly where it can, through the relay where it cannot.
 *
 *   const client = await PunchClient.start(env, { server, session: 'demo', secret });
 *   client.on((e) => { if (e.type === 'path') console.log(e.peer.id, e.path.kind); });
 *   const peer = await client.waitForPath();      // the first peer with a path
 *   client.send(peer.id, bytes);
 *   await client.close();
 *
 * One main socket carries the rendezvous protocol and the hellos, so the
 * public endpoint the server sees is the one peers punch to. The relay and the
 * hard side of a birthday attack use sockets of their own.
 *
 * With `portmap`, the client also asks its gateway to map the main socket's
 * port (port-mapper.ts) while it observes, and offers the mapped endpoint to
 * the peers as one more candidate: in the join when the mapping came in time,
 * by joining again when it comes later or moves.
 */
import type { Endpoint, NetEnv, UdpSocket } from '../../net/udp.js';
import type { PortMappingResult } from '../../portmap/client.js';
import type { TimerHandle } from '../../util/clock.js';
import { deriveSessionKey } from '../protocol/keys.js';
import { isAuthenticatedType, readMessage, type Message, type MessageOf, type PeerInfo } from '../protocol/messages.js';
import { looksLikeMasqPacket, macValid, parsePacket, RendezvousDecodeError, type RawPacket } from '../protocol/wire.js';
import { randomId } from '../util/ids.js';
import { BirthdaySlot, DEFAULT_BIRTHDAY } from './birthday.js';
import { classifyNat, type NatKind } from './nat-kind.js';
import { PeerLink, type LinkHost } from './peer-link.js';
import { PortMapper } from './port-mapper.js';
import { RelayClient } from './relay-client.js';
import { SessionClient } from './session-client.js';
import type { PeerStatus, PunchClientOptions, PunchEvent, ResolvedPunchOptions } from './types.js';

/** Links created from a hello before the server introduced the peer: bounded. */
const MAX_UNINTRODUCED = 256;
const REINTRODUCE_MIN_INTERVAL_MS = 10_000;

export interface PunchCounters {
  malformed: number;
  unauthenticated: number;
  notForUs: number;
}

export class PunchClient implements LinkHost {
  readonly id: string;
  readonly key: Uint8Array;
  readonly options: ResolvedPunchOptions;
  readonly birthdaySlot = new BirthdaySlot();
  readonly counters: PunchCounters = { malformed: 0, unauthenticated: 0, notForUs: 0 };
  private readonly links = new Map<string, PeerLink>();
  private readonly listeners = new Set<(e: PunchEvent) => void>();
  private readonly extraSockets = new Set<UdpSocket>();
  private readonly session: SessionClient;
  private readonly mapper: PortMapper | null = null;
  /** The first mapping request, started with the client. */
  private firstMapping: Promise<PortMappingResult | null> = Promise.resolve(null);
  /** The mapping the server (and so the peers) last heard of. */
  private offered: PortMappingResult | null = null;
  private relayClient: RelayClient | null = null;
  /** Behind a port-preserving NAT: a socket that has sent nothing yet (see nat-kind.ts). */
  private spareSocket: UdpSocket | null = null;
  private spareClaimed = false;
  private nat: NatKind = { mapping: 'unknown' };
  private seq = 0;
  private lastReintroduction = -Infinity;
  private reintroduceTimer: TimerHandle | null = null;
  private closed = false;
  publicEndpoint: Endpoint | null = null;
  locals: Endpoint[] = [];

  private constructor(
    readonly env: NetEnv,
    readonly mainSocket: UdpSocket,
    private readonly o: PunchClientOptions,
  ) {
    this.id = o.peerId ?? randomId(env.random);
    this.key = deriveSessionKey(o.secret ?? '', o.session);
    this.options = resolveOptions(o);
    const wallClock = o.wallClock ?? (() => env.scheduler.now());
    const observe = o.observe === undefined ? { address: o.server.address, port: o.server.port + 1 } : o.observe;
    this.session = new SessionClient(
      env,
      mainSocket,
      this.key,
      { server: o.server, observe, session: o.session, peerId: this.id, ...(o.name !== undefined ? { name: o.name } : {}), wallClock, ...(o.log ? { log: o.log } : {}) },
      {
        introduce: (p) => this.introduced(p),
        peerLeft: (id) => this.peerLeft(id),
        joined: (ok) => this.joinedServer(ok),
        lost: (err) => this.emit({ type: 'server-lost', error: err.message }),
      },
    );
    mainSocket.onMessage((d, from) => this.onPacket(d, from, mainSocket, false));
    if (o.portmap) {
      this.mapper = new PortMapper(env, o.portmap, mainSocket.local.port, (m) => this.mappingChanged(m), o.log);
      this.firstMapping = this.mapper.start();
    }
  }

  /** Binds, observes the NAT, joins the session; resolves once the server answered the join. */
  static async start(env: NetEnv, o: PunchClientOptions): Promise<PunchClient> {
    const socket = await env.bindUdp(o.bind ?? {});
    const c = new PunchClient(env, socket, o);
    try {
      c.spareSocket = await env.bindUdp({ ...(o.bind?.address ? { address: o.bind.address } : {}) });
      const spare = c.spareSocket;
      spare.onMessage((d, from) => c.onPacket(d, from, spare, false));
      await c.join();
    } catch (err) {
      await c.close();
      throw err;
    }
    return c;
  }

  private async join(): Promise<void> {
    const port = this.mainSocket.local.port;
    const addrs = this.o.localAddresses ?? (isWildcard(this.mainSocket.local.address) ? [] : [this.mainSocket.local.address]);
    this.locals = addrs.slice(0, 8).map((address) => ({ address, port }));
    let observed: Endpoint | undefined;
    let spare: Endpoint | undefined;
    const mapped = this.mappingInTime();
    try {
      const obs = await this.session.observe();
      observed = obs.observed;
      this.nat = classifyNat({ public: obs.public, ...(observed ? { observed } : {}), locals: this.locals, localPort: port });
      if (this.nat.mapping === 'preserving' && this.spareSocket) spare = { address: obs.public.address, port: this.spareSocket.local.port };
    } catch (err) {
      this.o.log?.('observe-failed', { reason: (err as Error).message });
    }
    const mapping = await mapped;
    // A mapped main socket is reachable as it is: hellos go out from it, not from a spare.
    if (mapping) spare = undefined;
    if (!spare) {
      this.spareSocket?.close();
      this.spareSocket = null;
    }
    const ok = await this.session.join(this.locals, observed, spare, mapping?.external);
    this.offered = mapping;
    if (mapping) this.emit({ type: 'portmap', mapping });
    else if (this.mapper) void this.firstMapping.then((m) => m && this.mappingChanged(m));
    if (this.nat.mapping === 'unknown' || this.nat.mapping === 'none') {
      this.nat = classifyNat({ public: ok.public, ...(observed ? { observed } : {}), locals: this.locals, localPort: port });
    }
    this.emit({ type: 'joined', public: ok.public, nat: this.nat });
  }

  // ------------------------------------------------------------- public API

  on(listener: (e: PunchEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get natKind(): NatKind {
    return this.nat;
  }

  /** The port mapping our gateway made for the main socket, when there is one. */
  get portMapping(): PortMappingResult | null {
    return this.mapper?.mapping ?? null;
  }

  peers(): PeerStatus[] {
    return [...this.links.values()].map((l) => l.snapshot());
  }

  peer(id: string): PeerStatus | undefined {
    return this.links.get(id)?.snapshot();
  }

  /** Sends application data to a peer over its path; false when there is none yet. */
  send(peerId: string, data: Uint8Array): boolean {
    return this.links.get(peerId)?.send(data) ?? false;
  }

  /**
   * Resolves with the first peer (or the given one) that has a path (a direct
   * one when `direct`), or rejects after timeoutMs of scheduler time.
   */
  waitForPath(peerId?: string, opts: { direct?: boolean; timeoutMs?: number } = {}): Promise<PeerStatus> {
    const ok = (p: PeerStatus) => (peerId === undefined || p.id === peerId) && p.path !== null && (!opts.direct || p.path.direct);
    const now = this.peers().find(ok);
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      let timer: TimerHandle | null = null;
      const off = this.on((e) => {
        if (e.type === 'path' && ok(e.peer)) {
          off();
          if (timer) this.env.scheduler.clearTimeout(timer);
          resolve(e.peer);
        }
      });
      if (opts.timeoutMs !== undefined) {
        timer = this.env.scheduler.setTimeout(() => {
          off();
          reject(new Error(`no ${opts.direct ? 'direct ' : ''}path${peerId ? ` to ${peerId}` : ''} within ${opts.timeoutMs} ms`));
        }, opts.timeoutMs);
      }
    });
  }

  /** Says goodbye to the peers, leaves the session, closes every socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const l of this.links.values()) {
      try {
        l.sendBye();
      } catch {
        /* a goodbye is best effort: closing goes on */
      }
    }
    if (this.publicEndpoint) await this.session.leave();
    this.closed = true;
    await this.mapper?.close();
    for (const l of this.links.values()) l.close();
    this.links.clear();
    if (this.reintroduceTimer) this.env.scheduler.clearTimeout(this.reintroduceTimer);
    this.session.close();
    this.relayClient?.close();
    this.spareSocket?.close();
    for (const s of this.extraSockets) s.close();
    this.extraSockets.clear();
    this.mainSocket.close();
  }

  // ------------------------------------------------------------- LinkHost

  get selfId(): string {
    return this.id;
  }

  selfNat(): NatKind {
    return this.nat;
  }

  selfPublicAddress(): string | null {
    return this.publicEndpoint?.address ?? null;
  }

  nextSeq(): number {
    return ++this.seq;
  }

  claimSpare(): UdpSocket | null {
    if (this.spareClaimed || !this.spareSocket) return null;
    this.spareClaimed = true;
    return this.spareSocket;
  }

  relay(): RelayClient | null {
    if (this.relayClient) return this.relayClient;
    const endpoint = this.o.relay === undefined ? this.session.relay : this.o.relay;
    if (!endpoint || this.closed) return null;
    this.relayClient = new RelayClient(
      this.env,
      this.key,
      { relay: endpoint, session: this.o.session, peerId: this.id, wallClock: this.o.wallClock ?? (() => this.env.scheduler.now()) },
      (d, from, s) => this.onPacket(d, from, s, true),
    );
    return this.relayClient;
  }

  async bindExtraSocket(): Promise<UdpSocket> {
    const s = await this.env.bindUdp({ ...(this.o.bind?.address ? { address: this.o.bind.address } : {}) });
    this.extraSockets.add(s);
    s.onMessage((d, from) => this.onPacket(d, from, s, false));
    return s;
  }

  releaseExtraSocket(s: UdpSocket): void {
    if (this.extraSockets.delete(s)) s.close();
  }

  emit(e: PunchEvent): void {
    for (const l of [...this.listeners]) l(e);
  }

  forget(id: string): void {
    this.links.delete(id);
  }

  requestReintroduction(): void {
    if (this.closed || this.reintroduceTimer) return;
    const now = this.env.scheduler.now();
    const wait = Math.max(0, this.lastReintroduction + REINTRODUCE_MIN_INTERVAL_MS - now);
    this.reintroduceTimer = this.env.scheduler.setTimeout(() => {
      this.reintroduceTimer = null;
      this.lastReintroduction = this.env.scheduler.now();
      this.session.rejoin().catch((err) => this.o.log?.('rejoin-failed', { reason: (err as Error).message }));
    }, wait);
  }

  // ------------------------------------------------------------- port mapping

  /** The first mapping if it comes within portmap.waitMs of the start, else null (it may still come). */
  private mappingInTime(): Promise<PortMappingResult | null> {
    if (!this.mapper) return Promise.resolve(null);
    const waitMs = this.o.portmap?.waitMs ?? 500;
    return new Promise((resolve) => {
      const timer = this.env.scheduler.setTimeout(() => resolve(null), waitMs);
      void this.firstMapping.then((m) => {
        this.env.scheduler.clearTimeout(timer);
        resolve(m);
      });
    });
  }

  /** A mapping that came after the join, moved, or was lost: tell the server (and so the peers). */
  private mappingChanged(m: PortMappingResult | null): void {
    if (this.closed || !this.publicEndpoint) return;
    const same = (x: PortMappingResult | null) => x?.external.address === m?.external.address && x?.external.port === m?.external.port;
    if (same(this.offered)) return;
    this.offered = m;
    this.emit({ type: 'portmap', mapping: m });
    this.session.offerMapped(m?.external).catch((err) => this.o.log?.('rejoin-failed', { reason: (err as Error).message }));
  }

  // ------------------------------------------------------------- events from the server

  private joinedServer(ok: MessageOf<'join-ok'>): void {
    this.publicEndpoint = ok.public;
  }

  private introduced(info: PeerInfo): void {
    if (this.closed || info.id === this.id) return;
    let link = this.links.get(info.id);
    if (!link) {
      link = new PeerLink(this, info.id, info);
      this.links.set(info.id, link);
      this.emit({ type: 'peer', peer: link.snapshot() });
      link.punch();
      return;
    }
    const wasKnown = link.status.info !== null;
    const changed = link.setInfo(info);
    if (!wasKnown || changed || !link.hasDirectPath) link.punch();
    // Introduced again with a path we think alive: the peer joined again, perhaps because it lost it.
    else link.checkNow();
  }

  private peerLeft(id: string): void {
    const link = this.links.get(id);
    if (!link) return;
    link.close();
    this.links.delete(id);
    this.emit({ type: 'peer-left', peerId: id });
  }

  // ------------------------------------------------------------- packets

  private onPacket(data: Uint8Array, from: Endpoint, socket: UdpSocket, viaRelaySocket: boolean): void {
    if (this.closed || !looksLikeMasqPacket(data)) return;
    let m: Message;
    try {
      const raw = parsePacket(data, isAuthenticatedType);
      if (raw.mac === null) {
        m = readMessage(raw);
        if (m.kind === 'hint') {
          if (socket === this.mainSocket && this.session.fromServer(from)) this.session.hint(m.reason);
          return;
        }
        if (m.kind === 'relay-deliver' && viaRelaySocket && this.relayClient?.isRelay(from)) this.fromRelay(m.from, m.payload);
        return;
      }
      const verified = this.verified(raw);
      if (verified === null) return;
      m = verified;
    } catch (err) {
      if (!(err instanceof RendezvousDecodeError)) throw err;
      this.counters.malformed++;
      return;
    }
    if (viaRelaySocket) {
      if (this.relayClient?.isRelay(from)) this.relayClient.handle(m);
      return;
    }
    if (isPeerMessage(m)) {
      this.fromPeer(m, from, socket);
      return;
    }
    if (socket === this.mainSocket && this.session.fromServer(from)) this.session.handle(m);
  }

  /** A packet the relay forwarded: the inner one carries the peer's own MAC. */
  private fromRelay(claimedFrom: string, inner: Uint8Array): void {
    let m: Message;
    try {
      const verified = this.verified(parsePacket(inner, isAuthenticatedType));
      if (verified === null) return;
      m = verified;
    } catch (err) {
      if (!(err instanceof RendezvousDecodeError)) throw err;
      this.counters.malformed++;
      return;
    }
    if (isPeerMessage(m) && m.from === claimedFrom) {
      this.fromPeer(m, this.relayClient!.endpoint, null);
    }
  }

  /** The message of an authenticated packet, or null (counted) when its MAC does not verify with the session key. */
  private verified(raw: RawPacket): Message | null {
    if (!macValid(raw, this.key)) {
      this.counters.unauthenticated++;
      return null;
    }
    return readMessage(raw);
  }

  private fromPeer(m: MessageOf<'hello' | 'hello-ack' | 'data' | 'bye'>, from: Endpoint, socket: UdpSocket | null): void {
    if (m.to !== this.id || m.from === this.id) {
      this.counters.notForUs++;
      return;
    }
    let link = this.links.get(m.from);
    if (!link) {
      // A hello can outrun the server's introduction: answer it now, learn the rest later.
      if (m.kind !== 'hello' || this.links.size >= MAX_UNINTRODUCED + 1024) return;
      if ([...this.links.values()].filter((l) => l.status.info === null).length >= MAX_UNINTRODUCED) return;
      link = new PeerLink(this, m.from, null);
      this.links.set(m.from, link);
      this.emit({ type: 'peer', peer: link.snapshot() });
    }
    link.receive(m, from, socket);
  }
}

function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

function resolveOptions(o: PunchClientOptions): ResolvedPunchOptions {
  const birthday = { ...DEFAULT_BIRTHDAY, ...o.birthday };
  return {
    keepaliveMs: o.keepaliveMs ?? 15_000,
    keepaliveRetries: o.keepaliveRetries ?? 3,
    relayAfterMs: o.relayAfterMs ?? 1500,
    helloRtoMs: o.helloRtoMs ?? 200,
    helloMaxIntervalMs: o.helloMaxIntervalMs ?? 5000,
    punchPhaseMs: o.punchPhaseMs ?? 30_000,
    upgradeIntervalMs: o.upgradeIntervalMs ?? 15_000,
    predictionWindow: o.predictionWindow ?? 8,
    birthday,
  };
}

/** Messages one peer sends another (directly or through the relay), as opposed to the server's. */
function isPeerMessage(m: Message): m is MessageOf<'hello' | 'hello-ack' | 'data' | 'bye'> {
  return m.kind === 'hello' || m.kind === 'hello-ack' || m.kind === 'data' || m.kind === 'bye';
}
