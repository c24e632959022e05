/** The traversal packet codec, keys and replay protection. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeMessage, isAuthenticatedType, MessageType, readMessage, sessionOf, type Message } from '../../src/rendezvous/protocol/messages.js';
import { encodeAttributes, encodePacket, looksLikeMasqPacket, macValid, MAX_PACKET, parseAttributes, parsePacket, RendezvousDecodeError } from '../../src/rendezvous/protocol/wire.js';
import { deriveSessionKey, SessionKeys, sessionSecretFromMaster } from '../../src/rendezvous/protocol/keys.js';
import { NonceCache, SeqWindow } from '../../src/rendezvous/protocol/replay.js';

const KEY = deriveSessionKey('secret', 'demo');
const A = '0123456789abcdef';
const B = 'fedcba9876543210';
const N = '00000000000000ff';
const pub = { address: '203.0.113.7', port: 40000 };
const v6 = { address: '2001:db8::1', port: 5 };
const COOKIE = Uint8Array.from({ length: 16 }, (_, i) => i * 7);

const samples: Message[] = [
  { kind: 'join', session: 'demo', peerId: A, nonce: N, timestamp: 1_700_000_000_000, name: 'alice', locals: [{ address: '10.0.0.2', port: 4000 }, v6], observed: pub, spare: { address: '203.0.113.7', port: 40002 } },
  { kind: 'join', session: 'démo ✓', peerId: A, nonce: N, timestamp: 0, locals: [] },
  { kind: 'join', session: 'demo', peerId: A, nonce: N, timestamp: 0, locals: [], observed: pub, mapped: { address: '203.0.113.7', port: 41641 } },
  { kind: 'join', session: 'demo', peerId: A, nonce: N, timestamp: 0, locals: [], cookie: COOKIE },
  { kind: 'refresh', session: 'demo', peerId: A, nonce: N, timestamp: 5 },
  { kind: 'refresh', session: 'demo', peerId: A, nonce: N, timestamp: 5, cookie: COOKIE },
  { kind: 'leave', session: 'demo', peerId: A, nonce: N, timestamp: 5 },
  { kind: 'observe', session: 'demo', peerId: A, nonce: N, timestamp: 5 },
  { kind: 'introduce-ack', session: 'demo', peerId: A, seq: 9 },
  {
    kind: 'join-ok',
    echo: N,
    peerId: A,
    public: pub,
    peers: [{ id: B, name: 'bob', public: pub, locals: [v6], observed: pub }, { id: A, public: pub, locals: [] }],
    total: 2,
    relay: { address: '198.51.100.10', port: 7100 },
    refreshMs: 15000,
    ttlMs: 45000,
    seq: 3,
  },
  { kind: 'introduce', target: A, seq: 4, peer: { id: B, public: pub, locals: [] } },
  { kind: 'introduce', target: A, seq: 6, peer: { id: B, public: pub, locals: [], spare: pub, mapped: { address: '203.0.113.7', port: 41641 } } },
  { kind: 'refresh-ok', echo: N, public: pub },
  { kind: 'leave-ok', echo: N },
  { kind: 'peer-left', target: A, seq: 5, peerId: B },
  { kind: 'observe-ok', echo: N, public: v6 },
  { kind: 'error', echo: N, code: 425, reason: 'stale', serverTime: 123 },
  { kind: 'cookie', echo: N, cookie: COOKIE },
  { kind: 'hello', from: A, to: B, seq: 1, flags: 3, index: 255 },
  { kind: 'hello-ack', from: B, to: A, seq: 2, echoSeq: 1, observed: pub, flags: 0 },
  { kind: 'data', from: A, to: B, seq: 3, payload: new Uint8Array([1, 2, 3]) },
  { kind: 'bye', from: A, to: B, seq: 4 },
  { kind: 'relay-bind', session: 'demo', peerId: A, nonce: N, timestamp: 8 },
  { kind: 'relay-bind', session: 'demo', peerId: A, nonce: N, timestamp: 8, cookie: COOKIE },
  { kind: 'relay-bind-ok', echo: N, ttlMs: 60000 },
  { kind: 'relay-send', to: B, payload: new Uint8Array(100) },
  { kind: 'relay-deliver', from: A, payload: new Uint8Array(0) },
  { kind: 'hint', code: 401, reason: 'authentication failed' },
];

test('every message kind round-trips, with a MAC where the type wants one', () => {
  for (const m of samples) {
    const bytes = encodeMessage(m, KEY);
    assert.ok(looksLikeMasqPacket(bytes));
    const raw = parsePacket(bytes, isAuthenticatedType);
    assert.equal(raw.mac !== null, isAuthenticatedType(raw.type), m.kind);
    if (raw.mac) assert.ok(macValid(raw, KEY), `${m.kind} MAC`);
    const back = readMessage(raw);
    assert.deepEqual(normalize(back), normalize(m), m.kind);
  }
});

function normalize(m: Message): unknown {
  return JSON.parse(JSON.stringify(m, (_k, v) => (v instanceof Uint8Array ? [...v] : v)));
}

test('backward compatible: a mapped endpoint is one more attribute; readers skip attribute types they do not know', () => {
  const mapped = { address: '203.0.113.7', port: 41641 };
  const withIt = parsePacket(encodeMessage({ kind: 'introduce', target: A, seq: 7, peer: { id: B, public: pub, locals: [], mapped } }, KEY), isAuthenticatedType);
  const without = parsePacket(encodeMessage({ kind: 'introduce', target: A, seq: 7, peer: { id: B, public: pub, locals: [] } }, KEY), isAuthenticatedType);
  const peerOf = (raw: typeof withIt) => raw.attributes.find((x) => x.type === 9)!.value;
  // Take attribute 26 away and the peer is byte for byte what an older client sends and reads.
  assert.deepEqual(encodeAttributes(parseAttributes(peerOf(withIt)).filter((x) => x.type !== 26)), peerOf(without));
  // An unknown attribute type (as 26 is to an older reader) is skipped, the rest decoded as before.
  const extra = encodePacket(MessageType.Introduce, [...without.attributes, { type: 200, value: new Uint8Array([1, 2]) }], KEY);
  assert.deepEqual(normalize(readMessage(parsePacket(extra, isAuthenticatedType))), normalize(readMessage(without)));
});

test('the MAC catches a wrong key and every flipped bit', () => {
  const bytes = encodeMessage(samples[0], KEY);
  assert.equal(macValid(parsePacket(bytes, isAuthenticatedType), deriveSessionKey('other', 'demo')), false);
  assert.equal(macValid(parsePacket(bytes, isAuthenticatedType), deriveSessionKey('secret', 'other')), false);
  for (let i = 0; i < bytes.length * 8; i++) {
    const b = bytes.slice();
    b[i >> 3] ^= 1 << (i & 7);
    try {
      const raw = parsePacket(b, isAuthenticatedType);
      assert.equal(macValid(raw, KEY), false, `bit ${i}`);
    } catch (err) {
      assert.ok(err instanceof RendezvousDecodeError, `bit ${i}: ${String(err)}`);
    }
  }
});

test('authenticated types need a key to encode; the unauthenticated ones never carry one', () => {
  assert.throws(() => encodeMessage(samples[2], null));
  const relayed = encodeMessage({ kind: 'relay-send', to: B, payload: new Uint8Array(4) }, KEY);
  assert.equal(parsePacket(relayed, isAuthenticatedType).mac, null);
});

test('malformed packets raise RendezvousDecodeError with a reason', () => {
  const ok = encodeMessage(samples[2], KEY);
  const cases: Array<[Uint8Array, RegExp]> = [
    [ok.subarray(0, 5), /shorter than/],
    [Uint8Array.from([0x4d, 0x52, 1, 2, 0, 0, 0, 0]), /magic/],
    [Uint8Array.from([0x4d, 0x51, 9, 2, 0, 0, 0, 0]), /version/],
    [ok.subarray(0, ok.length - 1), /length mismatch/],
    [new Uint8Array(MAX_PACKET + 1), /exceeds/],
  ];
  for (const [bytes, re] of cases) assert.throws(() => parsePacket(bytes, isAuthenticatedType), re);
  // A missing required attribute, a repeated one, a bad size, an unknown type.
  const missing = encodePacket(MessageType.Refresh, [], KEY);
  assert.throws(() => readMessage(parsePacket(missing, isAuthenticatedType)), /missing session/);
  const twice = encodePacket(MessageType.Bye, [{ type: 2, value: new Uint8Array(8) }, { type: 2, value: new Uint8Array(8) }], KEY);
  assert.throws(() => readMessage(parsePacket(twice, isAuthenticatedType)), /repeated/);
  const short = encodePacket(MessageType.Bye, [{ type: 2, value: new Uint8Array(7) }], KEY);
  assert.throws(() => readMessage(parsePacket(short, isAuthenticatedType)), /8 bytes/);
  assert.throws(() => readMessage(parsePacket(encodePacket(0x77, [], KEY), isAuthenticatedType)), /unknown message type/);
  const badUtf8 = encodePacket(MessageType.Refresh, [{ type: 1, value: Uint8Array.from([0xff, 0xfe]) }], KEY);
  assert.throws(() => sessionOf(parsePacket(badUtf8, isAuthenticatedType)), /UTF-8/);
  const tooManyLocals = encodePacket(
    MessageType.Join,
    [
      { type: 1, value: new TextEncoder().encode('s') },
      ...Array.from({ length: 9 }, () => ({ type: 6, value: Uint8Array.from([4, 0, 1, 10, 0, 0, 1]) })),
    ],
    KEY,
  );
  assert.throws(() => readMessage(parsePacket(tooManyLocals, isAuthenticatedType)), /local endpoints/);
  const shortCookie = encodePacket(MessageType.Cookie, [{ type: 22, value: new Uint8Array(8) }, { type: 25, value: new Uint8Array(15) }], KEY);
  assert.throws(() => readMessage(parsePacket(shortCookie, isAuthenticatedType)), /cookie must be 16 bytes/);
  const noCookie = encodePacket(MessageType.Cookie, [{ type: 22, value: new Uint8Array(8) }], KEY);
  assert.throws(() => readMessage(parsePacket(noCookie, isAuthenticatedType)), /missing cookie/);
});

test('a cookie answer is smaller than the smallest request that can ask for one', () => {
  const answer = encodeMessage({ kind: 'cookie', echo: N, cookie: COOKIE }, KEY);
  for (const kind of ['join', 'refresh', 'relay-bind'] as const) {
    const smallest = encodeMessage(kind === 'join' ? { kind, session: 's', peerId: A, nonce: N, timestamp: 0, locals: [] } : { kind, session: 's', peerId: A, nonce: N, timestamp: 0 }, KEY);
    assert.ok(answer.length < smallest.length, `${kind}: ${answer.length} >= ${smallest.length}`);
  }
});

test('property: arbitrary bytes never throw anything but RendezvousDecodeError', () => {
  const masqish = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 200 }), fc.boolean()).map(([type, body, mac]) => {
      const b = new Uint8Array(8 + body.length + (mac ? 16 : 0));
      b.set([0x4d, 0x51, 1, type, body.length >> 8, body.length & 0xff, 0, 0]);
      b.set(body, 8);
      return b;
    }),
    fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.uint8Array({ maxLength: 24 })), { maxLength: 12 }).chain((attrs) =>
      fc.integer({ min: 0, max: 255 }).map((type) => {
        const area = encodeAttributes(attrs.map(([t, v]) => ({ type: t, value: v })));
        return Uint8Array.from([0x4d, 0x51, 1, type, area.length >> 8, area.length & 0xff, 0, 0, ...area, ...(isAuthenticatedType(type) ? new Uint8Array(16) : [])]);
      }),
    ),
  );
  fc.assert(
    fc.property(masqish, (bytes) => {
      try {
        const raw = parsePacket(bytes, isAuthenticatedType);
        sessionOf(raw);
        readMessage(raw);
      } catch (err) {
        if (!(err instanceof RendezvousDecodeError)) throw err;
      }
    }),
    { numRuns: 3000 },
  );
});

test('session keys: per session and secret; master-key secrets; listed and open sessions', () => {
  assert.notDeepEqual(deriveSessionKey('s', 'a'), deriveSessionKey('s', 'b'));
  assert.notDeepEqual(deriveSessionKey('s', 'a'), deriveSessionKey('t', 'a'));
  const master = new Uint8Array(32).fill(1);
  const byMaster = new SessionKeys({ master });
  assert.deepEqual(byMaster.keyFor('x'), deriveSessionKey(sessionSecretFromMaster(master, 'x'), 'x'));
  assert.notEqual(sessionSecretFromMaster(master, 'x'), sessionSecretFromMaster(master, 'y'));
  const listed = new SessionKeys({ secrets: { only: 'pw' } });
  assert.deepEqual(listed.keyFor('only'), deriveSessionKey('pw', 'only'));
  assert.equal(listed.keyFor('other'), null);
  const open = new SessionKeys({ open: true });
  assert.deepEqual(open.keyFor('any'), deriveSessionKey('', 'any'));
  assert.equal(open.open, true);
  // Open sessions (anyone may join) get only a share of a server's limits.
  assert.equal(open.isOpenSession('any'), true);
  assert.equal(byMaster.isOpenSession('x'), false);
  assert.equal(listed.isOpenSession('only'), false);
  const mixed = new SessionKeys({ secrets: { keyed: 'pw', blank: '' }, open: true });
  assert.deepEqual([mixed.isOpenSession('keyed'), mixed.isOpenSession('blank'), mixed.isOpenSession('other')], [false, true, true]);
  assert.throws(() => new SessionKeys({}));
});

test('NonceCache: window, replay, capacity, expiry', () => {
  const c = new NonceCache(1000, 3);
  assert.equal(c.check('a', 10_000, 10_500), 'ok');
  assert.equal(c.check('a', 10_000, 10_600), 'replay');
  assert.equal(c.check('b', 8_000, 10_600), 'stale');
  assert.equal(c.check('b', 12_000, 10_600), 'stale');
  assert.equal(c.check('b', 10_600, 10_600), 'ok');
  assert.equal(c.check('c', 10_600, 10_600), 'ok');
  assert.equal(c.check('d', 10_600, 10_600), 'full');
  // Once a nonce's timestamp could no longer be accepted, it is forgotten.
  assert.equal(c.check('d', 13_000, 13_000), 'ok');
  assert.equal(c.size, 1);
  // peek gives the verdict and records nothing.
  assert.equal(c.peek('e', 13_000, 13_000), 'ok');
  assert.equal(c.peek('e', 13_000, 13_000), 'ok');
  assert.equal(c.peek('d', 13_000, 13_000), 'replay');
  assert.equal(c.peek('e', 9_000, 13_000), 'stale');
  assert.equal(c.size, 1);
});

test('SeqWindow: each number once, reordering inside the window, nothing far behind', () => {
  const w = new SeqWindow(64);
  assert.equal(w.accept(0), false);
  assert.equal(w.accept(5), true);
  assert.equal(w.accept(5), false);
  assert.equal(w.accept(3), true);
  assert.equal(w.accept(100), true);
  assert.equal(w.accept(36), false, 'more than 64 behind');
  assert.equal(w.accept(37), true);
  assert.equal(w.accept(37), false);
  w.reset(200);
  assert.equal(w.accept(150), false);
  assert.equal(w.accept(201), true);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 500 }), { maxLength: 300 }), (seqs) => {
      const win = new SeqWindow(128);
      const seen = new Set<number>();
      let highest = 0;
      for (const s of seqs) {
        const fresh = !seen.has(s) && s > highest - 128;
        assert.equal(win.accept(s), fresh);
        if (fresh) {
          seen.add(s);
          highest = Math.max(highest, s);
        }
      }
    }),
  );
});
