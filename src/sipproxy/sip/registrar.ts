/**
 * The registrar (RFC 3261 10.3), for phones behind NATs: each binding is
 * stored with the flow the REGISTER came in on (the phone's NAT binding and,
 * over TCP or TLS, its connection), which is where requests for the phone
 * go; every Contact of the REGISTER is handled, not only the first. The
 * Contact itself is stored as the phone wrote it (RFC 3261: a registrar
 * does not rewrite it), and returned as such in the 200.
 */
import { findParam } from '../../alg/sip/params.js';
import { paramDeltaSeconds } from '../../alg/sip/scalars.js';
import { latin1 } from '../../alg/text/latin1.js';
import type { Flow, SipTransport } from './flow.js';
import type { SipInfo } from './message-info.js';
import type { Binding, LocationStore } from '../store/stores.js';

export interface RegistrarOptions {
  minExpires: number;
  maxExpires: number;
  defaultExpires: number;
  maxPerAor: number;
  proxyId: string;
  /** How other proxies sharing the store reach this one. */
  proxyAddress: { transport: SipTransport; address: string; port: number };
  wallClock: () => number;
}

export type RegisterOutcome =
  | { status: 200; headers: string[]; added: Binding[]; removed: Binding[] }
  | { status: 400 | 423 | 500 | 503; reason?: string; headers: string[] };

/** user@host of a sip/sips URI (host lower case), or null. */
export function aorOf(b: Uint8Array, uri: SipInfo['requestUri']): string | null {
  if (!uri || (uri.scheme !== 'sip' && uri.scheme !== 'sips') || !uri.hostPort) return null;
  const host = latin1(b, uri.hostPort.host.start, uri.hostPort.host.end).toLowerCase();
  return uri.user ? `${latin1(b, uri.user.start, uri.user.end)}@${host}` : host;
}

function qOf(b: Uint8Array, e: SipInfo['contacts'][number]): number {
  const p = findParam(b, e.params, 'q');
  if (!p?.value) return 1000;
  const v = Number(latin1(b, p.value.start, p.value.end));
  return Number.isFinite(v) && v >= 0 && v <= 1 ? Math.round(v * 1000) : 1000;
}

export async function register(store: LocationStore, o: RegistrarOptions, info: SipInfo, flow: Flow, userAgent: string | null): Promise<RegisterOutcome> {
  const b = info.m.bytes;
  const aor = aorOf(b, info.to.uri);
  if (aor === null) return { status: 400, reason: 'To is not a sip or sips URI', headers: [] };
  const now = o.wallClock();
  const existing = await store.lookup(aor);
  if (info.contactStar) {
    if (info.expires !== 0 || info.contacts.length > 0) return { status: 400, reason: 'Contact * needs Expires: 0 and no other Contact', headers: [] };
    const r = await store.save(aor, [], existing.map((x) => x.contact), o.maxPerAor);
    return { status: 200, headers: [], added: [], removed: r === 'full' ? [] : existing };
  }
  const upserts: Binding[] = [];
  const removals: string[] = [];
  for (const c of info.contacts) {
    if (!c.uri) return { status: 400, reason: 'unreadable Contact URI', headers: [] };
    const contact = latin1(b, c.uriSpan.start, c.uriSpan.end);
    let expires = paramDeltaSeconds(b, findParam(b, c.params, 'expires')) ?? info.expires ?? o.defaultExpires;
    if (expires > 0 && expires < o.minExpires) return { status: 423, headers: [`Min-Expires: ${o.minExpires}`] };
    expires = Math.min(expires, o.maxExpires);
    const old = existing.find((x) => x.contact === contact);
    // RFC 3261 10.3 step 7: an older request of the same registration must not undo a newer one.
    if (old && old.callId === info.callId && old.cseq >= info.cseq.number) return { status: 500, reason: 'Out of order REGISTER', headers: [] };
    if (expires === 0) {
      removals.push(contact);
      continue;
    }
    upserts.push({
      aor,
      contact,
      expiresAt: now + expires * 1000,
      registeredAt: now,
      callId: info.callId,
      cseq: info.cseq.number,
      q: qOf(b, c),
      flow: { ...flow },
      proxy: o.proxyId,
      proxyAddress: o.proxyAddress,
      ...(userAgent ? { userAgent: userAgent.slice(0, 256) } : {}),
    });
  }
  const live = info.contacts.length === 0 ? existing : await store.save(aor, upserts, removals, o.maxPerAor);
  if (live === 'full') return { status: 503, reason: 'Too many registrations', headers: [] };
  const headers = live.map((x) => `Contact: <${x.contact}>;expires=${Math.max(0, Math.round((x.expiresAt - now) / 1000))}`);
  return { status: 200, headers, added: upserts, removed: existing.filter((x) => removals.includes(x.contact)) };
}

/** The binding a request for the address of record goes to: highest q, then the most recent. */
export function pickBinding(bindings: readonly Binding[]): Binding | null {
  let best: Binding | null = null;
  for (const x of bindings) if (best === null || x.q > best.q || (x.q === best.q && x.registeredAt > best.registeredAt)) best = x;
  return best;
}
