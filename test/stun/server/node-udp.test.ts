/**
 * The real-socket shell the STUN server runs on (src/net/node-udp.ts): literal
 * destinations skip dns.lookup, names still resolve, socket buffer sizes are
 * applied. (Kept with the STUN server tests: these are the options it uses.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { bindNodeDgram, bindNodeUdp, nodeNetEnvWith } from '../../../src/net/node-udp.js';
import type { Endpoint, UdpSocket } from '../../../src/net/udp.js';

function nextMessage(sock: UdpSocket): Promise<{ data: Uint8Array; from: Endpoint }> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no datagram within 5 s')), 5000);
    sock.onMessage((data, from) => {
      clearTimeout(t);
      resolve({ data, from });
    });
  });
}

test('send to an IP literal and to a name (localhost) both arrive', async () => {
  const a = await bindNodeUdp({ address: '127.0.0.1' });
  const b = await bindNodeUdp({ address: '127.0.0.1' });
  try {
    let got = nextMessage(b);
    a.send(Uint8Array.from([1, 2, 3]), { address: '127.0.0.1', port: b.local.port });
    let m = await got;
    assert.deepEqual([...m.data], [1, 2, 3]);
    assert.deepEqual(m.from, a.local);
    got = nextMessage(b);
    a.send(Uint8Array.from([4]), { address: 'localhost', port: b.local.port });
    m = await got;
    assert.deepEqual([...m.data], [4]);
  } finally {
    a.close();
    b.close();
  }
});

function sysctl(name: string): number | null {
  try {
    return Number(readFileSync(`/proc/sys/net/core/${name}`, 'utf8').trim());
  } catch {
    return null;
  }
}

test('receive and send buffer sizes are applied (within the kernel caps)', { skip: sysctl('rmem_max') === null ? 'no /proc/sys/net/core' : false }, async () => {
  const want = 1 << 20;
  const sock = await bindNodeDgram({ address: '127.0.0.1', recvBufferSize: want, sendBufferSize: want });
  try {
    // Linux doubles what it is given (bookkeeping) and caps it at rmem_max / wmem_max.
    assert.ok(sock.getRecvBufferSize() >= Math.min(want, sysctl('rmem_max')!), String(sock.getRecvBufferSize()));
    assert.ok(sock.getSendBufferSize() >= Math.min(want, sysctl('wmem_max')!), String(sock.getSendBufferSize()));
  } finally {
    sock.close();
  }
  const env = nodeNetEnvWith({ recvBufferSize: want });
  const wrapped = await env.bindUdp({ address: '127.0.0.1' });
  assert.notEqual(wrapped.local.port, 0);
  wrapped.close();
});
