/**
 * Return-routability cookies. A UDP source address proves nothing: anyone can
 * write someone else's address on a packet. A server that answered such a
 * packet with something larger, or that recorded the address and sent to it
 * later, would turn a small forged request into a flood toward a victim.
 *
 * So before it does either, a server (rendezvous or relay) asks the source to
 * echo a cookie, the way DTLS HelloVerifyRequest and QUIC Retry do: the cookie
 * is an HMAC, under a secret only the server knows, of the source address and
 * port and the current time window. Only someone who receives at that address
 * learns it. The server keeps no state per cookie: it recomputes the HMAC for
 * the current and the previous window, so a cookie lives between one and two
 * windows. The answer carrying the cookie is smaller than any request that can
 * ask for it.
 */
import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { Endpoint } from '../../net/udp.js';
import { COOKIE_LENGTH } from './messages.js';

/** A cookie is good for one to two windows of this length. */
export const COOKIE_WINDOW_MS = 30_000;

export class CookieMinter {
  private readonly key: KeyObject;

  /** `secret`: default 32 random bytes; several processes behind one address must share one. */
  constructor(
    secret: Uint8Array = randomBytes(32),
    private readonly windowMs = COOKIE_WINDOW_MS,
  ) {
    if (secret.length < 16) throw new RangeError('a cookie secret needs at least 16 bytes');
    this.key = createSecretKey(secret);
  }

  /** The cookie for `source` now (`now`: the server's clock, ms). */
  mint(source: Endpoint, now: number): Uint8Array {
    return this.compute(source, Math.floor(now / this.windowMs));
  }

  /** True when `cookie` was minted for `source` in this window or the one before. */
  valid(cookie: Uint8Array | undefined, source: Endpoint, now: number): boolean {
    if (!cookie || cookie.length !== COOKIE_LENGTH) return false;
    const window = Math.floor(now / this.windowMs);
    return timingSafeEqual(this.compute(source, window), cookie) || timingSafeEqual(this.compute(source, window - 1), cookie);
  }

  private compute(source: Endpoint, window: number): Uint8Array {
    return new Uint8Array(createHmac('sha256', this.key).update(`${window}|${source.address}|${source.port}`).digest().subarray(0, COOKIE_LENGTH));
  }
}
