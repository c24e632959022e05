import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseSipMessage, findHeader, findHeaders, headerValue, unfoldedValue, canonicalHeaderName, headerNameId, HEADER_NAMES, HeaderId, MAX_HEADERS, type SipMessage,
} from '../../../src/alg/sip/index.js';
import fc from 'fast-check';
import { tokenNameId } from '../../../src/alg/sip/header-names.js';
import { sip, latin1Bytes, text } from './fixtures.js';

function parsed(b: Uint8Array, stream = false): SipMessage {
  const r = parseSipMessage(b, { transport: stream ? 'stream' : 'datagram' });
  if (!r.ok) assert.fail(`parse failed: ${r.reason}`);
  return r.message;
}

function span(m: SipMessage, s: { start: number; end: number }): string {
  return text(m.bytes.subarray(s.start, s.end));
}

test('request line, headers and body are offsets into the input', () => {
  const b = sip(
    ['INVITE sip:bob@example.com SIP/2.0', 'Via: SIP/2.0/UDP 10.0.1.2:5060;branch=z9hG4bK1', 'Content-Length: 4'],
    'body',
  );
  const m = parsed(b);
  assert.equal(m.startLine.kind, 'request');
  if (m.startLine.kind !== 'request') return;
  assert.equal(m.startLine.methodName, 'INVITE');
  assert.equal(span(m, m.startLine.uri), 'sip:bob@example.com');
  assert.equal(span(m, m.startLine.version), 'SIP/2.0');
  assert.equal(m.headers.length, 2);
  assert.equal(span(m, m.headers[0].name), 'Via');
  assert.equal(m.headers[0].canonical, 'via');
  assert.equal(span(m, m.headers[0].value), 'SIP/2.0/UDP 10.0.1.2:5060;branch=z9hG4bK1');
  assert.equal(m.contentLength, 4);
  assert.equal(span(m, m.body), 'body');
  assert.equal(m.bytes, b, 'no copy');
});

test('status line: code, reason (empty allowed), version', () => {
  const m = parsed(sip(['SIP/2.0 180 Ringing', 'l: 0']));
  assert.equal(m.startLine.kind, 'response');
  if (m.startLine.kind !== 'response') return;
  assert.equal(m.startLine.code, 180);
  assert.equal(span(m, m.startLine.reason), 'Ringing');
  const e = parsed(sip(['SIP/2.0 100 ', 'l: 0']));
  assert.equal(e.startLine.kind === 'response' && span(e, e.startLine.reason), '');
  const bare = parsed(sip(['SIP/2.0 200', 'l: 0']));
  assert.equal(bare.startLine.kind === 'response' && bare.startLine.code, 200);
});

test('compact forms map to full names, case-insensitively', () => {
  const cases: [string, string][] = [
    ['a', 'accept-contact'], ['b', 'referred-by'], ['c', 'content-type'], ['e', 'content-encoding'],
    ['f', 'from'], ['i', 'call-id'], ['k', 'supported'], ['l', 'content-length'], ['m', 'contact'],
    ['o', 'event'], ['r', 'refer-to'], ['s', 'subject'], ['t', 'to'], ['u', 'allow-events'],
    ['v', 'via'], ['x', 'session-expires'], ['y', 'identity'], ['V', 'via'], ['VIA', 'via'],
    ['cOnTaCt', 'contact'], ['Content-LENGTH', 'content-length'], ['X-Custom-Thing', 'x-custom-thing'],
  ];
  for (const [name, canonical] of cases) {
    const b = latin1Bytes(name);
    assert.equal(canonicalHeaderName(b, 0, b.length), canonical, name);
  }
});

test('folded values keep their bytes; unfoldedValue gives the logical value', () => {
  const b = sip(['OPTIONS sip:a@b SIP/2.0', 'Subject: first', '  second', '\tthird', 'NoValue:', 'Empty :   ', 'l: 0']);
  const m = parsed(b);
  const subject = m.headers[0];
  assert.equal(span(m, subject.value), 'first\r\n  second\r\n\tthird');
  assert.equal(unfoldedValue(m, subject), 'first second third');
  assert.equal(span(m, m.headers[1].value), '');
  assert.equal(span(m, m.headers[2].name), 'Empty');
  assert.equal(span(m, m.headers[2].value), '');
  assert.equal(findHeaders(m, 'content-length').length, 1);
});

test('a value that starts on a folded line', () => {
  const m = parsed(sip(['OPTIONS sip:a@b SIP/2.0', 'Route:', ' <sip:p.example.com;lr>', 'l: 0']));
  assert.equal(span(m, m.headers[0].value), '<sip:p.example.com;lr>');
});

test('leading CR LF (keep-alives) are skipped', () => {
  const b = latin1Bytes('\r\n\r\n' + text(sip(['OPTIONS sip:a@b SIP/2.0', 'l: 0'])));
  const m = parsed(b);
  assert.equal(m.start, 4);
  const k = parseSipMessage(latin1Bytes('\r\n\r\n'));
  assert.equal(k.ok, false);
  assert.match(k.ok ? '' : k.reason, /keep-alive/);
});

test('datagram framing (RFC 3261 18.3)', () => {
  // Content-Length absent: the body is the rest of the datagram.
  const noCl = parsed(sip(['MESSAGE sip:a@b SIP/2.0'], 'hello'));
  assert.equal(noCl.contentLength, null);
  assert.equal(span(noCl, noCl.body), 'hello');
  // Shorter: the rest is trailing and ignored.
  const short = parsed(sip(['MESSAGE sip:a@b SIP/2.0', 'Content-Length: 2'], 'hello'));
  assert.equal(span(short, short.body), 'he');
  assert.equal(span(short, short.trailing), 'llo');
  assert.equal(short.end, short.body.end);
  // Longer: malformed.
  const long = parseSipMessage(sip(['MESSAGE sip:a@b SIP/2.0', 'Content-Length: 9'], 'hello'));
  assert.equal(long.ok, false);
});

test('stream framing requires Content-Length', () => {
  assert.equal(parseSipMessage(sip(['MESSAGE sip:a@b SIP/2.0'], 'x'), { transport: 'stream' }).ok, false);
  const m = parsed(sip(['MESSAGE sip:a@b SIP/2.0', 'l: 1'], 'x'), true);
  assert.equal(span(m, m.body), 'x');
  const t = parseSipMessage(sip(['MESSAGE sip:a@b SIP/2.0', 'l: 5'], 'x'), { transport: 'stream' });
  assert.equal(t.ok === false && t.reason, 'message truncated');
});

test('rejects what cannot be framed safely', () => {
  const bad: [string, string][] = [
    ['bare LF line ends', 'OPTIONS sip:a@b SIP/2.0\nl: 0\n\n'],
    ['bare LF in a header', 'OPTIONS sip:a@b SIP/2.0\r\nX: a\nb\r\nl: 0\r\n\r\n'],
    ['bare CR in a header', 'OPTIONS sip:a@b SIP/2.0\r\nX: a\rb\r\nl: 0\r\n\r\n'],
    ['no blank line', 'OPTIONS sip:a@b SIP/2.0\r\nl: 0\r\n'],
    ['header without colon', 'OPTIONS sip:a@b SIP/2.0\r\nGarbage\r\n\r\n'],
    ['continuation first', 'OPTIONS sip:a@b SIP/2.0\r\n folded: x\r\n\r\n'],
    ['two Content-Length', 'OPTIONS sip:a@b SIP/2.0\r\nl: 0\r\nContent-Length: 0\r\n\r\n'],
    ['negative Content-Length', 'OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n'],
    ['word Content-Length', 'OPTIONS sip:a@b SIP/2.0\r\nContent-Length: five\r\n\r\n'],
    ['SIP/3.0', 'OPTIONS sip:a@b SIP/3.0\r\nl: 0\r\n\r\n'],
    ['status 99', 'SIP/2.0 099 Low\r\nl: 0\r\n\r\n'],
    ['status 700', 'SIP/2.0 700 High\r\nl: 0\r\n\r\n'],
    ['empty', ''],
    ['junk', '\x00\x00\x00\x00'],
  ];
  for (const [what, s] of bad) assert.equal(parseSipMessage(latin1Bytes(s)).ok, false, what);
});

test('bytes outside the message range are not read', () => {
  const inner = text(sip(['OPTIONS sip:a@b SIP/2.0', 'l: 0']));
  const b = latin1Bytes('XXXX' + inner + 'YYYY');
  const r = parseSipMessage(b, undefined, 4, 4 + inner.length);
  assert.ok(r.ok);
  assert.equal(r.ok && r.message.trailing.end - r.message.trailing.start, 0);
  assert.equal(parseSipMessage(b, undefined, 10, 5).ok, false);
  assert.equal(parseSipMessage(b, undefined, -1, 5).ok, false);
  assert.equal(parseSipMessage(b, undefined, 0, b.length + 1).ok, false);
});

test('junk before a request in one datagram is not SIP (sip_sip-junk-before-request)', () => {
  assert.equal(parseSipMessage(new Uint8Array([0, 0, 0, 0])).ok, false);
  const reg = parsed(latin1Bytes('REGISTER sip:1.1.1.1:5060 SIP/2.0\r\nExpires: 3600\r\n\r\n'));
  assert.equal(reg.startLine.kind === 'request' && reg.startLine.methodName, 'REGISTER');
});

test('the flat accessors agree with the header objects; findHeader(s) by known, compact and unknown names', () => {
  const b = sip([
    'INVITE sip:bob@example.com SIP/2.0', 'v: SIP/2.0/UDP 10.0.1.2', 'Via: SIP/2.0/UDP 10.0.1.3', 'X-Thing: a', 'CALL-ID: c1',
    'x-thing: b', 'l: 0',
  ]);
  const m = parsed(b);
  assert.equal(m.headerCount, m.headers.length);
  m.headers.forEach((h, k) => {
    assert.deepEqual(headerValue(m, k), h.value);
    assert.equal(m.valueStart(k), h.value.start);
    assert.equal(m.valueEnd(k), h.value.end);
    assert.equal(m.headerId(k) >= 0 ? HEADER_NAMES[m.headerId(k)] : null, HEADER_NAMES.includes(h.canonical) ? h.canonical : null);
  });
  assert.equal(m.headerId(0), HeaderId.via);
  assert.equal(m.headerId(2), -1);
  assert.equal(m.headerId(3), HeaderId.callId);
  assert.deepEqual(findHeaders(m, 'via'), [0, 1]);
  assert.deepEqual(findHeaders(m, 'x-thing'), [2, 4]);
  assert.equal(findHeader(m, 'call-id'), 3);
  assert.equal(findHeader(m, 'content-length'), 5);
  assert.equal(findHeader(m, 'v'), -1, 'compact forms are looked up by their full name');
  assert.equal(findHeader(m, 'route'), -1);
  assert.strictEqual(m.headers, m.headers, 'the objects are made once');
});

test('messages kept while thousands more are parsed keep their headers', () => {
  const keep: { m: SipMessage; values: string[] }[] = [];
  for (let k = 0; k < 4000; k++) {
    const lines = ['OPTIONS sip:a@b SIP/2.0', ...Array.from({ length: 1 + (k % 40) }, (_, j) => `X-H${j}: ${k}-${j}`), 'l: 0'];
    const m = parsed(sip(lines));
    if (k % 101 === 0) keep.push({ m, values: Array.from({ length: m.headerCount }, (_, j) => span(m, headerValue(m, j))) });
  }
  for (const { m, values } of keep) {
    assert.deepEqual(Array.from({ length: m.headerCount }, (_, j) => span(m, headerValue(m, j))), values);
    assert.deepEqual(m.headers.map((h) => span(m, h.value)), values);
  }
});

test('the header limit: MAX_HEADERS parse, one more does not', () => {
  const head = (n: number) => ['OPTIONS sip:a@b SIP/2.0', ...Array.from({ length: n - 1 }, (_, j) => `X-${j}: v`), 'l: 0'];
  const m = parsed(sip(head(MAX_HEADERS)));
  assert.equal(m.headerCount, MAX_HEADERS);
  const r = parseSipMessage(sip(head(MAX_HEADERS + 1)));
  assert.equal(r.ok === false && r.reason, 'too many headers');
});

test('property: the tokenizer\'s name lookup equals headerNameId on every token-character name', () => {
  const token = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`\'~'.split(''));
  const known = fc.constantFrom(...HEADER_NAMES, 'v', 'i', 'l', 'm', 'f', 't', 'c', 'k', 'x', 'y');
  // Known names with some letters upper-cased or one character changed, and arbitrary tokens.
  const name = fc.oneof(
    fc.tuple(known, fc.array(fc.boolean(), { maxLength: 40 })).map(([n, up]) => [...n].map((ch, i) => (up[i] ? ch.toUpperCase() : ch)).join('')),
    fc.tuple(known, fc.nat(), token).map(([n, at, ch]) => n.slice(0, at % n.length) + ch + n.slice((at % n.length) + 1)),
    fc.array(token, { minLength: 1, maxLength: 20 }).map((a) => a.join('')),
  );
  fc.assert(
    fc.property(name, (n) => {
      const b = latin1Bytes(n);
      assert.equal(tokenNameId(b, 0, b.length), headerNameId(b, 0, b.length), n);
    }),
    { numRuns: 3000 },
  );
});
