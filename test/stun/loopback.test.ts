/**
 * Server and probe on real sockets over loopback (127.0.0.1 and 127.0.0.2,
 * both on lo): no NAT in between, so everything must come out open. On both
 * socket implementations (node:dgram and the batched addon).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { systemClock } from '../../src/util/clock.js';
import { StunUdpServer } from '../../src/stun/server/udp-server.js';
import { StunTcpListener } from '../../src/stun/server/tcp-listener.js';
import { probeNatBehaviour } from '../../src/stun/client/probe.js';
import { StunClientSocket } from '../../src/stun/client/transaction.js';
import { decodeStunMessage, encodeStunMessage, getAttribute } from '../../src/stun/message.js';
import { StunMethod } from '../../src/stun/constants.js';
import { udpImplementations } from '../net/udp-implementations.js';

const fast = { rtoMs: 50, maxRequests: 3, lastWaitFactor: 4 };

for (const { io, env, skip } of udpImplementations) {
  describe(`STUN on loopback over ${io}`, { skip }, () => {
    test('probe against the server on loopback: no NAT, endpoint-independent everything', async () => {
      const server = await StunUdpServer.start(env, {
        addresses: { primary: { address: '127.0.0.1', port: 0 }, alternate: { address: '127.0.0.2', port: 0 } },
      });
      try {
        const { primary, alternate } = server.addresses;
        assert.notEqual(primary.port, 0);
        const r = await probeNatBehaviour(env, primary, {
          localAddress: '127.0.0.1',
          retransmit: fast,
          lifetime: { maxMs: 200, resolutionMs: 100 },
        });
        assert.equal(r.udpBlocked, false);
        assert.deepEqual(r.otherAddress, alternate);
        assert.deepEqual(r.mapped, r.local);
        assert.equal(r.natDetected, false);
        assert.deepEqual(r.mapping, { value: 'endpoint-independent' });
        assert.deepEqual(r.filtering, { value: 'endpoint-independent' });
        assert.deepEqual(r.hairpinning, { value: true });
        assert.deepEqual(r.portPreservation, { value: true });
        assert.deepEqual(r.mappedAddressRewritten, { value: false });
        assert.deepEqual(r.mappingLifetime, { value: { aliveAfterMs: 200, goneAfterMs: null } });
        const changed = r.tests.find((t) => t.name === 'filtering: change IP and port');
        assert.deepEqual(changed?.answeredFrom, alternate);
        assert.ok(server.counters.success >= 6);
      } finally {
        server.close();
      }
    });

    test('probe against a plain (non-RFC 5780) server: mapped address only, the rest unknown with a reason', async () => {
      const server = await StunUdpServer.start(env, { addresses: { primary: { address: '127.0.0.1', port: 0 } } });
      try {
        const r = await probeNatBehaviour(env, server.addresses.primary, { localAddress: '127.0.0.1', retransmit: fast });
        assert.equal(r.natDetected, false);
        assert.equal(r.otherAddress, null);
        assert.equal(r.mapping.value, null);
        assert.match(r.mapping.reason ?? '', /OTHER-ADDRESS/);
        assert.equal(r.filtering.value, null);
        assert.deepEqual(r.portPreservation, { value: true });
      } finally {
        server.close();
      }
    });

    test('probe with nobody listening: UDP blocked, after the retransmissions give up', async () => {
      const sock = await env.bindUdp({ address: '127.0.0.1' });
      const deadPort = sock.local.port;
      sock.close();
      const r = await probeNatBehaviour(env, { address: '127.0.0.1', port: deadPort }, { localAddress: '127.0.0.1', retransmit: fast });
      assert.equal(r.udpBlocked, true);
      assert.equal(r.tests.length, 1);
      assert.equal(r.tests[0].result, 'no-answer');
    });

    test('STUN over TCP: two requests in one segment, two answers; non-STUN closes the connection', async () => {
      const udp = await StunUdpServer.start(env, { addresses: { primary: { address: '127.0.0.1', port: 0 } } });
      const tcp = await StunTcpListener.start(udp.core, { address: '127.0.0.1', port: 0 }, { clock: systemClock });
      try {
        const req = (n: number) =>
          encodeStunMessage({ cls: 'request', method: StunMethod.Binding, transactionId: new Uint8Array(12).fill(n), attributes: [] });
        const sock = net.connect(tcp.local.port, '127.0.0.1');
        await new Promise<void>((r) => sock.once('connect', () => r()));
        const got: Buffer[] = [];
        const twoAnswers = new Promise<void>((resolve) => {
          sock.on('data', (d) => {
            got.push(d);
            const all = Buffer.concat(got);
            if (all.length >= 2 * 20 && all.length >= 20 + all.readUInt16BE(2) + 20) resolve();
          });
        });
        sock.write(Buffer.concat([req(1), req(2)]));
        await twoAnswers;
        const all = new Uint8Array(Buffer.concat(got));
        const first = decodeStunMessage(all, { allowTrailing: true });
        const second = decodeStunMessage(all.subarray(first.bytes.length), { allowTrailing: true });
        assert.deepEqual([first.transactionId[0], second.transactionId[0]], [1, 2]);
        assert.deepEqual(getAttribute(first, 'XOR-MAPPED-ADDRESS')?.address, { address: '127.0.0.1', port: sock.localPort });
        const closed = new Promise<void>((r) => sock.once('close', () => r()));
        sock.write('GET / HTTP/1.0\r\n\r\n');
        await closed;
        assert.equal(tcp.counters.closedNotStun, 1);
      } finally {
        await tcp.close();
        udp.close();
      }
    });

    test('rate limit: a source over its burst is not answered, and it is counted', async () => {
      const server = await StunUdpServer.start(env, {
        addresses: { primary: { address: '127.0.0.1', port: 0 } },
        // No token comes back during the test (one per 1,000 s): exactly the burst is answered,
        // however slowly a loaded machine runs the four requests.
        rateLimit: { ratePerSecond: 0.001, burst: 2 },
      });
      // A generous wait (1.5 s) for the answers that do come: the refused two just time out.
      const client = await StunClientSocket.open(env, { rtoMs: 500, maxRequests: 1, lastWaitFactor: 3 }, '127.0.0.1');
      try {
        const results = await Promise.allSettled([1, 2, 3, 4].map(() => client.request(server.addresses.primary, [])));
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 2);
        assert.equal(server.counters['rate-limited'], 2);
      } finally {
        client.close();
        server.close();
      }
    });
  });
}
