/**
 * The servers' metrics (STUN, rendezvous, relay), read from their counters at
 * each scrape. The counters are passed as plain name -> number records, so
 * this module depends on no server: the command that runs a server hands
 * them over (docs/metrics.md lists every name).
 */
import type { Registry } from 'prom-client';
import { scraped, scrapedByLabel } from './scraped.js';

type Counts = Record<string, number>;
type Read<T> = () => T | Promise<T>;

/** Picks the keys of `c` named in `keys`, under new names. */
function pick(c: Counts, keys: Record<string, string>): Counts {
  return Object.fromEntries(Object.entries(keys).map(([label, key]) => [label, c[key] ?? 0]));
}

export interface StunMetricsSource {
  /** The UDP service's counters (all workers): received, sent, bytes-in, bytes-out, rate-limited, trimmed, and one per outcome. */
  udp: Read<Counts>;
  /** The TCP listener's counters and open connections, when it runs. */
  tcp?: Read<{ counters: Counts; open: number }>;
}

const STUN_OUTCOMES = ['success', 'error-400', 'error-420', 'ignored-not-stun', 'ignored-malformed', 'ignored-not-request', 'ignored-bad-fingerprint'];

export function registerStunMetrics(registry: Registry, s: StunMetricsSource): void {
  scrapedByLabel(registry, 'masq_stun_requests_total', 'Datagrams and messages handled, by outcome (success: a Binding answered)', 'counter', 'outcome', async () => {
    const c = await s.udp();
    return Object.fromEntries(STUN_OUTCOMES.map((o) => [o, c[o] ?? 0]));
  });
  scrapedByLabel(registry, 'masq_stun_packets_total', 'UDP datagrams received and sent', 'counter', 'direction', async () => pick(await s.udp(), { received: 'received', sent: 'sent' }));
  scrapedByLabel(registry, 'masq_stun_bytes_total', 'UDP bytes received and sent', 'counter', 'direction', async () => pick(await s.udp(), { received: 'bytes-in', sent: 'bytes-out' }));
  scraped(registry, { name: 'masq_stun_rate_limited_total', help: 'Requests dropped by the per-address rate limit', type: 'counter', read: async () => [{ value: (await s.udp())['rate-limited'] ?? 0 }] });
  const tcp = s.tcp;
  if (tcp) {
    scraped(registry, { name: 'masq_stun_tcp_connections', help: 'TCP connections open now', type: 'gauge', read: async () => [{ value: (await tcp()).open }] });
    scrapedByLabel(registry, 'masq_stun_tcp_connections_closed_total', 'TCP connections closed or refused, by reason', 'counter', 'reason', async () =>
      pick((await tcp()).counters, { refused_per_address: 'refusedPerAddress', refused_full: 'refusedFull', evicted: 'evicted', slow: 'closedSlow', idle: 'closedIdle', not_stun: 'closedNotStun' }),
    );
    scraped(registry, { name: 'masq_stun_tcp_connections_accepted_total', help: 'TCP connections accepted', type: 'counter', read: async () => [{ value: (await tcp()).counters.accepted ?? 0 }] });
  }
}

export interface RendezvousMetricsSource {
  counters: Read<Counts>;
  attached: Read<number>;
  sessions: Read<{ sessions: number; open: number }>;
}

export function registerRendezvousMetrics(registry: Registry, s: RendezvousMetricsSource): void {
  const c = async () => s.counters();
  scrapedByLabel(registry, 'masq_rendezvous_requests_total', 'Requests handled, by kind', 'counter', 'kind', async () =>
    pick(await c(), { join: 'joins', refresh: 'refreshes', leave: 'leaves', observe: 'observes' }),
  );
  scraped(registry, { name: 'masq_rendezvous_introductions_total', help: 'Peers introduced to each other', type: 'counter', read: async () => [{ value: (await c()).introductions ?? 0 }] });
  scraped(registry, { name: 'masq_rendezvous_peers_expired_total', help: 'Peers that stopped refreshing and expired', type: 'counter', read: async () => [{ value: (await c()).expired ?? 0 }] });
  scrapedByLabel(registry, 'masq_rendezvous_refused_total', 'Requests refused or dropped, by reason', 'counter', 'reason', async () =>
    pick(await c(), {
      malformed: 'malformed',
      unauthenticated: 'unauthenticated',
      unknown_session: 'unknownSession',
      stale: 'stale',
      replayed: 'replayed',
      session_full: 'refusedFull',
      sessions_limit: 'refusedSessions',
      open_sessions_limit: 'refusedOpenSessions',
      per_address_limit: 'refusedPerAddress',
      rate_limited: 'rateLimited',
      oversize_unsent: 'unsentOversize',
      error: 'errors',
    }),
  );
  scraped(registry, { name: 'masq_rendezvous_cookie_challenges_total', help: 'Cookies sent to sources that had not proved they receive', type: 'counter', read: async () => [{ value: (await c()).challenges ?? 0 }] });
  scraped(registry, { name: 'masq_rendezvous_peers', help: 'Peers attached to this server now', type: 'gauge', read: async () => [{ value: await s.attached() }] });
  scrapedByLabel(registry, 'masq_rendezvous_sessions', 'Sessions held now, by kind (open: anyone who knows the name may join)', 'gauge', 'kind', async () => {
    const n = await s.sessions();
    return { keyed: n.sessions - n.open, open: n.open };
  });
}

export interface RelayMetricsSource {
  counters: Read<Counts>;
  bindings: Read<{ all: number; open: number }>;
}

export function registerRelayMetrics(registry: Registry, s: RelayMetricsSource): void {
  const c = async () => s.counters();
  scraped(registry, { name: 'masq_relay_binds_total', help: 'Bind requests accepted (new bindings and refreshes)', type: 'counter', read: async () => [{ value: (await c()).binds ?? 0 }] });
  scraped(registry, { name: 'masq_relay_relayed_packets_total', help: 'Packets relayed from one peer to another', type: 'counter', read: async () => [{ value: (await c()).forwarded ?? 0 }] });
  scraped(registry, { name: 'masq_relay_relayed_bytes_total', help: 'Bytes relayed from one peer to another', type: 'counter', read: async () => [{ value: (await c()).forwardedBytes ?? 0 }] });
  scrapedByLabel(registry, 'masq_relay_dropped_total', 'Frames and requests dropped or refused, by reason', 'counter', 'reason', async () =>
    pick(await c(), {
      unbound: 'unbound',
      unknown_target: 'unknownTarget',
      rate_limited: 'rateLimited',
      unauthenticated: 'unauthenticated',
      malformed: 'malformed',
      stale: 'stale',
      replayed: 'replayed',
      bindings_limit: 'refusedTotal',
      open_bindings_limit: 'refusedOpen',
      session_limit: 'refusedPerSession',
      per_address_limit: 'refusedPerAddress',
      oversize_unsent: 'unsentOversize',
    }),
  );
  scraped(registry, { name: 'masq_relay_bindings_expired_total', help: 'Bindings that were not refreshed and expired', type: 'counter', read: async () => [{ value: (await c()).expired ?? 0 }] });
  scrapedByLabel(registry, 'masq_relay_bindings', 'Peers bound now, by kind of session', 'gauge', 'kind', async () => {
    const b = await s.bindings();
    return { keyed: b.all - b.open, open: b.open };
  });
}
