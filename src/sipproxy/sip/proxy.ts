/**
 * The SIP proxy and registrar for phones behind NATs, transaction-stateful
 * (RFC 3261 16, 17): every request gets received/rport on its top Via
 * (RFC 3581) and is answered on the flow it came in on; registrations keep
 * that flow (registrar.ts) or, in front of another registrar, travel in a
 * Path entry (routing.ts); dialogs are record-routed with flow tokens; every
 * SDP offer and answer is anchored on the media relay (../media/relay.ts).
 *
 * Messages that do not parse, or lack what a proxy needs (Via, CSeq,
 * Call-ID, From, To), are answered 400 (requests, policy `reply`) or
 * dropped, and counted; nothing stops the proxy.
 */
import { randomBytes } from 'node:crypto';
import { parseSipMessage, type SipMessage } from '../../alg/sip/message.js';
import { HeaderId, headerIdOf } from '../../alg/sip/header-names.js';
import { latin1 } from '../../alg/text/latin1.js';
import type { Edit } from '../../alg/text/edit.js';
import type { Scheduler } from '../../util/clock.js';
import type { MediaRelay } from '../media/relay.js';
import type { CallStore, LocationStore } from '../store/stores.js';
import { flowKey, FlowTokens, sameFlow, type Flow, type SipTransport } from './flow.js';
import { headerLine, readSipInfo, type SipInfo } from './message-info.js';
import { applyAll, contentLengthEdit, insertHeaders, maxForwardsEdit, removeRouteEdits, removeTopViaEdit, requestUriEdit, viaLine, viaReceivedEdits } from './edits.js';
import { buildReply, type ReplyOptions } from './reply.js';
import { buildAck, buildCancel, buildRequest } from './requests.js';
import { Transactions, type ClientTxn, type ServerTxn } from './transactions.js';
import { aorOf, pickBinding, register, type RegistrarOptions } from './registrar.js';
import { Keepalives, type KeepaliveEntry } from './keepalive.js';
import { Dialogs, type Dialog } from './dialogs.js';
import { DIALOG_METHODS, isOurRecordRoute, namesUs, pathLine, popOurRoutes, recordRouteLines, uriTarget, type OurAddresses, type Target } from './routing.js';
import { listenerFor, type ListenerInfo, type SipTransportLayer } from './transport.js';
import { anchorRequestSdp, anchorResponseSdp } from './media-signalling.js';

export interface AddressTarget {
  transport: SipTransport;
  host: string;
  port: number;
}

export interface ProxyOptions {
  /** This proxy's id in shared stores. */
  id: string;
  /** Domains this proxy is the registrar (and location service) for, lower case. Its own addresses count too. */
  domains: readonly string[];
  /** Host names and addresses that name this proxy besides its listeners' (lower case). */
  aliases: readonly string[];
  /** registrar: REGISTERs are handled here; path: forwarded to `upstream` with a Path entry. */
  mode: 'registrar' | 'path';
  upstream: AddressTarget | null;
  /** Where requests for other domains go; null: to the Request-URI's host. */
  nextHop: AddressTarget | null;
  registrar: Pick<RegistrarOptions, 'minExpires' | 'maxExpires' | 'defaultExpires' | 'maxPerAor'>;
  keepalive: { intervalMs: number; method: 'options' | 'crlf'; dropAfter: number };
  malformed: 'reply' | 'drop';
  transport: SipTransportLayer;
  relay: MediaRelay | null;
  location: LocationStore;
  calls: CallStore;
  scheduler: Scheduler;
  wallClock: () => number;
  /** Signs flow tokens (shared by proxies that must read each other's). */
  secret: Uint8Array;
  /** A host name to an IPv4 address (IP literals come back as they are); null when it does not resolve. */
  resolve(host: string): Promise<string | null>;
  log(event: string, fields: Record<string, unknown>): void;
}

export interface ProxyCounters {
  received: number;
  requests: number;
  responses: number;
  /** Did not parse as SIP, or lacked a header a proxy needs. */
  malformed: number;
  /** Of those, answered 400. */
  badRequestReplies: number;
  keepalivesReceived: number;
  retransmissionsAbsorbed: number;
  forwardedRequests: number;
  forwardedResponses: number;
  /** Responses whose top Via is not this proxy's (dropped). */
  strayResponses: number;
  registrations: number;
  registrationsRemoved: number;
  notFound: number;
  loops: number;
  tooManyHops: number;
  /** Offers answered 503 because the relay had no free ports. */
  portsExhausted: number;
  /** SDPs that could not be anchored (488, or passed unanchored on ACK/responses). */
  sdpRefused: number;
  badFlowTokens: number;
  sendFailures: number;
  timeouts: number;
  hangups: number;
}

/** Branches of this proxy's transactions start with this (RFC 3261 magic cookie + a mark). */
export const BRANCH_PREFIX = 'z9hG4bKmsq';
const KEEPALIVE_PREFIX = `${BRANCH_PREFIX}ka`;
const USER_AGENT = headerIdOf('user-agent');

function newId(bytes = 8): string {
  return randomBytes(bytes).toString('hex');
}

export class SipProxy {
  readonly counters: ProxyCounters = {
    received: 0, requests: 0, responses: 0, malformed: 0, badRequestReplies: 0, keepalivesReceived: 0, retransmissionsAbsorbed: 0,
    forwardedRequests: 0, forwardedResponses: 0, strayResponses: 0, registrations: 0, registrationsRemoved: 0, notFound: 0, loops: 0,
    tooManyHops: 0, portsExhausted: 0, sdpRefused: 0, badFlowTokens: 0, sendFailures: 0, timeouts: 0, hangups: 0,
  };
  readonly txns: Transactions;
  readonly keepalives: Keepalives;
  readonly dialogs = new Dialogs();
  readonly us: OurAddresses;
  private readonly tokens: FlowTokens;
  private readonly domains: Set<string>;
  private readonly registrarOptions: RegistrarOptions;
  /** Initial INVITEs without a final response yet, by Call-ID (a timed-out offer is cancelled through it). */
  private readonly pendingInvites = new Map<string, ServerTxn>();

  constructor(readonly o: ProxyOptions) {
    this.tokens = new FlowTokens(o.secret);
    const hosts = new Set<string>(o.aliases.map((a) => a.toLowerCase()));
    const ports = new Set<number>();
    for (const l of o.transport.listeners) {
      hosts.add(l.host.toLowerCase());
      ports.add(l.port);
    }
    this.us = { hosts, ports };
    this.domains = new Set([...o.domains.map((d) => d.toLowerCase()), ...hosts]);
    this.txns = new Transactions(o.scheduler, {
      send: (flow, bytes) => this.send(flow, bytes),
      onTimeout: (ct, timer) => this.onClientTimeout(ct, timer),
    });
    const first = o.transport.listeners.find((l) => l.transport === 'udp') ?? o.transport.listeners[0];
    this.registrarOptions = {
      ...o.registrar,
      proxyId: o.id,
      proxyAddress: { transport: first.transport, address: first.host, port: first.port },
      wallClock: o.wallClock,
    };
    this.keepalives = new Keepalives({
      ...o.keepalive,
      scheduler: o.scheduler,
      wallClock: o.wallClock,
      newBranch: () => `${KEEPALIVE_PREFIX}${newId()}`,
      ping: (e, branch) => this.ping(e, branch),
      dead: (e, why) => void this.bindingGone(e, why),
    });
    if (o.relay) o.relay.onEnded = (callId, reason) => this.relayEndedCall(callId, reason);
  }

  start(): void {
    this.keepalives.start();
  }

  close(): void {
    this.keepalives.stop();
    this.txns.close();
  }

  // ------------------------------------------------------------------ input

  /** One message from a transport: a datagram, or one framed message of a stream. */
  receive(bytes: Uint8Array, flow: Flow, stream: boolean): void {
    this.counters.received++;
    const p = parseSipMessage(bytes, { transport: stream ? 'stream' : 'datagram' });
    if (!p.ok) {
      if (p.reason.startsWith('empty message')) {
        this.counters.keepalivesReceived++;
        return;
      }
      this.malformed(null, flow, p.reason);
      return;
    }
    const r = readSipInfo(p.message);
    if (!r.ok) {
      this.malformed(p.message, flow, r.reason);
      return;
    }
    const run = r.info.isRequest ? this.onRequest(r.info, flow) : this.onResponse(r.info, flow);
    run.catch((err: Error) => this.o.log('sip-error', { reason: err.message, stack: err.stack }));
  }

  /** A connection closed: the phones registered over it are gone. */
  connectionClosed(connId: number): void {
    this.keepalives.connectionClosed(connId);
  }

  private malformed(m: SipMessage | null, flow: Flow, reason: string): void {
    this.counters.malformed++;
    this.o.log('sip-malformed', { from: `${flow.transport}:${flow.address}:${flow.port}`, reason });
    if (this.o.malformed !== 'reply' || m === null || m.startLine.kind !== 'request' || m.startLine.methodName === 'ACK') return;
    // Enough of a request to answer it: the headers a response copies, as they are.
    const keep = new Set([HeaderId.via, HeaderId.from, HeaderId.to, HeaderId.callId, HeaderId.cseq]);
    const lines = [`SIP/2.0 400 Bad Request (${reason.replace(/[\r\n]/g, ' ').slice(0, 80)})`];
    let via = false;
    for (let k = 0; k < m.headerCount; k++) {
      if (!keep.has(m.headerId(k))) continue;
      if (m.headerId(k) === HeaderId.via) via = true;
      const l = headerLine(m, k);
      lines.push(latin1(m.bytes, l.start, l.end - 2));
    }
    if (!via) return;
    lines.push('Content-Length: 0', '', '');
    this.counters.badRequestReplies++;
    this.send(flow, new TextEncoder().encode(lines.join('\r\n')));
  }

  // ------------------------------------------------------------------ output

  send(flow: Flow, bytes: Uint8Array): boolean {
    const ok = this.o.transport.send(flow, bytes);
    if (!ok) this.counters.sendFailures++;
    return ok;
  }

  private reply(st: ServerTxn, status: number, o: ReplyOptions = {}): void {
    const bytes = buildReply(st.request, status, { toTag: st.toTag, viaEdits: st.viaEdits, ...o });
    this.send(st.source, bytes);
    this.txns.responded(st, status, bytes);
    if (status >= 200) this.finalSent(st, status);
  }

  /** A final response went upstream on an INVITE: no longer pending. */
  private finalSent(st: ServerTxn, status: number): void {
    if (st.method !== 'INVITE' || st.request.toTag !== null) return;
    if (this.pendingInvites.get(st.request.callId) === st) this.pendingInvites.delete(st.request.callId);
    if (status >= 300) this.endCall(st.request.callId, status === 487 ? 'cancel' : 'rejected');
  }

  /** Resolves a target to a flow (a new connection for TCP/TLS when needed). */
  private async flowOf(target: Target): Promise<Flow | null> {
    if (target.kind === 'flow') return target.flow;
    const address = await this.o.resolve(target.host);
    if (address === null) return null;
    return this.o.transport.connect(target.transport, address, target.port);
  }

  private isOurListener(flow: Flow): boolean {
    return this.us.hosts.has(flow.address.toLowerCase()) && this.us.ports.has(flow.port);
  }

  // ------------------------------------------------------------------ requests

  private async onRequest(info: SipInfo, source: Flow): Promise<void> {
    this.counters.requests++;
    const method = info.method!;
    const viaEdits = viaReceivedEdits(info, source);
    if (method === 'ACK') return this.onAck(info, source, viaEdits);
    const key = Transactions.serverKey(info);
    const known = this.txns.findServer(key);
    if (known) {
      this.counters.retransmissionsAbsorbed++;
      if (known.lastResponse) this.send(known.source, known.lastResponse);
      return;
    }
    const st: ServerTxn = { key, method, request: info, source, viaEdits, lastResponse: null, lastStatus: 0, client: null, toTag: newId(6), offerAnchored: false, timer: null, cancelled: false };
    this.txns.addServer(st);
    if (method === 'CANCEL') return this.onCancel(st);
    if (info.maxForwards !== null && info.maxForwards.value === 0) {
      this.counters.tooManyHops++;
      if (method === 'OPTIONS' && namesUs(info.m.bytes, info.requestUri, this.us)) return this.reply(st, 200, { headers: ['Accept: application/sdp', `Allow: ${ALLOW}`] });
      return this.reply(st, 483);
    }
    if (method === 'INVITE') {
      this.reply(st, 100);
      if (info.toTag === null) this.pendingInvites.set(info.callId, st);
    }
    const decision = await this.routeRequest(info, source);
    if (st.cancelled) return;
    if (decision.kind === 'reply') return this.reply(st, decision.status, decision.options);
    await this.forwardRequest(st, info, source, decision);
  }

  /** Where a request goes (routing.ts), or the answer the proxy gives itself. */
  private async routeRequest(info: SipInfo, source: Flow): Promise<RouteDecision> {
    const b = info.m.bytes;
    const method = info.method!;
    const popped = popOurRoutes(info, this.us, this.tokens);
    if (popped.badToken) {
      this.counters.badFlowTokens++;
      return { kind: 'reply', status: 403, options: { reason: 'Forbidden (bad flow token)' } };
    }
    const remaining = info.routes.slice(popped.entries.length);
    const d: ForwardDecision = { kind: 'forward', target: null!, requestUri: null, popped: popped.entries, recordRoute: false, calleeFlow: null, path: false };
    const nextByRoute = (): Target | null => (remaining.length > 0 ? uriTarget(b, remaining[0].entry.uri) : uriTarget(b, info.requestUri));
    if (popped.role === 'a') {
      // From the caller's side: to the callee's flow when it is a phone of ours, else on by Route or Request-URI.
      d.target = popped.flow ? { kind: 'flow', flow: popped.flow } : nextByRoute()!;
    } else if (popped.role === 'b') {
      if (!popped.flow) return { kind: 'reply', status: 400, options: { reason: 'Bad Request (route without flow)' } };
      d.target = { kind: 'flow', flow: popped.flow };
    } else if (popped.role === 'p') {
      if (!popped.flow) return { kind: 'reply', status: 400, options: { reason: 'Bad Request (path without flow)' } };
      d.target = { kind: 'flow', flow: popped.flow };
      d.calleeFlow = popped.flow;
      d.recordRoute = info.toTag === null && DIALOG_METHODS.has(method);
    } else if (remaining.length > 0 || info.toTag !== null) {
      d.target = nextByRoute()!;
      d.recordRoute = info.toTag === null && DIALOG_METHODS.has(method);
    } else {
      const initial = await this.routeInitial(info, source, d);
      if (initial) return initial;
      d.recordRoute = DIALOG_METHODS.has(method);
    }
    if (!d.target) return { kind: 'reply', status: 416, options: { reason: 'Unsupported URI Scheme' } };
    return d;
  }

  /** An initial request with no Route: registrar, location service, next hop or the Request-URI. */
  private async routeInitial(info: SipInfo, source: Flow, d: ForwardDecision): Promise<RouteDecision | null> {
    const b = info.m.bytes;
    const method = info.method!;
    const uri = info.requestUri;
    if (uri === null || (uri.scheme !== 'sip' && uri.scheme !== 'sips') || !uri.hostPort) return { kind: 'reply', status: 416 };
    const host = latin1(b, uri.hostPort.host.start, uri.hostPort.host.end).toLowerCase().replace(/^\[|\]$/g, '');
    const ours = this.domains.has(host);
    if (method === 'REGISTER') {
      if (this.o.mode === 'path' && this.o.upstream) {
        d.target = { kind: 'address', ...this.o.upstream };
        d.path = true;
        return null;
      }
      if (ours) return this.registerHere(info, source);
      d.target = this.o.nextHop ? { kind: 'address', ...this.o.nextHop } : uriTarget(b, uri)!;
      return null;
    }
    if (ours && uri.user === null && namesUs(b, uri, this.us)) {
      if (method === 'OPTIONS') return { kind: 'reply', status: 200, options: { headers: ['Accept: application/sdp', `Allow: ${ALLOW}`] } };
      return { kind: 'reply', status: 404 };
    }
    if (ours && this.o.mode === 'registrar') {
      const aor = aorOf(b, uri);
      const binding = aor === null ? null : pickBinding(await this.o.location.lookup(aor));
      if (binding === null) {
        this.counters.notFound++;
        return { kind: 'reply', status: 404 };
      }
      if (binding.proxy !== this.o.id) {
        // Registered through another proxy sharing the store: only it can reach the phone's NAT binding.
        d.target = { kind: 'address', transport: binding.proxyAddress.transport, host: binding.proxyAddress.address, port: binding.proxyAddress.port };
        return null;
      }
      d.requestUri = binding.contact;
      d.target = { kind: 'flow', flow: binding.flow };
      d.calleeFlow = binding.flow;
      return null;
    }
    if (ours && this.o.mode === 'path' && this.o.upstream) {
      d.target = { kind: 'address', ...this.o.upstream };
      return null;
    }
    d.target = this.o.nextHop ? { kind: 'address', ...this.o.nextHop } : uriTarget(b, uri)!;
    return null;
  }

  private async registerHere(info: SipInfo, source: Flow): Promise<RouteDecision> {
    const ua = findHeaderText(info, USER_AGENT);
    const r = await register(this.o.location, this.registrarOptions, info, source, ua);
    if (r.status !== 200) return { kind: 'reply', status: r.status, options: { headers: r.headers, ...(r.reason ? { reason: r.reason } : {}) } };
    this.counters.registrations += r.added.length;
    this.counters.registrationsRemoved += r.removed.length;
    for (const x of r.added) {
      this.keepalives.track(`${x.aor}|${x.contact}`, x.flow, x.aor, x.contact, x.expiresAt);
      if (x.flow.connId !== 0) this.o.transport.keepOpen?.(x.flow.connId, true);
    }
    for (const x of r.removed) this.keepalives.untrack(`${x.aor}|${x.contact}`);
    this.o.log('registered', { aor: aorOf(info.m.bytes, info.to.uri), from: flowKey(source), added: r.added.length, removed: r.removed.length });
    return { kind: 'reply', status: 200, options: { headers: r.headers } };
  }

  private async forwardRequest(st: ServerTxn, info: SipInfo, source: Flow, d: ForwardDecision): Promise<void> {
    const flow = await this.flowOf(d.target);
    if (st.cancelled) return;
    if (flow === null) return this.reply(st, 480, { reason: 'Temporarily Unavailable (no route)' });
    if (this.isOurListener(flow) || sameFlow(flow, source) && info.toTag === null && d.target.kind === 'address') {
      this.counters.loops++;
      return this.reply(st, 482);
    }
    const listener = this.o.transport.listeners[flow.listener];
    const branch = `${BRANCH_PREFIX}${newId()}`;
    const edits: Edit[] = [...st.viaEdits, maxForwardsEdit(info), ...removeRouteEdits(info, d.popped)];
    if (d.requestUri !== null) edits.push(requestUriEdit(info, d.requestUri));
    const top: string[] = [viaLine(listener.transport, listener.host, listener.port, branch)];
    if (d.recordRoute) {
      const towardCaller = this.o.transport.listeners[source.listener];
      top.push(...recordRouteLines(this.tokens, listener, towardCaller, source, d.calleeFlow));
    }
    edits.push(insertHeaders(info, info.firstViaHeader, top));
    if (d.path) edits.push(insertHeaders(info, info.firstPathHeader >= 0 ? info.firstPathHeader : info.firstViaHeader, [pathLine(this.tokens, listener, source)]));
    if (info.sdp && this.o.relay) {
      const media = await anchorRequestSdp(this.o.relay, info, source, flow);
      if (st.cancelled) return;
      if (!media.ok) {
        if (media.reason === 'ports-exhausted') {
          this.counters.portsExhausted++;
          return this.reply(st, 503, { reason: 'Service Unavailable (no relay ports)', headers: ['Retry-After: 5'] });
        }
        this.counters.sdpRefused++;
        return this.reply(st, 488, { reason: `Not Acceptable Here (${media.reason})` });
      }
      edits.push(...media.edits);
      st.offerAnchored = media.offer;
    }
    const cl = contentLengthEdit(info, edits);
    if (cl) edits.push(cl);
    const bytes = applyAll(info, edits);
    const method = info.method!;
    if (method === 'INVITE' && info.toTag === null) this.startDialog(info, source, flow, d);
    else this.noteInDialog(info);
    if (method === 'BYE') this.endCall(info.callId, 'bye');
    const ct: ClientTxn = { branch, method, bytes, flow, server: st, state: 'calling', status: 0, retransmitTimer: null, interval: 0, timeoutTimer: null, done: null };
    st.client = ct;
    this.counters.forwardedRequests++;
    if (!this.txns.startClient(ct)) {
      this.txns.terminate(ct);
      this.reply(st, 480, { reason: 'Temporarily Unavailable (connection gone)' });
    }
  }

  /** ACK: absorbed when it acknowledges a non-2xx final of ours; otherwise end to end, routed like any in-dialog request. */
  private async onAck(info: SipInfo, source: Flow, viaEdits: Edit[]): Promise<void> {
    const st = this.txns.findServer(Transactions.serverKey(info));
    if (st && st.lastStatus >= 300) return;
    const decision = await this.routeRequest(info, source);
    if (decision.kind === 'reply') return;
    const flow = await this.flowOf(decision.target);
    if (flow === null || this.isOurListener(flow)) return;
    const listener = this.o.transport.listeners[flow.listener];
    const edits: Edit[] = [...viaEdits, maxForwardsEdit(info), ...removeRouteEdits(info, decision.popped)];
    if (decision.requestUri !== null) edits.push(requestUriEdit(info, decision.requestUri));
    edits.push(insertHeaders(info, info.firstViaHeader, [viaLine(listener.transport, listener.host, listener.port, `${BRANCH_PREFIX}${newId()}`)]));
    if (info.sdp && this.o.relay) {
      const media = await anchorRequestSdp(this.o.relay, info, source);
      if (media.ok) edits.push(...media.edits);
      else this.counters.sdpRefused++;
    }
    const cl = contentLengthEdit(info, edits);
    if (cl) edits.push(cl);
    this.noteInDialog(info);
    this.counters.forwardedRequests++;
    this.send(flow, applyAll(info, edits));
  }

  /** CANCEL (RFC 3261 16.10): answered here, and sent on to where the INVITE went if it has no final response yet. */
  private onCancel(st: ServerTxn): void {
    const info = st.request;
    const invite = this.txns.findServer(Transactions.serverKey(info, 'INVITE'));
    if (!invite) return this.reply(st, 481);
    this.reply(st, 200);
    if (invite.lastStatus >= 200) return;
    const ct = invite.client;
    if (ct === null) {
      // Still being routed: it will not be forwarded.
      invite.cancelled = true;
      this.reply(invite, 487);
      return;
    }
    if (ct.status >= 200) return;
    this.sendCancel(ct);
    if (info.toTag === null) this.endCall(info.callId, 'cancel');
  }

  private sendCancel(invite: ClientTxn): void {
    const parsed = parseSipMessage(invite.bytes, { transport: invite.flow.transport === 'udp' ? 'datagram' : 'stream' });
    if (!parsed.ok) return;
    const info = readSipInfo(parsed.message);
    if (!info.ok) return;
    const cancel: ClientTxn = { branch: invite.branch, method: 'CANCEL', bytes: buildCancel(info.info), flow: invite.flow, server: null, state: 'calling', status: 0, retransmitTimer: null, interval: 0, timeoutTimer: null, done: () => {} };
    this.txns.startClient(cancel);
  }

  private onClientTimeout(ct: ClientTxn, timer: 'B' | 'F' | 'C'): void {
    this.counters.timeouts++;
    const st = ct.server;
    if (timer === 'C' && ct.method === 'INVITE' && ct.status > 0) this.sendCancel(ct);
    if (st && st.lastStatus < 200) this.reply(st, 408);
    if (ct.method === 'INVITE' && st && st.request.toTag === null) this.endCall(st.request.callId, 'transaction-timeout');
  }

  // ------------------------------------------------------------------ responses

  private async onResponse(info: SipInfo, source: Flow): Promise<void> {
    this.counters.responses++;
    const b = info.m.bytes;
    const via = info.topVia;
    const branch = via.branch?.value ? latin1(b, via.branch.value.start, via.branch.value.end) : '';
    if (!branch.startsWith(BRANCH_PREFIX)) {
      this.counters.strayResponses++;
      return;
    }
    if (branch.startsWith(KEEPALIVE_PREFIX)) {
      this.keepalives.answered(branch);
      return;
    }
    const status = info.status;
    const method = info.cseq.methodName;
    const ct = this.txns.findClient(branch, method);
    if (!ct) return this.forwardStateless(info);
    if (status === 100) {
      this.txns.clientResponse(ct, status, info);
      return;
    }
    if (!this.txns.clientResponse(ct, status, info)) {
      // A retransmitted non-2xx final: our ACK was lost (RFC 3261 17.1.1.2, Completed state).
      if (ct.ack) this.send(ct.flow, ct.ack);
      return;
    }
    if (ct.done) return;
    if (method === 'INVITE' && status >= 300) {
      ct.ack = this.ackFor(ct, info);
      this.send(ct.flow, ct.ack);
    }
    const st = ct.server;
    const edits: Edit[] = [removeTopViaEdit(info)];
    if (info.sdp && this.o.relay && (method === 'INVITE' || method === 'UPDATE' || method === 'PRACK') && status < 300) {
      const media = await anchorResponseSdp(this.o.relay, info, source, st?.offerAnchored ?? false);
      if (media.ok) edits.push(...media.edits);
      else this.counters.sdpRefused++;
    } else if (method === 'INVITE' && status >= 200 && status < 300) {
      this.o.relay?.confirm(info.callId);
    }
    if (method === 'INVITE' && status >= 200 && status < 300 && info.toTag !== null) this.confirmDialog(info);
    const cl = contentLengthEdit(info, edits);
    if (cl) edits.push(cl);
    const bytes = applyAll(info, edits);
    this.counters.forwardedResponses++;
    if (!st) return;
    this.send(st.source, bytes);
    this.txns.responded(st, status, bytes);
    if (status >= 200) this.finalSent(st, status);
  }

  private ackFor(ct: ClientTxn, response: SipInfo): Uint8Array {
    const parsed = parseSipMessage(ct.bytes, { transport: ct.flow.transport === 'udp' ? 'datagram' : 'stream' });
    const info = parsed.ok ? readSipInfo(parsed.message) : null;
    if (!info || !info.ok) return new Uint8Array(0);
    return buildAck(info.info, response);
  }

  /** A response without its transaction (a 2xx retransmitted after it ended): on to the next Via, by received and rport. */
  private forwardStateless(info: SipInfo): void {
    const next = info.secondVia;
    if (!next || !(info.status >= 200 && info.status < 300 && info.cseq.methodName === 'INVITE')) return;
    const b = info.m.bytes;
    const address = next.received?.value ? latin1(b, next.received.value.start, next.received.value.end) : latin1(b, next.host.start, next.host.end);
    const port = next.rport?.value ? Number(latin1(b, next.rport.value.start, next.rport.value.end)) : (next.portNumber ?? 5060);
    const transport = next.transportName === 'tcp' || next.transportName === 'tls' ? next.transportName : 'udp';
    const l = listenerFor(this.o.transport, transport);
    if (!l || transport !== 'udp') return;
    this.counters.forwardedResponses++;
    this.send({ transport: 'udp', address, port, connId: 0, listener: l.index }, applyAll(info, [removeTopViaEdit(info)]));
  }

  // ------------------------------------------------------------------ dialogs and calls

  private startDialog(info: SipInfo, source: Flow, target: Flow, d: ForwardDecision): void {
    const b = info.m.bytes;
    const entry = (e: { uriSpan: { start: number; end: number } }) => `<${latin1(b, e.uriSpan.start, e.uriSpan.end)}>`;
    const value = (k: number) => latin1(b, info.m.valueStart(k), info.m.valueEnd(k));
    const dialog: Dialog = {
      callId: info.callId,
      caller: { nameAddr: latin1(b, info.from.span.start, info.from.span.end), tag: info.fromTag, contact: info.contacts[0] ? latin1(b, info.contacts[0].uriSpan.start, info.contacts[0].uriSpan.end) : null, routes: info.recordRoutes.map(entry), flow: source, cseq: info.cseq.number },
      callee: { nameAddr: latin1(b, info.to.span.start, info.to.span.end), tag: null, contact: null, routes: [], flow: target, cseq: 0 },
      confirmed: false,
      createdAt: this.o.wallClock(),
    };
    void value;
    if (d.recordRoute) this.dialogs.add(dialog);
    void this.o.calls
      .put({ callId: info.callId, proxy: this.o.id, state: 'offered', createdAt: dialog.createdAt, caller: { uri: dialog.caller.nameAddr, tag: info.fromTag, source: flowKey(source) }, callee: { uri: dialog.callee.nameAddr, tag: null, target: flowKey(target) } }, 600_000)
      .catch((err: Error) => this.o.log('store-error', { reason: err.message }));
  }

  private confirmDialog(response: SipInfo): void {
    const d = this.dialogs.get(response.callId);
    if (!d || d.confirmed) return;
    const b = response.m.bytes;
    d.confirmed = true;
    d.callee.tag = response.toTag;
    d.callee.nameAddr = latin1(b, response.to.span.start, response.to.span.end);
    d.callee.contact = response.contacts[0] ? latin1(b, response.contacts[0].uriSpan.start, response.contacts[0].uriSpan.end) : null;
    // Record-Route entries before ours are the proxies toward the callee, farthest first.
    const downstream: string[] = [];
    for (const e of response.recordRoutes) {
      if (isOurRecordRoute(b, e, this.us)) break;
      downstream.push(`<${latin1(b, e.uriSpan.start, e.uriSpan.end)}>`);
    }
    d.callee.routes = downstream.reverse();
    void this.o.calls
      .put({ callId: d.callId, proxy: this.o.id, state: 'confirmed', createdAt: d.createdAt, caller: { uri: d.caller.nameAddr, tag: d.caller.tag, source: d.caller.flow ? flowKey(d.caller.flow) : '' }, callee: { uri: d.callee.nameAddr, tag: d.callee.tag, target: d.callee.flow ? flowKey(d.callee.flow) : '' } }, 4 * 3600_000)
      .catch((err: Error) => this.o.log('store-error', { reason: err.message }));
  }

  private noteInDialog(info: SipInfo): void {
    const d = this.dialogs.get(info.callId);
    if (!d || info.toTag === null) return;
    const side = this.dialogs.sideOf(d, info.fromTag);
    if (side && info.method !== 'ACK' && info.method !== 'CANCEL') d[side].cseq = Math.max(d[side].cseq, info.cseq.number);
  }

  /** The call is over (BYE, CANCEL, a final error, a timeout): its media and records go. */
  private endCall(callId: string, reason: 'bye' | 'cancel' | 'rejected' | 'transaction-timeout'): void {
    this.dialogs.delete(callId);
    void this.o.relay?.end(callId, reason);
    void this.o.calls.end(callId).catch((err: Error) => this.o.log('store-error', { reason: err.message }));
  }

  /** The relay ended a call by itself (media timeout, offer never answered, too long): hang it up in signalling too. */
  private relayEndedCall(callId: string, reason: string): void {
    void this.o.calls.end(callId).catch(() => {});
    const pending = this.pendingInvites.get(callId);
    if (pending) {
      this.pendingInvites.delete(callId);
      if (pending.client && pending.client.status < 200) this.sendCancel(pending.client);
      if (pending.lastStatus < 200) this.reply(pending, 408, { reason: `Request Timeout (${reason})` });
      return;
    }
    const d = this.dialogs.delete(callId);
    if (!d || !d.confirmed) return;
    this.counters.hangups++;
    this.o.log('hangup', { callId, reason });
    const why = `Reason: SIP;cause=408;text="${reason}"`;
    this.sendBye(d, 'callee', why);
    this.sendBye(d, 'caller', why);
  }

  /** A BYE from one side of the dialog (as that side would send it) to the other. */
  private sendBye(d: Dialog, to: 'caller' | 'callee', reason: string): void {
    const target = d[to];
    const from = to === 'callee' ? d.caller : d.callee;
    if (!target.flow || !target.contact) return;
    const listener = this.o.transport.listeners[target.flow.listener];
    const cseq = (from.cseq || 1000) + 1;
    from.cseq = cseq;
    const bytes = buildRequest({
      method: 'BYE',
      requestUri: target.contact,
      listener,
      branch: `${BRANCH_PREFIX}${newId()}`,
      from: from.nameAddr,
      to: target.nameAddr,
      callId: d.callId,
      cseq,
      routes: target.routes,
      extra: [reason],
    });
    const ct: ClientTxn = { branch: bytesBranch(bytes), method: 'BYE', bytes, flow: target.flow, server: null, state: 'calling', status: 0, retransmitTimer: null, interval: 0, timeoutTimer: null, done: () => {} };
    this.txns.startClient(ct);
  }

  // ------------------------------------------------------------------ keep-alives

  private ping(e: KeepaliveEntry, branch: string | null): boolean {
    if (branch === null) return this.o.transport.send(e.flow, CRLFCRLF);
    const listener = this.o.transport.listeners[e.flow.listener];
    const bytes = buildRequest({
      method: 'OPTIONS',
      requestUri: e.contact,
      listener,
      branch,
      from: `<sip:keepalive@${listener.host}>;tag=${newId(4)}`,
      to: `<${e.contact}>`,
      callId: `${newId()}@${listener.host}`,
      cseq: 1,
    });
    return this.o.transport.send(e.flow, bytes);
  }

  private async bindingGone(e: KeepaliveEntry, why: string): Promise<void> {
    this.o.log('binding-dropped', { aor: e.aor, contact: e.contact, reason: why });
    if (this.o.mode === 'registrar') await this.o.location.remove(e.aor, e.contact).catch(() => {});
  }

  /** A REGISTER answered 2xx by the upstream registrar (Path mode): keep the phone's NAT binding alive too. */
  trackPathRegistration(aor: string, contact: string, flow: Flow, expiresAt: number): void {
    this.keepalives.track(`${aor}|${contact}`, flow, aor, contact, expiresAt);
  }
}

const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, PRACK, INFO, REFER, NOTIFY, SUBSCRIBE, MESSAGE, REGISTER';
const CRLFCRLF = new Uint8Array([13, 10, 13, 10]);

function findHeaderText(info: SipInfo, id: number): string | null {
  for (let k = 0; k < info.m.headerCount; k++) if (info.m.headerId(k) === id) return latin1(info.m.bytes, info.m.valueStart(k), info.m.valueEnd(k));
  return null;
}

/** The branch of a request this proxy built (its only Via). */
function bytesBranch(bytes: Uint8Array): string {
  const text = new TextDecoder().decode(bytes.subarray(0, Math.min(bytes.length, 512)));
  return /branch=([^;\s]+)/.exec(text)?.[1] ?? '';
}

type ForwardDecision = {
  kind: 'forward';
  target: Target;
  requestUri: string | null;
  popped: SipInfo['routes'];
  recordRoute: boolean;
  calleeFlow: Flow | null;
  path: boolean;
};

type RouteDecision = ForwardDecision | { kind: 'reply'; status: number; options?: ReplyOptions };

export type { ListenerInfo };
