/** RESP2 encoding and the incremental, bounded reply parser (no Redis needed). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeCommand, RespError, RespParser, RespProtocolError, respText, type RespValue } from '../../src/rendezvous/redis/resp.js';
import { parseRedisUrl } from '../../src/rendezvous/redis/client.js';

const bytes = (s: string) => Buffer.from(s, 'binary');

test('commands are arrays of bulk strings', () => {
  assert.equal(encodeCommand(['SET', 'k', 42, Uint8Array.from([0, 13, 10])]).toString('binary'), '*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n42\r\n$3\r\n\x00\r\n\r\n');
});

const WIRE = '+OK\r\n-ERR no\r\n:-12\r\n$5\r\nhe\r\nl\r\n$-1\r\n*3\r\n:1\r\n*1\r\n$0\r\n\r\n*-1\r\n*0\r\n';

function expected(): RespValue[] {
  return ['OK', new RespError('ERR no'), -12, Buffer.from('he\r\nl'), null, [1, [Buffer.alloc(0)], null], []];
}

test('every reply type, whole and split at every byte', () => {
  const whole = new RespParser().push(bytes(WIRE));
  assert.deepEqual(whole, expected());
  for (let cut = 1; cut < WIRE.length; cut++) {
    const p = new RespParser();
    const got = [...p.push(bytes(WIRE.slice(0, cut))), ...p.push(bytes(WIRE.slice(cut)))];
    assert.deepEqual(got, expected(), `cut at ${cut}`);
  }
  const p = new RespParser();
  const oneByOne = [...WIRE].flatMap((ch) => p.push(bytes(ch)));
  assert.deepEqual(oneByOne, expected());
});

test('limits and malformed replies raise RespProtocolError', () => {
  const limits = { maxBulk: 10, maxArray: 3, maxBuffered: 64, maxDepth: 2 };
  assert.throws(() => new RespParser(limits).push(bytes('$11\r\n')), RespProtocolError);
  assert.throws(() => new RespParser(limits).push(bytes('*4\r\n')), RespProtocolError);
  assert.throws(() => new RespParser(limits).push(bytes('*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n')), /deep/);
  assert.throws(() => new RespParser(limits).push(bytes(`$10\r\n${'x'.repeat(9)}`.padEnd(70, 'y'))), RespProtocolError);
  assert.throws(() => new RespParser().push(bytes('?\r\n')), /unknown reply type/);
  assert.throws(() => new RespParser().push(bytes(':12a\r\n')), /bad integer/);
  assert.throws(() => new RespParser().push(bytes('$2\r\nabcd')), /CRLF/);
});

test('respText', () => {
  assert.equal(respText(Buffer.from('x')), 'x');
  assert.equal(respText(null), null);
  assert.equal(respText(3), '3');
  assert.throws(() => respText([]));
});

test('property: arbitrary bytes fed in arbitrary chunks throw nothing but RespProtocolError', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 10 }), (chunks) => {
      const p = new RespParser({ maxBulk: 1000, maxArray: 100, maxBuffered: 4096, maxDepth: 4 });
      try {
        for (const c of chunks) p.push(c);
      } catch (err) {
        if (!(err instanceof RespProtocolError)) throw err;
      }
    }),
    { numRuns: 2000 },
  );
});

test('Redis URLs', () => {
  assert.deepEqual(parseRedisUrl('redis://127.0.0.1:6380/2'), { host: '127.0.0.1', port: 6380, db: 2 });
  assert.deepEqual(parseRedisUrl('redis://:pw@h'), { host: 'h', port: 6379, password: 'pw' });
  assert.throws(() => parseRedisUrl('http://x'), /scheme/);
  assert.throws(() => parseRedisUrl('nope'), /not a Redis URL/);
});
