/**
 * Properties of the SIP/SDP codec: arbitrary bytes never throw, mutated real
 * messages never make the rewriter emit a broken message, parsing preserves
 * every byte, stream framing agrees with the tokenizer however the bytes are
 * chunked, and an outbound rewrite undone inbound gives the original back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import fc from 'fast-check';
import {
  parseSipMessage, frameSipStream, rewriteSipMessage, applyEdits, processSipMessage, parseUri, parseAddressList,
  parseViaList, parseCSeq, parseContentType, parseHostPort, type RewriteContext, type Endpoint,
} from '../../../src/alg/sip/index.js';
import { parseSdp } from '../../../src/alg/sdp/index.js';
import { sip, sdpBody, latin1Bytes, text } from './fixtures.js';

const rfcDir = join(dirname(fileURLToPath(import.meta.url)), 'rfc4475');
const rfcMessages = readdirSync(rfcDir).filter((f) => f.endsWith('.sip')).map((f) => new Uint8Array(readFileSync(join(rfcDir, f))));

const offer = sdpBody(['v=0', 'o=- 1 1 IN IP4 10.0.1.2', 's=-', 'c=IN IP4 10.0.1.2', 't=0 0', 'm=audio 30000 RTP/AVP 0 8', 'a=rtcp:30001', 'm=video 30002 RTP/AVP 96', 'm=image 0 udptl t38']);
const crafted: Uint8Array[] = [
  sip(
    ['INVITE sip:bob@example.com SIP/2.0', 'Via: SIP/2.0/UDP 10.0.1.2:5060;branch=z9hG4bK1;rport', 'From: <sip:a@10.0.1.2>;tag=1', 'To: <sip:bob@example.com>', 'Call-ID: p1', 'CSeq: 1 INVITE', 'Contact: <sip:a@10.0.1.2>', 'Content-Type: application/sdp', `Content-Length: ${offer.length}`],
    offer,
  ),
  sip(['SIP/2.0 200 OK', 'Via: SIP/2.0/UDP 203.0.113.1:40000;branch=z9hG4bK1;received=203.0.113.1;rport=40000', 'From: <sip:a@x>;tag=1', 'To: <sip:a@x>;tag=2', 'Call-ID: p2', 'CSeq: 1 REGISTER', 'Contact: <sip:a@203.0.113.1:40000>;expires=60', 'l: 0']),
];

/** Answers arbitrary but deterministic things: the rewriter must cope with any context. */
function arbitraryContext(direction: 'outbound' | 'inbound', seed: number): RewriteContext {
  const pick = (s: string, port: number) => ((s.length * 31 + port + seed) & 3) !== 0;
  const to = (port: number): Endpoint => ({ addr: (seed & 1) === 0 ? '203.0.113.77' : '2001:db8::7', port: (port + seed) & 0xffff });
  return {
    direction,
    transport: 'udp',
    rewriteFromTo: (seed & 2) !== 0,
    isPrivate: (a, port) => pick(a, port),
    mapSignalling: (a, port) => (pick(a, port + 1) ? to(port) : null),
    mapMedia: (s) => (pick(s.addr, s.port) ? to(s.port) : null),
  };
}

test('arbitrary bytes never throw out of any decoder', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(), (b, seed) => {
      const d = parseSipMessage(b);
      parseSipMessage(b, { transport: 'stream' });
      frameSipStream(b);
      parseSdp(b);
      parseUri(b, 0, b.length);
      parseAddressList(b, 0, b.length, true);
      parseViaList(b, 0, b.length);
      parseCSeq(b, { start: 0, end: b.length });
      parseContentType(b, { start: 0, end: b.length });
      parseHostPort(b, 0, b.length);
      if (d.ok) {
        for (const dir of ['outbound', 'inbound'] as const) rewriteSipMessage(d.message, arbitraryContext(dir, seed));
      }
    }),
    { numRuns: 2000 },
  );
});

test('text-like junk (SIP alphabet) never throws either', () => {
  const alphabet = fc.constantFrom(...'INVITE SIP/2.0 sip: @ : ; , = < > " \\ [ ] \r \n \r\n \t  Via Contact l: v: m: 0 1 9 . a=rtcp: m=audio c=IN IP4 ?'.split(' '), ' ', '\r\n', '\r\n ');
  fc.assert(
    fc.property(fc.array(alphabet, { maxLength: 120 }), fc.nat(), (parts, seed) => {
      const b = latin1Bytes('INVITE sip:a@b SIP/2.0\r\n' + parts.join(''));
      const d = parseSipMessage(b);
      frameSipStream(b);
      if (d.ok) rewriteSipMessage(d.message, arbitraryContext('outbound', seed));
    }),
    { numRuns: 2000 },
  );
});

/** A mutation of a real message: flip, insert, delete, truncate or duplicate a region. */
type Mutation =
  | { kind: 'flip'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'insertText'; at: number; s: string }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'duplicate'; at: number; length: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('insertText' as const), at: fc.nat(), s: fc.constantFrom('\r\n', ' ', ';', ',', ':', '<', '>', '"', 'sip:', '\r\n ', '@', '0', '/') }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
);

function mutate(b: Uint8Array, ms: Mutation[]): Uint8Array {
  let out = Array.from(b);
  for (const m of ms) {
    const at = m.at % (out.length + 1);
    switch (m.kind) {
      case 'flip':
        if (at < out.length) out[at] = m.value;
        break;
      case 'insert':
        out.splice(at, 0, ...m.bytes);
        break;
      case 'insertText':
        out.splice(at, 0, ...latin1Bytes(m.s));
        break;
      case 'delete':
        out.splice(at, m.length);
        break;
      case 'truncate':
        out = out.slice(0, at);
        break;
      case 'duplicate':
        out.splice(at, 0, ...out.slice(at, at + m.length));
        break;
    }
  }
  return Uint8Array.from(out);
}

test('mutated real messages: no throw; a rewrite, when made, is well-formed and consistent', () => {
  let rewritten = 0;
  let parsedCount = 0;
  let okCount = 0;
  fc.assert(
    fc.property(fc.oneof(fc.constantFrom(...rfcMessages), fc.constantFrom(...crafted)), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.nat(), (original, ms, seed) => {
      const b = mutate(original, ms);
      const p = parseSipMessage(b);
      if (!p.ok) return;
      parsedCount++;
      for (const dir of ['outbound', 'inbound'] as const) {
        const r = rewriteSipMessage(p.message, arbitraryContext(dir, seed));
        if (!r.ok) continue;
        okCount++;
        if (r.edits.length > 0) rewritten++;
        const a = applyEdits(b, r.edits);
        assert.ok(a.ok, a.ok ? '' : a.reason);
        const again = parseSipMessage(a.bytes);
        assert.ok(again.ok, again.ok ? '' : again.reason);
        assert.equal(again.message.headers.length, p.message.headers.length);
        const m = p.message;
        if (m.contentLength !== null && again.message.contentLength !== null) {
          assert.equal(again.message.contentLength, again.message.body.end - again.message.body.start);
        }
      }
    }),
    { numRuns: 1500 },
  );
  // Guard against a vacuous property: enough mutants must get through to the rewriter.
  assert.ok(parsedCount > 250 && okCount > 100 && rewritten > 100, `parsed ${parsedCount}, rewritable ${okCount}, rewritten ${rewritten}`);
});

// A generator of well-formed messages with awkward but legal layout.
const tokenChar = fc.constantFrom(...'abcXYZ019-.!%*_+`\'~'.split(''));
const token = fc.array(tokenChar, { minLength: 1, maxLength: 10 }).map((a) => a.join(''));
const headerName = fc.oneof(
  fc.constantFrom('Via', 'v', 'VIA', 'Contact', 'm', 'From', 'f', 'To', 't', 'Call-ID', 'i', 'CSeq', 'Subject', 's', 'Max-Forwards', 'X-Thing'),
  token,
);
const valueWord = fc.array(fc.constantFrom(...'abc012<>@:;=,."/[]?\\\x00\x7f\xe9'.split('')), { minLength: 1, maxLength: 8 }).map((a) => a.join(''));
const headerValue = fc.array(fc.tuple(valueWord, fc.constantFrom(' ', '\t', '\r\n ', '\r\n\t', '  ')), { maxLength: 5 }).map((parts) => {
  let v = parts.map(([w, s]) => w + s).join('');
  v = v.replace(/[ \t\r\n]+$/, '');
  return v;
});
const header = fc.tuple(headerName, fc.constantFrom('', ' ', '\t', '  '), fc.constantFrom('', ' ', '   ', '\r\n '), headerValue, fc.constantFrom('', ' ', '\t'));
const startLine = fc.oneof(
  fc.tuple(token, fc.constantFrom('sip:a@b', 'sips:x.example.com:5061', 'tel:+1234')).map(([m, u]) => `${m} ${u} SIP/2.0`),
  fc.tuple(fc.integer({ min: 100, max: 699 }), fc.constantFrom('', 'OK', 'Reason phrase \xe9')).map(([c, r]) => `SIP/2.0 ${c} ${r}`),
);

const generatedMessage = fc.tuple(fc.nat(3), startLine, fc.array(header, { maxLength: 12 }), fc.uint8Array({ maxLength: 40 })).map(([crlfs, sl, hs, body]) => {
  const lines = hs.map(([n, sp1, sp2, v, sp3]) => `${n}${sp1}:${sp2}${v}${v === '' ? '' : sp3}`);
  const head = '\r\n'.repeat(crlfs) + [sl, ...lines, `Content-Length: ${body.length}`].join('\r\n') + '\r\n\r\n';
  const b = new Uint8Array(head.length + body.length);
  b.set(latin1Bytes(head));
  b.set(body, head.length);
  return { b, names: hs.map((h) => h[0]), values: hs.map((h) => h[3]), crlfs, body };
});

test('generated messages: parsed as written, every byte kept', () => {
  fc.assert(
    fc.property(generatedMessage, ({ b, names, values, crlfs, body }) => {
      const p = parseSipMessage(b);
      assert.ok(p.ok, p.ok ? '' : p.reason);
      const m = p.message;
      assert.equal(m.start, crlfs * 2);
      assert.equal(m.headers.length, names.length + 1);
      names.forEach((n, k) => {
        assert.equal(text(b.subarray(m.headers[k].name.start, m.headers[k].name.end)), n);
        assert.equal(text(b.subarray(m.headers[k].value.start, m.headers[k].value.end)), values[k]);
      });
      assert.deepEqual(b.subarray(m.body.start, m.body.end), body);
      const same = applyEdits(b, []);
      assert.ok(same.ok);
      assert.deepEqual(same.bytes, b);
    }),
    { numRuns: 1000 },
  );
});

test('stream framing: any chunking of back-to-back messages yields the same messages', () => {
  fc.assert(
    fc.property(fc.array(generatedMessage, { minLength: 1, maxLength: 4 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }), (msgs, cuts) => {
      const whole = new Uint8Array(msgs.reduce((n, m) => n + m.b.length, 0));
      let o = 0;
      for (const m of msgs) {
        whole.set(m.b, o);
        o += m.b.length;
      }
      // Feed the stream in chunks; frame whenever possible, as a reassembler would.
      const framed: Uint8Array[] = [];
      let buffered = 0;
      let consumed = 0;
      let k = 0;
      while (buffered < whole.length) {
        buffered = Math.min(whole.length, buffered + cuts[k++ % cuts.length]);
        for (;;) {
          const f = frameSipStream(whole, consumed, buffered);
          if (f.kind === 'keepalive') {
            consumed += f.length;
            continue;
          }
          if (f.kind !== 'message') {
            assert.notEqual(f.kind, 'error', f.kind === 'error' ? f.reason : '');
            break;
          }
          const p = parseSipMessage(whole, { transport: 'stream' }, consumed, consumed + f.length);
          assert.ok(p.ok, p.ok ? '' : p.reason);
          framed.push(whole.subarray(p.message.start, consumed + f.length));
          consumed += f.length;
        }
      }
      assert.equal(consumed, whole.length);
      assert.equal(framed.length, msgs.length);
      framed.forEach((f, i) => assert.deepEqual(f, msgs[i].b.subarray(msgs[i].crlfs * 2)));
    }),
    { numRuns: 300 },
  );
});

// Host[:port] forms in the places restored both ways.
const hostForm = fc.tuple(fc.constantFrom('10.0.1.2', '10.0.1.3', 'pbx.example.com'), fc.constantFrom('', ':5060', ':5070', ':7'), fc.constantFrom('', ';lr', ';transport=tcp', ';maddr=10.0.1.2'));

test('outbound rewrite then inbound restore gives the original bytes back (port-preserving NAT)', () => {
  fc.assert(
    fc.property(fc.array(hostForm, { minLength: 1, maxLength: 4 }), fc.array(hostForm, { maxLength: 3 }), fc.boolean(), (contacts, routes, fromTo) => {
      const uri = ([h, p, params]: [string, string, string]) => `<sip:u@${h}${p}${params}>`;
      const b = sip([
        'SIP/2.0 200 OK',
        'Via: SIP/2.0/UDP 198.51.100.9;branch=z9hG4bK1',
        `From: ${uri(contacts[0])};tag=1`,
        'To: <sip:b@example.com>;tag=2',
        'Call-ID: rt',
        'CSeq: 1 INVITE',
        `Contact: ${contacts.map(uri).join(', ')}`,
        ...(routes.length ? [`Record-Route: ${routes.map(uri).join(',')}`] : []),
        'l: 0',
      ]);
      const nat = (direction: 'outbound' | 'inbound'): RewriteContext => ({
        direction,
        transport: 'udp',
        rewriteFromTo: fromTo,
        isPrivate: (a) => a === '10.0.1.2',
        mapSignalling: (a, port) => (direction === 'outbound' ? (a === '10.0.1.2' ? { addr: '203.0.113.1', port } : null) : a === '203.0.113.1' ? { addr: '10.0.1.2', port } : null),
        mapMedia: () => null,
      });
      const out = processSipMessage(b, nat('outbound'));
      assert.ok(out.ok);
      if (contacts.some((c) => c[0] === '10.0.1.2')) assert.ok(out.edits > 0, 'the inside host was rewritten');
      assert.ok(!/@10\.0\.1\.2[:;>]/.test(text(out.bytes).split('\r\nFrom')[1].split('\r\nTo:')[0]) || !fromTo);
      const back = processSipMessage(out.bytes, nat('inbound'));
      assert.ok(back.ok);
      assert.equal(text(back.bytes), text(b));
    }),
    { numRuns: 500 },
  );
});
