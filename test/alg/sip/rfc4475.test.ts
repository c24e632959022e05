/**
 * RFC 4475 torture messages (section 3), transcribed from the RFC text into
 * rfc4475/*.sip with a manifest saying, per message, whether the tokenizer
 * parses it and whether the rewriter rewrites or refuses it (and why).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import {
  parseSipMessage, rewriteSipMessage, applyEdits, frameSipStream,
  type RewriteContext, type SipMessage,
} from '../../../src/alg/sip/index.js';
import { text } from './fixtures.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'rfc4475');

interface Entry {
  section: string;
  title: string;
  rfcClass: 'valid' | 'invalid' | 'semantic';
  parse: 'ok' | 'reject';
  rewrite: 'rewrite' | 'refuse' | 'n/a';
  note: string;
}

const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { messages: Record<string, Entry> };
const names = Object.keys(manifest.messages);
const load = (name: string) => new Uint8Array(readFileSync(join(dir, `${name}.sip`)));

/** Every RFC 4475 address is in 192.0.2.0/24: treat that as "inside" outbound and "our public" inbound. */
function context(direction: 'outbound' | 'inbound'): RewriteContext {
  const inside = (a: string) => a.startsWith('192.0.2.');
  return {
    direction,
    transport: 'udp',
    rewriteFromTo: true,
    isPrivate: (a) => inside(a),
    mapSignalling: (a, port) => (inside(a) ? { addr: a.replace('192.0.2.', direction === 'outbound' ? '203.0.113.' : '10.0.0.'), port: port + 1 } : null),
    mapMedia: (s) => ({ addr: s.addr.replace('192.0.2.', '203.0.113.'), port: s.port + 2 }),
  };
}

const ADDRESS_OR_NUMBER = /^(?:\d{1,3}(?:\.\d{1,3}){3}|\d+|:\d+|)$/;

test('the manifest lists exactly the 49 messages of section 3 and the files are CRLF', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.sip')).map((f) => f.slice(0, -4)).sort();
  assert.deepEqual(files, [...names].sort());
  assert.equal(names.length, 49);
  for (const name of names) {
    const b = load(name);
    const s = text(b);
    const headEnd = s.indexOf('\r\n\r\n');
    assert.ok(headEnd > 0, `${name}: header section ends with an empty line`);
    assert.ok(!/[^\r]\n/.test(s.slice(0, headEnd + 4)), `${name}: CR LF line ends`);
  }
});

for (const name of names) {
  const e = manifest.messages[name];
  test(`${e.section} ${name} (${e.title}): parse ${e.parse}, ${e.rewrite}`, () => {
    const b = load(name);
    const p = parseSipMessage(b);
    assert.equal(p.ok ? 'ok' : 'reject', e.parse, p.ok ? 'parsed' : p.reason);
    if (!p.ok) return;
    // Parsing changes nothing: the message rebuilt with no edits is the input.
    const same = applyEdits(b, []);
    assert.ok(same.ok);
    assert.deepEqual(same.bytes, b);
    for (const direction of ['outbound', 'inbound'] as const) {
      const r = rewriteSipMessage(p.message, context(direction));
      const outcome = r.ok ? 'rewrite' : 'refuse';
      if (direction === 'outbound' || !r.ok) assert.equal(outcome, e.rewrite, r.ok ? 'rewritten' : r.reason);
      if (!r.ok) continue;
      for (const ed of r.edits) {
        assert.match(text(b.subarray(ed.start, ed.end)), ADDRESS_OR_NUMBER, `${name} ${direction}: only addresses, ports and lengths change`);
        assert.match(text(ed.text), ADDRESS_OR_NUMBER);
      }
      const a = applyEdits(b, r.edits);
      assert.ok(a.ok, `${name}: ${a.ok ? '' : a.reason}`);
      const again = parseSipMessage(a.bytes);
      assert.ok(again.ok, `${name} ${direction}: the rewrite parses`);
      assert.deepEqual(again.message.headers.map((h) => h.canonical), p.message.headers.map((h) => h.canonical));
      if (again.message.contentLength !== null && p.message.contentLength === p.message.body.end - p.message.body.start) {
        assert.equal(again.message.contentLength, again.message.body.end - again.message.body.start);
      }
      assert.deepEqual(a.bytes.subarray(again.message.trailing.start), b.subarray(p.message.trailing.start), 'trailing datagram bytes kept');
    }
  });
}

function parsed(name: string): SipMessage {
  const p = parseSipMessage(load(name));
  if (!p.ok) assert.fail(p.reason);
  return p.message;
}

test('wsinv: folded and compact headers read right; only the top Via and the SDP change', () => {
  const m = parsed('wsinv');
  assert.deepEqual(m.headers.map((h) => h.canonical), [
    'to', 'from', 'max-forwards', 'call-id', 'content-length', 'cseq', 'via', 'subject', 'newfangledheader',
    'unknownheaderwithunusualvalue', 'content-type', 'route', 'via', 'contact',
  ]);
  const r = rewriteSipMessage(m, context('outbound'));
  assert.ok(r.ok);
  const out = text((applyEdits(m.bytes, r.edits) as { bytes: Uint8Array }).bytes);
  assert.match(out, /Via {2}: SIP {2}\/ {3}2\.0\r\n \/UDP\r\n {4}203\.0\.113\.2:5061;branch=390skdjuw\r\n/);
  assert.match(out, / SIP {2}\/ {4}2\.0 {3}\/ UDP {2}192\.168\.255\.111 {3}; branch=\r\n z9hG4bK30239\r\n/);
  assert.match(out, /Content-Length {3}: 154\r\n/);
  assert.equal(r.summary.cseq.number, 9);
  assert.equal(r.summary.fromTag, '98asjd8');
  assert.equal(r.summary.toTag, '1918181833n');
});

test('dblreq: the INVITE after Content-Length: 0 is trailing noise, never parsed or changed', () => {
  const m = parsed('dblreq');
  assert.equal(m.body.end - m.body.start, 0);
  assert.match(text(m.bytes.subarray(m.trailing.start, m.trailing.end)), /^\r\nINVITE sip:joe@example\.com/);
});

test('intmeth, esc02, unreason, mpart01, longreq: names, methods, reasons and bodies as written', () => {
  const i = parsed('intmeth');
  assert.equal(i.startLine.kind === 'request' && i.startLine.methodName, "!interesting-Method0123456789_*+`.%indeed'~");
  const esc02 = parsed('esc02');
  assert.deepEqual(esc02.headers.filter((h) => h.canonical.includes('ntact')).map((h) => h.canonical), ['contact', 'c%6fntact', 'contact']);
  const u = parsed('unreason');
  assert.equal(u.startLine.kind === 'response' && new TextDecoder().decode(u.bytes.subarray(u.startLine.reason.start, u.startLine.reason.end)), '= 2**3 * 5**2 но сто девяносто девять - простое');
  const mp = parsed('mpart01');
  assert.equal(mp.body.end - mp.body.start, 553);
  assert.ok(mp.bytes.subarray(mp.body.start, mp.body.end).includes(0), 'binary body with NUL bytes');
  const lr = parsed('longreq');
  assert.equal(lr.headers.filter((h) => h.canonical === 'via').length, 34);
});

test('stream framing agrees with the datagram parse on every message that has a Content-Length', () => {
  for (const name of names) {
    const b = load(name);
    const p = parseSipMessage(b);
    const f = frameSipStream(b);
    if (p.ok && p.message.contentLength !== null) {
      assert.equal(f.kind, 'message', name);
      assert.equal(f.kind === 'message' && f.length, p.message.end, name);
    }
  }
  assert.equal(frameSipStream(load('inv2543')).kind, 'error', 'no Content-Length on a stream');
  assert.equal(frameSipStream(load('clerr')).kind, 'need-more');
  assert.equal(frameSipStream(load('ncl')).kind, 'error');
  assert.equal(frameSipStream(load('mcl01')).kind, 'error');
});
