/**
 * Rendezvous and relay packets, each kind encoded with the keys of the fuzz
 * servers' sessions: a keyed one, an open one, and one no server knows.
 */
import { encodeMessage, type Message } from '../../../src/rendezvous/protocol/messages.js';
import { deriveSessionKey } from '../../../src/rendezvous/protocol/keys.js';

export const KEYED = 'team';
export const SECRET = 'correct horse';
export const OPEN = 'lobby';
export const EPOCH = 1_700_000_000_000;

export function keyOf(session: string): Uint8Array | null {
  if (session === KEYED) return deriveSessionKey(SECRET, session);
  if (session === 'unknown') return deriveSessionKey('nobody knows', session);
  return deriveSessionKey('', session);
}

const P1 = 'a1a1a1a1a1a1a1a1';
const P2 = 'b2b2b2b2b2b2b2b2';
const a = { address: '203.0.113.5', port: 40000 };
const b = { address: '10.0.0.2', port: 5000 };
const peer = { id: P2, public: a, locals: [b], observed: a, mapped: a };
const authed = (n: number) => ({ timestamp: EPOCH + n, nonce: n.toString(16).padStart(16, '0') });

export function rendezvousMessages(): Message[] {
  const out: Message[] = [];
  for (const session of [KEYED, OPEN, 'unknown']) {
    out.push(
      { kind: 'join', session, peerId: P1, name: 'alice', locals: [b, a], observed: a, spare: a, mapped: a, ...authed(1) },
      { kind: 'join', session, peerId: P1, locals: [], cookie: new Uint8Array(16), ...authed(2) },
      { kind: 'refresh', session, peerId: P1, ...authed(3) },
      { kind: 'leave', session, peerId: P1, ...authed(4) },
      { kind: 'observe', session, peerId: P1, ...authed(5) },
      { kind: 'introduce-ack', session, peerId: P1, seq: 1 },
      { kind: 'relay-bind', session, peerId: P1, ...authed(6) },
    );
  }
  out.push(
    { kind: 'join-ok', echo: P1, peerId: P1, public: a, peers: [peer], total: 1, relay: a, refreshMs: 15000, ttlMs: 45000, seq: 0 },
    { kind: 'introduce', target: P1, seq: 1, peer },
    { kind: 'error', echo: P1, code: 429, reason: 'full', serverTime: EPOCH },
    { kind: 'cookie', echo: P1, cookie: new Uint8Array(16) },
    { kind: 'hello', from: P1, to: P2, seq: 1, flags: 3, index: 2 },
    { kind: 'hello-ack', from: P2, to: P1, seq: 1, echoSeq: 1, observed: a, flags: 0 },
    { kind: 'data', from: P1, to: P2, seq: 2, payload: new Uint8Array(40) },
    { kind: 'relay-send', to: P2, payload: new Uint8Array(30) },
    { kind: 'relay-deliver', from: P1, payload: new Uint8Array(30) },
    { kind: 'hint', code: 404, reason: 'no such session' },
  );
  return out;
}

export function sessionOfMessage(m: Message): string {
  return 'session' in m ? m.session : OPEN;
}

export function rendezvousSeeds(): Uint8Array[] {
  return rendezvousMessages().map((m) => encodeMessage(m, keyOf(sessionOfMessage(m))));
}

export const RENDEZVOUS_DICTIONARY = ['MQ\x01', '\x01', '\x02', '\x20', '\x21', '\x00\x10', '\x00\x08', '\x00\x00', '\xff\xff', KEYED, OPEN, P1, P2];
