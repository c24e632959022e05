/**
 * The punching client's PCP mapping across a gateway restart (RFC 6887 8.5
 * and 14.1.3): the gateway's handler on a simulated NAT loses every mapping
 * and begins its epoch again; its unsolicited ANNOUNCE makes the client map
 * its port again within seconds (not at the next renewal, half an hour
 * later), on the same port; an ANNOUNCE from a gateway that kept its state
 * costs nothing; a restart seen only through a renewal's answer is noticed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SimHost, SimNatBox } from '../../src/dataplane/sim/index.js';
import { punchProfile } from '../../src/lab/punch/profiles.js';
import { fakePortmapGateway, type FakePortmapGateway } from './fixtures/portmap-gateway.js';
import { SimNet } from './fixtures/sim-net.js';

const SYMMETRIC = punchProfile('apdm-random').nat!;

function hostAddress(h: SimHost): string {
  const a = h.interfaces[0].addrs[0];
  return [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join('.');
}

async function mappedClient(net: SimNet, lifetime = 3600) {
  const host = net.host(SYMMETRIC, 'a');
  const box = net.sim.get('nat-a') as SimNatBox;
  const self = hostAddress(host);
  const gwAddr = self.replace(/\.2$/, '.3');
  const gateway: FakePortmapGateway = fakePortmapGateway(net.sim, 'a', net.lans.get('a')!, `${gwAddr}/24`, box, { pcp: true, natpmp: true });
  const logs: Array<[string, Record<string, unknown> | undefined]> = [];
  const client = await net.client(host, { portmap: { gateway: gwAddr, client: self, via: 'pcp', lifetime }, log: (e, f) => logs.push([e, f]) });
  await net.sim.runUntil(() => client.portMapping !== null, 3000);
  assert.equal(client.portMapping?.via, 'pcp');
  assert.equal(gateway.service.list().length, 1);
  return { client, gateway, self, logs, port: gateway.service.list()[0].publicPort };
}

const restarts = (logs: Array<[string, Record<string, unknown> | undefined]>) => logs.filter(([e]) => e === 'portmap-gateway-restarted').map(([, f]) => f?.seenBy);

test('a gateway that restarted and ANNOUNCEs: the mapping is made again within 5 s, on the same port', async () => {
  const net = await new SimNet(21).start();
  const { client, gateway, self, logs, port } = await mappedClient(net);
  await net.sim.run(120_000);
  gateway.restart();
  await net.sim.run(10_000);
  assert.equal(gateway.service.list().length, 0, 'the restart lost the mapping, and nothing asks yet');
  const asked = gateway.requests;
  gateway.announce(self);
  await net.sim.runUntil(() => gateway.service.list().length === 1, 6000);
  assert.equal(gateway.service.list().length, 1, 'mapped again after the ANNOUNCE');
  assert.equal(gateway.service.list()[0].publicPort, port, 'the same port (same nonce, port still free)');
  assert.equal(gateway.requests, asked + 1);
  assert.deepEqual(restarts(logs), ['announce']);
  assert.equal(client.portMapping?.external.port, port);
  await net.stop(client);
});

test('an ANNOUNCE from a gateway that kept its mappings (the epoch went on) asks nothing', async () => {
  const net = await new SimNet(22).start();
  const { client, gateway, self, logs } = await mappedClient(net);
  await net.sim.run(60_000);
  const asked = gateway.requests;
  gateway.announce(self);
  await net.sim.run(10_000);
  assert.equal(gateway.requests, asked, 'no request for an epoch that went on');
  assert.deepEqual(restarts(logs), []);
  await net.stop(client);
});

test('an ANNOUNCE from another address, or to a client without a PCP mapping, changes nothing', async () => {
  const net = await new SimNet(23).start();
  const { client, gateway, logs } = await mappedClient(net);
  gateway.restart();
  // Sent to a host that is not the client: the client hears nothing.
  gateway.announce('10.255.255.254');
  await net.sim.run(10_000);
  assert.equal(gateway.service.list().length, 0);
  assert.deepEqual(restarts(logs), []);
  await net.stop(client);
});

test('a restart seen only through a renewal\'s answer (epoch back to 0) is noticed, and the renewal made the mapping again', async () => {
  const net = await new SimNet(24).start();
  const { client, gateway, logs, port } = await mappedClient(net, 120);
  await net.sim.run(30_000);
  gateway.restart();
  // The renewal at half the lifetime (60 s) finds the gateway without the mapping, and makes it again.
  await net.sim.runUntil(() => gateway.service.list().length === 1, 40_000);
  await net.sim.run(1000); // the answer's way back to the client
  assert.equal(gateway.service.list()[0].publicPort, port);
  assert.deepEqual(restarts(logs), ['answer']);
  await net.stop(client);
});
