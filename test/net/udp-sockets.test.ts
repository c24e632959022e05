/**
 * The UdpSocket contract on real loopback sockets, held on both
 * implementations (node:dgram and the batched addon): what arrives, from whom,
 * at what sizes, in what numbers, and what happens around errors and close.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import type { Endpoint, UdpSocket } from '../../src/net/udp.js';
import { udpImplementations } from './udp-implementations.js';

interface Received {
  data: Uint8Array;
  from: Endpoint;
}

/** Collects what a socket receives; `until` waits (bounded) for a count. */
function collect(sock: UdpSocket) {
  const got: Received[] = [];
  sock.onMessage((data, from) => got.push({ data, from }));
  return {
    got,
    async until(n: number, timeoutMs = 5000): Promise<Received[]> {
      const deadline = Date.now() + timeoutMs;
      while (got.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      return got;
    },
  };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

const hasIpv6Loopback = Object.values(networkInterfaces()).some((list) => list?.some((i) => i.family === 'IPv6' && i.address === '::1'));

for (const impl of udpImplementations) {
  describe(`UdpSocket over ${impl.io}`, { skip: impl.skip }, () => {
    const bind = (address: string, extra: { port?: number } = {}) => impl.env.bindUdp({ address, ...extra });

    test('IPv4: a datagram arrives whole, from the sender\'s own address and port', async () => {
      const a = await bind('127.0.0.1');
      const b = await bind('127.0.0.1');
      try {
        assert.equal(a.local.address, '127.0.0.1');
        assert.ok(a.local.port > 0);
        const rx = collect(b);
        a.send(Uint8Array.from([1, 2, 3]), b.local);
        const [m] = await rx.until(1);
        assert.deepEqual([...m.data], [1, 2, 3]);
        assert.deepEqual(m.from, a.local);
        // The answer goes back to the address the datagram came from.
        const back = collect(a);
        b.send(Uint8Array.from([9]), m.from);
        assert.deepEqual([...(await back.until(1))[0].data], [9]);
      } finally {
        a.close();
        b.close();
      }
    });

    test('IPv6: ::1 to ::1, and a dual-stack socket sees IPv4 senders as ::ffff:a.b.c.d', { skip: hasIpv6Loopback ? false : 'no ::1 on this host' }, async () => {
      const a = await bind('::1');
      const any6 = await bind('::');
      const v4 = await bind('127.0.0.1');
      try {
        assert.equal(a.local.address, '::1');
        assert.equal(any6.local.address, '::');
        const rx = collect(any6);
        a.send(Uint8Array.from([6]), { address: '::1', port: any6.local.port });
        v4.send(Uint8Array.from([4]), { address: '127.0.0.1', port: any6.local.port });
        const got = await rx.until(2);
        assert.equal(got.length, 2);
        const byByte = new Map(got.map((m) => [m.data[0], m.from]));
        assert.deepEqual(byByte.get(6), { address: '::1', port: a.local.port });
        assert.deepEqual(byByte.get(4), { address: '::ffff:127.0.0.1', port: v4.local.port });
        // And back to the mapped address, from the IPv6 socket.
        const back = collect(v4);
        any6.send(Uint8Array.from([5]), byByte.get(4)!);
        assert.deepEqual([...(await back.until(1))[0].data], [5]);
      } finally {
        a.close();
        any6.close();
        v4.close();
      }
    });

    test('sizes: empty, one byte and the largest IPv4 datagram (65507 bytes) arrive whole; a larger one is refused and the socket goes on', async () => {
      const a = await bind('127.0.0.1');
      const b = await impl.env.bindUdp({ address: '127.0.0.1' });
      try {
        const rx = collect(b);
        const big = new Uint8Array(65507).map((_, i) => i * 7);
        a.send(new Uint8Array(0), b.local);
        a.send(Uint8Array.from([42]), b.local);
        a.send(big, b.local);
        a.send(new Uint8Array(65508), b.local);
        a.send(Uint8Array.from([43]), b.local);
        const got = await rx.until(4);
        await pause(50);
        assert.deepEqual(
          got.map((m) => m.data.length),
          [0, 1, 65507, 1],
        );
        assert.ok(Buffer.from(got[2].data).equals(big));
        assert.equal(got[3].data[0], 43);
      } finally {
        a.close();
        b.close();
      }
    });

    test('large batches: 2000 datagrams, 150 sent in each turn, all arrive, in order, each its own', async () => {
      const a = await bind('127.0.0.1');
      const b = await bind('127.0.0.1');
      try {
        const rx = collect(b);
        const n = 2000;
        for (let i = 0; i < n; i++) {
          a.send(Uint8Array.from([i >> 8, i & 0xff, 0xaa, i % 251]), b.local);
          // Then let the receiver catch up: loopback drops what the receive buffer (212 KiB by default) cannot hold.
          if (i % 150 === 149) await rx.until(i + 1);
        }
        const got = await rx.until(n);
        assert.equal(got.length, n);
        got.forEach((m, i) => assert.deepEqual([...m.data], [i >> 8, i & 0xff, 0xaa, i % 251], `datagram ${i}`));
        // Each is a copy of its own: keeping one does not see later ones.
        assert.notEqual(got[0].data.buffer, got[1].data.buffer);
      } finally {
        a.close();
        b.close();
      }
    });

    test('a send to a port nobody listens on (ICMP port unreachable) does not stop the socket', async () => {
      const a = await bind('127.0.0.1');
      const dead = await bind('127.0.0.1');
      const deadPort = dead.local.port;
      dead.close();
      const b = await bind('127.0.0.1');
      try {
        const rx = collect(a);
        for (let i = 0; i < 5; i++) a.send(Uint8Array.from([i]), { address: '127.0.0.1', port: deadPort });
        await pause(30);
        a.send(Uint8Array.from([1]), b.local);
        b.onMessage((data, from) => b.send(data, from));
        const got = await rx.until(1);
        assert.equal(got.length, 1);
        assert.deepEqual(got[0].from, b.local);
      } finally {
        a.close();
        b.close();
      }
    });

    test('a name as destination is resolved (localhost)', async () => {
      const a = await bind('127.0.0.1');
      const b = await bind('127.0.0.1');
      try {
        const rx = collect(b);
        a.send(Uint8Array.from([7]), { address: 'localhost', port: b.local.port });
        assert.deepEqual([...(await rx.until(1))[0].data], [7]);
      } finally {
        a.close();
        b.close();
      }
    });

    test('closed sockets: close twice is fine, sending after close throws, nothing is delivered after close, the port is free again', async () => {
      const a = await bind('127.0.0.1');
      const b = await bind('127.0.0.1');
      const rx = collect(b);
      b.close();
      b.close();
      assert.throws(() => b.send(Uint8Array.from([1]), a.local), (e: NodeJS.ErrnoException) => e.code === 'ERR_SOCKET_DGRAM_NOT_RUNNING');
      a.send(Uint8Array.from([1]), b.local);
      await pause(50);
      assert.equal(rx.got.length, 0);
      const again = await bind('127.0.0.1', { port: b.local.port });
      assert.equal(again.local.port, b.local.port);
      again.close();
      a.close();
    });

    test('binding a port in use fails with EADDRINUSE; a bad port to send to throws', async () => {
      const a = await bind('127.0.0.1');
      try {
        await assert.rejects(bind('127.0.0.1', { port: a.local.port }), (e: NodeJS.ErrnoException) => e.code === 'EADDRINUSE');
        assert.throws(() => a.send(Uint8Array.from([1]), { address: '127.0.0.1', port: 0 }), (e: NodeJS.ErrnoException) => e.code === 'ERR_SOCKET_BAD_PORT');
        assert.throws(() => a.send(Uint8Array.from([1]), { address: '127.0.0.1', port: 70000 }), (e: NodeJS.ErrnoException) => e.code === 'ERR_SOCKET_BAD_PORT');
      } finally {
        a.close();
      }
    });
  });
}
