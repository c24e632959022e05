/**
 * The punching client with port mapping: two peers behind NATs that map per
 * destination at random (no direct path without help) connect directly when
 * their gateways map their ports (PCP or NAT-PMP, the gateway's own handler
 * on the simulated NAT's engine); the mapping is renewed while the client
 * lives and deleted on close; a gateway that answers nothing (or late)
 * costs a bounded wait and no error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SimHost, SimNatBox } from '../../src/dataplane/sim/index.js';
import type { Enabled } from '../../src/gateway/portmap/pcp-handler.js';
import { punchProfile } from '../../src/lab/punch/profiles.js';
import type { PunchClient } from '../../src/rendezvous/client/punch-client.js';
import type { PortmapOptions } from '../../src/rendezvous/client/port-mapper.js';
import type { PunchEvent } from '../../src/rendezvous/client/types.js';
import { fakePortmapGateway, type FakePortmapGateway } from './fixtures/portmap-gateway.js';
import { deriveSessionKey } from '../../src/rendezvous/protocol/keys.js';
import { outcome, rawJoiner } from './fixtures/raw-joiner.js';
import { SECRET, SERVER, SESSION, SimNet } from './fixtures/sim-net.js';

const SYMMETRIC = punchProfile('apdm-random').nat!;

interface Side {
  host: SimHost;
  box: SimNatBox;
  gateway: FakePortmapGateway | null;
  portmap: PortmapOptions;
}

/** A host behind a symmetric, random-port NAT, with a port mapping server on its LAN (or none). */
function side(net: SimNet, name: string, enabled: Enabled | null, extra: Partial<PortmapOptions> = {}): Side {
  const host = net.host(SYMMETRIC, name);
  const box = net.sim.get(`nat-${name}`) as SimNatBox;
  const lan = net.lans.get(name)!;
  const self = hostAddress(host);
  const gwAddr = self.replace(/\.2$/, '.3');
  const gateway = enabled ? fakePortmapGateway(net.sim, name, lan, `${gwAddr}/24`, box, enabled) : null;
  return { host, box, gateway, portmap: { gateway: gwAddr, client: self, ...extra } };
}

function hostAddress(h: SimHost): string {
  const a = h.interfaces[0].addrs[0];
  return [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join('.');
}

const bothDirect = (a: PunchClient, b: PunchClient) => () => !!a.peer(b.id)?.path?.direct && !!b.peer(a.id)?.path?.direct;

test('symmetric random NATs on both sides, PCP on both gateways: a direct path through the mappings', async () => {
  const net = await new SimNet(3).start();
  const sa = side(net, 'a', { pcp: true, natpmp: true });
  const sb = side(net, 'b', { pcp: true, natpmp: true });
  const events: PunchEvent[] = [];
  const a = await net.client(sa.host, { portmap: sa.portmap });
  a.on((e) => events.push(e));
  const b = await net.client(sb.host, { portmap: sb.portmap });
  await net.sim.runUntil(bothDirect(a, b), 5000);
  assert.equal(a.peer(b.id)?.path?.kind, 'mapped', JSON.stringify(a.peer(b.id)?.history));
  assert.equal(b.peer(a.id)?.path?.kind, 'mapped', JSON.stringify(b.peer(a.id)?.history));
  // Never relayed: the mapped candidate was there from the first hello.
  assert.ok(a.peer(b.id)!.history.every((h) => h.kind !== 'relay'));
  // What each gateway holds: one PCP mapping of the peer's main socket, and that is what the other side punched to.
  for (const [s, c, other] of [[sa, a, b], [sb, b, a]] as const) {
    const held = s.gateway!.service.list();
    assert.equal(held.length, 1);
    assert.equal(held[0].owner, 'pcp');
    assert.equal(held[0].insidePort, c.mainSocket.local.port);
    assert.equal(c.portMapping?.via, 'pcp');
    assert.equal(c.portMapping?.external.port, held[0].publicPort);
    assert.equal(other.peer(c.id)?.path?.remote.port, held[0].publicPort);
  }
  let got = '';
  b.on((e) => e.type === 'data' && (got = new TextDecoder().decode(e.data)));
  a.send(b.id, new TextEncoder().encode('through the mapping'));
  await net.sim.runUntil(() => got !== '', 1000);
  assert.equal(got, 'through the mapping');
  await net.stop(a, b);
  assert.equal(sa.gateway!.service.list().length, 0, 'deleted on close');
  assert.equal(sb.gateway!.service.list().length, 0, 'deleted on close');
});

test('the control: the same NATs without port mapping get no direct path (the relay carries it)', async () => {
  const net = await new SimNet(3).start();
  const sa = side(net, 'a', null);
  const sb = side(net, 'b', null);
  // portmap asked for, but nothing answers on the LAN: no error, and the join waits no longer than waitMs.
  const t0 = net.sim.now;
  const a = await net.client(sa.host, { portmap: { ...sa.portmap, waitMs: 800 } });
  assert.ok(net.sim.now - t0 < 2000, `joined after ${net.sim.now - t0} ms`);
  const b = await net.client(sb.host);
  await net.sim.runUntil(() => !!a.peer(b.id)?.path && !!b.peer(a.id)?.path, 5000);
  await net.sim.run(10_000);
  assert.equal(a.portMapping, null);
  assert.equal(a.peer(b.id)?.path?.direct, false);
  assert.equal(a.peer(b.id)?.path?.kind, 'relay');
  assert.equal(b.peer(a.id)?.path?.kind, 'relay');
  await net.stop(a, b);
});

test('NAT-PMP only on one gateway, nothing on the other: one mapping is enough for a direct path', async () => {
  const net = await new SimNet(4).start();
  const sa = side(net, 'a', { pcp: false, natpmp: true });
  const sb = side(net, 'b', null);
  const t0 = net.sim.now;
  const a = await net.client(sa.host, { portmap: sa.portmap });
  // PCP's "unsupported version" answer sends the client to NAT-PMP at once, in time for the join.
  assert.ok(net.sim.now - t0 < 300, `joined after ${net.sim.now - t0} ms`);
  assert.equal(a.portMapping?.via, 'natpmp');
  const b = await net.client(sb.host, { portmap: { ...sb.portmap, waitMs: 500 } });
  await net.sim.runUntil(bothDirect(a, b), 8000);
  assert.equal(b.portMapping, null);
  assert.equal(b.peer(a.id)?.path?.kind, 'mapped');
  assert.equal(a.peer(b.id)?.path?.kind, 'peer-reflexive');
  assert.equal(sa.gateway!.service.list()[0]?.owner, 'natpmp');
  await net.stop(a, b);
  assert.equal(sa.gateway!.service.list().length, 0);
});

test('renewed at half its lifetime while the client lives; the path stays direct', async () => {
  const net = await new SimNet(5).start();
  const sa = side(net, 'a', { pcp: true, natpmp: true }, { lifetime: 120 });
  const sb = side(net, 'b', { pcp: true, natpmp: true }, { lifetime: 120 });
  const a = await net.client(sa.host, { portmap: sa.portmap });
  const b = await net.client(sb.host, { portmap: sb.portmap });
  await net.sim.runUntil(bothDirect(a, b), 5000);
  const first = { ...sa.gateway!.service.list()[0] };
  await net.sim.run(300_000);
  const now = sa.gateway!.service.list();
  assert.equal(now.length, 1, 'still mapped after 2.5 lifetimes');
  assert.equal(now[0].publicPort, first.publicPort, 'the same port (PCP renewal with the same nonce)');
  assert.ok(now[0].expiresAt > first.expiresAt + 200_000);
  assert.ok(sa.gateway!.requests >= 5, `requests ${sa.gateway!.requests}`);
  assert.equal(a.peer(b.id)?.path?.kind, 'mapped');
  assert.equal(a.peer(b.id)?.repunches, 0);
  await net.stop(a, b);
});

test('a mapping that comes after the join is offered by joining again; the peers then go direct', async () => {
  const net = await new SimNet(6).start();
  const sa = side(net, 'a', { pcp: true, natpmp: true }, { via: 'pcp', timeoutMs: 5000, waitMs: 500 });
  const sb = side(net, 'b', { pcp: true, natpmp: true }, { via: 'pcp', timeoutMs: 5000, waitMs: 500 });
  // The first two PCP requests (at 0 and 250 ms) go unanswered; the retransmission at 3 s is.
  sa.gateway!.ignoreFirst = 2;
  sb.gateway!.ignoreFirst = 2;
  const events: PunchEvent[] = [];
  const a = await net.client(sa.host, { portmap: sa.portmap });
  a.on((e) => events.push(e));
  const b = await net.client(sb.host, { portmap: sb.portmap });
  await net.sim.runUntil(() => !!a.peer(b.id)?.path, 3000);
  assert.equal(a.portMapping, null, 'not yet');
  await net.sim.runUntil(bothDirect(a, b), 15_000);
  assert.ok(events.some((e) => e.type === 'portmap' && e.mapping?.via === 'pcp'));
  // The side whose mapping came first is reached on it; the other side's path may be the first
  // peer's unmapped source (peer-reflexive): a live direct path is kept, not replaced.
  const kinds = [a.peer(b.id)?.path?.kind, b.peer(a.id)?.path?.kind];
  assert.ok(kinds.includes('mapped'), JSON.stringify(kinds));
  assert.ok(a.peer(b.id)!.history.some((h) => h.kind === 'relay'), 'relayed first, then direct');
  await net.stop(a, b);
});

test('the server passes a mapped endpoint on, pinned to the address it sees: a peer cannot aim the others at a third party', async () => {
  const net = await new SimNet(7).start();
  const raw = net.host(null, 'raw');
  const j = rawJoiner(raw, SERVER, () => net.sim.now);
  const id = '00000000000000aa';
  j.join(SESSION, id, deriveSessionKey(SECRET, SESSION), [], { address: '198.51.100.99', port: 4444 });
  await net.sim.runUntil(() => outcome(j, id) !== null, 2000);
  assert.equal(outcome(j, id), 'ok');
  const b = await net.client(net.host(null));
  const info = b.peer(id)?.info;
  assert.deepEqual(info?.mapped, { address: hostAddress(raw), port: 4444 });
  await net.stop(b);
});

test('a gateway that stops answering: the mapping runs out and is withdrawn; when it answers again, it is mapped and offered anew', async () => {
  const net = await new SimNet(8).start();
  const sa = side(net, 'a', { pcp: true, natpmp: true }, { lifetime: 120 });
  const sb = side(net, 'b', null);
  const events: PunchEvent[] = [];
  const a = await net.client(sa.host, { portmap: sa.portmap });
  a.on((e) => events.push(e));
  const b = await net.client(sb.host);
  await net.sim.runUntil(() => b.peer(a.id)?.info?.mapped !== undefined, 3000);
  assert.equal(b.peer(a.id)?.info?.mapped?.port, a.portMapping?.external.port);
  // Silence: renewals at 60 s and after go unanswered; the engine drops the mapping at 120 s.
  sa.gateway!.ignoreFirst = Number.MAX_SAFE_INTEGER;
  await net.sim.runUntil(() => events.some((e) => e.type === 'portmap' && e.mapping === null), 200_000);
  assert.ok(events.some((e) => e.type === 'portmap' && e.mapping === null), 'lost, and said so');
  assert.equal(a.portMapping, null);
  await net.sim.runUntil(() => b.peer(a.id)?.info !== null && b.peer(a.id)?.info?.mapped === undefined, 5000);
  assert.equal(b.peer(a.id)?.info?.mapped, undefined, 'withdrawn: the peer no longer has it');
  // The gateway is back: asked afresh within 30 s, and offered again.
  sa.gateway!.ignoreFirst = 0;
  sa.gateway!.requests = 0;
  await net.sim.runUntil(() => b.peer(a.id)?.info?.mapped !== undefined, 40_000);
  const again = a.portMapping as { external: { port: number } } | null;
  assert.equal(b.peer(a.id)?.info?.mapped?.port, again?.external.port);
  assert.equal(sa.gateway!.service.list().length, 1);
  await net.stop(a, b);
  assert.equal(sa.gateway!.service.list().length, 0);
});
