import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { frameSipStream, parseSipMessage, MAX_HEADER_SECTION, SipFrameProgress } from '../../../src/alg/sip/index.js';
import { sip, latin1Bytes, text } from './fixtures.js';

const invite = sip(
  ['INVITE sip:bob@example.com SIP/2.0', 'Via: SIP/2.0/TCP 10.0.1.2;branch=z9hG4bK1', 'Content-Length: 5'],
  'hello',
);

test('a complete message reports its length, header length and Content-Length', () => {
  const r = frameSipStream(invite);
  assert.deepEqual(r, { kind: 'message', length: invite.length, headerLength: invite.length - 5, contentLength: 5 });
});

test('every strict prefix needs more bytes', () => {
  for (let n = 1; n < invite.length; n++) {
    const r = frameSipStream(invite.subarray(0, n));
    assert.equal(r.kind, 'need-more', `prefix ${n}`);
  }
});

test('back-to-back messages are framed one after the other', () => {
  const two = latin1Bytes(text(invite) + '\r\n\r\n' + text(invite));
  const first = frameSipStream(two);
  assert.equal(first.kind, 'message');
  if (first.kind !== 'message') return;
  const ka = frameSipStream(two, first.length);
  assert.deepEqual(ka, { kind: 'keepalive', length: 4 });
  const second = frameSipStream(two, first.length + 4);
  assert.equal(second.kind === 'message' && second.length, invite.length);
  // The framed message is exactly what the tokenizer parses.
  const p = parseSipMessage(two, { transport: 'stream' }, 0, first.length);
  assert.ok(p.ok);
});

test('compact and folded Content-Length are read', () => {
  const a = frameSipStream(sip(['MESSAGE sip:a@b SIP/2.0', 'l:3'], 'abc'));
  assert.equal(a.kind === 'message' && a.contentLength, 3);
  const b = frameSipStream(sip(['MESSAGE sip:a@b SIP/2.0', 'Content-Length:', '   3 '], 'abc'));
  assert.equal(b.kind === 'message' && b.contentLength, 3);
  // "content-length" inside another header's folded value is not a header.
  const c = frameSipStream(sip(['MESSAGE sip:a@b SIP/2.0', 'Subject: x', ' Content-Length: 99', 'l: 3'], 'abc'));
  assert.equal(c.kind === 'message' && c.contentLength, 3);
});

test('errors: missing, repeated, invalid Content-Length; bare LF; oversize header', () => {
  const cases: [string, Uint8Array][] = [
    ['missing', sip(['MESSAGE sip:a@b SIP/2.0', 'Via: SIP/2.0/TCP h'])],
    ['repeated', sip(['MESSAGE sip:a@b SIP/2.0', 'l: 0', 'Content-Length: 0'])],
    ['negative', sip(['MESSAGE sip:a@b SIP/2.0', 'l: -1'])],
    ['two numbers', sip(['MESSAGE sip:a@b SIP/2.0', 'l: 1 2'])],
    ['bare LF', latin1Bytes('MESSAGE sip:a@b SIP/2.0\nl: 0\r\n\r\n')],
    ['bare CR', latin1Bytes('MESSAGE sip:a@b SIP/2.0\r\nX: \ry\r\nl: 0\r\n\r\n')],
  ];
  for (const [what, b] of cases) assert.equal(frameSipStream(b).kind, 'error', what);
  const big = latin1Bytes('MESSAGE sip:a@b SIP/2.0\r\nX: ' + 'a'.repeat(MAX_HEADER_SECTION) + '\r\n\r\n');
  assert.equal(frameSipStream(big).kind, 'error');
  assert.equal(frameSipStream(big.subarray(0, 1000)).kind, 'need-more');
});

test('keep-alives and an empty buffer', () => {
  assert.deepEqual(frameSipStream(latin1Bytes('\r\n')), { kind: 'keepalive', length: 2 });
  assert.deepEqual(frameSipStream(latin1Bytes('\r\n\r\nINV')), { kind: 'keepalive', length: 4 });
  assert.deepEqual(frameSipStream(latin1Bytes('\r')), { kind: 'need-more' });
  assert.deepEqual(frameSipStream(new Uint8Array(0)), { kind: 'need-more' });
  assert.equal(frameSipStream(invite, 3, 2).kind, 'error');
});

test('RFC 4475 clerr over a stream waits for the body it announced', () => {
  const b = sip(['INVITE sip:a@b SIP/2.0', 'Content-Length: 9999'], 'v=0\r\n');
  assert.equal(frameSipStream(b).kind, 'need-more');
});

/** Header-section text built from the pieces the framer decides on: line ends (bare ones too), folds, names, digits. */
const framingText = fc
  .tuple(
    fc.constantFrom('', 'INVITE sip:a@b SIP/2.0\r\n', 'SIP/2.0 200 OK\r\n', '\r\n'),
    fc.array(
      fc.constantFrom('\r\n', '\r', '\n', ' ', '\t', ':', 'l', 'L', 'Content-Length', 'content-LENGTH', 'Via', 'X', '0', '5', '12', '99999999', '-', 'Subject: x', '\r\n ', ': ', 'l:', 'l: 3', 'Content-Length: 0', '\r\n\r\n', 'abc', '_', '\u00ff'),
      { maxLength: 40 },
    ),
    fc.constantFrom('', '\r\n\r\n', '\r\n\r\nbody'),
  )
  .map(([first, pieces, end]) => first + pieces.join('') + end);

test('property: resumed from its progress, the framer answers as a scan from the start, at every end', () => {
  fc.assert(
    fc.property(framingText, fc.nat(5), fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 8 }), (s, lead, steps) => {
      // The message sits at `lead` in its buffer: progress offsets are from the message start.
      const b = latin1Bytes('x'.repeat(lead) + s);
      const p = new SipFrameProgress();
      let end = lead;
      for (let k = 0; end < b.length; k++) {
        end = Math.min(b.length, end + steps[k % steps.length]);
        const resumed = frameSipStream(b, lead, end, p);
        assert.deepEqual(resumed, frameSipStream(b, lead, end), JSON.stringify(s.slice(0, end - lead)));
        if (resumed.kind !== 'need-more') {
          assert.equal(p.at, 0, 'after an answer the progress starts afresh');
          break;
        }
      }
    }),
    { numRuns: 3000 },
  );
});

test('progress is relative to the message start: the held bytes may move between calls', () => {
  const p = new SipFrameProgress();
  const head = text(invite).slice(0, 60);
  assert.equal(frameSipStream(latin1Bytes('junk' + head), 4, 4 + head.length, p).kind, 'need-more');
  assert.ok(p.at > 0 && p.pastStartLine);
  // The same bytes, now at offset 0 of a new buffer, with the rest of the message.
  assert.deepEqual(frameSipStream(invite, 0, invite.length, p), frameSipStream(invite));
});
