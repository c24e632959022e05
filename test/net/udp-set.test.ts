/**
 * The UDP socket set (native/udp-set.cc, src/net/udp-set.ts) on loopback:
 * many sockets behind one wake, each datagram handed to the socket it
 * arrived on with its source, sends leaving from the right port, closed
 * members silent, errors thrown or counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { UdpSocketSet, udpSetNetEnv } from '../../src/net/udp-set.js';
import { batchedSkip } from './udp-implementations.js';

const skip = batchedSkip;

async function peer(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}

test('datagrams to many sockets arrive on their own socket, from their sender, in fewer wakes than datagrams', { skip }, async () => {
  const set = UdpSocketSet.open();
  const p = await peer();
  try {
    const N = 200;
    const got: Array<Array<{ text: string; address: string; port: number }>> = [];
    const members = Array.from({ length: N }, (_, i) => {
      got.push([]);
      const m = set.bind({ address: '127.0.0.1' });
      m.onDatagram((data, address, port) => got[i].push({ text: Buffer.from(data).toString(), address, port }));
      return m;
    });
    assert.equal(set.size, N);
    // Sent in one go: the set's wakes each find many ready sockets.
    for (let round = 0; round < 3; round++) for (let i = 0; i < N; i++) p.send(`s${i}r${round}`, members[i].local.port, '127.0.0.1');
    await until(() => got.every((g) => g.length === 3));
    const me = p.address();
    for (let i = 0; i < N; i++) {
      assert.deepEqual(got[i].map((g) => g.text), [`s${i}r0`, `s${i}r1`, `s${i}r2`]);
      for (const g of got[i]) assert.deepEqual([g.address, g.port], ['127.0.0.1', me.port]);
    }
    const c = set.counters;
    assert.equal(c.datagramsIn, 3 * N);
    assert.ok(c.wakes < c.datagramsIn, `${c.wakes} wakes for ${c.datagramsIn} datagrams`);
    assert.ok(c.readySockets <= c.datagramsIn);
  } finally {
    p.close();
    set.close();
  }
});

test('a member sends from its own port; sends of one handler leave together', { skip }, async () => {
  const set = UdpSocketSet.open();
  const p = await peer();
  try {
    const a = set.bind({ address: '127.0.0.1' });
    const b = set.bind({ address: '127.0.0.1' });
    const seen: Array<{ text: string; port: number }> = [];
    p.on('message', (msg, rinfo) => seen.push({ text: msg.toString(), port: rinfo.port }));
    // A relay: what reaches a leaves from b toward the peer, and back.
    a.onDatagram((data, address, port) => b.sendTo(data, address, port));
    b.onDatagram((data) => a.sendTo(data, '127.0.0.1', p.address().port));
    p.send('ping', a.local.port, '127.0.0.1');
    await until(() => seen.length >= 1);
    assert.deepEqual(seen[0], { text: 'ping', port: b.local.port });
    p.send('pong', b.local.port, '127.0.0.1');
    await until(() => seen.length >= 2);
    assert.deepEqual(seen[1], { text: 'pong', port: a.local.port });
    // Outside a wake, sends go out at the end of the turn.
    for (let i = 0; i < 10; i++) a.send(new TextEncoder().encode(`x${i}`), p.address() as { address: string; port: number });
    await until(() => seen.length >= 12);
    assert.deepEqual(seen.slice(2).map((s) => s.text), Array.from({ length: 10 }, (_, i) => `x${i}`));
    assert.equal(set.counters.datagramsOut, 12);
    assert.equal(set.counters.sendErrors, 0);
  } finally {
    p.close();
    set.close();
  }
});

test('onMessage gets copies that outlive the wake; a closed member hears nothing and frees its port', { skip }, async () => {
  const set = UdpSocketSet.open();
  const p = await peer();
  try {
    const a = set.bind({ address: '127.0.0.1' });
    const kept: Uint8Array[] = [];
    a.onMessage((data) => kept.push(data));
    p.send('first', a.local.port, '127.0.0.1');
    await until(() => kept.length === 1);
    p.send('second', a.local.port, '127.0.0.1');
    await until(() => kept.length === 2);
    assert.deepEqual(kept.map((k) => Buffer.from(k).toString()), ['first', 'second']);
    const port = a.local.port;
    a.close();
    a.close();
    assert.equal(set.size, 0);
    assert.throws(() => a.sendTo(new Uint8Array(1), '127.0.0.1', 9), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
    p.send('late', port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(kept.length, 2);
    // Its port is free again; a port held by another member is refused by bind(2).
    const again = set.bind({ address: '127.0.0.1', port });
    assert.equal(again.local.port, port);
    assert.throws(() => set.bind({ address: '127.0.0.1', port }), { code: 'EADDRINUSE' });
  } finally {
    p.close();
    set.close();
  }
});

test('datagrams longer than a slot are dropped and counted; bad ports throw', { skip }, async () => {
  const set = UdpSocketSet.open({ maxDatagramSize: 100 });
  const p = await peer();
  try {
    const a = set.bind({ address: '127.0.0.1' });
    const got: number[] = [];
    a.onDatagram((data) => got.push(data.length));
    p.send(Buffer.alloc(500), a.local.port, '127.0.0.1');
    p.send(Buffer.alloc(100), a.local.port, '127.0.0.1');
    await until(() => got.length === 1 && set.counters.truncated === 1);
    assert.deepEqual(got, [100]);
    assert.equal(set.counters.truncated, 1);
    assert.throws(() => a.sendTo(new Uint8Array(1), '127.0.0.1', 0), { code: 'ERR_SOCKET_BAD_PORT' });
  } finally {
    p.close();
    set.close();
  }
});

test('udpSetNetEnv: UdpSockets of one set, round trip between two members', { skip }, async () => {
  const env = udpSetNetEnv();
  const a = await env.bindUdp({ address: '127.0.0.1' });
  const b = await env.bindUdp({ address: '127.0.0.1' });
  try {
    const got: string[] = [];
    b.onMessage((data, from) => got.push(`${Buffer.from(data).toString()} ${from.port === a.local.port}`));
    a.send(new TextEncoder().encode('hello'), b.local);
    await until(() => got.length === 1);
    assert.deepEqual(got, ['hello true']);
    assert.equal(env.set()?.size, 2);
  } finally {
    a.close();
    b.close();
    env.set()?.close();
  }
});
