/**
 * The join reflection attack (issue 17): joins sent with a forged source
 * address, to make the server (and the session's members) send to that
 * address. The victim must get no more bytes than the forged requests carried,
 * and nothing twice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Endpoint } from '../../src/net/udp.js';
import { encodeMessage } from '../../src/rendezvous/protocol/messages.js';
import { deriveSessionKey, SessionKeys } from '../../src/rendezvous/protocol/keys.js';
import { parseIpv4 } from '../../src/wire/address.js';
import type { PunchClient } from '../../src/rendezvous/client/punch-client.js';
import { SECRET, SERVER, SESSION, SimNet } from './fixtures/sim-net.js';
import { outcome, rawJoiner } from './fixtures/raw-joiner.js';

const VICTIM: Endpoint = { address: '192.0.2.200', port: 5555 };
/** A display name of 60 bytes: fewer participants fit in one join answer, the rest go out as introductions. */
const LONG_NAME = 'x'.repeat(60);

interface Attack {
  requests: number;
  requestBytes: number;
  received: number;
  receivedBytes: number;
  /** Packets the victim got more than once (retransmissions). */
  duplicates: number;
  fromServer: number;
}

async function attack(mode: 'open' | 'keyed'): Promise<Attack> {
  const net = new SimNet();
  const keys = mode === 'open' ? new SessionKeys({ open: true }) : net.keys;
  const secret = mode === 'open' ? '' : SECRET;
  await net.start({ keys }, false);
  const members: PunchClient[] = [];
  for (let i = 0; i < 16; i++) members.push(await net.client(net.host(null), { secret, relay: null, name: LONG_NAME }));

  const victim = net.sim.host('victim', net.internet, `${VICTIM.address}/24`).bindUdp({ port: VICTIM.port });
  const got: string[] = [];
  const r: Attack = { requests: 0, requestBytes: 0, received: 0, receivedBytes: 0, duplicates: 0, fromServer: 0 };
  victim.onMessage((d, from) => {
    r.received++;
    r.receivedBytes += d.length;
    const hex = Buffer.from(d).toString('hex');
    if (got.includes(hex)) r.duplicates++;
    got.push(hex);
    if (from.address === SERVER.address) r.fromServer++;
  });

  // The attacker knows the session's key (open mode: the empty secret; keyed: it is a member).
  const attacker = net.sim.host('mallory', net.internet, '192.0.2.250/24');
  const key = deriveSessionKey(secret, SESSION);
  for (let i = 0; i < 3; i++) {
    const join = encodeMessage(
      { kind: 'join', session: SESSION, peerId: '00000000000000aa', nonce: `00000000000000${(0xa0 + i).toString(16)}`, timestamp: net.sim.now, locals: [] },
      key,
    );
    attacker.sendUdp(parseIpv4(VICTIM.address), VICTIM.port, parseIpv4(SERVER.address), SERVER.port, join);
    r.requests++;
    r.requestBytes += join.length;
    await net.sim.run(1000);
  }
  // Long enough for every retransmission and for the members' hellos to run their course.
  await net.sim.run(60_000);
  await net.stop(...members);
  return r;
}

for (const mode of ['open', 'keyed'] as const) {
  test(`forged-source joins (${mode} session) bring the forged address no more than the joins' own bytes, nothing twice`, async () => {
    const r = await attack(mode);
    const amplification = r.receivedBytes / r.requestBytes;
    assert.ok(amplification <= 1, `amplification ${amplification.toFixed(2)}: ${r.receivedBytes} bytes in ${r.received} packets for ${r.requestBytes} bytes in ${r.requests} joins`);
    assert.ok(r.received <= r.requests, `${r.received} packets for ${r.requests} joins`);
    assert.equal(r.duplicates, 0, 'no retransmission to an address that never answered');
  });
}

test('a forged refresh cannot move a member to another address: that address gets one cookie no larger than the refresh', async () => {
  const net = await new SimNet().start({}, false);
  const a = await net.client(net.host(null), { relay: null });
  const b = await net.client(net.host(null), { relay: null });
  const victim = net.sim.host('victim', net.internet, `${VICTIM.address}/24`).bindUdp({ port: VICTIM.port });
  let bytes = 0;
  let packets = 0;
  victim.onMessage((d) => {
    bytes += d.length;
    packets++;
  });
  // A member knows the key and A's id: it claims A moved to the victim's address.
  const refresh = encodeMessage({ kind: 'refresh', session: SESSION, peerId: a.id, nonce: '00000000000000b1', timestamp: net.sim.now }, deriveSessionKey(SECRET, SESSION));
  net.sim.host('mallory', net.internet, '192.0.2.250/24').sendUdp(parseIpv4(VICTIM.address), VICTIM.port, parseIpv4(SERVER.address), SERVER.port, refresh);
  await net.sim.run(1000);
  assert.deepEqual(b.peer(a.id)?.info?.public, a.publicEndpoint, 'B still knows A where A is');
  // A newcomer: had A been moved, its introduction to A (retransmitted, never acknowledged) would go to the victim.
  const c = await net.client(net.host(null), { relay: null });
  await net.sim.run(10_000);
  assert.equal(packets, 1);
  assert.ok(bytes <= refresh.length, `${bytes} bytes for a ${refresh.length}-byte refresh`);
  await net.stop(a, b, c);
});

test("a member announcing someone else's address as its local endpoints does not make the others send there", async () => {
  const net = new SimNet();
  await net.start({ keys: new SessionKeys({ open: true }) }, false);
  const members: PunchClient[] = [];
  for (let i = 0; i < 8; i++) members.push(await net.client(net.host(null), { secret: '', relay: null }));
  const victim = net.sim.host('victim', net.internet, `${VICTIM.address}/24`);
  let received = 0;
  for (let p = 0; p < 8; p++) victim.bindUdp({ port: VICTIM.port + p }).onMessage((d) => (received += d.length));
  // The attacker joins from its own (proven) address, claims the victim's ports as its locals,
  // and never answers a hello: the members would keep punching every candidate.
  const attacker = rawJoiner(net.host(null), SERVER, () => net.sim.now);
  const locals = Array.from({ length: 8 }, (_, p) => ({ address: VICTIM.address, port: VICTIM.port + p }));
  attacker.join(SESSION, '00000000000000aa', deriveSessionKey('', SESSION), locals);
  await net.sim.run(40_000);
  assert.equal(outcome(attacker, '00000000000000aa'), 'ok');
  assert.equal(received, 0, `the victim got ${received} bytes`);
  await net.stop(...members);
});
