/**
 * What only the batched sockets (src/net/batched-udp.ts over native/udp.cc)
 * have: the wake-at-a-time interface, truncation, GSO and GRO, SO_REUSEPORT,
 * ICMP errors read from the socket, refused datagrams counted, and the send
 * queue kept while the socket buffer is full. (The UdpSocket contract both
 * implementations share is in udp-sockets.test.ts; a full socket buffer on a
 * real device is in test/lab/batched-udp-eagain.test.ts.)
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchedUdpSocket, bindBatchedUdp } from '../../src/net/batched-udp.js';
import { udpAddonStatus, type NativeUdpHandle, type UdpAddon } from '../../src/net/udp-addon.js';
import type { Endpoint, UdpDatagramBatch } from '../../src/net/udp.js';
import { batchedSkip } from './udp-implementations.js';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await pause(5);
}

describe('batched UDP sockets', { skip: batchedSkip }, () => {
  test('onBatch: a wake\'s datagrams with their sources, and replies that need no address text', async () => {
    const server = await bindBatchedUdp({ address: '127.0.0.1' });
    const client = await bindBatchedUdp({ address: '127.0.0.1', gso: false });
    try {
      const seen: { data: number[]; ipv4: number; port: number; from: Endpoint }[] = [];
      let wakes = 0;
      server.onBatch((b: UdpDatagramBatch) => {
        wakes++;
        for (let i = 0; i < b.count; i++) {
          const data = [...b.bytes.subarray(b.offset(i), b.offset(i) + b.length(i))];
          seen.push({ data, ipv4: b.sourceIpv4(i), port: b.sourcePort(i), from: b.from(i) });
          b.reply(i, Uint8Array.from([data[0] + 100]));
        }
      });
      const answers: number[] = [];
      client.onMessage((d) => answers.push(d[0]));
      for (let i = 0; i < 40; i++) client.send(Uint8Array.from([i, 1, 2]), server.local);
      await waitFor(() => answers.length === 40);
      assert.equal(seen.length, 40);
      assert.ok(wakes < 40, `${wakes} wakes for 40 datagrams sent at once`);
      seen.forEach((s, i) => {
        assert.deepEqual(s.data, [i, 1, 2]);
        assert.equal(s.ipv4, 0x7f000001);
        assert.equal(s.port, client.local.port);
        assert.deepEqual(s.from, client.local);
      });
      assert.deepEqual(answers, seen.map((_, i) => i + 100));
      assert.ok(server.counters.sendCalls < 40, JSON.stringify(server.counters));
    } finally {
      server.close();
      client.close();
    }
  });

  test('truncation: a datagram longer than maxDatagramSize is dropped whole and counted, the rest delivered', async () => {
    const rx = await bindBatchedUdp({ address: '127.0.0.1', maxDatagramSize: 100 });
    const tx = await bindBatchedUdp({ address: '127.0.0.1' });
    try {
      const got: number[] = [];
      rx.onMessage((d) => got.push(d.length));
      tx.send(new Uint8Array(100), rx.local);
      tx.send(new Uint8Array(101), rx.local);
      tx.send(new Uint8Array(5000), rx.local);
      tx.send(new Uint8Array(3), rx.local);
      await waitFor(() => got.length === 2 && rx.counters.truncated === 2);
      assert.deepEqual(got, [100, 3]);
      assert.equal(rx.counters.truncated, 2);
      assert.equal(rx.gro, false, 'GRO needs whole-size slots');
    } finally {
      rx.close();
      tx.close();
    }
  });

  test('GSO on send and GRO on receive (where the kernel has them): one message each way, every datagram delivered on its own', async (t) => {
    const tx = await bindBatchedUdp({ address: '127.0.0.1' });
    const rx = await bindBatchedUdp({ address: '127.0.0.1' });
    const plain = await bindBatchedUdp({ address: '127.0.0.1', gro: false });
    try {
      if (!tx.gso || !rx.gro) return t.skip(`kernel without UDP GSO/GRO (gso ${tx.gso}, gro ${rx.gro})`);
      const got: Uint8Array[] = [];
      rx.onMessage((d) => got.push(d));
      const gotPlain: Uint8Array[] = [];
      plain.onMessage((d) => gotPlain.push(d));
      // 40 of 200 bytes and a last, shorter one: one run to one peer.
      const sent = Array.from({ length: 41 }, (_, i) => new Uint8Array(i === 40 ? 77 : 200).fill(i));
      for (const d of sent) tx.send(d, rx.local);
      for (const d of sent) tx.send(d, plain.local);
      await waitFor(() => got.length === 41 && gotPlain.length === 41);
      assert.deepEqual(got, sent);
      assert.deepEqual(gotPlain, sent);
      assert.equal(tx.counters.gsoMessages, 2, JSON.stringify(tx.counters));
      assert.equal(tx.counters.datagramsOut, 82);
      assert.equal(rx.counters.groBuffers, 1, JSON.stringify(rx.counters));
      assert.equal(plain.counters.groBuffers, 0);
      assert.equal(plain.counters.datagramsIn, 41);
    } finally {
      tx.close();
      rx.close();
      plain.close();
    }
  });

  test('GSO groups only runs to one peer of one size: different peers and sizes go out one by one, in order', async (t) => {
    const tx = await bindBatchedUdp({ address: '127.0.0.1' });
    const a = await bindBatchedUdp({ address: '127.0.0.1', gro: false });
    const b = await bindBatchedUdp({ address: '127.0.0.1', gro: false });
    try {
      if (!tx.gso) return t.skip('kernel without UDP GSO');
      const got: string[] = [];
      a.onMessage((d) => got.push(`a${d.length}`));
      b.onMessage((d) => got.push(`b${d.length}`));
      const plan: [UdpSocketLike, number][] = [
        [a, 10],
        [b, 10],
        [a, 10],
        [a, 20],
        [a, 20],
      ];
      for (const [to, n] of plan) tx.send(new Uint8Array(n), to.local);
      await waitFor(() => got.length === 5);
      assert.deepEqual(got.filter((g) => g.startsWith('a')), ['a10', 'a10', 'a20', 'a20']);
      assert.deepEqual(got.filter((g) => g.startsWith('b')), ['b10']);
      // a10 | b10 | a10 (a larger one cannot follow in its run) | a20 a20: one GSO message, four plain ones.
      assert.equal(tx.counters.gsoMessages, 1, JSON.stringify(tx.counters));
      assert.equal(tx.counters.datagramsOut, 5);
    } finally {
      tx.close();
      a.close();
      b.close();
    }
  });

  test('SO_REUSEPORT: sockets that ask for it share a port; one that does not is refused', async () => {
    const first = await bindBatchedUdp({ address: '127.0.0.1', reusePort: true });
    const second = await bindBatchedUdp({ address: '127.0.0.1', port: first.local.port, reusePort: true });
    try {
      assert.equal(second.local.port, first.local.port);
      await assert.rejects(bindBatchedUdp({ address: '127.0.0.1', port: first.local.port }), (e: NodeJS.ErrnoException) => e.code === 'EADDRINUSE');
    } finally {
      first.close();
      second.close();
    }
  });

  test('recvErrors: an ICMP port unreachable is read and counted (ECONNREFUSED), and the socket keeps sending and receiving', async () => {
    const a = await bindBatchedUdp({ address: '127.0.0.1', recvErrors: true });
    const dead = await bindBatchedUdp({ address: '127.0.0.1' });
    const deadPort = dead.local.port;
    dead.close();
    const echo = await bindBatchedUdp({ address: '127.0.0.1' });
    try {
      echo.onMessage((d, from) => echo.send(d, from));
      const got: number[] = [];
      a.onMessage((d) => got.push(d[0]));
      a.send(Uint8Array.from([1]), { address: '127.0.0.1', port: deadPort });
      await waitFor(() => a.counters.icmpErrors + a.counters.recvErrors > 0);
      // The error left on the socket is reported by whichever call comes next: this send retries past it.
      a.send(Uint8Array.from([2]), echo.local);
      await waitFor(() => got.length === 1);
      assert.deepEqual(got, [2]);
      const c = a.counters;
      assert.ok(c.icmpErrors >= 1, JSON.stringify(c));
      assert.equal(c.sendErrors, 0, JSON.stringify(c));
    } finally {
      a.close();
      echo.close();
    }
  });

  test('a datagram the kernel refuses (EMSGSIZE) is counted and dropped; the ones around it go out', async () => {
    const tx = await bindBatchedUdp({ address: '127.0.0.1' });
    const rx = await bindBatchedUdp({ address: '127.0.0.1' });
    try {
      const got: number[] = [];
      rx.onMessage((d) => got.push(d.length));
      tx.send(new Uint8Array(10), rx.local);
      tx.send(new Uint8Array(65508), rx.local);
      tx.send(new Uint8Array(11), rx.local);
      await waitFor(() => got.length === 2);
      assert.deepEqual(got, [10, 11]);
      assert.equal(tx.counters.sendErrors, 1);
      assert.equal(tx.counters.lastSendErrno, 90 /* EMSGSIZE */);
    } finally {
      tx.close();
      rx.close();
    }
  });

  test('a send from inside a handler goes out with the wake; a send outside one at the end of the turn, all together', async () => {
    const tx = await bindBatchedUdp({ address: '127.0.0.1', gso: false });
    const rx = await bindBatchedUdp({ address: '127.0.0.1' });
    try {
      const got: number[] = [];
      rx.onMessage((d) => got.push(d[0]));
      for (let i = 0; i < 30; i++) tx.send(Uint8Array.from([i]), rx.local);
      assert.equal(tx.counters.sendCalls, 0, 'nothing sent before the turn ends');
      await waitFor(() => got.length === 30);
      assert.equal(tx.counters.sendCalls, 1);
      assert.equal(tx.counters.datagramsOut, 30);
    } finally {
      tx.close();
      rx.close();
    }
  });
});

type UdpSocketLike = { local: Endpoint };

/**
 * A stand-in for the native handle whose socket buffer fills on demand, to
 * hold the JavaScript side's queue to its rules: what the kernel does not take
 * stays queued, in order, until the socket is writable again; a full queue
 * drops (and counts) rather than grows.
 */
class FakeHandle implements NativeUdpHandle {
  readonly fd = -1;
  readonly family = 4 as const;
  readonly localAddress = '127.0.0.1';
  readonly localPort = 5000;
  readonly batchSize = 4;
  readonly slotSize = 2048;
  readonly sendSlots = 8;
  readonly gso = false;
  readonly gro = false;
  readonly readBuffer = new ArrayBuffer(4 * 2048);
  readonly readMeta = new ArrayBuffer(4 * 10 * 4);
  readonly sendBuffer = new ArrayBuffer(64);
  readonly sendMeta = new ArrayBuffer(8 * 10 * 4);
  readonly counters = new ArrayBuffer(14 * 8);
  /** Datagrams the kernel takes before the next EAGAIN; Infinity: all. */
  room = Infinity;
  sent: { bytes: number[]; port: number }[] = [];
  waiting = false;
  onWritable: () => void = () => {};

  start(_onBatch: (n: number) => void, onWritable: () => void): void {
    this.onWritable = onWritable;
  }
  stop(): void {}
  send(count: number): number {
    const meta = new Uint32Array(this.sendMeta);
    const bytes = new Uint8Array(this.sendBuffer);
    let i = 0;
    for (; i < count && this.room > 0; i++, this.room--) {
      const m = i * 10;
      this.sent.push({ bytes: [...bytes.subarray(meta[m], meta[m] + meta[m + 1])], port: meta[m + 2] });
    }
    return i;
  }
  waitWritable(): void {
    this.waiting = true;
  }
  close(): void {}
  /** The socket buffer drains: the kernel takes `n` more. */
  drain(n: number): void {
    this.room = n;
    this.waiting = false;
    this.onWritable();
  }
}

const fakeAddon = { metaStride: 10, ifIndex: () => 0, ifName: () => undefined } as unknown as UdpAddon;

test('the send queue: what a full socket buffer does not take waits, in order, for the socket to be writable; past the queue\'s room datagrams are dropped and counted', async () => {
  const handle = new FakeHandle();
  const sock = new BatchedUdpSocket(handle, fakeAddon, () => {});
  handle.room = 2;
  for (let i = 0; i < 5; i++) sock.send(Uint8Array.from([i, i, i]), { address: '10.0.0.1', port: 1000 + i });
  await pause(0);
  assert.deepEqual(handle.sent.map((s) => s.bytes[0]), [0, 1]);
  assert.equal(handle.waiting, true);
  // Queued behind the backlog: not sent before the socket is writable.
  sock.send(Uint8Array.from([5]), { address: '10.0.0.1', port: 1005 });
  await pause(0);
  assert.equal(handle.sent.length, 2);
  handle.drain(Infinity);
  assert.deepEqual(handle.sent.map((s) => s.bytes), [[0, 0, 0], [1, 1, 1], [2, 2, 2], [3, 3, 3], [4, 4, 4], [5]]);
  assert.deepEqual(handle.sent.map((s) => s.port), [1000, 1001, 1002, 1003, 1004, 1005]);
  // Now a full buffer and more than the queue holds (8 entries, 64 bytes): the surplus is dropped.
  handle.room = 0;
  for (let i = 0; i < 20; i++) sock.send(new Uint8Array(7).fill(i), { address: '10.0.0.1', port: 2000 });
  await pause(0);
  assert.equal(sock.counters.sendDropped, 12);
  handle.drain(Infinity);
  assert.deepEqual(handle.sent.slice(6).map((s) => s.bytes[0]), [0, 1, 2, 3, 4, 5, 6, 7]);
  sock.close();
});

test('the addon\'s absence is a reason, never a throw', () => {
  const missing = udpAddonStatus(['/nonexistent/masq_udp.node']);
  assert.equal(missing.available, false);
  assert.match(missing.available ? '' : missing.reason, /not built.*npm run build:native/);
  const elsewhere = udpAddonStatus(['/nonexistent/masq_udp.node'], 'darwin');
  assert.match(elsewhere.available ? '' : elsewhere.reason, /needs Linux/);
});
