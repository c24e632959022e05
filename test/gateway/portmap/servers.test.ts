/**
 * The port mapping servers on loopback: an inside host is answered, a
 * datagram from an address that is not inside is dropped unanswered, a runt
 * is left unanswered as the RFCs say; each is counted, and the server goes
 * on answering after them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { createLogger } from '../../../src/control/logging.js';
import { portmapConfigSchema } from '../../../src/control/config/portmap-schema.js';
import { PortmapServers } from '../../../src/gateway/portmap/servers.js';
import { PortmapService } from '../../../src/gateway/portmap/service.js';
import { decodeNatPmpResponse, encodeNatPmpRequest, NATPMP_PORT } from '../../../src/portmap/natpmp.js';
import { makeEngine } from '../../nat/packets.js';

const LISTEN = '127.0.0.1';
let servers: PortmapServers;
const sockets: Socket[] = [];

before(async () => {
  // 127.0.0.2 is an inside host; 127.0.0.3 is not.
  const { engine, clock } = makeEngine({ inside: ['127.0.0.2/32'], public: ['203.0.113.1'] });
  const log = createLogger('silent');
  const config = portmapConfigSchema.parse({ upnp: false, listen: [LISTEN] });
  if (config === false) throw new Error('unreachable');
  servers = await PortmapServers.start(config, [], new PortmapService(engine, config.rules, log, clock), engine, log, 'uuid:test');
});
after(async () => {
  for (const s of sockets) s.close();
  await servers?.close();
});

async function client(address: string): Promise<Socket> {
  const s = createSocket('udp4');
  sockets.push(s);
  s.bind(0, address);
  await once(s, 'listening');
  return s;
}

/** Sends and waits up to `ms` for an answer; null when none came. */
async function ask(s: Socket, bytes: Uint8Array, ms = 500): Promise<Buffer | null> {
  const answer = new Promise<Buffer | null>((resolve) => {
    const t = setTimeout(() => {
      s.off('message', on);
      resolve(null);
    }, ms);
    const on = (msg: Buffer) => {
      clearTimeout(t);
      resolve(msg);
    };
    s.once('message', on);
  });
  s.send(bytes, NATPMP_PORT, LISTEN);
  return answer;
}

test('inside hosts are answered; outsiders and runts are dropped and counted; the server goes on', async () => {
  const inside = await client('127.0.0.2');
  const outside = await client('127.0.0.3');
  const request = encodeNatPmpRequest({ op: 'external-address' });

  const first = await ask(inside, request);
  assert.ok(first, 'an inside host is answered');
  const r = decodeNatPmpResponse(new Uint8Array(first));
  assert.equal(r.op, 'external-address');

  assert.equal(await ask(outside, request, 300), null, 'not inside: no answer');
  assert.equal(await ask(inside, new Uint8Array([0]), 300), null, 'a runt: no answer');
  assert.ok(await ask(inside, request), 'still answering after them');

  assert.deepEqual(
    { requests: servers.counters.requests, notInside: servers.counters.notInside, unanswered: servers.counters.unanswered },
    { requests: 4, notInside: 1, unanswered: 1 },
  );
  assert.equal(servers.stats().mappings, 0);
});
