/**
 * Transactions (RFC 3261 17), as a proxy keeps them: a server transaction
 * per request received (it absorbs the sender's retransmissions and answers
 * them with the last response), and a client transaction per request sent
 * (it retransmits over UDP with timers A and E, gives up after timers B and
 * F, and waits out timer C on an INVITE nobody answers). A request that
 * arrived over UDP and leaves over UDP still gets its own retransmissions
 * from here once the proxy has answered 100 Trying (the caller then stops).
 */
import type { Scheduler, TimerHandle } from '../../util/clock.js';
import type { Edit } from '../../alg/text/edit.js';
import type { Flow } from './flow.js';
import type { SipInfo } from './message-info.js';

export const T1 = 500;
export const T2 = 4000;
/** Timer B and F: a transaction without a final response ends after 64 T1. */
export const TIMER_B = 64 * T1;
/** Timer C: an INVITE proxied without a final response (RFC 3261 16.6 step 11: more than 3 minutes). */
export const TIMER_C = 181_000;
/** How long a completed server transaction absorbs retransmissions. */
export const LINGER = 32_000;

export interface ServerTxn {
  key: string;
  method: string;
  request: SipInfo;
  source: Flow;
  /** received/rport edits of the request's top Via (responses made here copy it). */
  viaEdits: Edit[];
  lastResponse: Uint8Array | null;
  lastStatus: number;
  client: ClientTxn | null;
  /** The To tag of responses made here. */
  toTag: string;
  /** The request carried an SDP the relay anchored (its 18x/2xx carries the answer). */
  offerAnchored: boolean;
  timer: TimerHandle | null;
  /** A CANCEL came before the request was forwarded: it is not. */
  cancelled: boolean;
}

export interface ClientTxn {
  branch: string;
  method: string;
  /** The request as sent (kept for retransmission, CANCEL and ACK). */
  bytes: Uint8Array;
  flow: Flow;
  server: ServerTxn | null;
  state: 'calling' | 'proceeding' | 'completed' | 'terminated';
  /** Status of the last response, 0 before any. */
  status: number;
  retransmitTimer: TimerHandle | null;
  interval: number;
  timeoutTimer: TimerHandle | null;
  /** The ACK sent for a non-2xx final response (sent again for each retransmission of it). */
  ack?: Uint8Array;
  /** Called on the final response or on timeout (status 408) for requests the proxy made itself. */
  done: ((status: number, response: SipInfo | null) => void) | null;
}

export interface TransactionEvents {
  /** A client transaction got no final response in time (timer B/F, or C for an INVITE). */
  onTimeout(ct: ClientTxn, timer: 'B' | 'F' | 'C'): void;
  send(flow: Flow, bytes: Uint8Array): boolean;
}

export class Transactions {
  private readonly servers = new Map<string, ServerTxn>();
  private readonly clients = new Map<string, ClientTxn>();

  constructor(
    private readonly scheduler: Scheduler,
    private readonly events: TransactionEvents,
  ) {}

  get serverCount(): number {
    return this.servers.size;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** The key of a request's server transaction; ACK finds its INVITE's (RFC 3261 17.2.3). */
  static serverKey(info: SipInfo, forMethod?: string): string {
    const via = info.topVia;
    const b = info.m.bytes;
    const method = forMethod ?? (info.method === 'ACK' ? 'INVITE' : info.method!);
    const sentBy = `${text(b, via.host.start, via.host.end)}:${via.portNumber ?? ''}`;
    const branch = via.branch?.value ? text(b, via.branch.value.start, via.branch.value.end) : '';
    if (branch.startsWith('z9hG4bK')) return `${branch}|${sentBy}|${method}`;
    // RFC 2543 peers: no unique branch; the request's identifiers instead.
    return `2543|${info.callId}|${info.cseq.number}|${info.fromTag ?? ''}|${sentBy}|${method}`;
  }

  findServer(key: string): ServerTxn | undefined {
    return this.servers.get(key);
  }

  addServer(t: ServerTxn): void {
    this.servers.set(t.key, t);
    // Without any response the transaction still goes away eventually (the request gets one, or timer C ends it).
    this.lingerServer(t, TIMER_C + LINGER);
  }

  /** A response was sent upstream on this server transaction. */
  responded(t: ServerTxn, status: number, bytes: Uint8Array): void {
    if (status < t.lastStatus && t.lastStatus >= 200) return;
    t.lastStatus = status;
    t.lastResponse = bytes;
    if (status >= 200) this.lingerServer(t, LINGER);
  }

  private lingerServer(t: ServerTxn, ms: number): void {
    if (t.timer) this.scheduler.clearTimeout(t.timer);
    t.timer = this.scheduler.setTimeout(() => {
      if (this.servers.get(t.key) === t) this.servers.delete(t.key);
    }, ms);
  }

  static clientKey(branch: string, method: string): string {
    return `${branch}|${method === 'ACK' ? 'INVITE' : method}`;
  }

  findClient(branch: string, cseqMethod: string): ClientTxn | undefined {
    return this.clients.get(Transactions.clientKey(branch, cseqMethod));
  }

  /** Sends a request and keeps it until its final response (or timeout). */
  startClient(ct: ClientTxn): boolean {
    this.clients.set(Transactions.clientKey(ct.branch, ct.method), ct);
    const sent = this.events.send(ct.flow, ct.bytes);
    if (ct.flow.transport === 'udp') {
      ct.interval = T1;
      ct.retransmitTimer = this.scheduler.setTimeout(() => this.retransmit(ct), T1);
    }
    ct.timeoutTimer = this.scheduler.setTimeout(() => this.timeout(ct, ct.method === 'INVITE' ? 'B' : 'F'), TIMER_B);
    return sent;
  }

  private retransmit(ct: ClientTxn): void {
    ct.retransmitTimer = null;
    if (ct.state === 'completed' || ct.state === 'terminated') return;
    // An INVITE stops retransmitting once anything came back; a non-INVITE goes on at T2.
    if (ct.method === 'INVITE' && ct.state === 'proceeding') return;
    this.events.send(ct.flow, ct.bytes);
    ct.interval = ct.method === 'INVITE' ? ct.interval * 2 : Math.min(ct.interval * 2, T2);
    if (ct.state === 'proceeding') ct.interval = T2;
    ct.retransmitTimer = this.scheduler.setTimeout(() => this.retransmit(ct), ct.interval);
  }

  private timeout(ct: ClientTxn, timer: 'B' | 'F' | 'C'): void {
    ct.timeoutTimer = null;
    if (ct.state === 'completed' || ct.state === 'terminated') return;
    this.terminate(ct);
    if (ct.done) ct.done(408, null);
    else this.events.onTimeout(ct, timer);
  }

  /** A response on a client transaction: its state moves on. Returns false for a retransmitted final (already forwarded). */
  clientResponse(ct: ClientTxn, status: number, response: SipInfo): boolean {
    const wasFinal = ct.status >= 200;
    if (status < 200) {
      if (wasFinal) return false;
      ct.status = status;
      if (ct.state === 'calling') ct.state = 'proceeding';
      if (ct.method === 'INVITE') {
        // Timer C restarts on each provisional response.
        if (ct.timeoutTimer) this.scheduler.clearTimeout(ct.timeoutTimer);
        ct.timeoutTimer = this.scheduler.setTimeout(() => this.timeout(ct, 'C'), TIMER_C);
      }
      return true;
    }
    if (wasFinal) return ct.method === 'INVITE' && status < 300; // 2xx retransmissions go on upstream (RFC 6026)
    ct.status = status;
    ct.state = 'completed';
    this.clearTimers(ct);
    if (ct.done) ct.done(status, response);
    // Kept a while to absorb retransmitted finals (and, for an INVITE, to forward 2xx retransmissions).
    ct.timeoutTimer = this.scheduler.setTimeout(() => this.terminate(ct), LINGER);
    return true;
  }

  terminate(ct: ClientTxn): void {
    ct.state = 'terminated';
    this.clearTimers(ct);
    const key = Transactions.clientKey(ct.branch, ct.method);
    if (this.clients.get(key) === ct) this.clients.delete(key);
  }

  private clearTimers(ct: ClientTxn): void {
    if (ct.retransmitTimer) this.scheduler.clearTimeout(ct.retransmitTimer);
    if (ct.timeoutTimer) this.scheduler.clearTimeout(ct.timeoutTimer);
    ct.retransmitTimer = null;
    ct.timeoutTimer = null;
  }

  /** Stops every timer (shutdown). */
  close(): void {
    for (const ct of this.clients.values()) this.clearTimers(ct);
    for (const st of this.servers.values()) if (st.timer) this.scheduler.clearTimeout(st.timer);
    this.clients.clear();
    this.servers.clear();
  }
}

function text(b: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(b[i]);
  return s;
}
