/**
 * What a STUN server answers, as a pure function: request bytes, where they
 * came from and which of the server's sockets they arrived on, in; the replies
 * and the socket each leaves from, out.
 *
 * RFC 8489 Binding (XOR-MAPPED-ADDRESS; MAPPED-ADDRESS, SOURCE-ADDRESS and
 * CHANGED-ADDRESS for classic RFC 3489 clients), RFC 5780 (OTHER-ADDRESS,
 * RESPONSE-ORIGIN, CHANGE-REQUEST, RESPONSE-PORT, PADDING).
 *
 * Never an amplifier: the server has no credentials, so every request is
 * unauthenticated, and a response is at most `amplificationFactor` times the
 * size of the request (3 by default, QUIC's bound for unvalidated addresses).
 * The bound admits the minimal Binding answer RFC 8489 demands (header and
 * XOR-MAPPED-ADDRESS: 32 bytes, 44 for IPv6, to a 20-byte request), so a
 * stranger gains a small constant, not a multiplier it can grow.
 * Optional attributes that do not fit are left out (SOFTWARE first, then
 * MAPPED-ADDRESS, then the RFC 5780 addresses); PADDING is sized so the
 * response is no larger than the request, whatever length the request asks
 * for; RESPONSE-PORT may only name another port of the sender's own address,
 * and never together with PADDING.
 */
import type { Endpoint } from '../../net/udp.js';
import { AttrType, ErrorReason, HEADER_LENGTH, isComprehensionRequired, MAGIC_COOKIE, StunMethod } from '../constants.js';
import { KNOWN_ATTRIBUTE_CODES, type StunAttribute, type StunAttributeOf } from '../attributes.js';
import { decodeStunMessage, effectiveAttributes, encodeStunMessage, isClassic, type StunMessage } from '../message.js';
import { checkFingerprint } from '../integrity.js';
import { fillPlainAnswer, isPlainBindingRequest, templateFrom, type PlainAnswerTemplate } from './plain-binding.js';

/**
 * The four sockets of an RFC 5780 server: first letter the IP address (Primary
 * or Alternate), second the port. Without an alternate address only PP exists.
 */
export type SocketKey = 'PP' | 'PA' | 'AP' | 'AA';

/** Largest answer as a multiple of its request (docs/security.md states the same number). */
export const DEFAULT_AMPLIFICATION_FACTOR = 3;

export interface ServerAddresses {
  primary: Endpoint;
  /** Alternate IP address and alternate port; enables RFC 5780. */
  alternate?: Endpoint;
}

export interface BindingHandlerConfig {
  addresses: ServerAddresses;
  /** SOFTWARE value; null for none. Default 'masq'. */
  software?: string | null;
  /** Largest response as a multiple of the request's size. Default DEFAULT_AMPLIFICATION_FACTOR. */
  amplificationFactor?: number;
}

export type Transport = 'udp' | 'tcp';

export interface StunReply {
  via: SocketKey;
  to: Endpoint;
  data: Uint8Array;
}

export type HandleOutcome =
  | 'success'
  | 'error-400'
  | 'error-420'
  | 'ignored-not-stun'
  | 'ignored-malformed'
  | 'ignored-not-request'
  | 'ignored-bad-fingerprint';

export interface HandleResult {
  outcome: HandleOutcome;
  replies: StunReply[];
  /** Why, for logs: the 400's reason, or the unknown attribute codes. */
  detail?: string;
  /** Optional attributes left out to stay under the amplification bound. */
  trimmed?: string[];
}

export function socketEndpoint(addrs: ServerAddresses, key: SocketKey): Endpoint {
  const alt = addrs.alternate;
  if (key === 'PP' || !alt) return addrs.primary;
  return {
    address: key[0] === 'P' ? addrs.primary.address : alt.address,
    port: key[1] === 'P' ? addrs.primary.port : alt.port,
  };
}

export function socketKeys(addrs: ServerAddresses): SocketKey[] {
  return addrs.alternate ? ['PP', 'PA', 'AP', 'AA'] : ['PP'];
}

function flip(key: SocketKey, changeIp: boolean, changePort: boolean): SocketKey {
  const ip = changeIp ? (key[0] === 'P' ? 'A' : 'P') : key[0];
  const port = changePort ? (key[1] === 'P' ? 'A' : 'P') : key[1];
  return `${ip}${port}` as SocketKey;
}

/**
 * Comprehension-required attributes a Binding request may carry without a 420:
 * the ones the codec reads, plus ICE's (a connectivity check sent to a STUN
 * server is still a Binding request).
 */
const UNDERSTOOD = new Set<number>([...KNOWN_ATTRIBUTE_CODES, AttrType.PRIORITY, AttrType.USE_CANDIDATE]);
UNDERSTOOD.delete(AttrType.RESPONSE_ADDRESS);

const ADDRESS_V4 = 12;
const ADDRESS_V6 = 24;
const pad4 = (n: number): number => (n + 3) & ~3;
const utf8 = new TextEncoder();

function addressSize(e: Endpoint): number {
  return e.address.includes(':') ? ADDRESS_V6 : ADDRESS_V4;
}

/** SOFTWARE, encoded once per configuration rather than once per response. */
const softwareCache = new WeakMap<BindingHandlerConfig, StunAttribute | null>();
function softwareAttribute(config: BindingHandlerConfig): StunAttribute | null {
  let a = softwareCache.get(config);
  if (a === undefined) {
    const text = config.software === undefined ? 'masq' : config.software;
    a = text ? { type: 'raw', code: AttrType.SOFTWARE, value: utf8.encode(text) } : null;
    softwareCache.set(config, a);
  }
  return a;
}

interface RequestContext {
  req: StunMessage;
  from: Endpoint;
  arrivedOn: SocketKey;
  withFingerprint: boolean;
  limit: number;
}

function errorResult(ctx: RequestContext, code: 400 | 420, detail: string, unknown?: number[]): HandleResult {
  return {
    outcome: code === 400 ? 'error-400' : 'error-420',
    detail,
    replies: [{ via: ctx.arrivedOn, to: ctx.from, data: errorResponse(ctx.req, code, unknown, ctx.withFingerprint, ctx.limit) }],
  };
}

export function handleStunPacket(
  config: BindingHandlerConfig,
  data: Uint8Array,
  from: Endpoint,
  arrivedOn: SocketKey,
  transport: Transport,
): HandleResult {
  if (isPlainBindingRequest(data)) {
    const plain = plainAnswerTemplate(config, arrivedOn);
    const answer = fillPlainAnswer(plain.template, data, from);
    if (answer) {
      const result: HandleResult = { outcome: 'success', replies: [{ via: arrivedOn, to: from, data: answer }] };
      if (plain.trimmed) result.trimmed = plain.trimmed;
      return result;
    }
  }
  return handleStunPacketGeneral(config, data, from, arrivedOn, transport);
}

export interface PlainTemplateEntry {
  template: PlainAnswerTemplate;
  trimmed?: string[];
}

/** Per configuration and socket: the general path's answer to a plain request from 0.0.0.0:0. */
const plainTemplates = new WeakMap<BindingHandlerConfig, Map<SocketKey, PlainTemplateEntry>>();
const PLAIN_TEMPLATE_REQUEST = new Uint8Array([0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

/** The template every plain Binding request arriving on `via` is answered from (built once per configuration and socket). */
export function plainAnswerTemplate(config: BindingHandlerConfig, via: SocketKey): PlainTemplateEntry {
  let perSocket = plainTemplates.get(config);
  if (!perSocket) plainTemplates.set(config, (perSocket = new Map()));
  let entry = perSocket.get(via);
  if (!entry) {
    const r = handleStunPacketGeneral(config, PLAIN_TEMPLATE_REQUEST, { address: '0.0.0.0', port: 0 }, via, 'udp');
    entry = { template: templateFrom(r.replies[0].data) };
    if (r.trimmed) entry.trimmed = r.trimmed;
    perSocket.set(via, entry);
  }
  return entry;
}

/**
 * Every request through the decoder. handleStunPacket answers plain Binding
 * requests from a template instead; exported so tests can hold the two to the
 * same bytes.
 */
export function handleStunPacketGeneral(
  config: BindingHandlerConfig,
  data: Uint8Array,
  from: Endpoint,
  arrivedOn: SocketKey,
  transport: Transport,
): HandleResult {
  const limit = Math.max(data.length, HEADER_LENGTH) * (config.amplificationFactor ?? DEFAULT_AMPLIFICATION_FACTOR);
  if (data.length < HEADER_LENGTH || (data[0] & 0xc0) !== 0) return { outcome: 'ignored-not-stun', replies: [] };
  let req;
  try {
    req = decodeStunMessage(data);
  } catch (e) {
    return badHeaderReply(data, from, arrivedOn, limit, e instanceof Error ? e.message : String(e));
  }
  if (req.cls !== 'request') return { outcome: 'ignored-not-request', replies: [] };
  // A wrong FINGERPRINT means "not STUN" to a demultiplexer: stay silent.
  const fingerprint = req.attributes.length === 0 ? 'absent' : checkFingerprint(req);
  if (fingerprint === 'mismatch') return { outcome: 'ignored-bad-fingerprint', replies: [] };
  const ctx: RequestContext = { req, from, arrivedOn, withFingerprint: fingerprint === 'ok', limit };

  if (req.method !== StunMethod.Binding) return errorResult(ctx, 400, `method 0x${req.method.toString(16)} not served`);
  const attrs = req.attributes.length === 0 ? req.attributes : effectiveAttributes(req);
  const rfc5780 = config.addresses.alternate !== undefined;
  const unknown: number[] = [];
  let malformed: string | undefined;
  let change: StunAttributeOf<'CHANGE-REQUEST'> | undefined;
  let responsePort: StunAttributeOf<'RESPONSE-PORT'> | undefined;
  let padding: StunAttributeOf<'PADDING'> | undefined;
  for (const a of attrs) {
    if (a.type === 'raw') {
      const required = isComprehensionRequired(a.code);
      const notServed = a.code === AttrType.CHANGE_REQUEST && !rfc5780;
      if ((notServed || (required && !UNDERSTOOD.has(a.code))) && !unknown.includes(a.code)) unknown.push(a.code);
      else if (required && a.invalid && malformed === undefined) malformed = a.invalid;
    } else if (a.type === 'CHANGE-REQUEST') {
      if (!rfc5780 && !unknown.includes(AttrType.CHANGE_REQUEST)) unknown.push(AttrType.CHANGE_REQUEST);
      change ??= a;
    } else if (a.type === 'RESPONSE-PORT') responsePort ??= a;
    else if (a.type === 'PADDING') padding ??= a;
  }
  if (unknown.length > 0) return errorResult(ctx, 420, `unknown ${unknown.map((c) => `0x${c.toString(16)}`).join(',')}`, unknown);
  if (malformed !== undefined) return errorResult(ctx, 400, malformed);

  const changes = change !== undefined && (change.changeIp || change.changePort);
  if (transport === 'tcp' && (changes || responsePort || padding)) {
    return errorResult(ctx, 400, 'CHANGE-REQUEST, RESPONSE-PORT and PADDING are for UDP only');
  }
  if (responsePort && padding) return errorResult(ctx, 400, 'PADDING and RESPONSE-PORT together');
  if (responsePort && responsePort.port === 0) return errorResult(ctx, 400, 'RESPONSE-PORT 0');

  const via = change ? flip(arrivedOn, change.changeIp, change.changePort) : arrivedOn;
  const to = responsePort ? { address: from.address, port: responsePort.port } : from;
  const { attributes, trimmed } = successAttributes(config, req, from, via, limit, padding !== undefined, ctx.withFingerprint, data.length);
  const response: StunMessage = {
    cls: 'success',
    method: StunMethod.Binding,
    transactionId: req.transactionId,
    cookie: req.cookie,
    attributes,
  };
  const result: HandleResult = { outcome: 'success', replies: [{ via, to, data: encodeStunMessage(response) }] };
  if (trimmed.length) result.trimmed = trimmed;
  return result;
}

/** Bytes a response may still take; what was left out. */
interface Budget {
  size: number;
  readonly limit: number;
  readonly trimmed: string[];
}

function spend(budget: Budget, name: string, n: number): boolean {
  if (budget.size + n <= budget.limit) {
    budget.size += n;
    return true;
  }
  budget.trimmed.push(name);
  return false;
}

/** Attributes of a success response: the most important that fit within `limit` bytes, in wire order. */
function successAttributes(
  config: BindingHandlerConfig,
  req: StunMessage,
  mapped: Endpoint,
  via: SocketKey,
  limit: number,
  padded: boolean,
  withFingerprint: boolean,
  requestLength: number,
): { attributes: StunAttribute[]; trimmed: string[] } {
  const addrs = config.addresses;
  const origin = socketEndpoint(addrs, via);
  const other = addrs.alternate ? socketEndpoint(addrs, flip(via, true, true)) : undefined;
  const software = softwareAttribute(config);
  const classic = isClassic(req);
  const budget: Budget = { size: HEADER_LENGTH + addressSize(mapped), limit, trimmed: [] };
  const trimmed = budget.trimmed;
  // Decided in priority order (what a client needs most first), emitted in wire order below.
  const attributes: StunAttribute[] = [];
  if (classic) {
    attributes.push({ type: 'MAPPED-ADDRESS', address: mapped });
    if (spend(budget, 'SOURCE-ADDRESS', addressSize(origin))) attributes.push({ type: 'SOURCE-ADDRESS', address: origin });
    if (other && spend(budget, 'CHANGED-ADDRESS', addressSize(other))) attributes.push({ type: 'CHANGED-ADDRESS', address: other });
    if (software && spend(budget, 'SOFTWARE', 4 + pad4(software.type === 'raw' ? software.value.length : 0))) attributes.push(software);
    return { attributes, trimmed };
  }
  const fingerprint = withFingerprint && spend(budget, 'FINGERPRINT', 8);
  const withOther = other !== undefined && spend(budget, 'OTHER-ADDRESS', addressSize(other));
  const withOrigin = other !== undefined && spend(budget, 'RESPONSE-ORIGIN', addressSize(origin));
  // Both forms, as coturn does: a client seeing them differ knows an ALG rewrote the plain one.
  const withPlain = other !== undefined && spend(budget, 'MAPPED-ADDRESS', addressSize(mapped));
  const withSoftware = software !== null && spend(budget, 'SOFTWARE', 4 + pad4(software.type === 'raw' ? software.value.length : 0));
  attributes.push({ type: 'XOR-MAPPED-ADDRESS', address: mapped });
  if (withPlain) attributes.push({ type: 'MAPPED-ADDRESS', address: mapped });
  if (withOrigin) attributes.push({ type: 'RESPONSE-ORIGIN', address: origin });
  if (withOther) attributes.push({ type: 'OTHER-ADDRESS', address: other });
  if (withSoftware) attributes.push(software);
  if (padded) {
    // As long as the request makes the response, and no longer: the client pays for its own padding.
    const room = Math.min(requestLength, limit) - budget.size - 4;
    if (room >= 0) attributes.push({ type: 'PADDING', value: new Uint8Array(room & ~3) });
    else trimmed.push('PADDING');
  }
  if (fingerprint) attributes.push({ type: 'FINGERPRINT' });
  return { attributes, trimmed };
}

function errorResponse(
  req: StunMessage,
  code: 400 | 420,
  unknown: number[] | undefined,
  withFingerprint: boolean,
  limit: number,
): Uint8Array {
  const reason = ErrorReason[code];
  const attributes: StunAttribute[] = [{ type: 'ERROR-CODE', code, reason }];
  const size = HEADER_LENGTH + 8 + pad4(utf8.encode(reason).length) + (withFingerprint ? 8 : 0);
  if (unknown) {
    // Each listed code is two bytes; list as many as the bound allows (a request naming
    // many unknown attributes paid at least four bytes for each).
    const room = Math.max(2, Math.floor((limit - size - 4) / 2));
    attributes.push({ type: 'UNKNOWN-ATTRIBUTES', types: unknown.slice(0, room) });
  }
  if (withFingerprint) attributes.push({ type: 'FINGERPRINT' });
  return encodeStunMessage({ cls: 'error', method: req.method, transactionId: req.transactionId, cookie: req.cookie, attributes });
}

/**
 * A request whose attributes do not parse still gets a 400, but only when its
 * header is sound (magic cookie, request class): anything less is not STUN.
 */
function badHeaderReply(data: Uint8Array, from: Endpoint, on: SocketKey, limit: number, why: string): HandleResult {
  const cookie = ((data[4] << 24) | (data[5] << 16) | (data[6] << 8) | data[7]) >>> 0;
  const type = (data[0] << 8) | data[1];
  const isRequest = (type & 0x0110) === 0;
  if (cookie !== MAGIC_COOKIE || !isRequest) return { outcome: 'ignored-malformed', replies: [], detail: why };
  const method = ((type & 0x3e00) >> 2) | ((type & 0x00e0) >> 1) | (type & 0x000f);
  const req: StunMessage = { cls: 'request', method, transactionId: data.slice(8, 20), attributes: [] };
  return { outcome: 'error-400', detail: why, replies: [{ via: on, to: from, data: errorResponse(req, 400, undefined, false, limit) }] };
}
