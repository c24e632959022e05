import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeNetwork } from '../fixtures/fake-nat-net.js';
import { RFC8489_RETRANSMIT, StunClientSocket, StunTimeoutError, transactionTimeoutMs } from '../../../src/stun/client/transaction.js';
import { decodeStunMessage, encodeStunMessage } from '../../../src/stun/message.js';

test('RFC 8489 schedule: 7 requests at 0, 500, 1500, 3500, 7500, 15500, 31500 ms; failure at 39500 ms', async () => {
  assert.equal(transactionTimeoutMs(RFC8489_RETRANSMIT), 39_500);
  const net = new FakeNetwork();
  const host = net.publicHost('198.51.100.1');
  const sink = await host.bindUdp({ port: 9 });
  const sent: number[] = [];
  sink.onMessage(() => sent.push(net.scheduler.now() - net.latencyMs));
  const client = await StunClientSocket.open(host);
  const failure = client.request({ address: '198.51.100.1', port: 9 }, []).then(
    () => assert.fail('answered'),
    (e: unknown) => e,
  );
  const e = await net.scheduler.runUntilSettled(failure);
  assert.ok(e instanceof StunTimeoutError);
  assert.deepEqual(sent, [0, 500, 1500, 3500, 7500, 15500, 31500]);
  assert.equal(net.scheduler.now(), 39_500);
  client.close();
});

test('an answer stops retransmission; unrelated and malformed datagrams are ignored', async () => {
  const net = new FakeNetwork();
  const host = net.publicHost('198.51.100.1');
  const server = await host.bindUdp({ port: 3478 });
  let requests = 0;
  server.onMessage((data, from) => {
    requests++;
    server.send(new Uint8Array([1, 2, 3]), from);
    if (requests < 2) return; // answer the second copy only
    const req = decodeStunMessage(data);
    const other = encodeStunMessage({ cls: 'success', method: 1, transactionId: new Uint8Array(12), attributes: [] });
    server.send(other, from);
    server.send(encodeStunMessage({ cls: 'success', method: 1, transactionId: req.transactionId, attributes: [] }), from);
  });
  const client = await StunClientSocket.open(host, { rtoMs: 100, maxRequests: 5, lastWaitFactor: 2 });
  const answer = await net.scheduler.runUntilSettled(client.request({ address: '198.51.100.1', port: 3478 }, []));
  assert.equal(answer.message.cls, 'success');
  assert.equal(requests, 2);
  const t = net.scheduler.now();
  await net.scheduler.runUntilSettled(new Promise<void>((r) => net.scheduler.setTimeout(r, 5_000)));
  assert.equal(requests, 2, `no retransmission after the answer (t=${t})`);
  client.close();
});

test('closing the socket rejects what is in flight', async () => {
  const net = new FakeNetwork();
  const client = await StunClientSocket.open(net.publicHost('198.51.100.1'));
  const p = client.request({ address: '198.51.100.2', port: 1 }, []);
  client.close();
  await assert.rejects(p, /closed/);
  await assert.rejects(client.request({ address: '198.51.100.2', port: 1 }, []), /closed/);
});
