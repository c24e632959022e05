/**
 * STUN client transactions over a UdpSocket (RFC 8489 section 6.2.1): send,
 * retransmit with a doubling RTO, give up after Rc requests and Rm x RTO.
 * Written against NetEnv: on the simulator's virtual clock the same RFC
 * timings cost no wall time.
 *
 * A transaction may be answered on another socket than the one it was sent
 * from (RESPONSE-PORT, hairpinning): `acceptOn` says where to look.
 */
import type { Endpoint, NetEnv, UdpSocket } from '../../net/udp.js';
import type { TimerHandle } from '../../util/clock.js';
import type { StunAttribute } from '../attributes.js';
import { StunMethod, type StunClass } from '../constants.js';
import { decodeStunMessage, encodeStunMessage, type DecodedStunMessage } from '../message.js';

export interface RetransmitPolicy {
  /** First retransmission timeout; doubles after each send. RFC 8489: 500 ms. */
  rtoMs: number;
  /** Requests sent in all (Rc). RFC 8489: 7. */
  maxRequests: number;
  /** After the last request, wait this many initial RTOs (Rm). RFC 8489: 16. */
  lastWaitFactor: number;
}

/** RFC 8489's defaults: 39.5 s before a transaction fails. */
export const RFC8489_RETRANSMIT: RetransmitPolicy = { rtoMs: 500, maxRequests: 7, lastWaitFactor: 16 };

/** Time from the first send until a transaction with this policy gives up. */
export function transactionTimeoutMs(p: RetransmitPolicy): number {
  let t = 0;
  let rto = p.rtoMs;
  for (let i = 1; i < p.maxRequests; i++) {
    t += rto;
    rto *= 2;
  }
  return t + p.rtoMs * p.lastWaitFactor;
}

export class StunTimeoutError extends Error {
  override readonly name = 'StunTimeoutError';
}

export interface StunAnswer {
  message: DecodedStunMessage;
  from: Endpoint;
  /** From the first send to the answer. */
  elapsedMs: number;
}

export interface RequestOptions {
  method?: number;
  /** Socket whose incoming messages can complete this transaction; default the sending socket. */
  acceptOn?: StunClientSocket;
  /** Message classes that complete it; default success and error responses. */
  acceptClasses?: StunClass[];
  policy?: RetransmitPolicy;
}

type Accept = (msg: DecodedStunMessage, from: Endpoint) => boolean;

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

export class StunClientSocket {
  private readonly pending = new Map<string, Accept>();
  /** Aborts of the transactions sent from this socket, run on close. */
  private readonly active = new Set<() => void>();
  private closed = false;

  constructor(
    private readonly env: NetEnv,
    readonly socket: UdpSocket,
    private readonly policy: RetransmitPolicy = RFC8489_RETRANSMIT,
    /**
     * Transaction ids. Default: from env.random(), which repeats in the simulator;
     * on a real network pass a cryptographic source (RFC 8489 section 5: ids must
     * be unguessable, or an off-path attacker can forge answers).
     */
    private readonly idSource?: () => Uint8Array,
  ) {
    socket.onMessage((data, from) => this.receive(data, from));
  }

  static async open(env: NetEnv, policy?: RetransmitPolicy, address?: string, idSource?: () => Uint8Array): Promise<StunClientSocket> {
    const sock = await env.bindUdp(address === undefined ? {} : { address });
    return new StunClientSocket(env, sock, policy, idSource);
  }

  get local(): Endpoint {
    return this.socket.local;
  }

  newTransactionId(): Uint8Array {
    if (this.idSource) {
      const given = this.idSource();
      if (given.length !== 12) throw new RangeError('a transaction id is 12 bytes');
      return given;
    }
    const id = new Uint8Array(12);
    for (let i = 0; i < 12; i++) id[i] = Math.floor(this.env.random() * 256) & 0xff;
    return id;
  }

  /** Sends a request and retransmits it until an answer is accepted or the policy gives up. */
  request(to: Endpoint, attributes: StunAttribute[], options: RequestOptions = {}): Promise<StunAnswer> {
    const policy = options.policy ?? this.policy;
    const transactionId = this.newTransactionId();
    const data = encodeStunMessage({
      cls: 'request',
      method: options.method ?? StunMethod.Binding,
      transactionId,
      attributes,
    });
    const key = hex(transactionId);
    const acceptOn = options.acceptOn ?? this;
    const classes = options.acceptClasses ?? ['success', 'error'];
    const sched = this.env.scheduler;
    const started = sched.now();
    return new Promise<StunAnswer>((resolve, reject) => {
      if (this.closed || acceptOn.closed) {
        reject(new Error('STUN client socket is closed'));
        return;
      }
      let timer: TimerHandle | undefined;
      const finish = () => {
        acceptOn.pending.delete(key);
        this.active.delete(abort);
        if (timer) sched.clearTimeout(timer);
      };
      const abort = () => {
        finish();
        reject(new Error('STUN client socket closed'));
      };
      this.active.add(abort);
      acceptOn.pending.set(key, (message, from) => {
        if (message.method !== (options.method ?? StunMethod.Binding) || !classes.includes(message.cls)) return false;
        finish();
        resolve({ message, from, elapsedMs: sched.now() - started });
        return true;
      });
      let sent = 0;
      let rto = policy.rtoMs;
      const step = () => {
        if (sent < policy.maxRequests) {
          this.socket.send(data, to);
          sent++;
          const wait = sent < policy.maxRequests ? rto : policy.rtoMs * policy.lastWaitFactor;
          rto *= 2;
          timer = sched.setTimeout(step, wait);
        } else {
          finish();
          reject(new StunTimeoutError(`no answer from ${to.address}:${to.port} after ${sent} requests`));
        }
      };
      step();
    });
  }

  private receive(data: Uint8Array, from: Endpoint): void {
    let msg: DecodedStunMessage;
    try {
      msg = decodeStunMessage(data, { allowClassic: false });
    } catch {
      return;
    }
    this.pending.get(hex(msg.transactionId))?.(msg, from);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const abort of [...this.active]) abort();
    this.pending.clear();
    this.socket.close();
  }
}
