/**
 * The server's state, still pure: the rate limiter, the counters, and the
 * handler. Shells (UDP over NetEnv, TCP over node:net) feed it packets with the
 * time; it says what to send.
 */
import type { Endpoint } from '../../net/udp.js';
import { ipv4ToString, tryParseIpv4 } from '../../wire/address.js';
import { HEADER_LENGTH } from '../constants.js';
import {
  handleStunPacket,
  plainAnswerTemplate,
  type BindingHandlerConfig,
  type HandleOutcome,
  type PlainTemplateEntry,
  type SocketKey,
  type StunReply,
  type Transport,
} from './binding-handler.js';
import type { PlainAnswerTemplate } from './plain-binding.js';
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
  private readonly plain = new Map<SocketKey, PlainTemplateEntry>();

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
    // IPv4 sources by number, as handlePlainIpv4 counts them: one bucket per address either way.
    if (this.limiter && !this.limiter.allow(tryParseIpv4(from.address) ?? from.address, nowMs)) {
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

  /**
   * handle() for the commonest request, a plain Binding request (see
   * plain-binding.ts) from an IPv4 source, as a batched shell reads it: the
   * same counts, rate limit and events, without an Endpoint, a reply object
   * or a parse of address text. Returns the template to answer from (the
   * shell writes the answer with writePlainAnswer), or null when the source
   * is rate-limited.
   */
  handlePlainIpv4(address: number, port: number, arrivedOn: SocketKey, nowMs: number): PlainAnswerTemplate | null {
    const c = this.counters;
    c.received++;
    c['bytes-in'] += HEADER_LENGTH;
    if (this.limiter && !this.limiter.allow(address, nowMs)) {
      c['rate-limited']++;
      this.onEvent?.({ outcome: 'rate-limited', from: { address: ipv4ToString(address), port }, arrivedOn, transport: 'udp' });
      return null;
    }
    let plain = this.plain.get(arrivedOn);
    if (plain === undefined) this.plain.set(arrivedOn, (plain = plainAnswerTemplate(this.config, arrivedOn)));
    c.success++;
    if (plain.trimmed) c.trimmed++;
    c.sent++;
    c['bytes-out'] += plain.template.bytes.length;
    return plain.template;
  }
}
