/**
 * STUN over TCP under the slow-connection attack: many connections from one
 * address, each trickling a byte now and then, must not lock other clients
 * out. Loopback only: the attacker is 127.0.0.1, the client 127.0.0.2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { nodeNetEnv } from '../../../src/net/node-udp.js';
import { StunUdpServer } from '../../../src/stun/server/udp-server.js';
import { StunTcpListener, type StunTcpListenerOptions, type StunTcpLimitEvent } from '../../../src/stun/server/tcp-listener.js';
import { decodeStunMessage, encodeStunMessage, getAttribute } from '../../../src/stun/message.js';
import { StunMethod } from '../../../src/stun/constants.js';
import { systemClock } from '../../../src/util/clock.js';

const bindingRequest = (n: number) =>
  encodeStunMessage({ cls: 'request', method: StunMethod.Binding, transactionId: new Uint8Array(12).fill(n), attributes: [] });

async function withServer(options: Omit<StunTcpListenerOptions, 'clock'>, body: (tcp: StunTcpListener) => Promise<void>): Promise<void> {
  const udp = await StunUdpServer.start(nodeNetEnv, { addresses: { primary: { address: '127.0.0.1', port: 0 } }, rateLimit: null });
  const tcp = await StunTcpListener.start(udp.core, { address: '127.0.0.1', port: 0 }, { clock: systemClock, ...options });
  try {
    await body(tcp);
  } finally {
    await tcp.close();
    udp.close();
  }
}

/** Opens a connection from `localAddress`; resolves once connected (the server may close it right after). */
function connectFrom(port: number, localAddress: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port, localAddress });
    sock.once('connect', () => resolve(sock));
    sock.once('error', reject);
  });
}

/** Resolves when `done()` holds; fails after `ms` (every wait in these tests is bounded). */
async function until(done: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A client asking once; resolves to the mapped address it is told, rejects if closed without an answer. */
async function ask(port: number, localAddress: string, timeoutMs = 3000): Promise<{ address: string; port: number }> {
  const sock = await connectFrom(port, localAddress);
  try {
    return await new Promise((resolve, reject) => {
      let got = Buffer.alloc(0);
      const timer = setTimeout(() => reject(new Error('no answer in time')), timeoutMs);
      sock.on('data', (d) => {
        got = Buffer.concat([got, d]);
        if (got.length >= 20 && got.length >= 20 + got.readUInt16BE(2)) {
          clearTimeout(timer);
          const m = decodeStunMessage(new Uint8Array(got), { allowTrailing: true });
          const mapped = getAttribute(m, 'XOR-MAPPED-ADDRESS')?.address;
          if (m.cls === 'success' && mapped) resolve(mapped);
          else reject(new Error(`unexpected answer ${m.cls}`));
        }
      });
      sock.once('close', () => {
        clearTimeout(timer);
        reject(new Error('closed without an answer'));
      });
      sock.write(bindingRequest(7));
    });
  } finally {
    sock.destroy();
  }
}

test('200 slow connections from one address do not lock out a client from another', async () => {
  const events: StunTcpLimitEvent[] = [];
  await withServer({ maxConnections: 100, maxConnectionsPerAddress: 20, messageTimeoutMs: 20_000, onLimit: (e) => events.push(e) }, async (tcp) => {
    const slow: net.Socket[] = [];
    try {
      for (let i = 0; i < 200; i++) {
        const s = await connectFrom(tcp.local.port, '127.0.0.1');
        s.on('error', () => {});
        s.write(Buffer.from([0x00])); // the first byte of a Binding request, and nothing more
        slow.push(s);
      }
      const c = tcp.counters;
      await until(() => c.accepted + c.refusedPerAddress + c.refusedFull >= 200, 5000, 'the server to see every connection');
      assert.equal(c.accepted, 20);
      assert.equal(c.refusedPerAddress, 180);
      assert.equal(tcp.connections, 20);
      const mapped = await ask(tcp.local.port, '127.0.0.2');
      assert.equal(mapped.address, '127.0.0.2');
      // Hits are counted one by one and reported, throttled: one event for the first refusal.
      assert.deepEqual(events.map((e) => [e.limit, e.from.address, e.count]), [['per-address', '127.0.0.1', 1]]);
    } finally {
      for (const s of slow) s.destroy();
    }
  });
});

test('a full table makes room: the address holding the most connections gives up its oldest', async () => {
  await withServer({ maxConnections: 10, maxConnectionsPerAddress: 12, messageTimeoutMs: 20_000 }, async (tcp) => {
    const slow: net.Socket[] = [];
    try {
      for (let i = 0; i < 12; i++) {
        const s = await connectFrom(tcp.local.port, '127.0.0.1');
        s.on('error', () => {});
        slow.push(s);
      }
      const c = tcp.counters;
      await until(() => c.accepted + c.refusedFull >= 12, 5000, 'the server to see every connection');
      assert.deepEqual([c.accepted, c.refusedFull], [10, 2]);
      const firstClosed = new Promise<void>((r) => slow[0].once('close', () => r()));
      assert.equal((await ask(tcp.local.port, '127.0.0.2')).address, '127.0.0.2');
      assert.equal(c.evicted, 1);
      await firstClosed; // the oldest of 127.0.0.1's connections made the room
    } finally {
      for (const s of slow) s.destroy();
    }
  });
});

test('a message trickled a byte at a time is cut off at the message timeout; so is a silent connection', async () => {
  await withServer({ messageTimeoutMs: 300, idleTimeoutMs: 60_000 }, async (tcp) => {
    const request = bindingRequest(1);
    const trickler = await connectFrom(tcp.local.port, '127.0.0.1');
    trickler.on('error', () => {});
    const silent = await connectFrom(tcp.local.port, '127.0.0.1');
    const closed = (s: net.Socket) => new Promise<number>((r) => s.once('close', () => r(Date.now())));
    const tricklerClosed = closed(trickler);
    const silentClosed = closed(silent);
    const start = Date.now();
    // 20 bytes, one every 50 ms: the whole header would take a second, and each byte resets an idle timer.
    let sent = 0;
    const drip = setInterval(() => {
      if (sent < request.length && !trickler.destroyed) trickler.write(request.subarray(sent, ++sent));
    }, 50);
    try {
      const [t1, t2] = await Promise.race([
        Promise.all([tricklerClosed, silentClosed]),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('not closed within 3 s')), 3000)),
      ]);
      assert.ok(t1 - start < 900, `the trickler lasted ${t1 - start} ms`);
      assert.ok(t2 - start < 900, `the silent connection lasted ${t2 - start} ms`);
      assert.ok(sent < request.length, 'closed before the message was complete');
      assert.equal(tcp.counters.closedSlow, 2);
      assert.equal(tcp.connections, 0);
    } finally {
      clearInterval(drip);
    }
  });
});

test('between messages a connection may rest until the idle timeout, and is closed after it', async () => {
  await withServer({ messageTimeoutMs: 200, idleTimeoutMs: 600 }, async (tcp) => {
    const sock = await connectFrom(tcp.local.port, '127.0.0.1');
    const answers: Buffer[] = [];
    sock.on('data', (d) => answers.push(d));
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.write(bindingRequest(1));
    await until(() => answers.length > 0, 2000, 'the first answer');
    // Longer than the message timeout, shorter than the idle timeout: still open, still answered.
    await new Promise((r) => setTimeout(r, 350));
    assert.equal(tcp.connections, 1);
    sock.write(bindingRequest(2));
    await until(() => Buffer.concat(answers).length >= 2 * 32, 2000, 'the second answer');
    await closed;
    assert.deepEqual([tcp.counters.closedIdle, tcp.counters.closedSlow], [1, 0]);
  });
});
