/**
 * Client-side requests to a server or relay: a fresh nonce and timestamp per
 * send, retransmission with a doubling timeout, the answer matched by the
 * echoed nonce. A server that says our clock is off (an authenticated "stale"
 * error with its time) makes us correct the offset and try again at once.
 *
 * Cookies: a server that wants proof that we receive where we send from
 * answers with a cookie (protocol/cookie.ts). We keep the latest cookie per
 * server endpoint, send it again at once, and echo it in every later request
 * that can carry one, so the round trip is paid once per cookie lifetime.
 */
import type { Endpoint, NetEnv, UdpSocket } from '../../net/udp.js';
import { endpointToString } from '../../net/udp.js';
import type { TimerHandle } from '../../util/clock.js';
import { ErrorCode, encodeMessage, type Message, type MessageOf } from '../protocol/messages.js';
import { randomId } from '../util/ids.js';

export class RequestError extends Error {
  override name = 'RequestError';
  constructor(
    message: string,
    /** The server's error code; 0 for a timeout. */
    readonly code: number,
  ) {
    super(message);
  }
}

type Answer = Exclude<Message, { kind: 'hint' }>;

/** Request kinds that carry a cookie (the ones a server wants proof for). */
const CARRIES_COOKIE = new Set<string>(['join', 'refresh', 'relay-bind']);
/** Fresh cookies taken for one request before giving up (one is the normal case; a second covers a window boundary). */
const MAX_COOKIE_ROUNDS = 3;

interface Pending {
  resolve(m: Answer): void;
  reject(e: Error): void;
  resend(): void;
}

/** Requests that carry a nonce and timestamp (and, where the kind has one, the cookie: added here). */
export type RequestBody =
  | Omit<MessageOf<'join'>, 'nonce' | 'timestamp' | 'cookie'>
  | Omit<MessageOf<'refresh'>, 'nonce' | 'timestamp' | 'cookie'>
  | Omit<MessageOf<'leave'>, 'nonce' | 'timestamp'>
  | Omit<MessageOf<'observe'>, 'nonce' | 'timestamp'>
  | Omit<MessageOf<'relay-bind'>, 'nonce' | 'timestamp' | 'cookie'>;

export interface RequestPolicy {
  rtoMs: number;
  tries: number;
}

export const DEFAULT_REQUEST_POLICY: RequestPolicy = { rtoMs: 250, tries: 6 };

export class Requester {
  private readonly pending = new Map<string, Pending>();
  /** Added to our wall clock: learned from servers that found it off. */
  clockOffset = 0;
  /** The last unauthenticated hint heard: only for error messages. */
  lastHint: string | null = null;
  /** The latest cookie from each server endpoint. */
  private readonly cookies = new Map<string, Uint8Array>();
  /** Cookie answers taken (a measure of the extra round trips). */
  cookieRounds = 0;
  private closed = false;

  constructor(
    private readonly env: NetEnv,
    private readonly socket: UdpSocket,
    private readonly key: Uint8Array,
    private readonly wallClock: () => number,
  ) {}

  request(to: Endpoint, body: RequestBody, policy: RequestPolicy = DEFAULT_REQUEST_POLICY): Promise<Answer> {
    const sched = this.env.scheduler;
    return new Promise<Answer>((resolve, reject) => {
      if (this.closed) {
        reject(new RequestError('closed', 0));
        return;
      }
      const nonces: string[] = [];
      let timer: TimerHandle | undefined;
      let tries = 0;
      let rto = policy.rtoMs;
      let correctedClock = false;
      let cookieRounds = 0;
      const finish = () => {
        for (const n of nonces) this.pending.delete(n);
        if (timer) sched.clearTimeout(timer);
      };
      const entry: Pending = {
        resolve: (m) => {
          if (m.kind === 'cookie') {
            // Prove that we receive here: send again at once, echoing the cookie.
            if (cookieRounds >= MAX_COOKIE_ROUNDS) return;
            cookieRounds++;
            this.cookieRounds++;
            this.cookies.set(endpointToString(to), m.cookie);
            entry.resend();
            return;
          }
          if (m.kind === 'error' && m.code === ErrorCode.Stale && m.serverTime !== undefined && !correctedClock) {
            // Our clock is off: adopt the server's and send a fresh request now.
            correctedClock = true;
            this.clockOffset = m.serverTime - this.wallClock();
            entry.resend();
            return;
          }
          finish();
          if (m.kind === 'error') reject(new RequestError(`${m.reason} (code ${m.code})`, m.code));
          else resolve(m);
        },
        reject: (e) => {
          finish();
          reject(e);
        },
        resend: () => {
          // Each transmission gets its own nonce (the server refuses a nonce twice);
          // an answer to any of them completes the request.
          const nonce = randomId(this.env.random);
          nonces.push(nonce);
          this.pending.set(nonce, entry);
          const cookie = CARRIES_COOKIE.has(body.kind) ? this.cookies.get(endpointToString(to)) : undefined;
          const msg = { ...body, nonce, timestamp: Math.max(0, Math.round(this.wallClock() + this.clockOffset)), ...(cookie ? { cookie } : {}) } as Message;
          this.socket.send(encodeMessage(msg, this.key), to);
        },
      };
      const step = () => {
        if (tries >= policy.tries) {
          finish();
          const hint = this.lastHint ? `; the server said: ${this.lastHint}` : '';
          reject(new RequestError(`no answer to ${body.kind} from ${to.address}:${to.port} after ${tries} tries${hint}`, 0));
          return;
        }
        tries++;
        entry.resend();
        timer = sched.setTimeout(step, rto);
        rto *= 2;
      };
      step();
    });
  }

  /** An answer (or authenticated error) that echoes one of our nonces; false if none matched. */
  answer(m: Answer & { echo?: string }): boolean {
    if (m.echo === undefined) return false;
    const p = this.pending.get(m.echo);
    if (!p) return false;
    p.resolve(m);
    return true;
  }

  close(): void {
    this.closed = true;
    for (const p of [...this.pending.values()]) p.reject(new RequestError('closed', 0));
    this.pending.clear();
  }
}
