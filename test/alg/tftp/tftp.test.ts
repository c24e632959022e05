/**
 * The TFTP ALG: the request parser (RRQ, WRQ, options, malformed requests),
 * and through NatEngine.process(): a read or write request opens one pinhole
 * for the server's answer from any of its ports to the client's own port,
 * once and for a bounded time; nothing for other hosts, other datagrams, or
 * without the ALG (address-and-port-dependent filtering drops the answer).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { attachAlg, findAlg } from '../../../src/alg/registry.js';
import { parseTftpRequest } from '../../../src/alg/tftp/index.js';
import { Side, type NatEngine } from '../../../src/nat/engine.js';
import { describe as show, makeEngine, udpPkt } from '../../nat/packets.js';
import { run } from '../tcp-conversation.js';

const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
const rrq = (file: string, mode = 'octet', options = '') => bytes(`\x00\x01${file}\x00${mode}\x00${options}`);
const wrq = (file: string, mode = 'octet', options = '') => bytes(`\x00\x02${file}\x00${mode}\x00${options}`);

const CLIENT = '10.0.0.2';
const SERVER = '198.51.100.10';
const PUBLIC = '203.0.113.1';

function withTftp(alg = true, options?: unknown) {
  const { engine, clock } = makeEngine();
  const def = findAlg('tftp')!;
  const attached = alg ? attachAlg(engine, def, def.defaultPorts, options) : null;
  return { engine, clock, counters: () => attached!.counters() };
}

function send(engine: NatEngine, from: string, to: string, payload: Uint8Array, side: Side): string | null {
  const out = run(engine, udpPkt(from, to, payload), side);
  return out.length ? show(out[0]) : null;
}

test('parser: RRQ and WRQ with their spans, options counted; anything else is other or malformed', () => {
  const r = parseTftpRequest(rrq('rfc1350.txt', 'NetASCII', 'blksize\x001468\x00tsize\x000\x00'));
  assert.equal(r.kind, 'request');
  if (r.kind !== 'request') return;
  assert.equal(r.request.opcode, 1);
  assert.deepEqual(r.request.filename, { start: 2, end: 13 });
  assert.equal(r.request.options, 2);
  assert.equal(parseTftpRequest(wrq('zz.bin', 'octet')).kind, 'request');
  assert.deepEqual(parseTftpRequest(bytes('\x00\x03\x00\x01data')), { kind: 'other', opcode: 3 });
  for (const b of [bytes(''), bytes('\x00'), bytes('\x00\x01file'), bytes('\x00\x01file\x00octet'), rrq('f', 'binary'), rrq('f', 'octet', 'blksize\x00'), rrq('f', 'octet', 'x\x00y\x00'.repeat(40))]) {
    assert.equal(parseTftpRequest(b).kind, 'malformed', JSON.stringify(Buffer.from(b).toString('latin1')));
  }
});

test('property: arbitrary bytes never throw, spans stay inside', () => {
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }), fc.stringMatching(/^\x00[\x01\x02][a-z\x00]{0,30}$/).map(bytes)), (b) => {
      const r = parseTftpRequest(b);
      if (r.kind === 'request') {
        for (const s of [r.request.filename, r.request.mode]) assert.ok(s.start >= 2 && s.end <= b.length && s.start <= s.end);
      }
    }),
    { numRuns: 3000 },
  );
});

test('a read request opens one pinhole: the server\'s answer from a new port reaches the client\'s port, once', () => {
  const { engine, counters } = withTftp();
  assert.equal(send(engine, `${CLIENT}:50618`, `${SERVER}:69`, rrq('rfc1350.txt'), Side.Inside), `${PUBLIC}:50618 > ${SERVER}:69`);
  const [e] = engine.listExpectations();
  assert.equal(e.publicPort, 50618);
  assert.equal(e.remotePort, 0, 'any port of the server');
  assert.equal(send(engine, '198.51.100.99:3445', `${PUBLIC}:50618`, bytes('\x00\x03\x00\x01x'), Side.Outside), null, 'another host');
  assert.equal(send(engine, `${SERVER}:3445`, `${PUBLIC}:50618`, bytes('\x00\x03\x00\x01x'), Side.Outside), `${SERVER}:3445 > ${CLIENT}:50618`);
  // The transfer goes on over the flow it started; a second answer from yet another port does not.
  assert.equal(send(engine, `${CLIENT}:50618`, `${SERVER}:3445`, bytes('\x00\x04\x00\x01'), Side.Inside), `${PUBLIC}:50618 > ${SERVER}:3445`);
  assert.equal(send(engine, `${SERVER}:3445`, `${PUBLIC}:50618`, bytes('\x00\x03\x00\x02x'), Side.Outside), `${SERVER}:3445 > ${CLIENT}:50618`);
  assert.equal(send(engine, `${SERVER}:3446`, `${PUBLIC}:50618`, bytes('\x00\x03\x00\x01x'), Side.Outside), null, 'once');
  assert.equal(counters().readRequests, 1);
  assert.equal(counters().pinholes, 1);
});

test('without the ALG the answer from the server\'s new port is filtered', () => {
  const { engine } = withTftp(false);
  send(engine, `${CLIENT}:50618`, `${SERVER}:69`, rrq('f'), Side.Inside);
  assert.equal(send(engine, `${SERVER}:3445`, `${PUBLIC}:50618`, bytes('\x00\x03\x00\x01x'), Side.Outside), null);
});

test('a write request, repeated: one pinhole, the latest; it lasts its bounded time', () => {
  const { engine, clock, counters } = withTftp(true, { replySeconds: 5 });
  send(engine, `${CLIENT}:44618`, `${SERVER}:69`, wrq('zz.bin'), Side.Inside);
  send(engine, `${CLIENT}:44618`, `${SERVER}:69`, wrq('zz.bin'), Side.Inside);
  assert.equal(engine.listExpectations().length, 1);
  assert.equal(counters().replaced, 1);
  clock.advance(6000);
  engine.tick(clock.now());
  assert.equal(send(engine, `${SERVER}:62058`, `${PUBLIC}:44618`, bytes('\x00\x04\x00\x00'), Side.Outside), null);
});

test('datagrams to port 69 that are not requests open nothing and pass as they are', () => {
  const { engine, counters } = withTftp();
  for (const p of [bytes('\x00\x05\x00\x01oops\x00'), bytes('GET / HTTP/1.1\r\n\r\n'), rrq('f', 'unknown')]) {
    assert.equal(send(engine, `${CLIENT}:40000`, `${SERVER}:69`, p, Side.Inside), `${PUBLIC}:40000 > ${SERVER}:69`);
  }
  assert.equal(engine.listExpectations().length, 0);
  assert.equal(counters().notRequests, 3);
});

test('a request from outside to an inside server needs nothing: its answer leaves as a new outbound flow', () => {
  const { engine } = (() => {
    const { engine } = makeEngine({ forwards: [{ protocol: 'udp', port: 69, to: '10.0.0.5' }] });
    const def = findAlg('tftp')!;
    attachAlg(engine, def);
    return { engine };
  })();
  assert.equal(send(engine, '198.51.100.20:40000', `${PUBLIC}:69`, rrq('f'), Side.Outside), '198.51.100.20:40000 > 10.0.0.5:69');
  assert.equal(engine.listExpectations().length, 0);
  const out = send(engine, '10.0.0.5:33000', '198.51.100.20:40000', bytes('\x00\x03\x00\x01x'), Side.Inside);
  assert.ok(out?.endsWith('> 198.51.100.20:40000'));
});
