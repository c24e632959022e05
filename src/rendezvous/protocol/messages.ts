/**
 * The messages of the rendezvous protocol, the peer-to-peer hellos and the
 * relay, as plain values, and their encoding into packets (wire.ts).
 *
 * Authentication: every type except the relay's forwarding frames and the
 * unauthenticated hint carries a MAC with the session key (keys.ts).
 * Return routability: a request that would make a server send more than its
 * own size to its source, or record that source for a peer, must echo a cookie
 * the server sent to that source (cookie.ts); without one it gets a `cookie`
 * answer, smaller than the request, and nothing else. Replay:
 * requests to a server carry a timestamp and a nonce (the server keeps the
 * nonces of its acceptance window); replies echo the request's nonce; messages
 * a server or peer sends unasked carry a sequence number the receiver checks
 * against a window (replay.ts).
 */
import type { Endpoint } from '../../net/udp.js';
import { truncateUtf8 } from '../util/ids.js';
import { encodeAttributes, encodePacket, parseAttributes, RendezvousDecodeError, type Attribute, type RawPacket } from './wire.js';
import {
  encodeEndpoint,
  encodeText,
  encodeU32,
  encodeU64,
  hexToId,
  readEndpoint,
  readId,
  readText,
  readU32,
  readU64,
} from './values.js';

export const MessageType = {
  // client -> rendezvous server
  Join: 0x01,
  Refresh: 0x02,
  Leave: 0x03,
  Observe: 0x04,
  IntroduceAck: 0x05,
  // rendezvous server -> client
  JoinOk: 0x81,
  Introduce: 0x82,
  RefreshOk: 0x83,
  LeaveOk: 0x84,
  PeerLeft: 0x85,
  ObserveOk: 0x86,
  Error: 0x87,
  // rendezvous server or relay -> client: "prove you receive at this address"
  Cookie: 0x88,
  // peer <-> peer
  Hello: 0x10,
  HelloAck: 0x11,
  Data: 0x12,
  Bye: 0x13,
  // client <-> relay
  RelayBind: 0x20,
  RelaySend: 0x21,
  RelayBindOk: 0xa0,
  RelayDeliver: 0xa1,
  // anyone: a hint that cannot be authenticated (the sender lacks the key)
  Hint: 0xff,
} as const;

const UNAUTHENTICATED = new Set<number>([MessageType.RelaySend, MessageType.RelayDeliver, MessageType.Hint]);

export function isAuthenticatedType(type: number): boolean {
  return !UNAUTHENTICATED.has(type);
}

/** Attribute types. */
export const Attr = {
  Session: 1,
  PeerId: 2,
  TargetId: 3,
  Nonce: 4,
  Timestamp: 5,
  LocalEndpoint: 6,
  PublicEndpoint: 7,
  ObservedEndpoint: 8,
  Peer: 9,
  Seq: 10,
  EchoSeq: 11,
  ErrorCode: 12,
  Reason: 13,
  RelayEndpoint: 14,
  Payload: 15,
  RefreshMs: 16,
  TtlMs: 17,
  ServerTime: 18,
  Flags: 19,
  Name: 20,
  Total: 21,
  EchoNonce: 22,
  Index: 23,
  SpareEndpoint: 24,
  Cookie: 25,
  MappedEndpoint: 26,
} as const;

export const ErrorCode = {
  BadRequest: 400,
  Unauthorized: 401,
  UnknownSession: 404,
  UnknownPeer: 410,
  Stale: 425,
  Replay: 426,
  SessionFull: 429,
  RateLimited: 430,
  ServerBusy: 503,
} as const;

export const MAX_SESSION_BYTES = 128;
export const MAX_NAME_BYTES = 64;
export const MAX_REASON_BYTES = 200;
/** Local endpoints a peer may announce. */
export const MAX_LOCAL_ENDPOINTS = 8;
/** A return-routability cookie (cookie.ts). */
export const COOKIE_LENGTH = 16;

/** Hello flags. */
export const HelloFlag = {
  /** A keepalive on an established path (answer it, nothing more). */
  Keepalive: 1,
  /** Sent from a birthday socket or as a birthday probe. */
  Birthday: 2,
  /** Carried through the relay. */
  Relayed: 4,
} as const;

/** What the server knows of a participant, as handed to the others. */
export interface PeerInfo {
  id: string;
  name?: string;
  /** As the server saw it. */
  public: Endpoint;
  /** As the peer reported them. */
  locals: Endpoint[];
  /** The peer's mapping toward the server's second (observation) port, when it has one. */
  observed?: Endpoint;
  /** Behind a port-preserving NAT: where the peer's unused spare socket will appear. */
  spare?: Endpoint;
  /**
   * A port mapping the peer's gateway made for its main socket (PCP, NAT-PMP
   * or UPnP IGD): reachable from anywhere while it lives. Older servers and
   * clients ignore the attribute.
   */
  mapped?: Endpoint;
}

interface Authed {
  /** Wall-clock ms of the sender. */
  timestamp: number;
  nonce: string;
}

/** Requests that may echo a cookie: those that record the sender's address. */
interface Cookied {
  cookie?: Uint8Array;
}

export type Message =
  | ({ kind: 'join'; session: string; peerId: string; name?: string; locals: Endpoint[]; observed?: Endpoint; spare?: Endpoint; mapped?: Endpoint } & Authed & Cookied)
  | ({ kind: 'refresh'; session: string; peerId: string } & Authed & Cookied)
  | ({ kind: 'leave'; session: string; peerId: string } & Authed)
  | ({ kind: 'observe'; session: string; peerId: string } & Authed)
  | { kind: 'introduce-ack'; session: string; peerId: string; seq: number }
  | {
      kind: 'join-ok';
      echo: string;
      peerId: string;
      public: Endpoint;
      peers: PeerInfo[];
      /** Participants besides the joiner; those not in `peers` follow as introductions. */
      total: number;
      relay?: Endpoint;
      refreshMs: number;
      ttlMs: number;
      /** The sequence number the server's next unsolicited message to this peer will exceed. */
      seq: number;
    }
  | { kind: 'introduce'; target: string; seq: number; peer: PeerInfo }
  | { kind: 'refresh-ok'; echo: string; public: Endpoint }
  | { kind: 'leave-ok'; echo: string }
  | { kind: 'peer-left'; target: string; seq: number; peerId: string }
  | { kind: 'observe-ok'; echo: string; public: Endpoint }
  | { kind: 'error'; echo?: string; code: number; reason: string; serverTime?: number }
  /** The answer to a request that needs a cookie and has none (or a stale one): echo this one. */
  | { kind: 'cookie'; echo: string; cookie: Uint8Array }
  | { kind: 'hello'; from: string; to: string; seq: number; flags: number; index?: number }
  | { kind: 'hello-ack'; from: string; to: string; seq: number; echoSeq: number; observed: Endpoint; flags: number }
  | { kind: 'data'; from: string; to: string; seq: number; payload: Uint8Array }
  | { kind: 'bye'; from: string; to: string; seq: number }
  | ({ kind: 'relay-bind'; session: string; peerId: string } & Authed & Cookied)
  | { kind: 'relay-bind-ok'; echo: string; ttlMs: number }
  | { kind: 'relay-send'; to: string; payload: Uint8Array }
  | { kind: 'relay-deliver'; from: string; payload: Uint8Array }
  | { kind: 'hint'; code: number; reason: string; echo?: string };

export type MessageKind = Message['kind'];
export type MessageOf<K extends MessageKind> = Extract<Message, { kind: K }>;

const TYPE_OF: Record<MessageKind, number> = {
  join: MessageType.Join,
  refresh: MessageType.Refresh,
  leave: MessageType.Leave,
  observe: MessageType.Observe,
  'introduce-ack': MessageType.IntroduceAck,
  'join-ok': MessageType.JoinOk,
  introduce: MessageType.Introduce,
  'refresh-ok': MessageType.RefreshOk,
  'leave-ok': MessageType.LeaveOk,
  'peer-left': MessageType.PeerLeft,
  'observe-ok': MessageType.ObserveOk,
  error: MessageType.Error,
  cookie: MessageType.Cookie,
  hello: MessageType.Hello,
  'hello-ack': MessageType.HelloAck,
  data: MessageType.Data,
  bye: MessageType.Bye,
  'relay-bind': MessageType.RelayBind,
  'relay-bind-ok': MessageType.RelayBindOk,
  'relay-send': MessageType.RelaySend,
  'relay-deliver': MessageType.RelayDeliver,
  hint: MessageType.Hint,
};

// ------------------------------------------------------------------ encoding

const a = (type: number, value: Uint8Array): Attribute => ({ type, value });
const id = (type: number, hex: string) => a(type, hexToId(hex));
const u64 = (type: number, n: number) => a(type, encodeU64(n));
const u32 = (type: number, n: number) => a(type, encodeU32(n));
const ep = (type: number, e: Endpoint) => a(type, encodeEndpoint(e));
const text = (type: number, s: string) => a(type, encodeText(s));

function authed(m: Authed & Cookied): Attribute[] {
  const out = [id(Attr.Nonce, m.nonce), u64(Attr.Timestamp, m.timestamp)];
  if (m.cookie) out.push(a(Attr.Cookie, m.cookie));
  return out;
}

function peerInfoAttributes(p: PeerInfo): Attribute[] {
  const out = [id(Attr.PeerId, p.id), ep(Attr.PublicEndpoint, p.public)];
  if (p.name !== undefined) out.push(text(Attr.Name, p.name));
  for (const l of p.locals) out.push(ep(Attr.LocalEndpoint, l));
  if (p.observed) out.push(ep(Attr.ObservedEndpoint, p.observed));
  if (p.spare) out.push(ep(Attr.SpareEndpoint, p.spare));
  if (p.mapped) out.push(ep(Attr.MappedEndpoint, p.mapped));
  return out;
}

function attributesOf(m: Message): Attribute[] {
  switch (m.kind) {
    case 'join': {
      const out = [text(Attr.Session, m.session), id(Attr.PeerId, m.peerId), ...authed(m)];
      if (m.name !== undefined) out.push(text(Attr.Name, m.name));
      for (const l of m.locals) out.push(ep(Attr.LocalEndpoint, l));
      if (m.observed) out.push(ep(Attr.ObservedEndpoint, m.observed));
      if (m.spare) out.push(ep(Attr.SpareEndpoint, m.spare));
      if (m.mapped) out.push(ep(Attr.MappedEndpoint, m.mapped));
      return out;
    }
    case 'refresh':
    case 'leave':
    case 'observe':
    case 'relay-bind':
      return [text(Attr.Session, m.session), id(Attr.PeerId, m.peerId), ...authed(m)];
    case 'cookie':
      return [id(Attr.EchoNonce, m.echo), a(Attr.Cookie, m.cookie)];
    case 'introduce-ack':
      return [text(Attr.Session, m.session), id(Attr.PeerId, m.peerId), u64(Attr.Seq, m.seq)];
    case 'join-ok': {
      const out = [
        id(Attr.EchoNonce, m.echo),
        id(Attr.PeerId, m.peerId),
        ep(Attr.PublicEndpoint, m.public),
        u32(Attr.Total, m.total),
        u32(Attr.RefreshMs, m.refreshMs),
        u32(Attr.TtlMs, m.ttlMs),
        u64(Attr.Seq, m.seq),
      ];
      if (m.relay) out.push(ep(Attr.RelayEndpoint, m.relay));
      for (const p of m.peers) out.push(a(Attr.Peer, encodeAttributes(peerInfoAttributes(p))));
      return out;
    }
    case 'introduce':
      return [id(Attr.TargetId, m.target), u64(Attr.Seq, m.seq), a(Attr.Peer, encodeAttributes(peerInfoAttributes(m.peer)))];
    case 'refresh-ok':
    case 'observe-ok':
      return [id(Attr.EchoNonce, m.echo), ep(Attr.PublicEndpoint, m.public)];
    case 'leave-ok':
      return [id(Attr.EchoNonce, m.echo)];
    case 'peer-left':
      return [id(Attr.TargetId, m.target), u64(Attr.Seq, m.seq), id(Attr.PeerId, m.peerId)];
    case 'error':
    case 'hint': {
      const out = [u32(Attr.ErrorCode, m.code), text(Attr.Reason, truncateUtf8(m.reason, MAX_REASON_BYTES))];
      if (m.echo !== undefined) out.push(id(Attr.EchoNonce, m.echo));
      if (m.kind === 'error' && m.serverTime !== undefined) out.push(u64(Attr.ServerTime, m.serverTime));
      return out;
    }
    case 'hello': {
      const out = [id(Attr.PeerId, m.from), id(Attr.TargetId, m.to), u64(Attr.Seq, m.seq), u32(Attr.Flags, m.flags)];
      if (m.index !== undefined) out.push(u32(Attr.Index, m.index));
      return out;
    }
    case 'hello-ack':
      return [
        id(Attr.PeerId, m.from),
        id(Attr.TargetId, m.to),
        u64(Attr.Seq, m.seq),
        u64(Attr.EchoSeq, m.echoSeq),
        ep(Attr.ObservedEndpoint, m.observed),
        u32(Attr.Flags, m.flags),
      ];
    case 'data':
      return [id(Attr.PeerId, m.from), id(Attr.TargetId, m.to), u64(Attr.Seq, m.seq), a(Attr.Payload, m.payload)];
    case 'bye':
      return [id(Attr.PeerId, m.from), id(Attr.TargetId, m.to), u64(Attr.Seq, m.seq)];
    case 'relay-bind-ok':
      return [id(Attr.EchoNonce, m.echo), u32(Attr.TtlMs, m.ttlMs)];
    case 'relay-send':
      return [id(Attr.TargetId, m.to), a(Attr.Payload, m.payload)];
    case 'relay-deliver':
      return [id(Attr.PeerId, m.from), a(Attr.Payload, m.payload)];
  }
}

/** Encodes a message; authenticated types need the session key. */
export function encodeMessage(m: Message, key: Uint8Array | null): Uint8Array {
  const type = TYPE_OF[m.kind];
  if (isAuthenticatedType(type) && !key) throw new Error(`a ${m.kind} message needs the session key`);
  return encodePacket(type, attributesOf(m), isAuthenticatedType(type) ? key : null);
}

// ------------------------------------------------------------------ decoding

/** Attribute lookup with the checks every reader needs. */
class Attrs {
  constructor(private readonly list: Attribute[]) {}
  one(type: number): Uint8Array | undefined {
    let found: Uint8Array | undefined;
    for (const x of this.list) {
      if (x.type !== type) continue;
      if (found) throw new RendezvousDecodeError(`attribute ${type} repeated`);
      found = x.value;
    }
    return found;
  }
  need(type: number, what: string): Uint8Array {
    const v = this.one(type);
    if (!v) throw new RendezvousDecodeError(`missing ${what}`);
    return v;
  }
  all(type: number): Uint8Array[] {
    return this.list.filter((x) => x.type === type).map((x) => x.value);
  }
}

function readPeerInfo(v: Uint8Array): PeerInfo {
  const at = new Attrs(parseAttributes(v));
  const locals = at.all(Attr.LocalEndpoint);
  if (locals.length > MAX_LOCAL_ENDPOINTS) throw new RendezvousDecodeError(`more than ${MAX_LOCAL_ENDPOINTS} local endpoints`);
  const name = at.one(Attr.Name);
  const observed = at.one(Attr.ObservedEndpoint);
  const spare = at.one(Attr.SpareEndpoint);
  const mapped = at.one(Attr.MappedEndpoint);
  return {
    id: readId(at.need(Attr.PeerId, 'peer id'), 'peer id'),
    ...(name ? { name: readText(name, 'name', MAX_NAME_BYTES) } : {}),
    public: readEndpoint(at.need(Attr.PublicEndpoint, 'public endpoint'), 'public endpoint'),
    locals: locals.map((l) => readEndpoint(l, 'local endpoint')),
    ...(observed ? { observed: readEndpoint(observed, 'observed endpoint') } : {}),
    ...(spare ? { spare: readEndpoint(spare, 'spare endpoint') } : {}),
    ...(mapped ? { mapped: readEndpoint(mapped, 'mapped endpoint') } : {}),
  };
}

function readSession(at: Attrs): string {
  const s = readText(at.need(Attr.Session, 'session'), 'session', MAX_SESSION_BYTES);
  if (s.length === 0) throw new RendezvousDecodeError('empty session name');
  return s;
}

function readAuthed(at: Attrs): Authed {
  return { nonce: readId(at.need(Attr.Nonce, 'nonce'), 'nonce'), timestamp: readU64(at.need(Attr.Timestamp, 'timestamp'), 'timestamp') };
}

function readCookie(v: Uint8Array): Uint8Array {
  if (v.length !== COOKIE_LENGTH) throw new RendezvousDecodeError(`cookie must be ${COOKIE_LENGTH} bytes, got ${v.length}`);
  return v;
}

/** The request's authentication fields and, when it echoes one, its cookie. */
function readCookied(at: Attrs): Authed & Cookied {
  const cookie = at.one(Attr.Cookie);
  return { ...readAuthed(at), ...(cookie ? { cookie: readCookie(cookie) } : {}) };
}

/** The session a request names, read before its MAC can be checked (the key depends on it). */
export function sessionOf(raw: RawPacket): string | null {
  const v = raw.attributes.find((x) => x.type === Attr.Session);
  if (!v) return null;
  return readText(v.value, 'session', MAX_SESSION_BYTES);
}

/** Turns a parsed packet into a message (after the caller checked the MAC, where there is one). */
export function readMessage(raw: RawPacket): Message {
  const at = new Attrs(raw.attributes);
  const peerId = () => readId(at.need(Attr.PeerId, 'peer id'), 'peer id');
  const target = () => readId(at.need(Attr.TargetId, 'target id'), 'target id');
  const seq = () => readU64(at.need(Attr.Seq, 'sequence number'), 'sequence number');
  const echo = () => readId(at.need(Attr.EchoNonce, 'echoed nonce'), 'echoed nonce');
  const pub = () => readEndpoint(at.need(Attr.PublicEndpoint, 'public endpoint'), 'public endpoint');
  switch (raw.type) {
    case MessageType.Join: {
      const locals = at.all(Attr.LocalEndpoint);
      if (locals.length > MAX_LOCAL_ENDPOINTS) throw new RendezvousDecodeError(`more than ${MAX_LOCAL_ENDPOINTS} local endpoints`);
      const name = at.one(Attr.Name);
      const observed = at.one(Attr.ObservedEndpoint);
      const spare = at.one(Attr.SpareEndpoint);
      const mapped = at.one(Attr.MappedEndpoint);
      return {
        kind: 'join',
        session: readSession(at),
        peerId: peerId(),
        ...readCookied(at),
        ...(name ? { name: readText(name, 'name', MAX_NAME_BYTES) } : {}),
        locals: locals.map((l) => readEndpoint(l, 'local endpoint')),
        ...(observed ? { observed: readEndpoint(observed, 'observed endpoint') } : {}),
        ...(spare ? { spare: readEndpoint(spare, 'spare endpoint') } : {}),
        ...(mapped ? { mapped: readEndpoint(mapped, 'mapped endpoint') } : {}),
      };
    }
    case MessageType.Refresh:
      return { kind: 'refresh', session: readSession(at), peerId: peerId(), ...readCookied(at) };
    case MessageType.Leave:
      return { kind: 'leave', session: readSession(at), peerId: peerId(), ...readAuthed(at) };
    case MessageType.Observe:
      return { kind: 'observe', session: readSession(at), peerId: peerId(), ...readAuthed(at) };
    case MessageType.RelayBind:
      return { kind: 'relay-bind', session: readSession(at), peerId: peerId(), ...readCookied(at) };
    case MessageType.Cookie:
      return { kind: 'cookie', echo: echo(), cookie: readCookie(at.need(Attr.Cookie, 'cookie')) };
    case MessageType.IntroduceAck:
      return { kind: 'introduce-ack', session: readSession(at), peerId: peerId(), seq: seq() };
    case MessageType.JoinOk: {
      const relay = at.one(Attr.RelayEndpoint);
      return {
        kind: 'join-ok',
        echo: echo(),
        peerId: peerId(),
        public: pub(),
        peers: at.all(Attr.Peer).map(readPeerInfo),
        total: readU32(at.need(Attr.Total, 'total'), 'total'),
        ...(relay ? { relay: readEndpoint(relay, 'relay endpoint') } : {}),
        refreshMs: readU32(at.need(Attr.RefreshMs, 'refresh interval'), 'refresh interval'),
        ttlMs: readU32(at.need(Attr.TtlMs, 'ttl'), 'ttl'),
        seq: seq(),
      };
    }
    case MessageType.Introduce:
      return { kind: 'introduce', target: target(), seq: seq(), peer: readPeerInfo(at.need(Attr.Peer, 'peer')) };
    case MessageType.RefreshOk:
      return { kind: 'refresh-ok', echo: echo(), public: pub() };
    case MessageType.ObserveOk:
      return { kind: 'observe-ok', echo: echo(), public: pub() };
    case MessageType.LeaveOk:
      return { kind: 'leave-ok', echo: echo() };
    case MessageType.PeerLeft:
      return { kind: 'peer-left', target: target(), seq: seq(), peerId: peerId() };
    case MessageType.Error:
    case MessageType.Hint: {
      const e = at.one(Attr.EchoNonce);
      const t = at.one(Attr.ServerTime);
      const base = {
        code: readU32(at.need(Attr.ErrorCode, 'error code'), 'error code'),
        reason: readText(at.need(Attr.Reason, 'reason'), 'reason', MAX_REASON_BYTES),
        ...(e ? { echo: readId(e, 'echoed nonce') } : {}),
      };
      if (raw.type === MessageType.Hint) return { kind: 'hint', ...base };
      return { kind: 'error', ...base, ...(t ? { serverTime: readU64(t, 'server time') } : {}) };
    }
    case MessageType.Hello: {
      const index = at.one(Attr.Index);
      return {
        kind: 'hello',
        from: peerId(),
        to: target(),
        seq: seq(),
        flags: readU32(at.need(Attr.Flags, 'flags'), 'flags'),
        ...(index ? { index: readU32(index, 'index') } : {}),
      };
    }
    case MessageType.HelloAck:
      return {
        kind: 'hello-ack',
        from: peerId(),
        to: target(),
        seq: seq(),
        echoSeq: readU64(at.need(Attr.EchoSeq, 'echoed sequence number'), 'echoed sequence number'),
        observed: readEndpoint(at.need(Attr.ObservedEndpoint, 'observed endpoint'), 'observed endpoint'),
        flags: readU32(at.need(Attr.Flags, 'flags'), 'flags'),
      };
    case MessageType.Data:
      return { kind: 'data', from: peerId(), to: target(), seq: seq(), payload: at.need(Attr.Payload, 'payload') };
    case MessageType.Bye:
      return { kind: 'bye', from: peerId(), to: target(), seq: seq() };
    case MessageType.RelayBindOk:
      return { kind: 'relay-bind-ok', echo: echo(), ttlMs: readU32(at.need(Attr.TtlMs, 'ttl'), 'ttl') };
    case MessageType.RelaySend:
      return { kind: 'relay-send', to: target(), payload: at.need(Attr.Payload, 'payload') };
    case MessageType.RelayDeliver:
      return { kind: 'relay-deliver', from: peerId(), payload: at.need(Attr.Payload, 'payload') };
    default:
      throw new RendezvousDecodeError(`unknown message type 0x${raw.type.toString(16)}`);
  }
}
