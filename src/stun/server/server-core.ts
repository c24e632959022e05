/**
 * The server's state, still pure: the rate limiter, the counters, and the
 * handler. Shells (UDP over NetEnv, TCP over node:net) feed it packets with the
 * time; it says what to send.
 */
import type { Endpoint } from '../../net/udp.js';
import { handleStunPacket, type BindingHandlerConfig, type HandleOutcome, type SocketKey, type StunReply, type Transport } from './binding-handler.js';
import { TokenBucketLimiter, type RateLimitConfig } from './rate-limiter.js';

export interface StunServerCoreConfig extends BindingHandlerConfig {
  /** Per source address. Default 200/s, burst 400. `null`: no limit. */
  rateLimit?: RateLimitConfig | null;
}

export type StunCounterName = HandleOutcome | 'received' | 'bytes-in' | 'sent' | 'bytes-out' | 'rate-limited' | 'trimmed';

export type StunCounters = Record<StunCounterName, number>;

export const DEFAULT_RATE_LIMIT: RateLimitConfig = { ratePerSecond: 200, burst: 400 };

export function emptyCounters(): StunCounters {
  return {
    received: 0,
    'bytes-in': 0,
    sent: 0,
    'bytes-out': 0,
    'rate-limited': 0,
    trimmed: 0,
    success: 0,
    'error-400': 0,
    'error-420': 0,
    'ignored-not-stun': 0,
    'ignored-malformed': 0,
    'ignored-not-request': 0,
    'ignored-bad-fingerprint': 0,
  };
}

export interface CoreEvent {
  outcome: HandleOutcome | 'rate-limited';
  from: Endpoint;
  arrivedOn: SocketKey;
  transport: Transport;
  detail?: string;
}

export class StunServerCore {
  readonly counters: StunCounters = emptyCounters();
  private readonly limiter: TokenBucketLimiter | null;

  constructor(
    readonly config: StunServerCoreConfig,
    /** Called for everything but plain successes (those would swamp a log). */
    private readonly onEvent?: (e: CoreEvent) => void,
  ) {
    const rl = config.rateLimit === undefined ? DEFAULT_RATE_LIMIT : config.rateLimit;
    this.limiter = rl ? new TokenBucketLimiter(rl) : null;
  }

  handle(data: Uint8Array, from: Endpoint, arrivedOn: SocketKey, transport: Transport, nowMs: number): StunReply[] {
    const c = this.counters;
    c.received++;
    c['bytes-in'] += data.length;
    if (this.limiter && !this.limiter.allow(from.address, nowMs)) {
      c['rate-limited']++;
      this.onEvent?.({ outcome: 'rate-limited', from, arrivedOn, transport });
      return [];
    }
    const r = handleStunPacket(this.config, data, from, arrivedOn, transport);
    c[r.outcome]++;
    if (r.trimmed) c.trimmed++;
    for (const reply of r.replies) {
      c.sent++;
      c['bytes-out'] += reply.data.length;
    }
    if (r.outcome !== 'success' && this.onEvent) {
      this.onEvent({ outcome: r.outcome, from, arrivedOn, transport, ...(r.detail ? { detail: r.detail } : {}) });
    }
    return r.replies;
  }
}
