/**
 * One fuzz input for a daemon's packet handler (rendezvous server, relay): a
 * control byte, then a packet.
 *
 *   bits 0-1  the source (four addresses, one IPv6, one private)
 *   bit 2     "proven": the packet is decoded, given a valid cookie for its
 *             source, a fresh timestamp and nonce, and encoded again with its
 *             session's key (so mutations reach the code behind the cookie)
 *   bit 3     the MAC is recomputed with the session's key (raw bytes kept)
 *   bit 4     to the second socket (the rendezvous server's observation port)
 *   bits 5-7  the clock moves first: 0, 0.1, 1, 5, 20, 40, 120 or 600 s
 *
 * What must hold: nothing escapes the handler (nor rejects later), and no
 * address that never proved it receives gets more bytes than it sent.
 */
import { COOKIE_WINDOW_MS, CookieMinter } from '../../../src/rendezvous/protocol/cookie.js';
import { encodeMessage, isAuthenticatedType, readMessage, sessionOf } from '../../../src/rendezvous/protocol/messages.js';
import { computeMac, parsePacket, RendezvousDecodeError } from '../../../src/rendezvous/protocol/wire.js';
import type { Endpoint } from '../../../src/net/udp.js';
import { invariant } from '../target.js';
import type { FakeNet } from './fake-net.js';
import { keyOf } from './rendezvous-seeds.js';

export const SOURCES: readonly Endpoint[] = [
  { address: '203.0.113.5', port: 40000 },
  { address: '203.0.113.6', port: 40001 },
  { address: '2001:db8::5', port: 1 },
  { address: '192.0.2.77', port: 5000 },
];
const ADVANCE_MS = [0, 100, 1000, 5000, 20_000, 40_000, 120_000, 600_000];
export const COOKIE_SECRET = new Uint8Array(32).fill(7);

export interface DaemonState {
  net: FakeNet;
  minter: CookieMinter;
  /** Sources that echoed a valid cookie (may be sent more than they sent). */
  proven: Set<string>;
  bytesFrom: Map<string, number>;
  nonce: number;
}

export function daemonState(net: FakeNet): DaemonState {
  return { net, minter: new CookieMinter(COOKIE_SECRET, COOKIE_WINDOW_MS), proven: new Set(), bytesFrom: new Map(), nonce: 0 };
}

/** The packet to deliver, and its source. */
export function prepare(input: Uint8Array, s: DaemonState): { from: Endpoint; data: Uint8Array; second: boolean } {
  const ctrl = input[0] ?? 0;
  const from = SOURCES[ctrl & 3];
  s.net.scheduler.advance(ADVANCE_MS[ctrl >> 5]);
  let data: Uint8Array = input.slice(1);
  if (ctrl & 4) data = proven(data, from, s) ?? data;
  else if (ctrl & 8) remac(data);
  s.bytesFrom.set(from.address, (s.bytesFrom.get(from.address) ?? 0) + data.length);
  return { from, data, second: (ctrl & 16) !== 0 };
}

function remac(data: Uint8Array): void {
  try {
    const raw = parsePacket(data, isAuthenticatedType);
    const session = sessionOf(raw);
    if (!raw.mac || session === null) return;
    const key = keyOf(session);
    if (key) data.set(computeMac(key, raw.covered), raw.covered.length);
  } catch (e) {
    if (!(e instanceof RendezvousDecodeError)) throw e;
  }
}

function proven(data: Uint8Array, from: Endpoint, s: DaemonState): Uint8Array | null {
  try {
    const raw = parsePacket(data, isAuthenticatedType);
    const m = readMessage(raw);
    if (m.kind !== 'join' && m.kind !== 'refresh' && m.kind !== 'relay-bind' && m.kind !== 'leave' && m.kind !== 'observe') return null;
    const now = s.net.scheduler.now();
    const fresh = { ...m, timestamp: now, nonce: (++s.nonce).toString(16).padStart(16, '0') };
    const withCookie = m.kind === 'leave' || m.kind === 'observe' ? fresh : { ...fresh, cookie: s.minter.mint(from, now) };
    const key = keyOf(m.session);
    const out = encodeMessage(withCookie, key);
    if (m.kind !== 'leave' && m.kind !== 'observe') s.proven.add(from.address);
    return out;
  } catch (e) {
    if (e instanceof RendezvousDecodeError || e instanceof RangeError) return null;
    throw e;
  }
}

/** No address that never proved it receives got more bytes than it sent. */
export function assertNoAmplification(s: DaemonState): void {
  for (const [addr, sent] of s.net.bytesTo) {
    if (s.proven.has(addr)) continue;
    const got = s.bytesFrom.get(addr) ?? 0;
    invariant(sent <= got, () => `${sent} bytes sent to ${addr}, which sent ${got} and never proved it receives there`);
  }
}
