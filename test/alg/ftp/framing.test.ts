/**
 * FTP control-connection framing: command lines from the client, whole
 * replies (multi-line included) from the server, each direction held to what
 * it started as; HTTP, TLS and binary bytes are not FTP. Any split of a
 * stream into segments frames the same messages as the whole.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { frameFtpStream, MAX_COMMAND_LINE, MAX_REPLY } from '../../../src/alg/ftp/index.js';
import { FrameResume } from '../../../src/alg/tcp-stream.js';
import { frameInPieces } from '../stream-frames.js';

const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

test('client commands are framed one line each, at LF (CR LF or not)', () => {
  const s = 'USER anonymous\r\nPASS x@y\r\nPORT 10,0,0,2,156,64\r\nLIST\nQUIT\r\n';
  const f = frameInPieces(frameFtpStream, bytes(s));
  assert.deepEqual(f.messages, ['USER anonymous\r\n', 'PASS x@y\r\n', 'PORT 10,0,0,2,156,64\r\n', 'LIST\n', 'QUIT\r\n']);
  assert.equal(f.passedThrough, false);
});

test('Telnet IAC IP IAC DM before ABOR is part of the command line', () => {
  const s = '\xff\xf4\xff\xf2ABOR\r\nPWD\r\n';
  const f = frameInPieces(frameFtpStream, bytes(s), [1, 2, 3, 5]);
  assert.deepEqual(f.messages, ['\xff\xf4\xff\xf2ABOR\r\n', 'PWD\r\n']);
});

test('server replies are framed whole: one line, or every line of a multi-line reply', () => {
  const s =
    '220 (vsFTPd 3.0.3)\r\n' +
    '211-Features:\r\n EPRT\r\n 227 not a reply line\r\n211-still text\r\n211 End\r\n' +
    '230-\r\n    banner\r\n230 Login successful.\r\n' +
    '227 Entering Passive Mode (198,51,100,10,195,80).\r\n';
  const f = frameInPieces(frameFtpStream, bytes(s));
  assert.deepEqual(f.messages, [
    '220 (vsFTPd 3.0.3)\r\n',
    '211-Features:\r\n EPRT\r\n 227 not a reply line\r\n211-still text\r\n211 End\r\n',
    '230-\r\n    banner\r\n230 Login successful.\r\n',
    '227 Entering Passive Mode (198,51,100,10,195,80).\r\n',
  ]);
});

test('a 227 line inside another code\'s multi-line reply is text, not a reply', () => {
  const s = '214-Help\r\n227 Entering Passive Mode (1,2,3,4,5,6)\r\n214 Done\r\n';
  const f = frameInPieces(frameFtpStream, bytes(s));
  assert.deepEqual(f.messages, [s]);
});

test('an HTTP request to port 21 is not FTP: nothing in its body is framed as a command (slipstreaming)', () => {
  const body = 'PORT 10,0,0,2,4,1\r\n';
  const post = `POST /x HTTP/1.1\r\nHost: attacker.example:21\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  const f = frameInPieces(frameFtpStream, bytes(post), [5, 20, post.length - body.length]);
  assert.deepEqual(f.messages, []);
  assert.equal(f.passedThrough, true);
  assert.equal(Buffer.from(f.sent).toString('latin1'), post, 'passed through unchanged');
  // Even with a valid-looking first line, the header line after it is no command.
  const g = frameInPieces(frameFtpStream, bytes(`NOOP\r\nHost: x\r\n\r\n${body}`));
  assert.deepEqual(g.messages, ['NOOP\r\n']);
  assert.equal(g.passedThrough, true);
});

test('HTTP responses, TLS records, binary and empty lines are not FTP', () => {
  for (const s of ['HTTP/1.1 200 OK\r\n\r\n', '\x16\x03\x01\x02\x00\x01', '\r\n', 'X\r\n', 'TOOLONG arg\r\n', '12 short\r\n', '2200 x\r\n']) {
    const f = frameInPieces(frameFtpStream, bytes(s));
    assert.equal(f.passedThrough, true, JSON.stringify(s));
    assert.deepEqual(f.messages, [], JSON.stringify(s));
  }
});

test('a direction keeps its role: a reply code in the client direction ends the parsing', () => {
  const f = frameInPieces(frameFtpStream, bytes('USER a\r\n227 (10,0,0,2,4,1)\r\nPORT 10,0,0,2,4,1\r\n'));
  assert.deepEqual(f.messages, ['USER a\r\n']);
  assert.equal(f.passedThrough, true);
});

test('a TLS ClientHello is refused at its first byte; a long line at the limit', () => {
  assert.equal(frameFtpStream(bytes('\x16'), 0, 1, new FrameResume()).kind, 'error');
  const long = bytes(`STOR ${'a'.repeat(MAX_COMMAND_LINE)}`);
  assert.equal(frameFtpStream(long, 0, long.length, new FrameResume()).kind, 'error');
  const reply = bytes(`250-${'a'.repeat(MAX_REPLY)}\r\n`);
  assert.equal(frameFtpStream(reply, 0, reply.length, new FrameResume()).kind, 'error');
  assert.equal(frameFtpStream(bytes('STOR abc'), 0, 8, new FrameResume()).kind, 'need-more');
});

test('a line in one-byte segments is read once (the scan resumes)', () => {
  const line = bytes(`STOR ${'a'.repeat(4000)}\r\n`);
  const resume = new FrameResume();
  let calls = 0;
  let result;
  for (let n = 1; n <= line.length; n++) {
    calls++;
    result = frameFtpStream(line, 0, n, resume);
    if (result.kind !== 'need-more') break;
  }
  assert.deepEqual(result, { kind: 'message', length: line.length });
  assert.equal(calls, line.length);
  assert.ok(resume.scanned >= line.length - 2, 'the scan position moved with the bytes');
});

const controlStream = fc
  .array(
    fc.oneof(
      fc.constantFrom('USER anonymous\r\n', 'PASV\r\n', 'PORT 10,0,0,2,156,64\r\n', 'EPRT |1|10.0.0.2|40000|\r\n', 'QUIT\n', '\xff\xf4\xff\xf2ABOR\r\n'),
      fc.stringMatching(/^[A-Za-z]{3,4}( [ -~]{0,40})?\r\n$/),
    ),
    { maxLength: 12 },
  )
  .map((a) => a.join(''));
const replyStream = fc
  .array(
    fc.oneof(
      fc.constantFrom('220 ready\r\n', '227 Entering Passive Mode (198,51,100,10,4,1)\r\n', '229 Entering Extended Passive Mode (|||40000|)\r\n', '211-x\r\n y\r\n211 z\r\n'),
      fc.tuple(fc.integer({ min: 100, max: 599 }), fc.stringMatching(/^[ -~]{0,30}$/)).map(([c, t]) => `${c} ${t}\r\n`),
    ),
    { maxLength: 12 },
  )
  .map((a) => a.join(''));

test('property: any split of a control stream frames the messages of the whole', () => {
  fc.assert(
    fc.property(fc.oneof(controlStream, replyStream), fc.array(fc.nat(2000), { maxLength: 12 }), (s, cuts) => {
      const b = bytes(s);
      const whole = frameInPieces(frameFtpStream, b);
      const split = frameInPieces(frameFtpStream, b, cuts);
      assert.deepEqual(split.messages, whole.messages);
      assert.equal(whole.messages.join(''), s, 'every byte framed');
      assert.deepEqual(Buffer.from(split.sent), Buffer.from(b));
    }),
    { numRuns: 500 },
  );
});

test('property: arbitrary bytes never throw, and nothing is lost or changed', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat(400), { maxLength: 8 }), (b, cuts) => {
      const f = frameInPieces(frameFtpStream, b, cuts);
      assert.deepEqual(Buffer.from(f.sent), Buffer.from(b));
      for (let s = 0; s <= b.length; s++) frameFtpStream(b, s, b.length);
    }),
    { numRuns: 1000 },
  );
});

test('a run of Telnet sequences longer than any client sends is not FTP (and costs no rescans)', () => {
  const f = frameInPieces(frameFtpStream, bytes(`${'\xff\xf1'.repeat(9)}NOOP\r\n`));
  assert.equal(f.passedThrough, true);
  assert.deepEqual(f.messages, []);
  assert.deepEqual(frameInPieces(frameFtpStream, bytes(`${'\xff\xf1'.repeat(8)}NOOP\r\n`)).messages, [`${'\xff\xf1'.repeat(8)}NOOP\r\n`]);
});
